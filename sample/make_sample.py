"""Generate the embedded sample WARCs (deterministic bytes): `python -m sample.make_sample [OUT_DIR]`.

Every page kind the job must handle is here, each for a stated reason (see PAGES' comments); the texts are
the project's own (sample/texts.py).
"""
from __future__ import annotations

import html
import os
import sys
import uuid
import zlib

from sample import texts as T

SAMPLE_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "warc")
NAMESPACE = uuid.UUID("6f1c1a52-3b0e-4a53-9d7e-2d4f3c1b0a99")


def page(title: str, paragraphs: list[str], charset_meta: str | None = "utf-8", lang: str = "zh-CN",
         top: list[str] = (), bottom: list[str] = (), nav: list[str] = T.PORTAL_LINKS[:8],
         footer: str = T.PORTAL_LINKS[-3]) -> str:
    """A news-site-like HTML page: navigation, breadcrumb, article paragraphs, footer."""
    meta = f'<meta charset="{charset_meta}">' if charset_meta else ""
    nav = "".join(f'<a href="/c/{i}">{html.escape(t)}</a> ' for i, t in enumerate(nav))
    body = "".join(f"<p>{html.escape(p)}</p>\n" for p in list(top) + paragraphs + list(bottom))
    return (f'<!DOCTYPE html>\n<html lang="{lang}"><head>{meta}<title>{html.escape(title)}</title></head>\n'
            f'<body><div class="nav">{nav}</div>\n<div class="content"><h1>{html.escape(title)}</h1>\n{body}</div>\n'
            f'<div class="footer">{html.escape(footer)}</div></body></html>\n')


def list_page(title: str, items: list[str]) -> str:
    """A portal page made of links only: boilerplate from top to bottom."""
    links = "".join(f'<li><a href="/n/{i}.html">{html.escape(t)}</a></li>\n' for i, t in enumerate(items))
    return f'<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8"><title>{title}</title></head><body><ul>{links}</ul></body></html>'


def http_response(body: bytes, content_type: str | None, status: str = "200 OK") -> bytes:
    headers = [f"HTTP/1.1 {status}"]
    if content_type:
        headers.append(f"Content-Type: {content_type}")
    headers.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(headers) + "\r\n\r\n").encode("latin-1") + body


def warc_record(rec_type: str, url: str, date: str, block: bytes, content_type: str) -> bytes:
    """One WARC/1.0 record with deterministic id."""
    rid = uuid.uuid5(NAMESPACE, f"{rec_type} {url} {date}")
    head = [
        "WARC/1.0",
        f"WARC-Type: {rec_type}",
        f"WARC-Record-ID: <urn:uuid:{rid}>",
        f"WARC-Date: {date}",
    ]
    if url:
        head.append(f"WARC-Target-URI: {url}")
    head += [f"Content-Type: {content_type}", f"Content-Length: {len(block)}"]
    return ("\r\n".join(head) + "\r\n\r\n").encode("utf-8") + block + b"\r\n\r\n"


def response(url: str, date: str, body: bytes, content_type: str | None, status: str = "200 OK") -> bytes:
    return warc_record("response", url, date, http_response(body, content_type, status), "application/http; msgtype=response")


def gzip_member(data: bytes) -> bytes:
    c = zlib.compressobj(9, zlib.DEFLATED, 31)  # gzip wrapper from zlib: mtime 0, so bytes are deterministic
    return c.compress(data) + c.flush()


def corrupt(member: bytes) -> bytes:
    """Damage the middle of a gzip member (the CRC and the deflate stream no longer agree)."""
    mid = len(member) // 2
    return member[:mid] + bytes(b ^ 0x5A for b in member[mid:mid + 24]) + member[mid + 24:]


def near_duplicate(paragraphs: list[str]) -> list[str]:
    """The same article with one sentence reworded: what syndicated copies look like."""
    out = list(paragraphs)
    out[-1] = out[-1].replace("下次欣赏红叶时", "今后再去山里看红叶时")
    return out


D0, D1, D2, D3 = "2026-02-01T00:00:00Z", "2026-03-01T08:00:00Z", "2026-03-02T09:30:00Z", "2026-03-05T12:00:00Z"
NEWS = page("市民图书馆新馆开放", T.LIBRARY_NEWS, top=T.BOILERPLATE_TOP, bottom=T.BOILERPLATE_BOTTOM)


def file_a() -> list[bytes]:
    """UTF-8 news, GBK forum, portal, spam, English, Japanese, an exact and a near duplicate, non-HTML, non-response."""
    return [gzip_member(r) for r in [
        warc_record("warcinfo", "", D1, b"software: chinesebert-corpus sample generator\r\n", "application/warc-fields"),
        warc_record("request", "http://news.example.cn/2026/0301/library.html", D1,
                    b"GET /2026/0301/library.html HTTP/1.1\r\nHost: news.example.cn\r\n\r\n", "application/http; msgtype=request"),
        response("http://news.example.cn/2026/0301/library.html", D1, NEWS.encode("utf-8"), "text/html; charset=utf-8"),
        warc_record("metadata", "http://news.example.cn/2026/0301/library.html", D1, b"fetchTimeMs: 120\r\n", "application/warc-fields"),
        # GBK bytes, declared in the HTTP header as gbk; PII in the replies.
        response("http://bbs.example.cn/thread-1024-1-1.html", D1,
                 page("阳台番茄叶子发黄", T.GARDEN_FORUM, charset_meta="gbk").encode("gbk"), "text/html; charset=GBK"),
        response("http://www.portal.example.cn/", D1, list_page("示例门户网", T.PORTAL_LINKS).encode("utf-8"), "text/html"),
        response("http://casino.example.com/index.html", D1, page("娱乐城", T.GAMBLING_SPAM * 3).encode("utf-8"), "text/html; charset=utf-8"),
        response("http://video.example.com/list.html", D1, page("视频", T.PORN_SPAM * 3).encode("utf-8"), "text/html; charset=utf-8"),
        response("http://library.example.org/news/reopening", D1,
                 page("Library reopens", T.ENGLISH_PAGE * 4, lang="en").encode("utf-8"), "text/html; charset=utf-8"),
        response("http://toshokan.example.jp/news/1.html", D1,
                 page("図書館が開館", T.JAPANESE_PAGE * 3, lang="ja").encode("utf-8"), "text/html; charset=utf-8"),
        # The same article syndicated on another site: an exact duplicate of the text.
        response("http://city.example.com.cn/culture/library-opening.shtml", D2, NEWS.encode("utf-8"), "text/html; charset=utf-8"),
        response("http://science.example.cn/autumn-leaves.html", D1,
                 page("秋天的叶子为什么会变色", T.LEAVES_SCIENCE).encode("utf-8"), "text/html; charset=utf-8"),
        response("http://kepu.example.net/a/leaves-color.html", D2,
                 page("秋叶变色的秘密", near_duplicate(T.LEAVES_SCIENCE)).encode("utf-8"), "text/html; charset=utf-8"),
        response("http://news.example.cn/missing.html", D1, b"<html><body>404</body></html>", "text/html", "404 Not Found"),
        response("http://news.example.cn/old", D1, b"", "text/html", "301 Moved Permanently"),
        response("http://files.example.cn/report.pdf", D1, b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n", "application/pdf"),
        response("http://img.example.cn/logo.png", D1, b"\x89PNG\r\n\x1a\n" + bytes(range(256)), "image/png"),
    ]]


def file_b() -> list[bytes]:
    """Charsets: meta-only GB18030, undeclared GBK, lying declarations, Big5; two captures of one URL; damage."""
    rare = "㐀𠀀"  # Ext A and Ext B ideographs: four-byte sequences in GB18030
    dumpling_gbk = page("过年包饺子", T.DUMPLING_ESSAY, charset_meta=None).encode("gbk")
    junk = bytes((i * 131 + 17) % 256 for i in range(6000))
    mojibake = page("乱码", [p + "锟斤拷烫烫烫" * 3 for p in T.WATER_TOWN_TRAVEL]).encode("utf-8")
    huge = page("超长页面", ["重复的段落内容。" * 40] * 14000).encode("utf-8")
    members = [
        response("http://blog.example.cn/essay/dumplings.html", D1, dumpling_gbk, "text/html"),  # no declaration at all
        response("http://tea.example.com.tw/oolong.html", D1,
                 page("高山烏龍茶", T.TEA_TRADITIONAL, charset_meta="big5", lang="zh-TW",
                      nav=T.TRADITIONAL_NAV, footer=T.TRADITIONAL_NAV[-1]).encode("big5hkscs"),
                 "text/html; charset=big5"),
        # Declares gb2312 in the header, but the bytes are UTF-8: the bytes win.
        response("http://travel.example.cn/watertown.html", D1,
                 page("古镇一日", T.WATER_TOWN_TRAVEL, charset_meta="gb2312").encode("utf-8"), "text/html; charset=gb2312"),
        # Meta declares utf-8, the bytes are GBK; no header.
        response("http://dev.example.cn/blog/python-three-years.html", D1,
                 page("学编程三年的体会", T.PYTHON_BLOG, charset_meta="utf-8").encode("gbk"), "text/html"),
        # A URL that would be an unsafe file name, on a good page in GB18030 declared by <meta> only, with
        # Ext A / Ext B ideographs (four-byte GB18030 sequences).
        response("http://club.example.cn/../../etc/passwd?x=<script>&y=|rm -rf /", D2,
                 page("社区跑团", T.RUNNING_CLUB + ["附记：跑团的队旗上绣着" + rare + "两个生僻字。"],
                      charset_meta="gb18030").encode("gb18030"), "text/html"),
        response("http://junk.example.cn/binary.html", D1, junk, "text/html"),
        response("http://broken.example.cn/mojibake.html", D1, mojibake, "text/html; charset=utf-8"),
        response("http://big.example.cn/huge.html", D1, huge, "text/html; charset=utf-8"),
        response("http://empty.example.cn/", D1, b"", "text/html; charset=utf-8"),
        # Two captures of one URL (with a tracking parameter on the older one): the newest is kept.
        response("http://dev.example.cn/blog/python-three-years.html?utm_source=feed", D0,
                 page("学编程三年的体会（草稿）", T.PYTHON_BLOG[:4] + ["（未完待续）这是一篇草稿，内容还会继续修改补充，欢迎留言交流。"]).encode("utf-8"),
                 "text/html; charset=utf-8"),
    ]
    gz = [gzip_member(m) for m in members]
    gz.insert(5, corrupt(gzip_member(response("http://lost.example.cn/damaged.html", D1,
                                               page("损坏的记录", T.LIBRARY_NEWS).encode("utf-8"), "text/html"))))
    return gz


def file_c() -> list[bytes]:
    """An uncompressed .warc: the reader must handle both."""
    return [
        warc_record("warcinfo", "", D3, b"software: chinesebert-corpus sample generator\r\n", "application/warc-fields"),
        response("http://forum.example.com.cn/t/88", D3,
                 page("园艺交流", T.GARDEN_FORUM[:4] + T.DUMPLING_ESSAY[:1]).encode("utf-8"), "text/html; charset=utf-8"),
        response("http://data.example.cn/api/items.json", D3, b'{"items": [1, 2, 3]}', "application/json"),
    ]


FILES = {"sample-a.warc.gz": file_a, "sample-b.warc.gz": file_b, "sample-c.warc": file_c}


def write_sample(out_dir: str = SAMPLE_DIR) -> list[str]:
    """Write the sample WARCs; returns their paths."""
    os.makedirs(out_dir, exist_ok=True)
    paths = []
    for name, build in FILES.items():
        path = os.path.join(out_dir, name)
        with open(path, "wb") as f:
            f.write(b"".join(build()))
        paths.append(path)
    return paths


if __name__ == "__main__":
    for p in write_sample(sys.argv[1] if len(sys.argv) > 1 else SAMPLE_DIR):
        print(p, os.path.getsize(p))
