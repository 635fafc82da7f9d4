"""Shared fixtures: the configuration, the loaded per-input chain, and helpers to build WARC bytes."""
from __future__ import annotations

import atexit
import io
import os
import shutil
import sys
import tempfile

import pytest

# No test may look for cloud credentials on a metadata server: only loopback addresses are ever contacted.
os.environ.update({"NO_GCE_CHECK": "true", "GCE_METADATA_HOST": "127.0.0.1:9", "GCE_METADATA_IP": "127.0.0.1:9",
                   "AWS_EC2_METADATA_DISABLED": "true"})
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
# The C kernels and model tables of this test session (transforms/native.py) go to a folder of its own: the tests
# build them from scratch as a fresh machine does, and the models they train leave nothing in the user's cache.
os.environ["CHINESEBERT_CACHE"] = tempfile.mkdtemp(prefix="chinesebert-test-cache-")
atexit.register(shutil.rmtree, os.environ["CHINESEBERT_CACHE"], ignore_errors=True)

from sample import make_sample  # noqa: E402
from transforms.config import CorpusConfig  # noqa: E402
from transforms.types import Record  # noqa: E402

SHARED_DATA = os.path.join(os.path.dirname(ROOT), "shared", "data")
SAMPLE_GLOB = os.path.join(ROOT, "sample", "warc", "*")


@pytest.fixture(scope="session")
def config() -> CorpusConfig:
    return CorpusConfig()


@pytest.fixture(scope="session")
def chain(config):
    from transforms.chain import DocumentChain

    return DocumentChain.load(config)


def html_record(body: bytes, content_type: str = "text/html; charset=utf-8", url: str = "http://t.example.cn/a",
                charset: str | None = None) -> Record:
    """A Record as the reader would produce it, for steps that start from one."""
    media, _, param = content_type.partition(";")
    http_charset = charset if charset is not None else param.partition("=")[2].strip().lower()
    return Record(url=url, warc_file="t.warc.gz", warc_offset=0, record_id="<urn:uuid:x>",
                  fetch_time="2026-01-01T00:00:00Z", http_status=200, content_type=media.strip(),
                  http_charset=http_charset, payload=body)


def warc_stream(*records: bytes, gzip: bool = True) -> io.BytesIO:
    """A seekable WARC (one gzip member per record, or plain) made of make_sample's record builders."""
    data = b"".join(make_sample.gzip_member(r) if gzip else r for r in records)
    return io.BytesIO(data)


class CountingStream(io.BytesIO):
    """A seekable stream that counts the bytes read from it: the reader's work, independent of the clock."""

    bytes_read = 0

    def read(self, size=-1):
        data = super().read(size)
        self.bytes_read += len(data)
        return data


def article(paragraphs: list[str], title: str = "标题", charset_meta: str | None = "utf-8") -> str:
    return make_sample.page(title, paragraphs, charset_meta=charset_meta)


def requires_shared(*parts: str) -> str:
    """Path under ../shared/data, or skip the test when that data is absent."""
    path = os.path.join(SHARED_DATA, *parts)
    if not os.path.exists(path):
        pytest.skip(f"shared data absent: {path}")
    return path


@pytest.fixture(scope="session")
def corpus(tmp_path_factory):
    """The corpus job run once on the embedded sample: (output folder, manifest, samples read back)."""
    import beam_runner
    from test_pipeline import read_samples

    out = tmp_path_factory.mktemp("corpus")
    manifest = beam_runner.run(["--input", SAMPLE_GLOB, "--output", str(out), "--quiet"])
    return out, manifest, read_samples(out)
