"""Read WARC records from a seekable binary stream: bounded memory, damage counted, reading goes on past it.

Every WARC record (or damaged region) yields exactly one item: a `Record` (an HTML-ish 200 response within the
size cap), a `Skipped` (a record that is not a candidate, with its reason) or a `ReadFailure`. Gzip members are
split here rather than by warcio, so that a corrupt member is skipped and the members after it are still read.
"""
from __future__ import annotations

import io
import re
from dataclasses import dataclass
from typing import BinaryIO, Iterator, Union

import brotli
from warcio.archiveiterator import ArchiveIterator
from warcio.bufferedreaders import BufferedReader

from transforms.config import ReadConfig
from transforms.gzip_members import GZIP_MAGIC, iter_gzip_members
from transforms.types import ReadFailure, Record

HEADER_LINES = re.compile(rb"WARC/1\.[0-9]\r?\n(?:(?:[!-9;-~]+:|[ \t])[^\r\n]*\r?\n)*")
BLANK_LINE = re.compile(rb"\r?\n")
CONTENT_LENGTH = re.compile(rb"\ncontent-length:[ \t]*([0-9]{1,15})[ \t]*\r?\n", re.IGNORECASE)
VERSION_LINE = re.compile(rb"\nWARC/1\.[0-9]\r?\n")
EMBEDDED_RECORD = b"\r\n\r\nWARC/1."
TARGET_URI = re.compile(rb"\nWARC-Target-URI:[ \t]*([^\r\n]*)", re.IGNORECASE)
FIRST_HEADER_READ = 2048
SCAN_CHUNK = 1 << 20


MAX_DECODED_BLOCK = 1 << 26  # one compressed block's output; read.max_record_bytes may not exceed it


class BoundedBrotli:
    """warcio's decompressor interface over brotli with bounded output per call: warcio's own adapter fails on
    brotli >= 1.2 (every `Content-Encoding: br` page was record_unparsable), and a brotli bomb is bounded here."""

    unused_data = None

    def __init__(self):
        self._decompressor = brotli.Decompressor()

    @property
    def eof(self) -> bool:
        return self._decompressor.is_finished()

    def decompress(self, data: bytes) -> bytes:
        """Output for `data`, at most MAX_DECODED_BLOCK bytes (more is over every payload cap anyway)."""
        return self._decompressor.process(data, output_buffer_limit=MAX_DECODED_BLOCK)


class CheckedDecompressor:
    """Remembers that decoding failed or ended early: warcio then ends the payload without saying so, and a
    truncated page must not be kept. (A failure on the first block is warcio's fallback to the raw body, for a lying header.)"""

    def __init__(self, inner):
        self._inner, self.failed = inner, False

    @property
    def unused_data(self):
        return self._inner.unused_data

    @property
    def truncated(self) -> bool:
        """The encoded body ended before the encoding's own end (read to the end first)."""
        return self.failed or not self._inner.eof

    def decompress(self, data: bytes) -> bytes:
        """The inner decompressor's output; an error is remembered, then raised for warcio."""
        try:
            return self._inner.decompress(data)
        except Exception:
            self.failed = True
            raise


BufferedReader.DECOMPRESSORS["br"] = BoundedBrotli
for _name, _factory in list(BufferedReader.DECOMPRESSORS.items()):
    BufferedReader.DECOMPRESSORS[_name] = lambda factory=_factory: CheckedDecompressor(factory())


@dataclass
class Skipped:
    """A WARC record that is read and accounted for, but is not a candidate page."""

    warc_file: str
    warc_offset: int
    reason: str
    url: str = ""


ReadItem = Union[Record, Skipped, ReadFailure]


@dataclass
class RawRecord:
    """Where one WARC record lies (header block + content), its length checked against the next record's start."""

    offset: int
    size: int
    url: str
    data: bytes | None = None  # None: over the size cap, not read


def _header_at(stream: BinaryIO, pos: int, cap: int) -> tuple[bytes, str]:
    """(the WARC header block at `pos` ending in its blank line, "") or (b"", the reason it is not one)."""
    want = FIRST_HEADER_READ
    while True:
        stream.seek(pos)
        buf = stream.read(want)
        if not buf.startswith(b"WARC/"):
            return b"", "warc_garbage"
        m = HEADER_LINES.match(buf)
        end = m.end() if m else 0
        blank = BLANK_LINE.match(buf, end) if m else None
        if blank:
            return buf[:blank.end()], ""
        if m is None or b"\n" in buf[end:]:  # a line that is not a header line: not a WARC header block
            return b"", "warc_garbage"
        if len(buf) < want:
            return b"", "warc_truncated"
        if want >= cap:
            return b"", "warc_header_too_large"
        want = min(cap, want * 4)


def _locate(stream: BinaryIO, pos: int, file_size: int, cap: int) -> tuple[RawRecord | None, str]:
    """The record at `pos` if its header parses and its Content-Length ends where the next record (or the file)
    starts; else (None, reason). Reads the header and a few bytes, never the content."""
    header, reason = _header_at(stream, pos, cap)
    if reason:
        return None, reason
    length_match = CONTENT_LENGTH.search(header)
    if length_match is None:
        return None, "warc_no_length"
    end = pos + len(header) + int(length_match.group(1))
    stream.seek(end)
    after = stream.read(9)
    rest = after.lstrip(b"\r\n")
    # The content ends in the record terminator (CRLF CRLF, what writers write), or in up to 4 line ends before the
    # next record or the end of the file (what lenient writers write); anything else is a wrong length.
    ends_well = after.startswith(b"\r\n\r\n") or (len(after) - len(rest) <= 4 and rest in (b"", b"WARC/"[:len(rest)])
                                                     or rest.startswith(b"WARC/"))
    if end > file_size or not ends_well:
        return None, "warc_length_mismatch"  # too long, too short or missing: the next record is found again
    return RawRecord(pos, end - pos, _target_uri(header)), ""


def _target_uri(header: bytes) -> str:
    m = TARGET_URI.search(header)
    return _unwrap_uri(m.group(1).decode("utf-8", "replace") if m else "")


def _unwrap_uri(url: str) -> str:
    url = url.strip()
    return url[1:-1] if url.startswith("<") and url.endswith(">") else url  # WARC 1.0 writers (wget) wrap it


def _version_lines(stream: BinaryIO, start: int) -> Iterator[int]:
    """Offsets after `start` where a line `WARC/1.x` begins, in one pass over the stream."""
    pos = start
    while True:
        stream.seek(pos)
        block = stream.read(SCAN_CHUNK + 16)
        for m in VERSION_LINE.finditer(block):
            if m.start() >= SCAN_CHUNK:
                break
            yield pos + m.start() + 1
        if len(block) <= SCAN_CHUNK:
            return
        pos += SCAN_CHUNK


def _swallows_a_record(stream: BinaryIO, record: RawRecord, cfg: ReadConfig) -> bool:
    """Whether a WARC header block (with a Content-Length) starts inside this record's content: its own length is
    then wrong, even where it happens to end on a blank line (HTML with CRLF line ends is full of them)."""
    data, at = record.data, record.data.find(EMBEDDED_RECORD)
    while at != -1:
        header, reason = _header_at(stream, record.offset + at + 4, cfg.max_header_bytes)
        if not reason and CONTENT_LENGTH.search(header):
            return True
        at = data.find(EMBEDDED_RECORD, at + 1)
    return False


def split_records(stream: BinaryIO, warc_file: str, cfg: ReadConfig) -> Iterator[RawRecord | ReadFailure]:
    """The records of an uncompressed WARC stream; a damaged region (garbage, a wrong or missing Content-Length, a
    header over the cap) is one ReadFailure, and reading resumes at the next record whose own length checks out."""
    file_size = stream.seek(0, 2)
    pos = 0
    while True:
        stream.seek(pos)
        lead = stream.read(8)
        blank = len(lead) - len(lead.lstrip(b"\r\n"))
        if blank == len(lead) < 8:
            return
        pos += blank
        if blank == len(lead):
            continue
        record, reason = _locate(stream, pos, file_size, cfg.max_header_bytes)
        if record is not None and record.size <= cfg.max_member_bytes:
            stream.seek(pos)
            record.data = stream.read(record.size)
            if _swallows_a_record(stream, record, cfg):
                record, reason = None, "warc_length_mismatch"
        if record is not None:
            yield record
            pos += record.size
            continue
        yield ReadFailure(warc_file, pos, reason)
        for candidate in _version_lines(stream, pos):
            if _locate(stream, candidate, file_size, cfg.max_header_bytes)[0] is not None:
                pos = candidate
                break
        else:
            return


def _media_type(content_type: str) -> tuple[str, str]:
    """Split a Content-Type header into (media type, charset), both lower case."""
    parts = [p.strip() for p in content_type.split(";")]
    charset = ""
    for p in parts[1:]:
        name, _, value = p.partition("=")
        if name.strip().lower() == "charset":
            charset = value.strip().strip("\"'").lower()
    return parts[0].lower(), charset


def _looks_like_html(payload: bytes) -> bool:
    head = payload[:1024].lstrip().lower()
    return head.startswith((b"<!doctype html", b"<html", b"<head", b"<?xml"))


def record_from_warc(rec, warc_file: str, offset: int, cfg: ReadConfig) -> ReadItem:
    """Turn one warcio record into a candidate Record or a Skipped with its reason."""
    url = _unwrap_uri(rec.rec_headers.get_header("WARC-Target-URI") or "")
    if rec.rec_type != "response":
        return Skipped(warc_file, offset, "not_response", url)
    if rec.http_headers is None:
        return Skipped(warc_file, offset, "not_http", url)
    try:
        status = int(rec.http_headers.get_statuscode() or 0)
    except ValueError:
        status = 0
    if status != 200:
        return Skipped(warc_file, offset, "http_status", url)
    declared_length = rec.rec_headers.get_header("Content-Length")
    if declared_length and declared_length.isdigit() and int(declared_length) > cfg.max_record_bytes * 2:
        return Skipped(warc_file, offset, "record_too_large", url)
    content = rec.content_stream()
    payload = content.read(cfg.max_record_bytes + 1)
    if len(payload) > cfg.max_record_bytes:
        return Skipped(warc_file, offset, "record_too_large", url)
    encoding = (rec.http_headers.get_header("Content-Encoding") or "").strip().lower()
    if getattr(getattr(content, "decompressor", None), "truncated", False) or (
            encoding in ("gzip", "x-gzip") and payload.startswith(GZIP_MAGIC[:2])):  # warcio fell back to raw bytes
        return ReadFailure(warc_file, offset, "content_encoding_corrupt")
    if not payload.strip():
        return Skipped(warc_file, offset, "empty_payload", url)
    media, charset = _media_type(rec.http_headers.get_header("Content-Type") or "")
    if media not in cfg.html_types and not (media in ("", "application/octet-stream") and _looks_like_html(payload)):
        return Skipped(warc_file, offset, "not_html", url)
    return Record(
        url=url,
        warc_file=warc_file,
        warc_offset=offset,
        record_id=rec.rec_headers.get_header("WARC-Record-ID") or "",
        fetch_time=rec.rec_headers.get_header("WARC-Date") or "",
        http_status=status,
        content_type=media,
        http_charset=charset,
        payload=payload,
    )


def _parse(raw: RawRecord | ReadFailure, warc_file: str, offset: int, cfg: ReadConfig) -> ReadItem:
    """One located record (or a damaged region) as a Record / Skipped / ReadFailure at `offset`."""
    if isinstance(raw, ReadFailure):
        raw.warc_offset = offset
        return raw
    if raw.data is None:
        return Skipped(warc_file, offset, "record_too_large", raw.url)
    try:
        rec = next(iter(ArchiveIterator(io.BytesIO(raw.data), ensure_http_headers=False)))
        return record_from_warc(rec, warc_file, offset, cfg)
    except Exception as exc:  # a malformed HTTP block inside an intact WARC record
        return ReadFailure(warc_file, offset, "record_unparsable", type(exc).__name__)


def iter_warc(stream: BinaryIO, warc_file: str, cfg: ReadConfig) -> Iterator[ReadItem]:
    """Every record of a .warc or .warc.gz stream (seekable), as Record / Skipped / ReadFailure; offsets are the
    record's own (.warc) or its gzip member's (.warc.gz)."""
    stream.seek(0)
    gzipped = stream.read(2) == GZIP_MAGIC[:2]
    if not gzipped:
        for raw in split_records(stream, warc_file, cfg):
            yield _parse(raw, warc_file, raw.warc_offset if isinstance(raw, ReadFailure) else raw.offset, cfg)
        return
    for member in iter_gzip_members(stream, warc_file, cfg.max_member_bytes):
        if isinstance(member, ReadFailure):
            yield member
            continue
        offset, data = member
        if data is None:  # the same drop, under the same name, as an oversize record of an uncompressed .warc
            yield Skipped(warc_file, offset, "record_too_large")
            continue
        found = 0
        for raw in split_records(io.BytesIO(data), warc_file, cfg):
            found += 1
            yield _parse(raw, warc_file, offset, cfg)
        if not found:
            yield ReadFailure(warc_file, offset, "member_without_record")
