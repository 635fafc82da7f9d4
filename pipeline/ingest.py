"""Per-input phase: one WARC path in, scored documents out, every record's outcome counted."""
from __future__ import annotations

import logging

import apache_beam as beam
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems

from pipeline.funnel import dropped, event, split
from transforms.chain import DocumentChain
from transforms.config import CorpusConfig
from transforms.decide import decide
from transforms.types import ReadFailure, Rejected
from transforms.warc import Skipped, iter_warc

class ProcessWarc(beam.DoFn):
    """Read one WARC file and run the per-input chain on each candidate; models load once per worker."""

    def __init__(self, config: CorpusConfig):
        self.config = config
        self.chain: DocumentChain | None = None

    def setup(self):
        self.chain = DocumentChain.load(self.config)

    def process(self, path: str):
        try:
            with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as stream:
                for item in iter_warc(stream, path, self.config.read):
                    yield event(path, "read")
                    yield from self._outcome(path, item)
        except Exception as exc:  # the file could not be opened or read at all: one failure, named
            logging.warning("cannot read %s: %r", path, exc)
            yield event(path, "read")
            yield event(path, "failed", f"read.io_{type(exc).__name__}")

    def _outcome(self, path: str, item):
        if isinstance(item, ReadFailure):
            yield event(path, "failed", f"read.{item.reason}")
        elif isinstance(item, Skipped):
            yield dropped(path, f"read.{item.reason}")
        else:
            try:
                yield self.chain(item)
            except Rejected as rejected:
                yield dropped(path, rejected.label)
            except Exception as exc:  # a bug or a hostile input no step foresaw: counted, never fatal
                logging.warning("record %s@%s failed: %r", path, item.warc_offset, exc)
                yield event(path, "failed", f"process.{type(exc).__name__}")


class Decide(beam.DoFn):
    """Apply the configured thresholds to the stored scores (the only place thresholds are used)."""

    def __init__(self, config: CorpusConfig):
        self.thresholds = config.thresholds

    def process(self, doc):
        reason = decide(doc.meta, self.thresholds)
        if reason is None:
            yield doc
        else:
            yield dropped(doc, f"quality.{reason}")


def ingest(paths, config: CorpusConfig):
    """paths → (scored documents that pass the thresholds, funnel events)."""
    docs, read_funnel = split(paths | "ShuffleInputs" >> beam.Reshuffle()
                              | "ProcessWarc" >> beam.ParDo(ProcessWarc(config)), "ProcessWarc")
    docs, decide_funnel = split(docs | "Decide" >> beam.ParDo(Decide(config)), "Decide")
    return docs, (read_funnel, decide_funnel)
