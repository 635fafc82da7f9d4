"""Phase 1, per input: one WARC path in, its scored documents and funnel written as an intermediate file pair.

Every record's outcome is counted (Beam metrics for monitoring, the funnel file for the manifest); a relaunch
skips inputs whose funnel file exists.
"""
from __future__ import annotations

import logging
from collections import Counter

import apache_beam as beam
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics

from pipeline.crawl import is_retryable, retry
from pipeline.funnel import dropped
from pipeline.work import docs_bytes, input_paths, write_bytes, write_json
from transforms.chain import DocumentChain
from transforms.config import CorpusConfig
from transforms.decide import decide, tier
from transforms.types import ReadFailure, Rejected
from transforms.warc import Skipped, iter_warc


class ProcessWarc(beam.DoFn):
    """Read one WARC file, run the per-input chain on each candidate, write the input's intermediate files."""

    def __init__(self, config: CorpusConfig, folder: str):
        self.config, self.folder = config, folder
        self.chain: DocumentChain | None = None
        self.inputs_done = Metrics.counter("progress", "inputs_done")
        self.candidates = Metrics.counter("progress", "candidates")

    def setup(self):
        # warcio logs every URL with a space it escapes; the record is read and counted like any other
        logging.getLogger("warcio").setLevel(logging.ERROR)
        self.chain = DocumentChain.load(self.config)

    def process(self, source: dict):
        # Throttling or a dropped connection restarts the whole input (nothing is written before its end).
        path = source["path"]
        docs, funnel, rejects = retry(lambda: self._read(path))
        docs_file, funnel_file = input_paths(self.folder, source)
        write_bytes(docs_file, docs_bytes(sorted(docs, key=lambda d: (d.key, d.meta["warc_offset"]))))
        write_json(funnel_file, {"path": path, "events": sorted([o, r, n] for (o, r), n in funnel.items()),
                                 "rejects": [rejects[r] for r in sorted(rejects)]})
        for (outcome, reason), n in funnel.items():
            Metrics.counter("funnel", f"{outcome}.{reason}" if reason else outcome).inc(n)
        self.inputs_done.inc()
        self.candidates.inc(len(docs))
        yield path

    def _read(self, path: str):
        docs, funnel, rejects = [], Counter(), {}
        try:
            with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as stream:
                for item in iter_warc(stream, path, self.config.read):
                    funnel[("read", "")] += 1
                    doc = self._outcome(item, funnel, rejects)
                    if doc is not None:
                        docs.append(doc)
            if not funnel:  # nothing at all in the file: the input itself is counted, with its reason
                funnel[("read", "")] += 1
                _count(funnel, rejects, "failed", "read.empty_file", path, detail="0 records")
        except Exception as exc:
            if is_retryable(exc):
                raise
            logging.warning("cannot read %s: %s", path, repr(exc))  # opened or read no further: one failure, named
            funnel[("read", "")] += 1
            _count(funnel, rejects, "failed", f"read.io_{type(exc).__name__}", path, detail=repr(exc))
        return docs, funnel, rejects

    def _outcome(self, item, funnel: Counter, rejects: dict):
        if isinstance(item, ReadFailure):
            _count(funnel, rejects, "failed", f"read.{item.reason}", f"{item.warc_file} @ {item.warc_offset}",
                   detail=item.detail)
        elif isinstance(item, Skipped):
            _count(funnel, rejects, "dropped", f"read.{item.reason}", item.url)
        else:
            try:
                return self.chain(item)
            except Rejected as rejected:
                _count(funnel, rejects, "dropped", rejected.label, item.url, item.content_type,
                       item.payload[:160].decode("utf-8", "replace"))
            except Exception as exc:  # a bug or a hostile input no step foresaw: counted, never fatal
                # repr, not the exception: a log record kept by a handler must not keep the failed step's frames
                logging.warning("record %s@%s failed: %s", item.warc_file, item.warc_offset, repr(exc))
                _count(funnel, rejects, "failed", f"process.{type(exc).__name__}", item.url, item.content_type,
                       repr(exc))
        return None


def _count(funnel: Counter, rejects: dict, outcome: str, label: str, where: str, content_type: str = "",
           detail: str = "") -> None:
    """Count one outcome under its reason; the first of each reason per input is kept as the report's example
    (bounded, deterministic)."""
    funnel[(outcome, label)] += 1
    rejects.setdefault(label, [label, where[:300], content_type, detail[:160]])


def ingest(sources, config: CorpusConfig, folder: str):
    """Phase 1 graph: inputs ({path, size, modified}) → per-input intermediates (returns the processed paths)."""
    return sources | "ShuffleInputs" >> beam.Reshuffle() | "ProcessWarc" >> beam.ParDo(ProcessWarc(config, folder))


class Decide(beam.DoFn):
    """Apply the configured thresholds to the stored scores (the only place thresholds are used)."""

    def __init__(self, config: CorpusConfig):
        self.thresholds = config.thresholds

    def process(self, doc):
        reason = decide(doc.meta, self.thresholds)
        yield doc.updated(quality_tier=tier(doc.meta, self.thresholds)) if reason is None else dropped(
            doc, f"quality.{reason}")

