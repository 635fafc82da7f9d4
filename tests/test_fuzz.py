"""Fuzzing the reader and the per-document chain with mutated real WARC records (Hypothesis).

Seeds are the project's sample WARCs and, when present, the real CommonCrawl sample in ../shared/data/warc. Each
example mutates one seed (bytes flipped, inserted, deleted, duplicated, cut, or two seeds spliced) and checks what
must hold for any input: every item is a Record, a Skipped or a ReadFailure; payloads stay under the cap and carry no
WARC framing; the chain returns a document or a named Rejected; the work is linear in the input.
CI runs a fixed, derandomised budget (FUZZ_EXAMPLES, default 150); `FUZZ_EXAMPLES=5000 make test` searches longer.
Every input that ever failed is kept in tests/fuzz_regressions/ and replayed first.
"""
import glob
import os

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from conftest import ROOT, SHARED_DATA, CountingStream
from transforms.config import ReadConfig
from transforms.gzip_members import iter_gzip_members
from transforms.types import ReadFailure, Record, Rejected
from transforms.warc import Skipped, iter_warc

CFG = ReadConfig(max_record_bytes=1 << 20, max_member_bytes=2 << 20)
REGRESSIONS = os.path.join(os.path.dirname(__file__), "fuzz_regressions")
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "150"))


def _seed_records() -> list[bytes]:
    """Uncompressed WARC records (one per gzip member) of the sample and real WARCs: 60 at most, in a fixed order."""
    records = []
    paths = sorted(glob.glob(os.path.join(ROOT, "sample", "warc", "*.warc.gz")))
    paths += sorted(glob.glob(os.path.join(SHARED_DATA, "warc", "cc-main-*.warc.gz")))
    for path in paths:
        with open(path, "rb") as f:
            for member in iter_gzip_members(f, path, CFG.max_member_bytes):
                if not isinstance(member, ReadFailure) and member[1]:
                    records.append(member[1])
    return records[:60]


SEEDS = _seed_records()


@st.composite
def mutated_warc(draw) -> tuple[bytes, bool]:
    """(bytes, gzipped): two or three seed records, mutated a few times, written plain or as gzip members."""
    import zlib

    picks = draw(st.lists(st.integers(0, len(SEEDS) - 1), min_size=2, max_size=3))
    data = bytearray(b"".join(SEEDS[i] for i in picks))
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["flip", "insert", "delete", "duplicate", "cut", "digits"]))
        at = draw(st.integers(0, max(len(data) - 1, 0)))
        span = draw(st.integers(1, 4096))
        if kind == "flip" and data:
            data[at] ^= draw(st.integers(1, 255))
        elif kind == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=64))
        elif kind == "delete":
            del data[at:at + span]
        elif kind == "duplicate":
            data[at:at] = data[at:at + span]
        elif kind == "cut":
            del data[at:]
        else:  # a number in a header rewritten: lengths, status codes
            data[at:at] = str(draw(st.integers(0, 10 ** 9))).encode()
    raw = bytes(data)
    if not draw(st.booleans()):
        return raw, False
    cut = draw(st.integers(0, len(raw)))
    members = [zlib.compressobj(6, zlib.DEFLATED, 31) for _ in range(2)]
    out = b"".join(m.compress(part) + m.flush() for m, part in zip(members, (raw[:cut], raw[cut:])))
    if draw(st.booleans()) and out:  # damage the compressed bytes too
        pos = draw(st.integers(0, len(out) - 1))
        out = out[:pos] + bytes([out[pos] ^ 0x55]) + out[pos + 1:]
    return out, True


def check_input(data: bytes, gzipped: bool, chain) -> None:
    """The invariants every input must keep, whatever its bytes."""
    stream = CountingStream(data)
    items = list(iter_warc(stream, "fuzz.warc.gz" if gzipped else "fuzz.warc", CFG))
    assert stream.bytes_read <= 600 * len(data) + (1 << 20)
    for item in items:
        assert isinstance(item, (Record, Skipped, ReadFailure))
        assert item.reason if not isinstance(item, Record) else True
        if isinstance(item, Record):
            assert len(item.payload) <= CFG.max_record_bytes
            assert b"\r\nWARC-Type:" not in item.payload and b"\r\nWARC-Record-ID:" not in item.payload
            try:
                doc = chain(item)
            except Rejected as rejected:
                assert rejected.label.count(".") == 1
            else:
                assert doc.text and "\ufffd" not in doc.text


@pytest.mark.skipif(not SEEDS, reason="no seed WARC")
@settings(max_examples=EXAMPLES, deadline=None, derandomize=os.environ.get("FUZZ_RANDOM") is None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(mutated_warc())
def test_mutated_warcs_keep_the_invariants(chain, case):
    check_input(*case, chain)


@pytest.mark.parametrize("path", sorted(glob.glob(os.path.join(REGRESSIONS, "*.warc*"))))
def test_inputs_the_fuzzer_once_broke(chain, path):
    with open(path, "rb") as f:
        check_input(f.read(), path.endswith(".gz"), chain)
