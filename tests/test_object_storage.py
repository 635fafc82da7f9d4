"""The job end to end on s3:// (moto's server) and gs:// (gcp-storage-emulator), both on 127.0.0.1: the same corpus
as a local run, a relaunch that resumes from the bucket's intermediates, injected throttling retried, and --crawl
against a mirror of CommonCrawl's layout."""
import glob
import gzip
import hashlib
import io
import json
import os
import signal
import subprocess
import sys
import tarfile
import time

import pytest

import beam_runner
from conftest import ROOT, SAMPLE_GLOB
from object_stores import GcsEmulator, MotoServer, ThrottlingProxy, list_keys, s3_options, upload_tree
from test_pipeline import output_bytes

SAMPLES = sorted(glob.glob(SAMPLE_GLOB))


@pytest.fixture(scope="module")
def moto():
    server = MotoServer()
    yield server
    server.stop()


def normalised(files: dict[str, bytes], input_prefix: str) -> dict[str, object]:
    """Outputs with the input folder's name replaced (all that differs between storages: it is each sample's
    warc_file): tars compared member by member, so the manifest's shard checksums are checked against the tars."""
    def fix(data: bytes) -> bytes:
        return data.replace(input_prefix.encode(), b"INPUT/")

    out: dict[str, object] = {}
    for name, data in files.items():
        if name == "manifest.json":
            manifest = json.loads(data)
            for shard in manifest["shards"]:
                assert shard.pop("sha256") == hashlib.sha256(files[shard["name"]]).hexdigest()
                assert shard.pop("bytes") == len(files[shard["name"]])
            out[name] = fix(json.dumps(manifest, sort_keys=True).encode())
        elif name.endswith(".tar"):
            with tarfile.open(fileobj=io.BytesIO(data)) as tar:
                out[name] = {m.name: fix(tar.extractfile(m).read()) for m in tar if m.isfile()}
        else:
            out[name] = fix(data)
    return out


def s3_outputs(client, bucket: str, prefix: str) -> dict[str, bytes]:
    keys = [k for k in list_keys(client, bucket, prefix) if not k[len(prefix):].startswith("_work")]
    return {k[len(prefix):]: client.get_object(Bucket=bucket, Key=k)["Body"].read() for k in keys}


def local_prefix() -> str:
    return os.path.dirname(SAMPLES[0]) + "/"


@pytest.fixture(scope="module")
def s3_corpus(moto):
    """The job run once on the sample, from s3://warc/in to s3://warc/out."""
    upload_tree(moto.client(), "warc", {f"in/{os.path.basename(p)}": p for p in SAMPLES})
    return beam_runner.run(["--input", "s3://warc/in/*", "--output", "s3://warc/out", "--quiet",
                            *s3_options(moto.endpoint)])


def test_s3_corpus_equals_the_local_one(moto, corpus, s3_corpus):
    out, local_manifest, _ = corpus
    client, manifest = moto.client(), s3_corpus
    assert manifest["funnel"] == local_manifest["funnel"] and manifest["funnel_balanced"]
    remote = s3_outputs(client, "warc", "out/")
    assert set(remote) == set(output_bytes(out)) and "shards/shard-00000-of-00001.tar" in remote
    assert normalised(remote, "s3://warc/in/") == normalised(output_bytes(out), local_prefix())


def test_gcs_corpus_equals_the_local_one(corpus):
    out, _, _ = corpus
    emulator = GcsEmulator("warc")
    try:
        bucket = emulator.client().bucket("warc")
        for p in SAMPLES:
            bucket.blob(f"in/{os.path.basename(p)}").upload_from_filename(p)
        manifest = beam_runner.run(["--input", "gs://warc/in/*", "--output", "gs://warc/out", "--quiet",
                                    "--project=test"])
        remote = {b.name[len("out/"):]: b.download_as_bytes() for b in emulator.client().list_blobs("warc", prefix="out/")
                  if not b.name.startswith("out/_work")}
    finally:
        emulator.stop()
    assert manifest["funnel_balanced"] and manifest["inputs"][0]["path"].startswith("gs://warc/in/")
    assert normalised(remote, "gs://warc/in/") == normalised(output_bytes(out), local_prefix())


def test_relaunch_after_a_kill_resumes_from_the_buckets_intermediates(moto, tmp_path):
    client = moto.client()
    members = open(SAMPLES[0], "rb").read()
    for i in range(4):
        (tmp_path / f"part-{i}.warc.gz").write_bytes(members * 25)
    upload_tree(client, "resume", {f"in/part-{i}.warc.gz": str(tmp_path / f"part-{i}.warc.gz") for i in range(4)})
    args = ["--input", "s3://resume/in/*", "--output", "s3://resume/out", "--quiet", *s3_options(moto.endpoint)]
    job = subprocess.Popen([sys.executable, "beam_runner.py", *args], cwd=ROOT, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
    deadline = time.time() + 240

    def funnels():
        return {k: t for k, t in list_keys(client, "resume", "out/_work/").items() if k.endswith(".funnel.json")}

    while time.time() < deadline and not funnels() and job.poll() is None:
        time.sleep(0.05)
    job.send_signal(signal.SIGKILL)
    job.wait()
    done_before = funnels()
    assert 1 <= len(done_before) < 4, "the kill should land between inputs"
    assert "out/manifest.json" not in list_keys(client, "resume", "out/")
    time.sleep(1.1)  # object times have one-second resolution
    manifest = beam_runner.run(args)
    after = funnels()
    assert all(after[k] == t for k, t in done_before.items())  # finished inputs were not read again
    from transforms.config import CorpusConfig
    from transforms.warc import iter_warc

    with open(tmp_path / "part-0.warc.gz", "rb") as f:
        per_input = sum(1 for _ in iter_warc(f, "part-0", CorpusConfig().read))
    assert len(after) == 4 and manifest["funnel_balanced"] and manifest["funnel"]["read"] == 4 * per_input


def test_crawl_mirror_with_throttling_is_read_selected_and_counted(moto, tmp_path, caplog):
    """--crawl reads warc.paths.gz from the bucket, selects by segment and count; 503 SlowDown replies are retried
    (and logged: this run is not --quiet)."""
    crawl = "CC-MAIN-2024-10"
    listing = [f"crawl-data/{crawl}/segments/17000000{s}.{s}/warc/CC-MAIN-part-{s}-{f}.warc.gz"
               for s in range(3) for f in range(2)]
    (tmp_path / "warc.paths.gz").write_bytes(gzip.compress(("\n".join(listing) + "\n").encode()))
    files = {f"crawl-data/{crawl}/warc.paths.gz": str(tmp_path / "warc.paths.gz")}
    files.update({key: SAMPLES[i % len(SAMPLES)] for i, key in enumerate(listing)})
    upload_tree(moto.client(), "commoncrawl", files)
    proxy = ThrottlingProxy(moto.port, match="segments/170000001.1/warc/CC-MAIN-part-1-0", failures=8)
    caplog.set_level("WARNING")
    try:
        manifest = beam_runner.run(["--crawl", crawl, "--segments", "1:3", "--max-files", "3", "--output",
                                    str(tmp_path / "out"), *s3_options(proxy.endpoint)])
    finally:
        proxy.stop()
    paths = [i["path"] for i in manifest["inputs"]]
    assert paths == sorted(f"s3://commoncrawl/{p}" for p in listing[2:5])  # segments 1 and 2, first three files
    assert proxy.refused == 8  # every refusal was retried (botocore, then Beam's S3 I/O backoff; the job's own
    # re-read of the input is the last layer, tested in test_scale)
    assert any("SlowDown" in r.getMessage() and "retry" in r.getMessage().lower() for r in caplog.records)
    assert all(i["funnel"]["read"] > 0 for i in manifest["inputs"]) and manifest["funnel_balanced"]


def test_pretraining_streams_the_corpus_from_the_bucket(moto, corpus, s3_corpus, tmp_path):
    from model.data import CorpusAssets, read_documents
    from model.train import train

    from apache_beam.io.filesystems import FileSystems
    from apache_beam.options.pipeline_options import PipelineOptions

    out, _, _ = corpus
    FileSystems.set_options(PipelineOptions(s3_options(moto.endpoint)))  # as model.train does from --storage-option
    remote, local = CorpusAssets.load("s3://warc/out"), CorpusAssets.load(str(out))
    assert remote.tokens == local.tokens and (remote.glyphs == local.glyphs).all()
    assert remote.shards[0].startswith("s3://warc/out/shards/")
    assert [d["key"] for d in read_documents(remote.shards)] == [d["key"] for d in read_documents(local.shards)]
    metrics = train(["--corpus", "s3://warc/out", "--out", str(tmp_path / "model"), "--steps", "2", "--batch-size",
                     "2", "--max-len", "64", "--eval-every", "1000", "--save-every", "1000", "--quiet",
                     *[f"--storage-option={o}" for o in s3_options(moto.endpoint)]])
    assert metrics["step"] == 2 and (tmp_path / "model" / "vocab.txt").read_text() == (out / "vocab.txt").read_text()
