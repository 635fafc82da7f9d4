"""The whole job on the embedded sample, on real Beam runners: contents, accounting, determinism, portability."""
import glob
import io
import json
import os
import socket
import subprocess
import sys
import time

import webdataset as wds

import beam_runner
from conftest import ROOT, SAMPLE_GLOB
from sample import make_sample

KEPT_URLS = {
    "http://news.example.cn/2026/0301/library.html",  # UTF-8; its syndicated copy is an exact duplicate
    "http://bbs.example.cn/thread-1024-1-1.html",  # GBK declared in the header, PII inside
    "http://science.example.cn/autumn-leaves.html",  # its reworded copy is a near duplicate
    "http://blog.example.cn/essay/dumplings.html",  # GBK with no declaration
    "http://tea.example.com.tw/oolong.html",  # Big5, traditional
    "http://travel.example.cn/watertown.html",  # declares gb2312, bytes are UTF-8
    "http://dev.example.cn/blog/python-three-years.html",  # meta says utf-8, bytes are GBK; newest capture
    "http://club.example.cn/../../etc/passwd?x=<script>&y=|rm%20-rf%20/",  # GB18030 by meta; unsafe URL (warcio escapes spaces)
}
EXPECTED_DROPS = {
    "read.not_response": 4, "read.http_status": 2, "read.not_html": 3, "read.empty_payload": 1,
    "read.record_too_large": 1, "quality.too_short": 1, "decode.failed_undeclared": 1, "quality.spam_title": 1, "quality.spam_classifier": 1,
    "quality.not_chinese": 2, "quality.mojibake": 1, "dedup.url_duplicate": 1, "dedup.exact_duplicate": 1,
    "dedup.near_duplicate": 1, "dedup.too_short_after_line_dedup": 1,
}


def run_job(output, *extra):
    return beam_runner.run(["--input", SAMPLE_GLOB, "--output", str(output), "--quiet", *extra])


def read_samples(output):
    shards = sorted(glob.glob(os.path.join(output, "shards", "*.tar")))
    return list(wds.WebDataset(shards, shardshuffle=False))


def output_bytes(output):
    """Every file of the corpus (the _work intermediates aside: they name their own folder)."""
    files = sorted(glob.glob(os.path.join(output, "**", "*"), recursive=True))
    return {os.path.relpath(f, output): open(f, "rb").read() for f in files
            if os.path.isfile(f) and not os.path.relpath(f, output).startswith("_work")}


def test_kept_documents_are_the_good_chinese_pages(corpus):
    _, manifest, samples = corpus
    assert {json.loads(s["json"])["url"] for s in samples} == KEPT_URLS
    assert manifest["samples"] == len(samples) == manifest["funnel"]["kept"]


def test_every_record_is_accounted_for(corpus):
    _, manifest, _ = corpus
    funnel = manifest["funnel"]
    members = len(make_sample.file_a()) + len(make_sample.file_b()) + len(make_sample.file_c())
    assert funnel["read"] == members == 31
    assert funnel["read"] == funnel["kept"] + sum(funnel["dropped"].values()) + sum(funnel["failed"].values())
    assert funnel["dropped"] == EXPECTED_DROPS and funnel["failed"] == {"read.gzip_corrupt": 1}
    assert manifest["funnel_balanced"]
    for entry in manifest["inputs"]:
        f = entry["funnel"]
        assert f["read"] == f["kept"] + sum(f["dropped"].values()) + sum(f["failed"].values()) > 0
        assert entry["size"] == os.path.getsize(entry["path"])


def test_sample_fields_and_provenance(corpus):
    _, _, samples = corpus
    by_url = {json.loads(s["json"])["url"]: (s["__key__"], json.loads(s["json"]), s["txt"].decode()) for s in samples}
    for key, meta, text in by_url.values():
        assert all(c in "0123456789abcdef" for c in key) and len(key) == 24
        for field in ("warc_file", "warc_offset", "warc_record_id", "fetch_time", "charset", "lang_score", "script",
                      "dedup_cluster_size"):
            assert field in meta
        assert {"n_han", "han_ratio", "terminal_punct_lines", "dup_5gram", "badwords_per_1k", "quality_spam",
                "perplexity", "line_perplexity", "spam_title_hits", "spam_sentences", "title_stuffing"} <= set(meta["scores"])
        assert meta["quality"]["tier"] in ("head", "middle", "tail") and len(meta["scores"]["line_perplexity"]) >= 2
        assert meta["quality"]["spam"] == meta["scores"]["quality_spam"] < 0.7
        assert text and "\n" in text and "责任编辑" not in text and "ICP备" not in text
    _, news, _ = by_url["http://news.example.cn/2026/0301/library.html"]
    assert news["exact_duplicates"] == 2
    assert by_url["http://science.example.cn/autumn-leaves.html"][1]["dedup_cluster_size"] == 2
    assert by_url["http://tea.example.com.tw/oolong.html"][1]["script"] == "traditional"
    assert by_url["http://tea.example.com.tw/oolong.html"][1]["charset"] == "big5hkscs"
    python_blog = by_url["http://dev.example.cn/blog/python-three-years.html"][1]
    assert python_blog["url_captures"] == 2 and python_blog["fetch_time"].startswith("2026-03-01")
    forum_text = by_url["http://bbs.example.cn/thread-1024-1-1.html"][2]
    assert "13812345678" not in forum_text and "110105199003071239" not in forum_text and "<手机号>" in forum_text
    assert "㐀𠀀" in by_url["http://club.example.cn/../../etc/passwd?x=<script>&y=|rm%20-rf%20/"][2]


def test_manifest_records_config_versions_and_checksums(corpus):
    out, manifest, _ = corpus
    assert len(manifest["config_sha256"]) == 64 and manifest["config"]["thresholds"]["min_han_chars"] > 0
    assert manifest["versions"]["apache-beam"] and len(manifest["models"]["lid176"]["sha256"]) == 64
    from transforms.chain import CLASSIFIER_PATH, LANGUAGE_MODEL_PATH
    from transforms.checksums import file_sha256

    assert manifest["models"]["classifier"]["sha256"] == file_sha256(CLASSIFIER_PATH)
    assert manifest["models"]["language_model"]["sha256"] == file_sha256(LANGUAGE_MODEL_PATH)
    quality = manifest["quality"]
    assert sum(quality["tiers"].values()) == manifest["samples"] == sum(quality["histograms"]["quality_spam"])
    assert sum(quality["histograms"]["perplexity"]) == manifest["samples"]
    import hashlib

    for shard in manifest["shards"]:
        data = open(os.path.join(out, shard["name"]), "rb").read()
        assert hashlib.sha256(data).hexdigest() == shard["sha256"] and len(data) == shard["bytes"]
    assert not glob.glob(os.path.join(out, "**", "*.tmp"), recursive=True)


def test_same_inputs_and_config_give_identical_bytes(corpus, tmp_path):
    out, _, _ = corpus
    run_job(tmp_path)
    assert output_bytes(tmp_path) == output_bytes(out)


def test_config_changes_the_output_and_is_recorded(tmp_path):
    manifest = run_job(tmp_path, "--set", "thresholds.min_han_chars=400")
    assert manifest["config"]["thresholds"]["min_han_chars"] == 400
    assert manifest["funnel"]["dropped"]["quality.too_short"] >= 1 and manifest["funnel_balanced"]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_portable_runner_via_job_service_gives_identical_output(corpus, tmp_path):
    """The Runner-API translation that Dataflow, Spark and Flink receive, against Beam's local job service."""
    out, _, _ = corpus
    port = free_port()
    service = subprocess.Popen([sys.executable, "-m", "apache_beam.runners.portability.local_job_service_main",
                                "--port", str(port)], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.2)
        run_job(tmp_path, "--runner=PortableRunner", f"--job_endpoint=localhost:{port}", "--environment_type=LOOPBACK")
    finally:
        service.terminate()
        service.wait(timeout=30)
    assert output_bytes(tmp_path) == output_bytes(out)


def test_multiprocess_runner_gives_identical_output(corpus, tmp_path):
    out, _, _ = corpus
    run_job(tmp_path, "--direct_num_workers=2", "--direct_running_mode=multi_processing")
    assert output_bytes(tmp_path) == output_bytes(out)


def test_rerun_replaces_old_shards(tmp_path):
    stale = tmp_path / "shards" / "shard-00007-of-00009.tar"
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"old")
    manifest = run_job(tmp_path)
    on_disk = sorted(os.path.relpath(p, tmp_path) for p in glob.glob(str(tmp_path / "shards" / "*")))
    assert on_disk == [s["name"] for s in manifest["shards"]]


def test_real_commoncrawl_warcs_are_fully_accounted(tmp_path):
    from conftest import requires_shared

    folder = requires_shared("warc")
    manifest = beam_runner.run(["--input", os.path.join(folder, "*.warc.gz"), "--output", str(tmp_path), "--quiet",
                                "--allow-empty"])
    funnel = manifest["funnel"]
    assert funnel["read"] == 50 + 48 + 1 and manifest["funnel_balanced"]
    assert funnel["failed"] == {"read.gzip_truncated": 1}
    assert funnel["dropped"]["sniff.not_chinese"] >= 22 + 3  # the English sample and the European pages
    assert funnel["kept"] == 0  # the Chinese pages of the CommonCrawl sample are spam: every one dropped
    spam_rules = ("quality.spam_title", "quality.spam_classifier", "quality.bad_words", "quality.spam_sentences")
    assert sum(funnel["dropped"].get(r, 0) for r in spam_rules) >= 8


def test_shards_carry_annotation_aligned_with_the_assets(corpus):
    import numpy as np

    from transforms.pinyin import decode

    out, manifest, samples = corpus
    tokens = open(os.path.join(out, "vocab.txt"), encoding="utf-8").read().split("\n")[:-1]
    glyphs = np.load(os.path.join(out, "glyphs.npy"))
    defaults = np.load(os.path.join(out, "pinyin_default.npy"))
    assert tokens[:5] == ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] and manifest["vocab"]["size"] == len(tokens)
    assert glyphs.shape == (len(tokens), 3, 24, 24) and defaults.shape == (len(tokens), 8)
    assert manifest["vocab"]["coverage"] == 1.0  # the vocabulary was built from this corpus
    assert {a["name"] for a in manifest["assets"]} == {"vocab.txt", "glyphs.npy", "pinyin_default.npy",
                                                       "pinyin_alphabet.json"}
    from transforms.checksums import file_sha256
    from transforms.config import AnnotateConfig
    from transforms.pinyin import PinyinAnnotator
    from transforms.segment import BUNDLED_CRF_SHA256, load_segmenter, segment, words_of

    # The defaults: our CRF trained on gold words, pinyin read in context by pypinyin + g2pM.
    assert manifest["models"]["segmenter"]["backend"] == "crf"
    described = manifest["models"]["segmenter"]
    assert described["sha256"] == BUNDLED_CRF_SHA256 and "crf_cws.npz" in described["model"]
    assert manifest["models"]["pinyin"]["backend"] == "g2pm" and manifest["models"]["pinyin"]["g2pM"] == "0.1.2.5"
    assert manifest["models"]["pinyin"]["forward_pass_sha256"] == file_sha256(
        os.path.join(ROOT, "transforms", "polyphone_kernel.c"))
    segmenter, reader = load_segmenter("crf"), PinyinAnnotator.from_config(AnnotateConfig())
    for s in samples:
        text = s["txt"].decode()
        ids, pinyin, words, sents = (np.load(io.BytesIO(s[f"{n}.npy"])) for n in ("ids", "pinyin", "words", "sents"))
        chars = [c for c in text if not c.isspace()]
        assert len(ids) == len(pinyin) == len(words) == len(chars) and sents[0] == 0
        # what the shards hold is what the defaults give for the same text
        expected_words = [w for w in words_of(text, segment(text, segmenter)) if w.strip()]
        assert np.max(words) + 1 == len(expected_words)
        single = np.array([not c.isspace() for c in text])
        assert np.array_equal(pinyin, reader.encoded(words_of(text, segment(text, segmenter)))[single])
        assert [tokens[i] for i in ids] == [c.lower() for c in chars]
        assert np.all(np.diff(words) >= 0) and np.all(np.diff(sents) > 0)
        if "银行" in text:
            assert decode(pinyin[chars.index("银") + 1]) == "hang2"


def test_given_vocab_and_ltp_segmenter_are_used_and_recorded(tmp_path):
    import numpy as np

    from transforms.segment import load_segmenter, train_perceptron

    sentences = [p for p in make_sample.T.LIBRARY_NEWS + make_sample.T.GARDEN_FORUM]
    train = tmp_path / "train.txt"
    train.write_text("\n".join(" ".join(w) for w in load_segmenter("jieba").cut_many(sentences)), encoding="utf-8")
    model = train_perceptron(str(train), str(tmp_path / "ltp"), epochs=2)
    vocab = tmp_path / "vocab.txt"
    vocab.write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "的", "是", "。"]) + "\n", encoding="utf-8")
    out = tmp_path / "out"
    manifest = run_job(out, "--set", "annotate.segmenter=ltp-perceptron", "--set", f"annotate.segmenter_model={model}",
                       "--set", f"annotate.vocab_file={vocab}")
    assert manifest["models"]["segmenter"]["backend"] == "ltp-perceptron"
    assert len(manifest["models"]["segmenter"]["sha256"]) == 64
    assert manifest["vocab"]["size"] == 8 and 0 < manifest["vocab"]["coverage"] < 0.2
    ids = np.concatenate([np.load(io.BytesIO(s["ids.npy"])) for s in read_samples(out)])
    assert set(ids.tolist()) <= {1, 5, 6, 7} and (ids == 1).mean() > 0.8
