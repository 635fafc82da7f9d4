"""Shard inspection, corpus validation and the report, the report opened in a real (headless) browser."""
import json
import os
import re
import shutil
import subprocess
import sys

import pytest

from conftest import ROOT
from pipeline.inspect import check, main as inspect_main


def test_inspect_prints_words_pinyin_ids_and_provenance(corpus, capsys):
    out, manifest, _ = corpus
    shard = os.path.join(out, manifest["shards"][0]["name"])
    assert inspect_main([shard, "--n", "1", "--grep", "图书馆"]) == 0
    printed = capsys.readouterr().out
    assert "http://news.example.cn/2026/0301/library.html" in printed and "tu2" in printed and "｜" in printed
    assert "[UNK]=0" in printed and "fetch_time=" in printed
    assert inspect_main([shard, "--json", "--n", "2"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(rows) == 2 and len(rows[0]["ids"]) == len(rows[0]["pinyin"]) == len(rows[0]["words"])


def test_check_passes_a_sound_corpus_and_names_a_damaged_shard(corpus, tmp_path):
    out, manifest, _ = corpus
    assert check(str(out)) == []
    damaged = tmp_path / "corpus"
    shutil.copytree(out, damaged, ignore=shutil.ignore_patterns("_work"))
    shard = damaged / manifest["shards"][0]["name"]
    data = bytearray(shard.read_bytes())
    data[len(data) // 3] ^= 0xFF
    shard.write_bytes(bytes(data))
    problems = check(str(damaged))
    assert problems and all(manifest["shards"][0]["name"] in p for p in problems)
    result = subprocess.run([sys.executable, "-m", "pipeline.inspect", "--check", str(damaged)], cwd=ROOT,
                            capture_output=True, text=True)
    assert result.returncode == 1 and "sha256 differs" in result.stdout


def test_report_renders_in_chromium_without_errors_and_matches_the_manifest(corpus, tmp_path):
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.skip("chromium is not installed (`make test` installs it)")
    out, manifest, _ = corpus
    report = os.path.join(out, "report.html")
    page = open(report, encoding="utf-8").read()
    assert not re.search(r'<(script|link|img)[^>]+(src|href)="https?://', page)  # self-contained
    result = subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={tmp_path / 'profile'}", "--enable-logging=stderr", "--v=0", "--dump-dom",
         f"file://{report}"], capture_output=True, text=True, timeout=120)
    dom = result.stdout
    assert "Uncaught" not in result.stderr and 'id="js-errors"></p>' in dom

    def cell(name):
        return re.search(rf'id="{name}">([^<]*)<', dom).group(1)

    funnel = manifest["funnel"]
    assert int(cell("n-read")) == funnel["read"] and int(cell("n-kept")) == funnel["kept"]
    assert int(cell("n-dropped")) == sum(funnel["dropped"].values())
    assert int(cell("n-failed")) == sum(funnel["failed"].values())
    assert cell("balanced") == "yes" and int(cell("n-samples")) == manifest["samples"]
    for reason in list(funnel["dropped"]) + list(funnel["failed"]):
        assert reason in dom  # every reason on the funnel chart
    assert "quality.spam_title" in dom and "quality.spam_classifier" in dom and "decode.failed_undeclared" in dom  # rejected examples, per reason
    tier_counts = [int(n) for n in re.findall(r'class="tier-count">(\d+)<', dom)]
    assert tier_counts == [manifest["quality"]["tiers"].get(t, 0) for t in ("head", "middle", "tail")]
    assert " against " in dom  # a dropped page's failing score shown against its threshold
    graph = manifest["near_duplicate_graph"]
    assert graph["nodes"] >= 2 and f'{graph["nodes"]} documents, {graph["edges"]} edges' in dom
    assert "http://files.example.cn/report.pdf" in dom and "http://city.example.com.cn/culture/library-opening.shtml" in dom
    assert 'src="data:image/png;base64,' in dom  # the glyph sheet


def test_report_is_a_qa_instrument(corpus):
    """Shared scales with thresholds drawn, every funnel reason with an example or a reason why not, per-input
    drops and failures, a glyph sheet that fits the page."""
    import base64
    import struct

    out, manifest, _ = corpus
    page = open(os.path.join(out, "report.html"), encoding="utf-8").read()
    assert page.count('class="threshold"') >= 10  # every score with a rule has its line
    funnel = manifest["funnel"]
    reasons = re.findall(r'<h4 class="reason">([^<]+)</h4>', page)
    assert sorted(reasons) == sorted({**funnel["dropped"], **funnel["failed"]})
    assert "<small>: </small>" not in page and "<small></small>" not in page
    assert "read.gzip_corrupt</h4><ul><li><code>" in page  # a failure's example: file and offset
    rows = re.findall(r"<tr><td><code>[^<]+</code></td>((?:<td>\d+</td>){5})</tr>", page)
    assert len(rows) == len(manifest["inputs"])
    assert sum(int(re.findall(r"\d+", r)[3]) for r in rows) == sum(funnel["dropped"].values())
    png = base64.b64decode(re.search(r'id="glyph-sheet"[^>]+src="data:image/png;base64,([^"]+)"', page).group(1))
    width = struct.unpack(">I", png[16:20])[0]
    assert width <= 1100


def test_report_without_intermediates_says_what_is_missing(corpus, tmp_path):
    from pipeline.report import write_report

    out, manifest, _ = corpus
    copy = tmp_path / "corpus"
    shutil.copytree(out, copy, ignore=shutil.ignore_patterns("_work"))
    write_report(str(copy))
    page = (copy / "report.html").read_text(encoding="utf-8")
    assert 'id="no-intermediates"' in page and "no example: the intermediates are gone" in page
    assert f'<td id="n-kept"></td>' in page and str(manifest["samples"]) in page
