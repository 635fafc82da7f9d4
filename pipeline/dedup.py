"""Global dedup in Beam: URL, exact text, MinHash-LSH near-duplicates and repeated lines (C4), no hot keys.

A group never gathers the copies of a text or the holders of a line: the winner of each text or line is found by a
combiner over small (rank, key) tuples, and the verdict travels back to the documents by a join on the document key,
whose groups hold one document and its own verdicts. LSH buckets are split into `BAND_PARTS` parts by the member's
key; near-duplicate components are found by label propagation over files (pipeline/components.py).
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

BAND_PARTS = 256


def band_part(key: str) -> int:
    """Which part of an LSH bucket a document key falls in (keys are hex)."""
    return int(key[:6], 16) % BAND_PARTS


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


def by_document(docs, step: str, **verdicts):
    """(key, {"doc": [the document], name: [its verdicts]…}): verdicts keyed by document key meet their document
    in a group that holds one document, however common the text or line the verdict is about."""
    return ({"doc": docs | f"Key{step}" >> beam.Map(lambda d: (d.key, d)), **verdicts}
            | f"Join{step}" >> beam.CoGroupByKey())


class _NewestCapture(beam.DoFn):
    """Of the captures of one URL keep the newest; the others are URL duplicates (a URL has a few captures)."""

    def process(self, element):
        _, captures = element
        captures = sorted(captures, key=newest_first)
        for loser in captures[1:]:
            yield dropped(loser, "dedup.url_duplicate")
        yield captures[0].updated(url_captures=len(captures))


class FirstCopyFn(beam.CombineFn):
    """Over the (rank, key) of every copy of a text: (the best ranked, number of copies)."""

    def create_accumulator(self):
        return None, 0

    def add_input(self, acc, rank):
        return self.merge_accumulators([acc, (rank, 1)])

    def merge_accumulators(self, accumulators):
        best, n = None, 0
        for rank, m in accumulators:
            n += m
            if rank is not None and (best is None or rank < best):
                best = rank
        return best, n

    def extract_output(self, acc):
        return acc


class _KeepFirstCopy(beam.DoFn):
    """A document is kept when it is its text's first copy (it then receives the number of copies)."""

    def process(self, element):
        _, grouped = element
        copies = list(grouped["copies"])
        for doc in grouped["doc"]:
            yield doc.updated(exact_duplicates=copies[0]) if copies else dropped(doc, "dedup.exact_duplicate")


class _Bands(beam.DoFn):
    """((band key, part), doc key) for each LSH band of a document."""

    def __init__(self, config: CorpusConfig):
        self.cfg = config.dedup

    def setup(self):
        self.hasher = MinHasher(self.cfg)

    def process(self, doc):
        for band in self.hasher.band_keys(doc.text):
            yield (band, band_part(doc.key)), doc.key


def near_duplicate_edges(docs, config: CorpusConfig):
    """Edges (u, v) linking the documents that share an LSH band: within a part of a bucket a tree over its
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
        labels, sizes = list(grouped["label"]), list(grouped["size"])
        for doc in grouped["doc"]:
            if labels and labels[0] != key:
                yield dropped(doc, "dedup.near_duplicate")
            else:
                yield doc.updated(dedup_cluster_size=sizes[0] if sizes else 1)


def apply_components(docs, labels):
    """Keep one document per near-duplicate component; labels are (node, smallest key of its component)."""
    sizes = labels | "Root" >> beam.Map(lambda kv: (kv[1], 1)) | "ComponentSize" >> beam.CombinePerKey(sum)
    applied = (by_document(docs, "Components", label=labels, size=sizes)
               | "ApplyComponents" >> beam.ParDo(_ApplyComponents()))
    return split(applied, "ApplyComponents")


class _RemoveLines(beam.DoFn):
    """A document keeps the lines it is the keeper of; its other lines that take part in line dedup go."""

    def __init__(self, config: CorpusConfig):
        self.thresholds, self.min_chars = config.thresholds, config.dedup.min_line_chars

    def process(self, element):
        _, grouped = element
        for doc in grouped["doc"]:
            remove = set(line_hashes(doc.text, self.min_chars)) - set(grouped["keeps"])
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
    """C4-style: a line found in several documents stays only in its keeper, the holder with the most Han characters
    (then the smallest key), so that a shared line is not lost from every copy."""
    min_chars = config.dedup.min_line_chars
    keeps = (docs | "LineRanks" >> beam.FlatMap(
                 lambda d: [(h, (-d.meta["n_han"], d.key)) for h in line_hashes(d.text, min_chars)])
             | "LineKeeper" >> beam.CombinePerKey(min) | "KeptBy" >> beam.Map(lambda kv: (kv[1][1], kv[0])))
    applied = by_document(docs, "Keeps", keeps=keeps) | "RemoveLines" >> beam.ParDo(_RemoveLines(config))
    return split(applied, "RemoveLines")


def exact_dedup(docs):
    """URL, then exact text; returns (documents, funnel event collections)."""
    docs, url_funnel = split(docs | "KeyUrl" >> beam.Map(lambda d: (d.key, d)) | "GroupUrl" >> beam.GroupByKey()
                             | "NewestCapture" >> beam.ParDo(_NewestCapture()), "NewestCapture")
    copies = (docs | "TextRank" >> beam.Map(lambda d: (text_fingerprint(d.text), oldest_first(d)))
              | "FirstCopy" >> beam.CombinePerKey(FirstCopyFn())
              | "CopiesOfWinner" >> beam.Map(lambda kv: (kv[1][0][-1], kv[1][1])))
    applied = by_document(docs, "Copies", copies=copies) | "KeepFirstCopy" >> beam.ParDo(_KeepFirstCopy())
    docs, exact_funnel = split(applied, "KeepFirstCopy")
    return docs, (url_funnel, exact_funnel)
