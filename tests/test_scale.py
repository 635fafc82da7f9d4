"""CommonCrawl inputs, retries on throttling, and failures that stay counted instead of stopping the job."""
import gzip
import os
import random
import shutil

import pytest

import beam_runner
from conftest import ROOT, SAMPLE_GLOB
from pipeline.crawl import expand_crawl, is_retryable, retry, select_paths

LISTING = [f"crawl-data/CC-MAIN-2026-10/segments/17000000{s}.{s}/warc/CC-MAIN-x-{s}-{i:05d}.warc.gz"
           for s in range(4) for i in range(3)]


def test_listing_selection_by_segment_and_count():
    assert len(select_paths(LISTING, "s3://commoncrawl/")) == 12
    two = select_paths(LISTING, "s3://commoncrawl/", segments="1:3")
    assert len(two) == 6 and all("/segments/170000001.1/" in p or "/segments/170000002.2/" in p for p in two)
    assert select_paths(LISTING, "gs://mirror/", max_files=2) == ["gs://mirror/" + p for p in LISTING[:2]]


def test_a_crawl_id_expands_to_runnable_inputs(tmp_path):
    """A local listing in CommonCrawl's format pointing at the sample's files runs like --input."""
    for name in ("sample-a.warc.gz", "sample-b.warc.gz"):
        target = tmp_path / "crawl-data" / "CC-MAIN-2026-10" / "segments" / "1.0" / "warc" / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(os.path.join(ROOT, "sample", "warc", name), target)
    listing = tmp_path / "warc.paths.gz"
    listing.write_bytes(gzip.compress(b"crawl-data/CC-MAIN-2026-10/segments/1.0/warc/sample-a.warc.gz\n"
                                      b"crawl-data/CC-MAIN-2026-10/segments/1.0/warc/sample-b.warc.gz\n"))
    paths = expand_crawl("CC-MAIN-2026-10", str(listing), prefix=str(tmp_path) + "/", max_files=1)
    assert paths == [str(tmp_path / "crawl-data/CC-MAIN-2026-10/segments/1.0/warc/sample-a.warc.gz")]
    manifest = beam_runner.run(["--crawl", "CC-MAIN-2026-10", "--crawl-listing", str(listing), "--crawl-prefix",
                                str(tmp_path) + "/", "--output", str(tmp_path / "out"), "--quiet"])
    assert len(manifest["inputs"]) == 2 and manifest["funnel"]["read"] == 17 + 11
    with pytest.raises(ValueError):
        expand_crawl("latest", str(listing))


def test_throttling_is_retried_with_jittered_backoff_and_other_errors_are_not():
    calls, sleeps = [], []

    def flaky():
        calls.append(1)
        if len(calls) < 3:
            raise OSError("503 SlowDown: Please reduce your request rate.")
        return "data"

    assert retry(flaky, base_s=1.0, sleep=sleeps.append, rng=random.Random(0)) == "data"
    assert len(calls) == 3 and len(sleeps) == 2 and 0 <= sleeps[0] <= 1.0 and 0 <= sleeps[1] <= 2.0
    with pytest.raises(ValueError):
        retry(lambda: (_ for _ in ()).throw(ValueError("bad data")), sleep=sleeps.append)
    with pytest.raises(OSError):  # gives up after the last attempt
        retry(lambda: (_ for _ in ()).throw(OSError("SlowDown")), attempts=3, sleep=lambda s: None)
    assert is_retryable(ConnectionResetError("Connection reset by peer")) and not is_retryable(KeyError("x"))


def test_a_step_that_raises_on_every_record_is_counted_not_fatal(tmp_path, monkeypatch):
    """An extractor that raises KeyError for each candidate (a bug no step foresaw): the job finishes, and every
    one of those records is a named failure. (The in-process runner runs the patched function.)"""
    import transforms.extract

    def broken(html, max_depth):
        raise KeyError("broken extractor")

    monkeypatch.setitem(transforms.extract.EXTRACTORS, "resiliparse", broken)
    manifest = beam_runner.run(["--input", SAMPLE_GLOB, "--output", str(tmp_path), "--quiet", "--allow-empty"])
    funnel = manifest["funnel"]
    assert funnel["kept"] == 0 and funnel["failed"]["process.KeyError"] >= 10 and manifest["funnel_balanced"]
