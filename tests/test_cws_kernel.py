"""The C decoder of LTP perceptron models gives exactly ltp_extension's words; the segmenter falls back to
ltp_extension where the kernel cannot run; indented text with full-width ASCII keeps its words."""
import os
import random
import shutil
import tempfile

import numpy as np
import pytest
from ltp_extension.perceptron import CWSModel

from sample import texts as T
from conftest import requires_shared
from transforms.chars import split_sentences
from transforms.cws_kernel import CwsKernel, KernelUnavailable, kernel_tables
from transforms.checksums import file_sha256
from transforms.native import HERE
from transforms.segment import (BUNDLED_MODEL, LtpPerceptronSegmenter, describe_segmenter, model_file, segment,
                                train_perceptron)

# Unicode White_Space (what LTP skips) and characters Python calls space but LTP does not (\x1c-\x1f), with
# NUL (LTP's "no character"), astral Han, kana, full-width ASCII and a lone surrogate's neighbours.
HOSTILE = ["", "   ", "  中国 人民 ", "\u3000中 国\u3000", "a\x00b中国", "\x00\x00中", "中\x00中", "\x1c中国\x1c人",
           "\x85中\xa0国\u2028人\u205f民", "中\u200b国", "ab12中国", "哈哈哈哈哈", "𠀀𠀁中国", "ｱｲｳ中ひらがなカタカナ",
           "２０２１年ＡＢＣ公司", "\ud7ff\ue000x", "。。。", "a", "中"]


def fixture_sentences() -> list[str]:
    paragraphs = [p for name in dir(T) if name.isupper() and isinstance(getattr(T, name), list)
                  for p in getattr(T, name) if isinstance(p, str)]
    return [s for p in paragraphs for s in split_sentences(p)]


def random_strings(n: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    pools = [lambda: rng.randint(0x20, 0x7E), lambda: rng.randint(0x4E00, 0x4FFF), lambda: 0x3000, lambda: 0x20,
             lambda: 0, lambda: rng.randint(0x3040, 0x30FF), lambda: rng.randint(0x20000, 0x20100),
             lambda: rng.randint(0xFF01, 0xFF5E), lambda: rng.choice([0x9, 0xA, 0x85, 0x2000, 0x1C])]
    return ["".join(chr(rng.choice(pools)()) for _ in range(rng.randint(0, 40))) for _ in range(n)]


def kernel_or_skip(path: str) -> CwsKernel:
    """The C decoder for a model file; the test is skipped on a machine without a C compiler."""
    try:
        return CwsKernel(path)
    except KernelUnavailable as why:
        if "compiler" in str(why):
            pytest.skip(str(why))
        raise


@pytest.fixture(scope="module")
def bundled():
    return kernel_or_skip(model_file(BUNDLED_MODEL)), CWSModel.load(model_file(BUNDLED_MODEL))


def test_kernel_words_equal_ltp_extension(bundled):
    kernel, reference = bundled
    sentences = HOSTILE + fixture_sentences() + random_strings(3000)
    assert kernel.batch_predict(sentences) == reference.batch_predict(sentences, False)
    # the sentence-by-sentence and batched answers agree (scratch buffers reused across sentences)
    assert [kernel.batch_predict([s])[0] for s in HOSTILE] == kernel.batch_predict(HOSTILE)


def test_kernel_words_equal_ltp_extension_on_real_text(bundled):
    kernel, reference = bundled
    path = requires_shared("segmentation", "pku_test_input.utf8")
    with open(path, encoding="utf-8") as f:
        sentences = [s for line in f for s in split_sentences(line.rstrip("\n"))]
    assert len(sentences) > 4000
    assert kernel.batch_predict(sentences) == reference.batch_predict(sentences, False)


def documents() -> list[str]:
    sentences = fixture_sentences()
    docs = ["\n".join(sentences[i:i + 7]) for i in range(0, len(sentences), 7)]
    docs += ["\u3000\u3000" + s.replace("2", "２").replace("A", "Ａ") for s in sentences[:40]]
    rng = random.Random(1)
    pieces = ["\u3000\u3000", " ", "\n", "２０２１年", "ＡＢＣ公司", "中国人民", "。", "，", "abc", "\t", "哈哈", "𠀀", "\x00"]
    return docs + ["".join(rng.choice(pieces) for _ in range(rng.randint(0, 40))) for _ in range(500)]


def test_segment_gives_the_same_lengths_with_either_decoder(bundled):
    fast, slow = LtpPerceptronSegmenter(BUNDLED_MODEL), LtpPerceptronSegmenter(BUNDLED_MODEL, kernel=False)
    assert (fast.decoder, slow.decoder) == ("cws_kernel", "ltp_extension")
    for doc in documents():
        lengths = segment(doc, fast)
        assert lengths == segment(doc, slow) and sum(lengths) == len(doc)


@pytest.mark.parametrize("kernel", [True, False])
def test_indented_full_width_text_keeps_its_words(kernel):
    # LTP leaves leading whitespace out of its words; the words of the folded text must still be placed whole in
    # the original (they were split into single characters when a full-width word could not be found there).
    segmenter = LtpPerceptronSegmenter(BUNDLED_MODEL, kernel=kernel)
    ascii_lengths = segment("2021年ABC公司成立了研发中心", segmenter)
    assert any(n > 1 for n in ascii_lengths[:3])
    assert segment("\u3000\u3000２０２１年ＡＢＣ公司成立了研发中心", segmenter) == [1, 1] + ascii_lengths


def test_a_freshly_trained_model_decodes_identically(tmp_path, monkeypatch):
    monkeypatch.setenv("CHINESEBERT_CACHE", str(tmp_path / "cache"))  # its table is not worth keeping
    train = tmp_path / "train.txt"
    train.write_text("\n".join(" ".join(s) for s in ["图书馆 正式 开放", "市民 排队 看 书", "新馆 建筑 面积 很 大",
                                                     "银杏 叶 变 黄", "2021 年 ABC 公司"]), encoding="utf-8")
    folder = train_perceptron(str(train), str(tmp_path / "model"), epochs=3, held_out=0.2)
    sentences = HOSTILE + fixture_sentences()[:200] + random_strings(300, seed=2)
    path = model_file(folder)
    assert kernel_or_skip(path).batch_predict(sentences) == CWSModel.load(path).batch_predict(sentences, False)


def test_kernel_tables_place_each_feature_and_refuse_unknown_ones():
    params = np.arange(32, dtype=np.float64)  # rows 0-3: transitions; row r holds 4r .. 4r+3
    tables = kernel_tables({"2中": 4, "6中国": 5, "d56": 6, "c": 7}, params)
    both = kernel_tables({"8中国": 4, "5中国": 5, "6国中": 6}, params)  # rows by pair, then template
    assert both["pairs"][:, 0].tolist() == [20, 16, 24] and both["pair_entries"].tolist() == [0 << 4 | 0b1001, 2 << 4 | 0b10]
    zhong, guo = (int(tables["char_ids"][ord(c)]) for c in "中国")
    assert sorted([zhong, guo]) == [1, 2] and tables["char_ids"][ord("人")] == 0
    assert tables["unigrams"][zhong, 2].tolist() == [16, 17, 18, 19] and tables["unigram_has"][zhong] == 1 << 2
    assert tables["pair_keys"].tolist() == [zhong << 16 | guo]
    assert tables["pair_entries"].tolist() == [0 << 4 | 1 << (6 - 5)] and tables["pairs"].tolist() == [[20, 21, 22, 23]]
    assert tables["types"][5 * 7 + 6].tolist() == [24, 25, 26, 27] and tables["type_has"].sum() == 1
    assert tables["same_as_2_back"].tolist() == [28, 29, 30, 31] and tables["transitions"].ravel().tolist() == list(range(16))
    for name in ("b5", "9中国", "BOS", "[FORCE_CUT]", "2中国", "d57"):
        with pytest.raises(KernelUnavailable, match="does not compute"):
            kernel_tables({name: 4}, params)


def test_without_a_compiler_the_segmenter_keeps_ltp_extension(tmp_path, monkeypatch):
    monkeypatch.setenv("CHINESEBERT_CACHE", str(tmp_path))  # nothing compiled there yet
    monkeypatch.setenv("CC", str(tmp_path / "no-such-compiler"))
    with pytest.raises(KernelUnavailable, match="cannot run the C compiler"):
        CwsKernel(model_file(BUNDLED_MODEL))
    segmenter = LtpPerceptronSegmenter(BUNDLED_MODEL)
    assert segmenter.decoder == "ltp_extension"
    assert segment("图书馆正式开放。", segmenter) == segment("图书馆正式开放。", LtpPerceptronSegmenter(BUNDLED_MODEL))
    assert not [f for f in os.listdir(tmp_path) if f.endswith(".so")]


def test_the_manifest_names_the_decoder_source():
    described = describe_segmenter("ltp-perceptron")
    assert described["decoder_sha256"] == file_sha256(os.path.join(HERE, "cws_kernel.c"))
    assert described["backend"] == "ltp-perceptron" and described["model"].startswith("bundled")
    assert "decoder" not in describe_segmenter("jieba")


def test_an_unwritable_cache_falls_back_to_a_temporary_folder(tmp_path, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("CHINESEBERT_CACHE", str(blocker / "cache"))  # cannot be created under a file
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    os.mkdir(tmp_path / "tmp")
    from transforms.native import cache_dir

    assert cache_dir().startswith(str(tmp_path / "tmp")) and os.access(cache_dir(), os.W_OK)
    compiler = shutil.which("cc") or shutil.which("gcc")
    assert LtpPerceptronSegmenter(BUNDLED_MODEL).decoder == ("cws_kernel" if compiler else "ltp_extension")
