"""Read WARC records from a seekable binary stream: bounded memory, damage counted, reading goes on past it.

Every WARC record (or damaged region) yields exactly one item: a `Record` (an HTML-ish 200 response within the
size cap), a `Skipped` (a record that is not a candidate, with its reason) or a `ReadFailure`. Gzip members are
split here rather than by warcio, so that a corrupt member is skipped and the members after it are still read.
"""
from __future__ import annotations

import io
import zlib
from dataclasses import dataclass
from typing import BinaryIO, Iterator, Union

from warcio.archiveiterator import ArchiveIterator

from transforms.config import ReadConfig
from transforms.types import ReadFailure, Record

GZIP_MAGIC = b"\x1f\x8b\x08"
CHUNK = 1 << 16
OUTPUT_CHUNK = 1 << 20


@dataclass
class Skipped:
    """A WARC record that is read and accounted for, but is not a candidate page."""

    warc_file: str
    warc_offset: int
    reason: str
    url: str = ""


ReadItem = Union[Record, Skipped, ReadFailure]


def _scan_for_member(stream: BinaryIO, start: int) -> int | None:
    """Offset of the next gzip member at or after `start` that really starts to decompress, or None."""
    pos = start
    carry = b""
    while True:
        stream.seek(pos)
        block = stream.read(CHUNK)
        if not block:
            return None
        data = carry + block
        base = pos - len(carry)
        i = data.find(GZIP_MAGIC)
        while i != -1:
            candidate = base + i
            stream.seek(candidate)
            try:
                zlib.decompressobj(31).decompress(stream.read(CHUNK), 1024)
                return candidate
            except zlib.error:
                i = data.find(GZIP_MAGIC, i + 1)
        carry = data[-2:]
        pos += len(block)


def _inflate_member(stream: BinaryIO, offset: int, cap: int) -> tuple[bytes | None, int, str]:
    """Decompress the member at `offset`: (bytes or None if over cap, compressed length, error or "")."""
    stream.seek(offset)
    d = zlib.decompressobj(31)
    pieces: list[bytes] = []
    size = 0
    consumed = 0
    pending = b""
    while not d.eof:
        if not pending:
            pending = stream.read(CHUNK)
            if not pending:
                return None, consumed, "gzip_truncated"
            consumed += len(pending)
        try:
            out = d.decompress(pending, OUTPUT_CHUNK)
        except zlib.error:
            return None, consumed, "gzip_corrupt"
        pending = d.unconsumed_tail
        size += len(out)
        if size <= cap:
            pieces.append(out)
        else:
            pieces = []  # keep draining to find where the member ends, holding nothing
    length = consumed - len(d.unused_data)
    return (b"".join(pieces) if size <= cap else None), length, ""


def iter_gzip_members(stream: BinaryIO, warc_file: str,
                      cap: int) -> Iterator[tuple[int, bytes] | ReadFailure | Skipped]:
    """Yield (offset, decompressed bytes) per member, a ReadFailure per damaged region, a Skipped per oversize
    member."""
    offset = 0
    while True:
        stream.seek(offset)
        head = stream.read(len(GZIP_MAGIC))
        if not head:
            return
        if head != GZIP_MAGIC:
            yield ReadFailure(warc_file, offset, "gzip_garbage")
            nxt = _scan_for_member(stream, offset + 1)
            if nxt is None:
                return
            offset = nxt
            continue
        data, length, error = _inflate_member(stream, offset, cap)
        if error:
            yield ReadFailure(warc_file, offset, error)
            nxt = _scan_for_member(stream, offset + 1)
            if nxt is None:
                return
            offset = nxt
            continue
        if data is None:  # the same drop, under the same name, as an oversize record of an uncompressed .warc
            yield Skipped(warc_file, offset, "record_too_large")
        else:
            yield offset, data
        offset += length


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


def record_from_warc(rec, warc_file: str, offset: int, cfg: ReadConfig) -> Record | Skipped:
    """Turn one warcio record into a candidate Record or a Skipped with its reason."""
    url = (rec.rec_headers.get_header("WARC-Target-URI") or "").strip()
    if url.startswith("<") and url.endswith(">"):  # WARC 1.0 writers (wget) wrap the URI; a URL's own <> stay
        url = url[1:-1]
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
    payload = rec.content_stream().read(cfg.max_record_bytes + 1)
    if len(payload) > cfg.max_record_bytes:
        return Skipped(warc_file, offset, "record_too_large", url)
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


def _records_in(stream: BinaryIO, warc_file: str, base_offset: int | None, cfg: ReadConfig) -> Iterator[ReadItem]:
    """Records of an uncompressed WARC stream; offsets are the member's (gzip) or the record's own."""
    it = ArchiveIterator(stream, no_record_parse=False, ensure_http_headers=False)
    try:
        for rec in it:
            try:
                item: ReadItem = record_from_warc(rec, warc_file, -1, cfg)
            except Exception as exc:  # a malformed HTTP block inside an intact WARC record
                item = ReadFailure(warc_file, -1, "record_unparsable", type(exc).__name__)
            # warcio knows a record's offset only once its payload has been read, so it is filled in after.
            item.warc_offset = base_offset if base_offset is not None else it.get_record_offset()
            yield item
    except Exception as exc:
        yield ReadFailure(warc_file, base_offset or 0, "warc_unparsable", type(exc).__name__)


def iter_warc(stream: BinaryIO, warc_file: str, cfg: ReadConfig) -> Iterator[ReadItem]:
    """Every record of a .warc or .warc.gz stream (seekable), as Record / Skipped / ReadFailure."""
    stream.seek(0)
    gzipped = stream.read(2) == GZIP_MAGIC[:2]
    stream.seek(0)
    if not gzipped:
        yield from _records_in(stream, warc_file, None, cfg)
        return
    for item in iter_gzip_members(stream, warc_file, cfg.max_member_bytes):
        if isinstance(item, (ReadFailure, Skipped)):
            yield item
        else:
            offset, data = item
            yield from _records_in(io.BytesIO(data), warc_file, offset, cfg)
