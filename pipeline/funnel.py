"""Funnel events: every record's outcome, as data (for the manifest) and as a Beam counter (for monitoring)."""
from __future__ import annotations

import apache_beam as beam
from apache_beam.metrics import Metrics

FUNNEL = "funnel"  # tag of the funnel side output


def event(path: str, outcome: str, reason: str = "") -> beam.pvalue.TaggedOutput:
    """A funnel event ((input, outcome, reason), 1) on the funnel output, counted in Beam metrics too."""
    Metrics.counter(FUNNEL, f"{outcome}.{reason}" if reason else outcome).inc()
    return beam.pvalue.TaggedOutput(FUNNEL, ((path, outcome, reason), 1))


def dropped(doc_or_path, reason: str) -> beam.pvalue.TaggedOutput:
    """A drop of a document (or of a record of the given input path) for a named reason."""
    path = doc_or_path if isinstance(doc_or_path, str) else doc_or_path.warc_file
    return event(path, "dropped", reason)
