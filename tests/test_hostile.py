"""Hostile inputs (issue: hostile pages and files), first cases: URLs that cannot be parsed."""
import beam_runner
from sample import make_sample, texts as T


def test_pages_with_unparsable_urls_are_kept_and_the_report_is_written(tmp_path):
    date = "2026-03-01T00:00:00Z"
    bodies = [(url, make_sample.page("市民图书馆新馆开放", text).encode("utf-8"))
              for url, text in (("http://[::1/library", T.LIBRARY_NEWS), ("http://example.cn:99999/leaves", T.LEAVES_SCIENCE),
                                ("http://example.cn:abc/dumplings", T.DUMPLING_ESSAY))]
    warc = tmp_path / "in.warc.gz"
    warc.write_bytes(b"".join(make_sample.gzip_member(make_sample.response(u, date, b, "text/html; charset=utf-8"))
                              for u, b in bodies))
    manifest = beam_runner.run(["--input", str(warc), "--output", str(tmp_path / "out"), "--quiet"])
    assert manifest["funnel"]["read"] == 3 and manifest["funnel"]["kept"] == 3 and not manifest["funnel"]["failed"]
    assert "(unparsable URL)" in (tmp_path / "out" / "report.html").read_text(encoding="utf-8")


def test_inspect_never_sends_a_pages_control_characters_to_the_terminal():
    import json

    from pipeline.inspect import render

    files = {"txt": "正文".encode(), "json": json.dumps({"url": "http://x.cn/\x1b[2J\x1b]0;pwned\x07",
                                                          "quality": {"tier": "head", "spam": 0.01, "perplexity": 80.0},
                                                          "scores": {"line_perplexity": [1.0]}}).encode()}
    shown = render("k", files, None)
    assert "\x1b" not in shown and "\x07" not in shown and "\\x1b[2J" in shown and "tier=head" in shown


def test_concurrent_writers_never_leave_a_torn_file(tmp_path):
    import threading

    from pipeline.work import write_bytes

    path = str(tmp_path / "out" / "manifest.json")
    contents = [bytes([65 + i]) * (200_000 + i) for i in range(4)]

    def writer(data):
        for _ in range(25):
            write_bytes(path, data)

    threads = [threading.Thread(target=writer, args=(c,)) for c in contents]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert open(path, "rb").read() in contents  # whole, one writer's
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["manifest.json"]  # no temporary left


def test_wrapped_uris_lose_their_wrapper_but_urls_keep_their_angle_brackets():
    import io

    from transforms.config import ReadConfig
    from transforms.types import Record
    from transforms.warc import iter_warc

    page = make_sample.page("标题", T.LIBRARY_NEWS).encode("utf-8")
    data = b"".join(make_sample.gzip_member(make_sample.response(u, "2026-03-01T00:00:00Z", page, "text/html"))
                    for u in ("<http://a.example.cn/x>", "http://b.example.cn/q?a=<b>"))
    urls = [r.url for r in iter_warc(io.BytesIO(data), "t.warc.gz", ReadConfig()) if isinstance(r, Record)]
    assert urls == ["http://a.example.cn/x", "http://b.example.cn/q?a=<b>"]


def test_an_empty_input_is_counted_with_its_reason(tmp_path):
    (tmp_path / "empty.warc.gz").write_bytes(b"")
    manifest = beam_runner.run(["--input", str(tmp_path / "empty.warc.gz"), "--output", str(tmp_path / "out"),
                                "--quiet", "--allow-empty"])
    assert manifest["funnel"]["failed"] == {"read.empty_file": 1} and manifest["funnel_balanced"]


def test_report_links_only_web_urls():
    from pipeline.report import link

    assert link("javascript:alert(1)") == "<code>javascript:alert(1)</code>"
    assert link("https://a.example.cn/x?a=1&b=2").startswith('<a href="https://a.example.cn/x?a=1&amp;b=2"')


def test_deeply_nested_html_is_flattened_not_a_stall(tmp_path):
    """200,000 unclosed <div>s around an article (1 MB): the article is kept through the flattened path. Before
    the nesting guard this page took minutes; the ceiling here is generous (it takes well under a second)."""
    import time

    from transforms.config import ExtractConfig
    from transforms.extract import extract

    page = make_sample.page("市民图书馆新馆开放", T.LIBRARY_NEWS)
    bomb = page.replace('<div class="content">', '<div class="content">' + "<div>" * 200_000)
    started = time.process_time()
    text, title = extract(bomb, ExtractConfig())
    assert time.process_time() - started < 10
    assert title == "市民图书馆新馆开放" and T.LIBRARY_NEWS[1] in text
    closed = page.replace('<div class="content">', '<div class="content">' + "<span>" * 3000).replace(
        '</div>\n<div class="footer">', "</span>" * 3000 + '</div>\n<div class="footer">')
    assert T.LIBRARY_NEWS[1] in extract(closed, ExtractConfig())[0]
    assert extract(page, ExtractConfig()) == extract(page, ExtractConfig(max_depth=10_000))  # ordinary pages: as before


def test_an_input_rewritten_under_the_same_path_is_read_again(tmp_path):
    """Identity is path + size + modification time: stale intermediates of the old file are never reused."""
    import os

    date = "2026-03-01T00:00:00Z"
    warc = tmp_path / "in.warc.gz"

    def write(paragraphs, url):
        body = make_sample.page("标题", paragraphs).encode("utf-8")
        warc.write_bytes(make_sample.gzip_member(make_sample.response(url, date, body, "text/html; charset=utf-8")))

    write(T.LIBRARY_NEWS, "http://a.example.cn/library")
    args = ["--input", str(warc), "--output", str(tmp_path / "out"), "--quiet"]
    first = beam_runner.run(args)
    write(T.DUMPLING_ESSAY, "http://b.example.cn/dumplings")
    os.utime(warc, (1_900_000_000, 1_900_000_000))  # a later time, whatever the clock's resolution
    second = beam_runner.run(args)
    assert first["funnel"]["kept"] == second["funnel"]["kept"] == 1
    assert second["inputs"][0]["size"] == warc.stat().st_size
    shard = (tmp_path / "out" / second["shards"][0]["name"]).read_bytes()
    assert "b.example.cn/dumplings".encode() in shard and b"a.example.cn/library" not in shard


def hostile_inputs(folder):
    """An uncompressed .warc and a .warc.gz holding every attack of the hostile-input issue among valid pages."""
    import gzip

    from test_hostile_reader import encoded, set_length, true_length

    date = "2026-03-01T00:00:00Z"

    def rec(url, html, content_type="text/html; charset=utf-8"):
        body = html if isinstance(html, bytes) else html.encode("utf-8")
        return make_sample.response(url, date, body, content_type)

    def bomb(markup):
        return make_sample.page("公园银杏叶变黄", T.LEAVES_SCIENCE).replace('<div class="content">',
                                                                 '<div class="content">' + markup)

    good = [rec("http://good.example.cn/library", make_sample.page("市民图书馆新馆开放", T.LIBRARY_NEWS)),
            rec("http://good.example.cn/dumplings", make_sample.page("包饺子", T.DUMPLING_ESSAY)),
            rec("http://good.example.cn/tea", make_sample.page("喝茶", T.TEA_TRADITIONAL))]
    wrong_length = rec("http://bad.example.cn/length", make_sample.page("水乡", T.WATER_TOWN_TRAVEL))
    wrong_length = set_length(wrong_length, true_length(wrong_length) + 700)
    invalid_utf8 = make_sample.page("园艺论坛", T.GARDEN_FORUM).encode("utf-8").replace("。".encode(), b"\xff\xfe\x80", 1)
    zipped = gzip.compress(make_sample.page("水乡", T.WATER_TOWN_TRAVEL).encode("utf-8"))
    truncated = zipped[:len(zipped) // 2]
    plain = b"".join([
        good[0], wrong_length, good[1],
        b"WARC/1.0\r\nWARC-Type: response\r\nX-Junk: " + b"a" * (2 << 20) + b"\r\n",  # a 2 MB header line
        rec("http://bomb.example.cn/table", bomb("<table><tr><td>" * 60_000)),
        rec("http://bomb.example.cn/span", bomb("<span><b>" * 100_000)),
        rec("http://bomb.example.cn/entities", bomb("&amp;&#99999999999;&#x110000;" * 60_000)),
        rec("http://big.example.cn/one-line", "<html><body><p>" + "长" * (4 << 20) + "</p></body></html>"),
        rec("http://bad.example.cn/utf8", invalid_utf8),
        encoded(make_sample.page("喝茶", T.TEA_TRADITIONAL).encode("utf-8"), "gzip"),  # plain body, lying header
        encoded(truncated, "gzip"),  # an encoded body cut short: never kept as a shorter page
        b"\x00\xff binary junk\n" * 300,
        good[2],
    ])
    (folder / "hostile.warc").write_bytes(plain)
    members = [make_sample.gzip_member(r) for r in good[:2]]
    (folder / "hostile.warc.gz").write_bytes(members[0] + b"\x1f\x8b\x08" * 30_000 + members[1])


def test_a_crawl_of_hostile_inputs_finishes_counted_and_clean(tmp_path):
    """Every attack at once through the real job: exit 0, named reasons, the valid pages around them kept."""
    import glob
    import tarfile
    import time

    hostile_inputs(tmp_path)
    started = time.process_time()
    manifest = beam_runner.run(["--input", str(tmp_path / "hostile.warc*"), "--output", str(tmp_path / "out"),
                                "--quiet"])
    assert time.process_time() - started < 300  # generous: the same job without the attacks takes most of this
    funnel = manifest["funnel"]
    assert manifest["funnel_balanced"] and funnel["read"] == 13 + 3
    assert funnel["failed"] == {"read.warc_length_mismatch": 1, "read.warc_header_too_large": 1,
                                "read.content_encoding_corrupt": 1, "read.warc_garbage": 1, "read.gzip_corrupt": 1}
    assert funnel["dropped"]["read.record_too_large"] == 1
    texts = {}
    for shard in sorted(glob.glob(str(tmp_path / "out" / "shards" / "*.tar"))):
        with tarfile.open(shard) as tar:
            for member in tar.getmembers():
                if member.name.endswith(".txt"):
                    texts[member.name] = tar.extractfile(member).read().decode("utf-8")
    kept = "\n".join(texts.values())
    for paragraphs in (T.LIBRARY_NEWS, T.DUMPLING_ESSAY, T.TEA_TRADITIONAL, T.LEAVES_SCIENCE):
        assert paragraphs[1] in kept
    for marker in ("WARC/1.0", "WARC-Type", "Content-Length", "X-Junk", "\ufffd"):
        assert marker not in kept


def test_a_second_job_on_a_held_output_is_refused_and_a_dead_holders_lock_is_taken_over(tmp_path):
    import json
    import socket
    import subprocess
    import sys
    import time

    import pytest

    from pipeline.lock import LOCK_NAME

    out = tmp_path / "out"
    out.mkdir()
    warc = tmp_path / "in.warc.gz"
    body = make_sample.page("标题", T.LIBRARY_NEWS).encode("utf-8")
    warc.write_bytes(make_sample.gzip_member(make_sample.response("http://a.example.cn/x", "2026-03-01T00:00:00Z",
                                                                  body, "text/html; charset=utf-8")))
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        lock = {"host": socket.gethostname(), "pid": holder.pid, "token": "other", "started": time.time(),
                "heartbeat": time.time()}
        (out / LOCK_NAME).write_text(json.dumps(lock))
        with pytest.raises(SystemExit, match=f"in use by another job .*pid {holder.pid}"):
            beam_runner.run(["--input", str(warc), "--output", str(out), "--quiet"])
        assert not (out / "manifest.json").exists()
    finally:
        holder.kill()
        holder.wait()
    manifest = beam_runner.run(["--input", str(warc), "--output", str(out), "--quiet"])  # the holder is gone
    assert manifest["funnel"]["kept"] == 1 and not (out / LOCK_NAME).exists()
