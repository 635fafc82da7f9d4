"""Split a .warc.gz stream into its gzip members with bounded work per byte, whatever the bytes are.

A corrupt member is one counted failure and the members after it are still read. Resynchronising after damage
probes each `1f 8b 08` candidate with a small window that must produce output, so a file of repeated magic bytes
costs linear time, and a run of candidates that all fail is one damaged region, counted once.
"""
from __future__ import annotations

import zlib
from typing import BinaryIO, Iterator

from transforms.types import ReadFailure

GZIP_MAGIC = b"\x1f\x8b\x08"
CHUNK = 1 << 16
OUTPUT_CHUNK = 1 << 20
RESYNC_BUDGET_FACTOR, RESYNC_BUDGET_BYTES = 4, 64 << 20  # bytes re-read by failing candidates: 4 × file + 64 MiB
HEADER_WINDOW = 512  # a gzip header longer than this (file name, comment, extra field) is not a WARC writer's
PROBE_BYTES = 4096  # the header and the first deflate block fit; output must appear in it
FEXTRA, FNAME, FCOMMENT, FHCRC = 4, 8, 16, 2


def _header_fits(window: bytes) -> bool:
    """Whether a gzip header starts at window[0] and ends within it (reserved flag bits clear)."""
    if len(window) < 10 or window[3] & 0xE0:
        return False
    flags, pos = window[3], 10
    if flags & FEXTRA:
        pos += 2 + int.from_bytes(window[10:12], "little")
    for flag in (FNAME, FCOMMENT):
        if flags & flag:
            end = window.find(b"\0", pos)
            if end == -1:
                return False
            pos = end + 1
    return pos + (2 if flags & FHCRC else 0) <= len(window)


def _starts_to_decompress(stream: BinaryIO, offset: int) -> bool:
    """Whether a gzip member starting at `offset` yields output (or ends cleanly) within PROBE_BYTES."""
    stream.seek(offset)
    window = stream.read(HEADER_WINDOW)
    if not _header_fits(window):
        return False
    d = zlib.decompressobj(31)
    try:
        if d.decompress(window, 1) or d.eof:
            return True
        return bool(d.decompress(d.unconsumed_tail + stream.read(PROBE_BYTES - HEADER_WINDOW), 1)) or d.eof
    except zlib.error:
        return False


def _member_candidates(stream: BinaryIO, start: int) -> Iterator[int]:
    """Offsets at or after `start` where a gzip member really starts, in one pass over the stream."""
    pos, carry = start, b""
    while True:
        stream.seek(pos)
        block = stream.read(CHUNK)
        if not block:
            return
        data = carry + block
        base = pos - len(carry)
        i = data.find(GZIP_MAGIC)
        while i != -1:
            if i + len(GZIP_MAGIC) <= len(data):  # a match inside the carry was already probed
                if _starts_to_decompress(stream, base + i):
                    yield base + i
            i = data.find(GZIP_MAGIC, i + 1)
        carry = data[-(len(GZIP_MAGIC) - 1):]
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


def iter_gzip_members(stream: BinaryIO, warc_file: str, cap: int) -> Iterator[tuple[int, bytes | None] | ReadFailure]:
    """Yield (offset, decompressed bytes, or None when over `cap`) per member, one ReadFailure per damaged region."""
    size = stream.seek(0, 2)
    # Candidates that start to inflate and then fail are re-read from their start; crafted nesting could make that
    # quadratic, so the bytes spent on them are bounded per file.
    budget = [RESYNC_BUDGET_FACTOR * size + RESYNC_BUDGET_BYTES]
    offset = 0
    while True:
        stream.seek(offset)
        head = stream.read(len(GZIP_MAGIC))
        if not head:
            return
        error = "gzip_garbage" if head != GZIP_MAGIC else ""
        if not error:
            data, length, error = _inflate_member(stream, offset, cap)
            if not error:
                yield offset, data
                offset += length
                continue
        yield ReadFailure(warc_file, offset, error)
        offset, exhausted = _next_good_member(stream, offset + 1, cap, budget)
        if exhausted:
            yield ReadFailure(warc_file, offset, "resync_budget_exceeded")
        if offset is None or exhausted:
            return


def _next_good_member(stream: BinaryIO, start: int, cap: int, budget: list[int]) -> tuple[int | None, bool]:
    """(the first candidate at or after `start` whose member inflates without error, or None; whether the budget
    ran out first, at that offset)."""
    for candidate in _member_candidates(stream, start):
        _, length, error = _inflate_member(stream, candidate, cap)
        if not error:
            return candidate, False
        budget[0] -= length
        if budget[0] < 0:
            return candidate, True
    return None, False
