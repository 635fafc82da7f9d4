"""Global dedup in Beam: URL, exact text, MinHash-LSH near-duplicates and repeated lines (C4), no hot keys.

Near-duplicate components are found by label propagation over files (pipeline/components.py).

Hot keys are avoided by salting: a group is first reduced within (key, salt) sub-groups, so that at most
`SALTS` partial results per key meet in the second step; counts go through combiners.
"""
from __future__ import annotations

from datetime import datetime

import apache_beam as beam

from pipeline.funnel import dropped, split
from transforms.config import CorpusConfig
from transforms.decide import long_enough
from transforms.dedup import MinHasher, line_hash, line_hashes, text_fingerprint, tree_edges
from transforms.quality import quality_scores
from transforms.segment import drop_lines

SALTS = 16


def salt(key: str) -> int:
    """Deterministic salt of a document key (keys are hex)."""
    return int(key[:6], 16) % SALTS


def _epoch(fetch_time: str) -> float:
    try:
        return datetime.fromisoformat(fetch_time.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return 0.0


def newest_first(doc) -> tuple:
    """Rank for URL dedup: the newest capture wins; ties broken by provenance (deterministic)."""
    return (-_epoch(doc.meta["fetch_time"]), doc.warc_file, doc.meta["warc_offset"])


def oldest_first(doc) -> tuple:
    """Rank for exact dedup: the earliest capture (most likely the original) wins, then the smaller key."""
    return (_epoch(doc.meta["fetch_time"]), doc.key)


class _KeepBest(beam.DoFn):
    """Of a group of (count, doc) pairs keep the best ranked; the others are dropped for `reason`."""

    def __init__(self, rank, reason: str, count_field: str | None, final: bool):
        self.rank, self.reason, self.count_field, self.final = rank, reason, count_field, final

    def process(self, element):
        key, entries = element
        entries = sorted(entries, key=lambda e: self.rank(e[1]))
        total = sum(n for n, _ in entries)
        for _, loser in entries[1:]:
            yield dropped(loser, self.reason)
        best = entries[0][1]
        if self.final:
            yield best.updated(**{self.count_field: total}) if self.count_field else best
        else:
            yield key[0], (total, best)


@beam.ptransform_fn
def KeepBestPerKey(docs, key_fn, rank, reason: str, count_field: str | None = None):
    """One document per key_fn(doc), the best by rank; salted two-level reduction so no key is hot."""
    def _step(pcoll, label, final):
        return split(pcoll | label >> beam.ParDo(_KeepBest(rank, reason, count_field, final)), label)

    partial, first_funnel = _step(docs | "KeySalted" >> beam.Map(lambda d: ((key_fn(d), salt(d.key)), (1, d)))
                                  | "GroupSalted" >> beam.GroupByKey(), "BestInSalt", False)
    best, second_funnel = _step(partial | "GroupKey" >> beam.GroupByKey(), "BestOfSalts", True)
    return best, (first_funnel, second_funnel) | "Funnel" >> beam.Flatten()


class _Bands(beam.DoFn):
    """((band key, salt), doc key) for each LSH band of a document."""

    def __init__(self, config: CorpusConfig):
        self.cfg = config.dedup

    def setup(self):
        self.hasher = MinHasher(self.cfg)

    def process(self, doc):
        for band in self.hasher.band_keys(doc.text):
            yield (band, salt(doc.key)), doc.key


def near_duplicate_edges(docs, config: CorpusConfig):
    """Edges (u, v) linking the documents that share an LSH band: within a salted part of a bucket a tree over its
    members, and across the parts of a bucket a tree over their smallest members (pipeline/components.py)."""
    fanout = config.dedup.tree_fanout
    parts = docs | "Bands" >> beam.ParDo(_Bands(config)) | "GroupBucketParts" >> beam.GroupByKey()
    part_edges = parts | "PartEdges" >> beam.FlatMap(lambda kv: tree_edges(kv[1], fanout))
    band_edges = (parts | "PartMin" >> beam.Map(lambda kv: (kv[0][0], min(kv[1]))) | "GroupBand" >> beam.GroupByKey()
                  | "BandEdges" >> beam.FlatMap(lambda kv: tree_edges(kv[1], fanout)))
    return (part_edges, band_edges) | "AllEdges" >> beam.Flatten()


class _ApplyComponents(beam.DoFn):
    """A document is kept when it is the smallest key of its component (or in none), with the component size."""

    def process(self, element):
        key, grouped = element
        docs = list(grouped["doc"])
        if not docs:
            return
        labels, sizes = list(grouped["label"]), list(grouped["size"])
        if labels and labels[0] != key:
            yield dropped(docs[0], "dedup.near_duplicate")
        else:
            yield docs[0].updated(dedup_cluster_size=sizes[0] if sizes else 1)


def apply_components(docs, labels):
    """Keep one document per near-duplicate component; labels are (node, smallest key of its component)."""
    sizes = labels | "Root" >> beam.Map(lambda kv: (kv[1], 1)) | "ComponentSize" >> beam.CombinePerKey(sum)
    applied = ({"doc": docs | "KeyDocs" >> beam.Map(lambda d: (d.key, d)), "label": labels, "size": sizes}
               | "JoinComponents" >> beam.CoGroupByKey() | "ApplyComponents" >> beam.ParDo(_ApplyComponents()))
    return split(applied, "ApplyComponents")


class LineStatsFn(beam.CombineFn):
    """(documents holding a line, the keeper): combiner-friendly, so no line is a hot key.

    The keeper is the longest holder (most Han characters, then smallest key): the document most likely to
    survive the length check, so that a shared line is not lost from every copy.
    """

    def create_accumulator(self):
        return 0, None

    def add_input(self, acc, rank):
        return self.merge_accumulators([acc, (1, rank)])

    def merge_accumulators(self, accumulators):
        n, keeper = 0, None
        for m, rank in accumulators:
            n += m
            if rank is not None and (keeper is None or rank < keeper):
                keeper = rank
        return n, keeper

    def extract_output(self, acc):
        n, (_, key) = acc
        return n, key


def _removals(element):
    """For one (line, salt) group: (doc key, line hash) for every holder of a repeated line but its keeper."""
    (h, _), grouped = element
    keepers = list(grouped["repeated"])
    if not keepers:
        return []
    return [(key, h) for key in sorted(set(grouped["holders"])) if key != keepers[0]]


class _RemoveLines(beam.DoFn):
    def __init__(self, config: CorpusConfig):
        self.thresholds = config.thresholds

    def process(self, element):
        _, grouped = element
        docs = list(grouped["doc"])
        if not docs:
            return
        doc = docs[0]
        remove = set(grouped["remove"])
        if remove:
            keep = [line_hash(line) not in remove for line in doc.text.split("\n")]
            text, words = drop_lines(doc.text, doc.words, keep)
            doc = doc.updated(text, words, **quality_scores(text))
        doc = doc.updated(repeated_lines_removed=len(remove))
        if long_enough(doc.meta, self.thresholds):
            yield doc
        else:
            yield dropped(doc, "dedup.too_short_after_line_dedup")


def line_dedup(docs, config: CorpusConfig):
    """C4-style: a line found in several documents stays only in the smallest-keyed one of them."""
    min_chars = config.dedup.min_line_chars
    pairs = docs | "LinePairs" >> beam.FlatMap(
        lambda d: [(h, (-d.meta["n_han"], d.key)) for h in line_hashes(d.text, min_chars)])
    repeated = (pairs | "LineStats" >> beam.CombinePerKey(LineStatsFn())
                | "Repeated" >> beam.Filter(lambda kv: kv[1][0] > 1)
                | "FanOutSalts" >> beam.FlatMap(lambda kv: [((kv[0], s), kv[1][1]) for s in range(SALTS)]))
    holders = pairs | "SaltHolders" >> beam.Map(lambda kv: ((kv[0], salt(kv[1][1])), kv[1][1]))
    removals = ({"repeated": repeated, "holders": holders} | "JoinLines" >> beam.CoGroupByKey()
                | "Removals" >> beam.FlatMap(_removals))
    applied = ({"doc": docs | "KeyDocsForLines" >> beam.Map(lambda d: (d.key, d)), "remove": removals}
               | "JoinRemovals" >> beam.CoGroupByKey()
               | "RemoveLines" >> beam.ParDo(_RemoveLines(config)))
    return split(applied, "RemoveLines")


def exact_dedup(docs):
    """URL, then exact text; returns (documents, funnel event collections)."""
    docs, url_funnel = docs | "UrlDedup" >> KeepBestPerKey(
        lambda d: d.key, newest_first, "dedup.url_duplicate", "url_captures")
    docs, exact_funnel = docs | "ExactDedup" >> KeepBestPerKey(
        lambda d: text_fingerprint(d.text), oldest_first, "dedup.exact_duplicate", "exact_duplicates")
    return docs, (url_funnel, exact_funnel)
