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
