"""Reading WARCs: every record accounted for, damage counted, reading goes on past it."""
import io
from collections import Counter

from conftest import requires_shared, warc_stream
from sample.make_sample import corrupt, gzip_member, response, warc_record
from transforms.config import ReadConfig
from transforms.types import ReadFailure, Record
from transforms.warc import iter_warc

CFG = ReadConfig()
PAGE = "<html><body><p>中文内容。</p></body></html>".encode("utf-8")


def kinds(items):
    return [type(i).__name__ + ":" + getattr(i, "reason", "") for i in items]


def test_response_fields_and_offsets():
    a = response("http://a.example.cn/1", "2026-01-01T00:00:00Z", PAGE, "text/html; charset=GBK")
    b = response("<http://b.example.cn/2>", "2026-01-02T00:00:00Z", PAGE, "text/html")
    stream = warc_stream(a, b)
    items = list(iter_warc(stream, "x.warc.gz", CFG))
    assert kinds(items) == ["Record:", "Record:"]
    first, second = items
    assert first.url == "http://a.example.cn/1" and first.http_charset == "gbk" and first.payload == PAGE
    assert second.url == "http://b.example.cn/2"  # wget-style <...> around the URI
    assert first.warc_offset == 0 and second.warc_offset == len(gzip_member(a))
    assert second.fetch_time == "2026-01-02T00:00:00Z" and second.record_id.startswith("<urn:uuid:")


def test_corrupt_member_in_the_middle_is_counted_and_reading_continues():
    recs = [response(f"http://a.example.cn/{i}", "2026-01-01T00:00:00Z", PAGE, "text/html") for i in range(3)]
    data = gzip_member(recs[0]) + corrupt(gzip_member(recs[1])) + gzip_member(recs[2])
    items = list(iter_warc(io.BytesIO(data), "x.warc.gz", CFG))
    assert kinds(items) == ["Record:", "ReadFailure:gzip_corrupt", "Record:"]
    assert items[2].url.endswith("/2")


def test_truncated_file_keeps_records_before_the_damage():
    recs = [response(f"http://a.example.cn/{i}", "2026-01-01T00:00:00Z", PAGE, "text/html") for i in range(2)]
    data = gzip_member(recs[0]) + gzip_member(recs[1])[:-30]
    assert kinds(iter_warc(io.BytesIO(data), "x.warc.gz", CFG)) == ["Record:", "ReadFailure:gzip_truncated"]


def test_garbage_between_members_is_one_failure():
    rec = response("http://a.example.cn/1", "2026-01-01T00:00:00Z", PAGE, "text/html")
    data = gzip_member(rec) + b"\x00junk\xff" * 50 + gzip_member(rec)
    assert kinds(iter_warc(io.BytesIO(data), "x.warc.gz", CFG)) == ["Record:", "ReadFailure:gzip_garbage", "Record:"]


def test_non_candidates_are_skipped_with_reasons():
    d = "2026-01-01T00:00:00Z"
    stream = warc_stream(
        warc_record("warcinfo", "", d, b"x: y\r\n", "application/warc-fields"),
        warc_record("request", "http://a.example.cn/", d, b"GET / HTTP/1.1\r\n\r\n", "application/http; msgtype=request"),
        response("http://a.example.cn/404", d, PAGE, "text/html", "404 Not Found"),
        response("http://a.example.cn/x.pdf", d, b"%PDF-1.4", "application/pdf"),
        response("http://a.example.cn/empty", d, b"", "text/html"),
        response("http://a.example.cn/big", d, b"<html>" + b"a" * 5000, "text/html"),
        response("http://a.example.cn/untyped", d, b"<!DOCTYPE html><html>\xe4\xb8\xad</html>", None),
    )
    items = list(iter_warc(stream, "x.warc.gz", ReadConfig(max_record_bytes=4000)))
    assert kinds(items) == ["Skipped:not_response", "Skipped:not_response", "Skipped:http_status", "Skipped:not_html",
                            "Skipped:empty_payload", "Skipped:record_too_large", "Record:"]


def test_oversize_member_is_one_counted_drop_in_both_formats():
    rec = response("http://a.example.cn/1", "2026-01-01T00:00:00Z", b"<html>" + b"x" * 100_000, "text/html")
    cfg = ReadConfig(max_member_bytes=50_000, max_record_bytes=50_000)
    assert kinds(iter_warc(warc_stream(rec, rec), "x.warc.gz", cfg)) == ["Skipped:record_too_large"] * 2
    assert kinds(iter_warc(warc_stream(rec, rec, gzip=False), "x.warc", cfg)) == ["Skipped:record_too_large"] * 2


def test_plain_warc_offsets():
    recs = [response(f"http://a.example.cn/{i}", "2026-01-01T00:00:00Z", PAGE, "text/html") for i in range(2)]
    items = list(iter_warc(warc_stream(*recs, gzip=False), "x.warc", CFG))
    assert kinds(items) == ["Record:", "Record:"]
    assert [i.warc_offset for i in items] == [0, len(recs[0])]
    assert items[1].payload == PAGE


def test_response_without_http_status_line_is_accounted():
    broken = warc_record("response", "http://a.example.cn/", "2026-01-01T00:00:00Z", b"garbage without status line",
                         "application/http; msgtype=response")
    items = list(iter_warc(warc_stream(broken), "x.warc.gz", CFG))
    assert len(items) == 1 and not isinstance(items[0], Record)
    assert items[0].reason in ("not_http", "http_status", "record_unparsable")


def test_real_commoncrawl_sample_every_record_accounted():
    path = requires_shared("warc", "cc-main-2020-34-sample.warc.gz")
    with open(path, "rb") as f:
        items = list(iter_warc(f, path, CFG))
    counts = Counter(type(i).__name__ for i in items)
    assert counts["Record"] == 16 and counts["Skipped"] == 34 and sum(counts.values()) == 50


def test_real_truncated_file_is_a_counted_failure():
    path = requires_shared("warc", "truncated.warc.gz")
    with open(path, "rb") as f:
        items = list(iter_warc(f, path, CFG))
    assert [type(i) for i in items] == [ReadFailure] and items[0].reason == "gzip_truncated"
