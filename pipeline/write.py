"""Writers: deterministic WebDataset shards (hash-partitioned, sorted by key), and the manifest's assembly."""
from __future__ import annotations

import hashlib

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems

from pipeline.funnel import event
from pipeline.work import write_bytes
from transforms.config import CorpusConfig
from transforms.shards import build_funnel, merge_quality, quality_summary, sample_files, shard_name, write_tar

SHARDS_DIR = "shards"


class _HashingWriter:
    """File-like sink that hashes and counts what the tar writer produces, and buffers it."""

    def __init__(self):
        self.chunks: list[bytes] = []
        self.sha = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self.chunks.append(bytes(data))
        self.sha.update(data)
        self.size += len(data)
        return len(data)

    def tell(self) -> int:
        return self.size


def shard_of(key: str, n_shards: int) -> int:
    return int(key[:8], 16) % n_shards


class WriteShard(beam.DoFn):
    """(shard index, (document, arrays) pairs) → a tar sorted by key; emits its manifest entry and 'kept' events."""

    def __init__(self, output: str, config: CorpusConfig, n_shards: int):
        self.output, self.prefix, self.n_shards = output, config.shards.prefix, n_shards

    def process(self, element):
        index, annotated = element
        annotated = sorted(annotated, key=lambda pair: pair[0].key)
        sink = _HashingWriter()
        count = write_tar(sink, ((d.key, sample_files(d, arrays)) for d, arrays in annotated))
        name = shard_name(self.prefix, index, self.n_shards)
        write_bytes(FileSystems.join(self.output, SHARDS_DIR, name), b"".join(sink.chunks))
        for d, _ in annotated:
            yield event(d.warc_file, "kept")
        yield {"name": f"{SHARDS_DIR}/{name}", "samples": count, "bytes": sink.size, "sha256": sink.sha.hexdigest(),
               "quality": quality_summary(d.meta for d, _ in annotated)}


def estimated_sample_bytes(doc) -> int:
    """Bytes a document will take in a shard: text, ~17 bytes of arrays per token, json and tar headers."""
    return len(doc.text.encode("utf-8")) + 17 * len(doc.text) + 2048


EMPTY_FUNNEL = {"read": 0, "kept": 0, "dropped": {}, "failed": {}}


def manifest_dict(config: CorpusConfig, inputs: list[dict], shards: list[dict], funnel_events, extra: dict) -> dict:
    """The manifest: config and its digest, versions and models, assets, inputs with their funnels, shards, funnel."""
    funnel = build_funnel(funnel_events)
    per_input = funnel.pop("per_input")
    quality = merge_quality(s["quality"] for s in shards if "quality" in s)
    shards = [{k: v for k, v in s.items() if k != "quality"} for s in shards]  # the totals stand for them
    return {
        "format": "chinesebert-corpus/1",
        "config": config.to_dict(),
        "config_sha256": config.digest(),
        **extra,
        "inputs": [{**i, "funnel": per_input.get(i["path"], EMPTY_FUNNEL)} for i in inputs],
        "shards": sorted(shards, key=lambda s: s["name"]),
        "samples": sum(s["samples"] for s in shards),
        "quality": quality,
        "funnel": funnel["total"],
        "funnel_balanced": funnel["balanced"],
    }
