"""Dedup building blocks, deterministic tar shards, and the funnel arithmetic."""
import io
import tarfile

import pytest

from sample import texts as T
from transforms.config import DedupConfig
from transforms.dedup import MinHasher, document_key, line_hashes, normalise_url, text_fingerprint
from transforms.shards import build_funnel, write_tar


def test_url_normalisation():
    assert normalise_url("HTTP://WWW.Example.CN:80/a?b=2&a=1&utm_source=x#frag") == "//example.cn/a?a=1&b=2"
    assert normalise_url("https://example.cn") == normalise_url("https://example.cn/")
    assert normalise_url("https://example.cn:8443/") != normalise_url("https://example.cn/")
    assert document_key("http://example.cn/a?utm_medium=feed") == document_key("http://www.example.cn/a")


def test_unsafe_urls_make_safe_keys():
    key = document_key("http://x.example.cn/../../etc/passwd?<script>|rm -rf /")
    assert len(key) == 24 and all(c in "0123456789abcdef" for c in key)


def test_exact_fingerprint_ignores_spacing_and_punctuation_width():
    assert text_fingerprint("你好，世界！\nABC") == text_fingerprint("你好, 世界!  abc")
    assert text_fingerprint("你好世界") != text_fingerprint("你好世间")


def jaccard(a, b):
    return len(set(a) & set(b)) / len(set(a) | set(b))


def test_minhash_estimates_similarity_and_bands_find_near_duplicates():
    cfg = DedupConfig()
    h = MinHasher(cfg)
    original = "\n".join(T.LEAVES_SCIENCE)
    edited = original.replace("下次欣赏红叶时", "今后再去山里看红叶时")
    other = "\n".join(T.DUMPLING_ESSAY)
    s1, s2, s3 = h.signature(original), h.signature(edited), h.signature(other)
    true_j = jaccard(h.shingle_hashes(original), h.shingle_hashes(edited))
    assert abs((s1 == s2).mean() - true_j) < 0.1 and true_j > 0.9
    assert (s1 == s3).mean() < 0.05
    assert set(h.band_keys(original)) & set(h.band_keys(edited))
    assert not set(h.band_keys(original)) & set(h.band_keys(other))
    assert h.band_keys(original) == MinHasher(cfg).band_keys(original)  # deterministic across instances


def test_minhash_config_must_split_into_bands():
    with pytest.raises(ValueError):
        MinHasher(DedupConfig(minhash_perms=100, lsh_bands=14))


def test_line_hashes_skip_short_and_repeated_lines():
    hashes = line_hashes("短行\n这是一行足够长的正文内容。\n这是一行足够长的正文内容。", 10)
    assert len(hashes) == 1


def tar_bytes(samples):
    buf = io.BytesIO()
    write_tar(buf, samples)
    return buf.getvalue()


def test_tar_is_deterministic_and_readable():
    samples = [("00aa11bb", {"txt": "中文".encode(), "json": b"{}"}), ("00aa11bc", {"txt": b"x", "json": b"{}"})]
    first = tar_bytes(samples)
    assert first == tar_bytes(samples)
    with tarfile.open(fileobj=io.BytesIO(first)) as tar:
        members = tar.getmembers()
        assert [m.name for m in members] == ["00aa11bb.json", "00aa11bb.txt", "00aa11bc.json", "00aa11bc.txt"]
        assert {(m.mtime, m.uid, m.gid, m.uname, m.mode) for m in members} == {(0, 0, 0, "", 0o644)}


def test_tar_refuses_unsafe_keys():
    for key in ("../etc/passwd", "a.b", "/abs", ""):
        with pytest.raises(ValueError):
            tar_bytes([(key, {"txt": b"x"})])


def test_funnel_balance():
    events = [(("a", "read", ""), 5), (("a", "kept", ""), 2), (("a", "dropped", "x.y"), 2), (("a", "failed", "r.z"), 1),
              (("b", "read", ""), 1), (("b", "dropped", "x.y"), 1)]
    funnel = build_funnel(events)
    assert funnel["balanced"] and funnel["total"] == {"read": 6, "kept": 2, "dropped": {"x.y": 3}, "failed": {"r.z": 1}}
    assert not build_funnel(events[:-1])["balanced"]


def test_malformed_urls_are_keys_not_errors():
    from transforms.dedup import document_key, normalise_url, url_host

    for url in ("http://[::1/x", "http://example.cn:99999/a", "http://example.cn:abc/a"):
        assert normalise_url(url) == url and len(document_key(url)) == 24
    assert url_host("http://[::1/x") == "(unparsable URL)" and url_host("http://Example.cn:8080/a") == "example.cn"
    assert normalise_url("http://www.Example.cn:80/a?utm_source=x&b=1#top") == "//example.cn/a?b=1"
