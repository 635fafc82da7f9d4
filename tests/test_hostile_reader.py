"""Hostile WARC files: damaged framing is counted once per damaged region, the valid records around it are kept,
no header bytes reach a kept payload, and the work done grows with the file, not with the attack."""
import gzip

import brotli
import pytest

from conftest import CountingStream, warc_stream
from sample.make_sample import gzip_member, http_response, response, warc_record
from transforms.config import ReadConfig
from transforms.warc import iter_warc

CFG = ReadConfig()
DATE = "2026-03-01T00:00:00Z"
PAGE = "<html><body><p>市民图书馆新馆今日开放，藏书三十万册。</p></body></html>".encode("utf-8")


def records(n):
    return [response(f"http://a.example.cn/{i}", DATE, PAGE, "text/html; charset=utf-8") for i in range(n)]


def kinds(items):
    return [type(i).__name__ + ":" + getattr(i, "reason", "") for i in items]


def read(data: bytes, name: str = "x.warc", cfg: ReadConfig = CFG):
    stream = CountingStream(data)
    items = list(iter_warc(stream, name, cfg))
    for item in items:  # nothing of the WARC framing in a kept payload
        assert b"WARC/1.0" not in getattr(item, "payload", b"") and b"WARC-Type" not in getattr(item, "payload", b"")
    return items, stream.bytes_read


def set_length(record: bytes, length: int | None) -> bytes:
    head, _, rest = record.partition(b"\r\n\r\n")
    lines = [line for line in head.split(b"\r\n") if not line.startswith(b"Content-Length:")]
    if length is not None:
        lines.append(b"Content-Length: %d" % length)
    return b"\r\n".join(lines) + b"\r\n\r\n" + rest


def true_length(record: bytes) -> int:
    head, _, rest = record.partition(b"\r\n\r\n")
    return len(rest) - 4


@pytest.mark.parametrize("change, reason", [(+37, "warc_length_mismatch"), (-50, "warc_length_mismatch"),
                                            ("whole", "warc_length_mismatch"), (None, "warc_no_length")])
def test_a_wrong_content_length_costs_one_record_and_reading_resumes(change, reason):
    recs = records(4)
    n = true_length(recs[1])
    length = None if change is None else n + len(recs[2]) if change == "whole" else n + change
    recs[1] = set_length(recs[1], length)
    items, _ = read(b"".join(recs))
    assert kinds(items) == ["Record:", f"ReadFailure:{reason}", "Record:", "Record:"]
    assert [i.url for i in items if hasattr(i, "url")] == ["http://a.example.cn/0", "http://a.example.cn/2",
                                                           "http://a.example.cn/3"]
    assert all(i.payload == PAGE for i in items if hasattr(i, "payload"))


def test_a_last_record_longer_than_the_file_is_never_kept_truncated():
    recs = records(2)
    recs[1] = set_length(recs[1], true_length(recs[1]) + 5000)
    items, _ = read(b"".join(recs))
    assert kinds(items) == ["Record:", "ReadFailure:warc_length_mismatch"]


def test_garbage_between_records_is_one_failure():
    recs = records(3)
    items, _ = read(recs[0] + b"\x00\xff garbage WARC/1.0 not at a line start\n" * 500 + recs[1] + recs[2])
    assert kinds(items) == ["Record:", "ReadFailure:warc_garbage", "Record:", "Record:"]


@pytest.mark.parametrize("line_mb", [2, 8])
def test_a_huge_header_line_is_capped_and_the_work_stays_linear(line_mb):
    """Before the cap, warcio's line reader was quadratic on such a line (200 MB hung the job)."""
    recs = records(2)
    huge = b"WARC/1.0\r\nWARC-Type: response\r\nX-Junk: " + b"a" * (line_mb << 20) + b"\r\n"
    data = recs[0] + huge + recs[1]
    items, work = read(data)
    assert kinds(items) == ["Record:", "ReadFailure:warc_header_too_large", "Record:"]
    assert work < 3 * len(data)


@pytest.mark.parametrize("copies", [10_000, 100_000])
def test_repeated_gzip_magic_is_one_damaged_region_in_linear_work(copies):
    """300 KB of `1f 8b 08` took 50 s and counted tens of thousands of reads before."""
    recs = [gzip_member(r) for r in records(2)]
    data = recs[0] + b"\x1f\x8b\x08" * copies + recs[1]
    items, work = read(data, "x.warc.gz")
    assert kinds(items) == ["Record:", "ReadFailure:gzip_corrupt", "Record:"]
    assert work < 400 * len(data)  # each candidate is probed in a fixed window (about 170 × on this input)


def test_members_without_records_and_members_with_two_are_counted():
    recs = records(3)
    data = gzip_member(recs[0]) + gzip_member(b"\r\n") + gzip_member(recs[1] + recs[2])
    items, _ = read(data, "x.warc.gz")
    assert kinds(items) == ["Record:", "ReadFailure:member_without_record", "Record:", "Record:"]
    assert [i.warc_offset for i in items] == [0, len(gzip_member(recs[0]))] + [len(gzip_member(recs[0])) + len(
        gzip_member(b"\r\n"))] * 2


def test_a_wrong_length_inside_a_member_is_found_too():
    recs = records(2)
    items, _ = read(gzip_member(set_length(recs[0], true_length(recs[0]) - 9) + recs[1]), "x.warc.gz")
    assert kinds(items) == ["ReadFailure:warc_length_mismatch", "Record:"]


def encoded(body: bytes, encoding: str) -> bytes:
    http = http_response(body, "text/html; charset=utf-8").replace(b"\r\n\r\n", f"\r\nContent-Encoding: {encoding}"
                                                                   f"\r\n\r\n".encode(), 1)
    return warc_record("response", "http://e.example.cn/", DATE, http, "application/http; msgtype=response")


def test_content_encoding_true_lying_corrupt_and_bombs():
    big = bytes(range(256)) * 4000 + PAGE * 20000  # several compressed blocks: damage after the first one
    broken = gzip.compress(big)
    broken = broken[:len(broken) // 2] + b"\xff" * 64 + broken[len(broken) // 2 + 64:]
    cases = [(brotli.compress(PAGE), "br", "Record:"),  # warcio's brotli adapter failed on every such page
             (gzip.compress(PAGE), "gzip", "Record:"),
             (PAGE, "gzip", "Record:"),  # the header lies, the body is plain: kept as it is
             (PAGE, "br", "Record:"),
             (broken, "gzip", "ReadFailure:content_encoding_corrupt"),  # never a silently truncated page
             (broken[:len(broken) // 3], "gzip", "ReadFailure:content_encoding_corrupt"),
             (gzip.compress(b"\0" * (64 << 20), compresslevel=1), "gzip", "Skipped:record_too_large"),
             (brotli.compress(b"\0" * (64 << 20), quality=5), "br", "Skipped:record_too_large")]
    for body, encoding, expected in cases:
        items, _ = read(encoded(body, encoding))
        assert kinds(items) == [expected], encoding
        if expected == "Record:":
            assert items[0].payload == PAGE


def test_every_read_is_the_same_through_gzip_and_plain(tmp_path):
    recs = records(3)
    plain, _ = read(b"".join(recs))
    zipped, _ = read(warc_stream(*recs).getvalue(), "x.warc.gz")
    assert [(i.url, i.payload) for i in plain] == [(i.url, i.payload) for i in zipped]


def test_fuzz_found_a_length_that_ends_inside_the_next_records_terminator():
    """Found by the fuzzer (real seeds, rebuilt from ours): a response's Content-Length runs over a whole request
    record but for its last bytes, where blank lines make the end look right."""
    recs = records(3)
    request = warc_record("request", "http://a.example.cn/1", DATE,
                          b"GET /1 HTTP/1.1\r\nHost: a.example.cn\r\n\r\n", "application/http; msgtype=request")
    first = set_length(recs[0], true_length(recs[0]) + len(request) - 4)
    items, _ = read(first + request + recs[2])
    assert kinds(items) == ["ReadFailure:warc_length_mismatch", "Skipped:not_response", "Record:"]


def test_fuzz_found_a_length_that_ends_on_a_blank_line_of_crlf_html():
    """Found by the fuzzer (real seeds, rebuilt from ours): HTML written with CRLF line ends is full of blank lines,
    so a too-long length can end on one inside the next record; the header block it swallowed gives it away."""
    html = "<html>\r\n\r\n<body>\r\n\r\n<p>市民图书馆新馆今日开放。</p>\r\n\r\n</body>\r\n\r\n</html>".encode("utf-8")
    recs = [response(f"http://c.example.cn/{i}", DATE, html, "text/html; charset=utf-8") for i in range(3)]
    blank = recs[1].index(b"<body>\r\n\r\n") + len(b"<body>")
    first = set_length(recs[0], true_length(recs[0]) + 4 + blank)
    items, _ = read(first + recs[1] + recs[2])
    assert kinds(items) == ["ReadFailure:warc_length_mismatch", "Record:", "Record:"]
    assert [i.url for i in items[1:]] == ["http://c.example.cn/1", "http://c.example.cn/2"]
