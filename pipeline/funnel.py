"""Funnel events: every record's outcome, as data (for the manifest) and as a Beam counter (for monitoring).

DoFns yield their results and FunnelEvents into one output, and `split` separates them with two filters: no
multi-output ParDo, which Beam's Dask runner does not support (it mixes tagged outputs into the main one).
"""
from __future__ import annotations

from dataclasses import dataclass

import apache_beam as beam
from apache_beam.metrics import Metrics

NAMESPACE = "funnel"


@dataclass(frozen=True)
class FunnelEvent:
    path: str
    outcome: str  # read | kept | dropped | failed
    reason: str = ""


def event(path: str, outcome: str, reason: str = "") -> FunnelEvent:
    """A funnel event for an input path, counted in Beam metrics too."""
    Metrics.counter(NAMESPACE, f"{outcome}.{reason}" if reason else outcome).inc()
    return FunnelEvent(path, outcome, reason)


def dropped(doc_or_path, reason: str) -> FunnelEvent:
    """A drop of a document (or of a record of the given input path) for a named reason."""
    path = doc_or_path if isinstance(doc_or_path, str) else doc_or_path.warc_file
    return event(path, "dropped", reason)


def split(mixed, label: str):
    """(the results, ((input, outcome, reason), 1) pairs) of a collection holding both."""
    results = mixed | f"{label}Results" >> beam.Filter(lambda x: not isinstance(x, FunnelEvent))
    events = mixed | f"{label}Events" >> beam.FlatMap(
        lambda x: [((x.path, x.outcome, x.reason), 1)] if isinstance(x, FunnelEvent) else [])
    return results, events
