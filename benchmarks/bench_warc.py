"""Build a realistic benchmark WARC from ../shared/data: ~5% Chinese responses (real news pages and real CommonCrawl
Chinese pages), the rest real English and European pages, repeated with varied URLs up to a target size.

`python benchmarks/bench_warc.py OUT.warc.gz [--mb 200]` prints what it wrote as JSON.
"""
from __future__ import annotations

import argparse
import glob
import json
import os
import sys

from warcio.archiveiterator import ArchiveIterator

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
from sample.make_sample import gzip_member, warc_record  # noqa: E402

SHARED = os.path.join(os.path.dirname(ROOT), "shared", "data")
DATE = "2026-03-01T00:00:00Z"


def real_responses(path: str) -> list[tuple[str, bytes, bytes]]:
    """(url, http header block, payload) of every 200 response of a real WARC."""
    out = []
    with open(path, "rb") as f:
        for rec in ArchiveIterator(f):
            if rec.rec_type != "response" or rec.http_headers is None:
                continue
            if rec.http_headers.get_statuscode() != "200":
                continue
            ctype = rec.http_headers.get_header("Content-Type") or "text/html"
            url = rec.rec_headers.get_header("WARC-Target-URI").strip("<>")
            out.append((url, ctype.encode("latin-1", "replace"), rec.content_stream().read()))
    return out


def article_pages() -> list[tuple[str, bytes]]:
    """(article id, UTF-8 bytes) of the real Chinese news pages."""
    pages = []
    for path in sorted(glob.glob(os.path.join(SHARED, "html", "gne", "*", "*.html"))):
        site = os.path.basename(os.path.dirname(path))
        pages.append((f"{site}-{os.path.splitext(os.path.basename(path))[0]}", open(path, "rb").read()))
    return pages


def response_record(url: str, content_type: bytes, payload: bytes) -> bytes:
    http = b"HTTP/1.1 200 OK\r\nContent-Type: " + content_type + b"\r\nContent-Length: " + \
        str(len(payload)).encode() + b"\r\n\r\n" + payload
    record = warc_record("response", url, DATE, http, "application/http; msgtype=response")
    # CommonCrawl adds the identified payload type; datatrove's reader relies on it.
    return record.replace(b"\r\nContent-Type: application/http", b"\r\nWARC-Identified-Payload-Type: text/html"
                          b"\r\nContent-Type: application/http", 1)


def build(out_path: str, target_mb: int) -> dict:
    """Write the benchmark WARC; returns its composition."""
    articles = article_pages()
    cc = real_responses(os.path.join(SHARED, "warc", "cc-main-2020-34-sample.warc.gz"))
    english = real_responses(os.path.join(SHARED, "warc", "english-wget-sample.warc.gz"))
    cc_zh = [r for r in cc if b"zh" in r[0].encode() or any(0x4e00 <= ord(c) <= 0x9fff for c in r[2][:20000].decode("utf-8", "ignore"))
             or b"gb" in r[1].lower()]
    others = [r for r in cc if r not in cc_zh] + english
    n_zh_round = len(articles) + len(cc_zh)
    reps = max(1, round(n_zh_round * 19 / len(others)))  # ~5% Chinese
    written = {"responses": 0, "chinese_responses": 0, "uncompressed_bytes": 0, "articles": len(articles)}
    round_no = 0
    with open(out_path, "wb") as f:
        while written["uncompressed_bytes"] < target_mb * 1_000_000:
            batch = []
            for aid, html in articles:
                batch.append((True, response_record(f"http://r{round_no}.news.example/{aid}.html", b"text/html", html)))
            for i, (url, ctype, payload) in enumerate(cc_zh):
                batch.append((True, response_record(f"http://r{round_no}.cc.example/zh{i}?src={url[:60]}", ctype, payload)))
            for rep in range(reps):
                for i, (url, ctype, payload) in enumerate(others):
                    batch.append((False, response_record(f"http://r{round_no}x{rep}.web.example/{i}", ctype, payload)))
            for is_zh, rec in batch:
                f.write(gzip_member(rec))
                written["responses"] += 1
                written["chinese_responses"] += is_zh
                written["uncompressed_bytes"] += len(rec)
            round_no += 1
    written["rounds"] = round_no
    written["compressed_bytes"] = os.path.getsize(out_path)
    written["chinese_share"] = round(written["chinese_responses"] / written["responses"], 4)
    return written


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("out")
    parser.add_argument("--mb", type=int, default=200)
    a = parser.parse_args()
    print(json.dumps(build(a.out, a.mb)))
