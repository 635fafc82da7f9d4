"""The job on a real distributed engine (Beam's Dask runner, worker processes), and restart after a kill."""
import glob
import os
import signal
import subprocess
import sys
import time

import beam_runner
from pipeline.driver import IngestProgress
from conftest import ROOT, SAMPLE_GLOB
from sample import make_sample
from test_pipeline import output_bytes


def test_dask_cluster_output_is_byte_identical_to_the_local_runner(corpus, tmp_path, capfd):
    """Two worker processes, real serialisation of every step: no reliance on process-local state or order."""
    out, _, _ = corpus
    manifest = beam_runner.run(["--input", SAMPLE_GLOB, "--output", str(tmp_path), "--quiet", "--runner=dask",
                                "--dask_workers=2"])
    assert manifest["funnel_balanced"] and manifest["funnel"]["kept"] == 8
    assert output_bytes(tmp_path) == output_bytes(out)
    err = capfd.readouterr().err  # the workers' output too: the local cluster opens no dashboard (no port clash)
    assert "8787" not in err and "Port" not in err


def slow_inputs(folder, n=6, repeat=25):
    """n WARC files, each the sample's first file repeated: long enough to kill the job between inputs."""
    members = make_sample.file_a()
    for i in range(n):
        (folder / f"part-{i:02d}.warc.gz").write_bytes(b"".join(members * repeat))
    return str(folder / "*.warc.gz")


def funnel_files(output):
    return {p: os.path.getmtime(p) for p in glob.glob(os.path.join(output, "_work", "ingest-*", "*.funnel.json"))}


def test_relaunch_after_a_kill_redoes_only_inputs_in_flight_and_matches(tmp_path):
    (tmp_path / "in").mkdir()
    inputs = slow_inputs(tmp_path / "in")
    reference = tmp_path / "reference"
    beam_runner.run(["--input", inputs, "--output", str(reference), "--quiet"])
    killed = tmp_path / "killed"
    job = subprocess.Popen([sys.executable, "beam_runner.py", "--input", inputs, "--output", str(killed), "--quiet"],
                           cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline and not funnel_files(killed) and job.poll() is None:
        time.sleep(0.01)
    job.send_signal(signal.SIGKILL)
    job.wait()
    done_before = funnel_files(killed)
    assert 1 <= len(done_before) < 6, "the kill should land between inputs"
    assert not os.path.exists(killed / "manifest.json")
    manifest = beam_runner.run(["--input", inputs, "--output", str(killed), "--quiet"])
    after = funnel_files(killed)
    assert all(after[p] == t for p, t in done_before.items())  # finished inputs were not redone
    assert len(after) == 6 and manifest["funnel_balanced"]
    assert output_bytes(killed) == output_bytes(reference)


def test_retuned_thresholds_reuse_the_extracted_inputs(tmp_path, corpus):
    beam_runner.run(["--input", SAMPLE_GLOB, "--output", str(tmp_path), "--quiet"])
    before = funnel_files(tmp_path)
    manifest = beam_runner.run(["--input", SAMPLE_GLOB, "--output", str(tmp_path), "--quiet",
                                "--set", "thresholds.min_han_chars=400"])
    assert funnel_files(tmp_path) == before  # no input was read again
    assert manifest["funnel"]["dropped"]["quality.too_short"] > 1 and manifest["funnel_balanced"]
    changed = beam_runner.run(["--input", SAMPLE_GLOB, "--output", str(tmp_path), "--quiet",
                               "--set", "extract.max_html_chars=100000"])
    assert len(funnel_files(tmp_path)) == 2 * len(before)  # an extraction setting: new intermediates
    assert changed["funnel_balanced"]


def test_progress_reports_inputs_records_and_kept(corpus, caplog):
    out, manifest, _ = corpus
    from pipeline.work import ingest_dir
    from transforms.config import CorpusConfig

    from pipeline.graph import list_inputs

    sources = list_inputs([i["path"] for i in manifest["inputs"]])
    progress = IngestProgress(ingest_dir(str(out), CorpusConfig()), sources, every_s=0.05)
    beam_runner.LOG.addHandler(caplog.handler)
    beam_runner.LOG.setLevel("INFO")
    try:
        progress.start()
        time.sleep(0.3)
        progress.stop.set()
        progress.join()
    finally:
        beam_runner.LOG.removeHandler(caplog.handler)
    line = [r.getMessage() for r in caplog.records if "ingest:" in r.getMessage()][-1]
    assert f"3/3 inputs done, {manifest['funnel']['read']} records read" in line and "kept so far" in line
