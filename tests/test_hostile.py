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
