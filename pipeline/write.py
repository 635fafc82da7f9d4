"""Writers: deterministic WebDataset shards (hash-partitioned, sorted by key) and manifest.json."""
from __future__ import annotations

import hashlib
import json
import math

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems

from pipeline.funnel import event, split
from transforms.config import CorpusConfig
from transforms.shards import build_funnel, sample_files, shard_name, write_tar

SHARDS_DIR = "shards"


def join(*parts: str) -> str:
    return FileSystems.join(*parts)


def write_atomically(path: str, data: bytes) -> None:
    """Write to a temporary name, then rename: a reader never sees half a file, a retry overwrites cleanly."""
    tmp = path + ".tmp"
    with FileSystems.create(tmp) as f:
        f.write(data)
    if FileSystems.exists(path):
        FileSystems.delete([path])
    FileSystems.rename([tmp], [path])


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


class WriteShard(beam.DoFn):
    """(shard index, (document, arrays) pairs) → a tar sorted by key; emits its manifest entry and 'kept' events."""

    def __init__(self, output: str, config: CorpusConfig):
        self.output, self.prefix = output, config.shards.prefix

    def process(self, element, n_shards: int):
        index, annotated = element
        annotated = sorted(annotated, key=lambda pair: pair[0].key)
        sink = _HashingWriter()
        count = write_tar(sink, ((d.key, sample_files(d, arrays)) for d, arrays in annotated))
        name = shard_name(self.prefix, index, n_shards)
        write_atomically(join(self.output, SHARDS_DIR, name), b"".join(sink.chunks))
        for d, _ in annotated:
            yield event(d.warc_file, "kept")
        yield {"name": f"{SHARDS_DIR}/{name}", "samples": count, "bytes": sink.size, "sha256": sink.sha.hexdigest()}


def _sample_bytes(pair) -> int:
    doc, arrays = pair
    # text, plus the arrays, plus json and tar headers, roughly
    return len(doc.text.encode("utf-8")) + sum(a.nbytes for a in arrays.values()) + 2048


def write_shards(annotated, output: str, config: CorpusConfig):
    """Hash-partition (doc, arrays) into ceil(total bytes / target) shards; returns (shard entries, funnel events)."""
    total = annotated | "SampleBytes" >> beam.Map(_sample_bytes) | "TotalBytes" >> beam.CombineGlobally(sum)
    n_shards = total | "ShardCount" >> beam.Map(lambda b: max(1, math.ceil(b / config.shards.target_bytes)))
    written = (
        annotated
        | "AssignShard" >> beam.Map(lambda p, n: (int(p[0].key[:8], 16) % n, p), n=beam.pvalue.AsSingleton(n_shards))
        | "GroupShard" >> beam.GroupByKey()
        | "WriteShard" >> beam.ParDo(WriteShard(output, config), n_shards=beam.pvalue.AsSingleton(n_shards))
    )
    return split(written, "WriteShard")


def manifest_dict(config: CorpusConfig, inputs: list[dict], shards: list[dict], funnel_events, extra: dict,
                  assets: dict) -> dict:
    """The manifest: config and its digest, versions, inputs with their funnels, assets, shards, total funnel."""
    funnel = build_funnel(funnel_events)
    per_input = funnel.pop("per_input")
    return {
        "format": "chinesebert-corpus/1",
        "config": config.to_dict(),
        "config_sha256": config.digest(),
        **extra,
        **assets,
        "inputs": [{**i, "funnel": per_input.get(i["path"], {"read": 0, "kept": 0, "dropped": {}, "failed": {}})}
                   for i in inputs],
        "shards": sorted(shards, key=lambda s: s["name"]),
        "samples": sum(s["samples"] for s in shards),
        "funnel": funnel["total"],
        "funnel_balanced": funnel["balanced"],
    }


class WriteManifest(beam.DoFn):
    def __init__(self, output: str, config: CorpusConfig, inputs: list[dict], extra: dict):
        self.output, self.config, self.inputs, self.extra = output, config, inputs, extra

    def process(self, _, shards, funnel, assets):
        manifest = manifest_dict(self.config, self.inputs, list(shards), list(funnel), self.extra, assets)
        data = json.dumps(manifest, ensure_ascii=False, indent=2).encode("utf-8") + b"\n"
        write_atomically(join(self.output, "manifest.json"), data)
        yield manifest


def write_manifest(pipeline, shards, funnel_events, assets, output: str, config: CorpusConfig, inputs: list[dict],
                   extra: dict):
    """Count funnel events per (input, outcome, reason) and write manifest.json once everything else is done."""
    funnel = funnel_events | "CountFunnel" >> beam.CombinePerKey(sum)
    return (
        pipeline
        | "ManifestTrigger" >> beam.Create([None])
        | "WriteManifest" >> beam.ParDo(WriteManifest(output, config, inputs, extra),
                                        shards=beam.pvalue.AsList(shards), funnel=beam.pvalue.AsList(funnel),
                                        assets=beam.pvalue.AsSingleton(assets))
    )
