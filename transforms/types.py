"""The record types that flow through the job, and the one way a step says no."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


class Rejected(Exception):
    """Raised by a step to drop its input for a named reason (counted as `step.reason`)."""

    def __init__(self, step: str, reason: str, detail: str = ""):
        super().__init__(f"{step}.{reason}")
        self.step = step
        self.reason = reason
        self.detail = detail

    @property
    def label(self) -> str:
        return f"{self.step}.{self.reason}"


@dataclass
class Record:
    """One WARC response as read: provenance, HTTP facts and the (bounded) payload bytes."""

    url: str
    warc_file: str
    warc_offset: int
    record_id: str
    fetch_time: str
    http_status: int
    content_type: str  # media type only, lower case
    http_charset: str  # charset parameter of Content-Type, lower case, "" if absent
    payload: bytes


@dataclass
class ReadFailure:
    """Damage found while reading a WARC (corrupt gzip member, truncated file, unparsable record)."""

    warc_file: str
    warc_offset: int
    reason: str
    detail: str = ""


@dataclass
class Document:
    """A candidate document: text plus metadata (provenance and scores)."""

    key: str
    url: str
    text: str
    meta: dict[str, Any] = field(default_factory=dict)
    words: list[int] = field(default_factory=list)  # word lengths in characters, covering text exactly

    @property
    def warc_file(self) -> str:
        return self.meta["warc_file"]

    def updated(self, text: str | None = None, words: list[int] | None = None, **meta: Any) -> "Document":
        """A copy with new text, words and/or metadata fields (elements are never mutated in place)."""
        return Document(self.key, self.url, self.text if text is None else text, {**self.meta, **meta},
                        self.words if words is None else words)
