"""What a new user meets in the first hour: empty corpora refused, config and option mistakes stopped up front with one
line, one-line errors instead of tracebacks, the job's own log lines."""
import json
import os
import subprocess
import sys

import pytest

import beam_runner
from conftest import ROOT, SAMPLE_GLOB
from pipeline.inspect import main as inspect_main


def fails(args, *expected):
    """The job stops with SystemExit whose one-line message holds every expected piece."""
    with pytest.raises(SystemExit) as exc:
        beam_runner.run(args)
    message = str(exc.value.code)
    assert "\n" not in message and all(e in message for e in expected), message
    return message


@pytest.mark.parametrize("make", ["empty", "not_warc", "directory"])
def test_inputs_that_yield_nothing_stop_the_job_and_check_flags_them(tmp_path, make):
    source = tmp_path / "in.warc.gz"
    if make == "empty":
        source.write_bytes(b"")
    elif make == "not_warc":
        source.write_bytes(b"<html>not a WARC file</html>\n" * 10)
    else:
        source.mkdir()
    out = tmp_path / "out"
    fails(["--input", str(source), "--output", str(out), "--quiet"], "no document kept", "--allow-empty")
    manifest = beam_runner.run(["--input", str(source), "--output", str(out), "--quiet", "--allow-empty"])
    assert manifest["funnel"]["kept"] == 0 and manifest["funnel_balanced"] and not manifest["shards"]
    assert inspect_main(["--check", str(out)]) == 1  # "corpus OK" no more


def test_thresholds_that_drop_everything_name_the_reasons(tmp_path):
    fails(["--input", SAMPLE_GLOB, "--output", str(tmp_path), "--quiet", "--set", "thresholds.min_han_chars=100000"],
          "no document kept", "quality.too_short 13")


@pytest.mark.parametrize("setting,expected", [
    ("thresholds.min_han_chars=abc", "thresholds.min_han_chars must be an integer"),
    ("thresholds.max_latin_ratio=1.5", "thresholds.max_latin_ratio must be a number in [0, 1]"),
    ("dedup.lsh_bands=0", "dedup.lsh_bands must be an integer >= 1"),
    ("read.max_record_bytes=-5", "read.max_record_bytes must be an integer in [1, 67108864]"),
    ("extract.extractor=lxml", "extract.extractor must be one of"),
    ("thresholds.min_han_char=3", "did you mean thresholds.min_han_chars"),
])
def test_bad_config_stops_before_any_input_is_read(tmp_path, setting, expected):
    # the input does not exist: the config error must come first
    fails(["--input", str(tmp_path / "none*.warc.gz"), "--output", str(tmp_path / "o"), "--set", setting], expected)
    assert not (tmp_path / "o").exists()


def test_config_errors_come_before_beam_is_even_imported(tmp_path):
    probe = ("import sys, beam_runner\n"
             "try:\n    beam_runner.run(['--input', 'x', '--output', 'o', '--set', 'dedup.lsh_bands=0'])\n"
             "except SystemExit as e:\n    print(e.code)\n"
             "print('apache_beam' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.stdout.splitlines() == ["config: dedup.lsh_bands must be an integer >= 1 (got 0)", "False"]


def test_option_mistakes_stop_the_job(tmp_path):
    out = str(tmp_path / "o")
    fails(["--input", SAMPLE_GLOB, "--output", out, "--runer=FnApiRunner"], "--runer", "did you mean --runner")
    fails(["--input", "a.warc.gz", "b.warc.gz", "--output", out], "unexpected arguments: b.warc.gz", "quote a glob")
    fails(["--input", SAMPLE_GLOB, "--output", out, "--segments", "0:2"], "give --crawl too")
    fails(["--input", str(tmp_path / "missing-*.warc.gz"), "--output", out], "no input matches")
    (tmp_path / "file").write_text("x")
    fails(["--input", SAMPLE_GLOB, "--output", str(tmp_path / "file")], "is a file")


def test_crawl_selection_that_selects_nothing_says_so(tmp_path):
    import gzip

    listing = tmp_path / "warc.paths.gz"
    listing.write_bytes(gzip.compress(b"crawl-data/CC-MAIN-2024-10/segments/1.1/warc/a.warc.gz\n"))
    fails(["--crawl", "CC-MAIN-2024-10", "--crawl-listing", str(listing), "--segments", "3:5", "--output",
           str(tmp_path / "o")], "select no file of its listing")


def test_check_and_fill_mask_answer_in_one_line(tmp_path, capsys):
    assert inspect_main(["--check", str(tmp_path / "nothing")]) == 1
    assert "no manifest.json" in capsys.readouterr().out
    from model.fill_mask import main as fill_main

    with pytest.raises(SystemExit) as exc:
        fill_main([str(tmp_path), "北京是中国的首都。"])
    assert "has no [MASK]" in str(exc.value.code)


def test_log_lines_are_the_jobs_own(tmp_path):
    result = subprocess.run([sys.executable, "beam_runner.py", "--input", SAMPLE_GLOB, "--output", str(tmp_path)],
                            cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "[1/3] ingest: 3 inputs" in result.stderr and "WARNING:root" not in result.stderr
    assert "apitools" not in result.stderr and "Traceback" not in result.stderr
    quiet = subprocess.run([sys.executable, "beam_runner.py", "--input", SAMPLE_GLOB, "--output", str(tmp_path),
                            "--quiet", "--runner=FnApiRunner", "--direct_num_workers=2",
                            "--direct_running_mode=multi_processing"], cwd=ROOT, capture_output=True, text=True,
                           timeout=300)
    assert quiet.returncode == 0 and len(quiet.stderr.strip().splitlines()) == 1, quiet.stderr[-2000:]
    assert json.load(open(os.path.join(tmp_path, "manifest.json")))["funnel"]["kept"] == 8
