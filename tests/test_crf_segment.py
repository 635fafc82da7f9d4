"""The CRF segmenter: training on gold words, determinism, the C decoder against the Python one, the bundled model."""
import hashlib
import os

import pytest

from transforms.crf_features import char_type, lexicon_spans, word_hash
from transforms.crf_segment import CrfModel, train_crf
from transforms.segment import BUNDLED_CRF, load_segmenter, segment, words_of

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PKU = os.path.join(os.path.dirname(ROOT), "shared", "data", "segmentation", "pku_test_gold.utf8")
# Our own sentences with hand-checked People's-Daily-style words.
GOLD = ["市民 图书馆 新 馆 今天 开放 。", "图书馆 藏书 三十万 册 。", "小明 在 图书馆 借 了 ２ 本 书 。",
        "他 喜欢 看书 。", "新 馆 有 五 层 ， 每 层 都 有 阅览室 。", "小红 今天 在 阅览室 看 了 三 本 书 。",
        "１９９８年 一月 ， 图书馆 开放 了 阅览室 。"]
HOSTILE = ["", " ", "\u3000开放\u3000", "图书馆\t\n看书", "ＡＢＣ１２３图书馆", "🙂看书🙂", "\x00\x01\x02\x03看书",
           "看" * 5000, "\ud800图书馆", "馆馆馆书书", "a b  c", "图书馆" + "\u200b" + "看书", "\U00020000\U0002a700书"]

# Random hostile text is drawn from these: common characters, digits and letters in both widths, punctuation,
# whitespace of several kinds, control characters, a lone surrogate, an astral character, a zero-width space.
RANDOM_ALPHABET = list("的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可主发年动同工也能下过子说产"
                       "二三十百千万零○〇年月日时ＡＢ１２０９ａｚAZaz09。，、！？《》（）…—·") + [
    " ", "\t", "\n", "\u3000", "\x00", "\x02", "\x03", "\ud800", "\U00020000", "\u200b", "🙂"]


@pytest.fixture(scope="module")
def fixture_model(tmp_path_factory):
    folder = tmp_path_factory.mktemp("crf")
    train = folder / "gold.txt"
    train.write_text("\n".join(GOLD * 20) + "\n", encoding="utf-8")
    first, again = folder / "a.npz", folder / "b.npz"
    train_crf(str(train), str(first), epochs=10)
    train_crf(str(train), str(again), epochs=10)
    return first, again


def test_trained_on_gold_words_it_segments_them_back_and_the_same_bytes_every_time(fixture_model):
    first, again = fixture_model
    assert hashlib.sha256(first.read_bytes()).digest() == hashlib.sha256(again.read_bytes()).digest()
    seg = load_segmenter("crf", str(first))
    sentences = [line.replace(" ", "") for line in GOLD]
    assert seg.cut_many(sentences) == [line.split() for line in GOLD]
    # full-width ASCII reads as ASCII (the training text was folded the same way)
    assert segment("小明在图书馆借了2本书。", seg) == segment("小明在图书馆借了２本书。", seg)


def test_the_c_decoder_gives_the_python_decoders_words_on_real_and_hostile_text(fixture_model):
    c, python = CrfModel(str(fixture_model[0])), CrfModel(str(fixture_model[0]), kernel=False)
    if c.decoder != "crf_kernel":
        pytest.skip("no C compiler here")
    sentences = [line.replace(" ", "") for line in GOLD] + HOSTILE
    got = c.lengths_many(sentences)
    assert got == python.lengths_many(sentences)
    assert [sum(lengths) for lengths in got] == [len(s) for s in sentences]
    # whitespace is never inside a word, and every whitespace character is a word of its own
    assert words_of("\u3000开放\u3000", got[len(GOLD) + 2])[0] == "\u3000"
    assert words_of("a b  c", got[len(GOLD) + 10]) == ["a", " ", "b", " ", " ", "c"]


def test_the_bundled_models_c_decoder_gives_the_python_decoders_words_on_random_hostile_strings():
    import random

    c, python = CrfModel(BUNDLED_CRF), CrfModel(BUNDLED_CRF, kernel=False)
    if c.decoder != "crf_kernel":
        pytest.skip("no C compiler here")
    rng = random.Random(14)
    sentences = ["".join(rng.choice(RANDOM_ALPHABET) for _ in range(rng.randint(0, 60))) for _ in range(400)]
    sentences += [line.replace(" ", "") for line in GOLD]
    assert c.lengths_many(sentences) == python.lengths_many(sentences)


def test_lexicon_spans_and_types_follow_their_definition():
    words = {word_hash(map(ord, w)) for w in ("图书", "图书馆", "书馆")}
    starts, ends, inside = lexicon_spans([ord(c) for c in "看图书馆"], words.__contains__)
    assert starts == [0, 3, 2, 0] and ends == [0, 0, 2, 3] and inside == [0, 0, 3, 0]
    assert [char_type(ord(c)) for c in "馆二年7a，"] == [0, 1, 2, 3, 4, 5]


def test_the_bundled_model_is_the_default_and_is_checked():
    from transforms.config import AnnotateConfig
    from transforms.segment import describe_segmenter

    config = AnnotateConfig()
    assert (config.segmenter, config.segmenter_model) == ("crf", "")
    described = describe_segmenter(config.segmenter, config.segmenter_model)
    assert described["backend"] == "crf" and described["sha256"] == hashlib.sha256(
        open(BUNDLED_CRF, "rb").read()).hexdigest()
    seg = load_segmenter(config.segmenter, config.segmenter_model)
    words = words_of("市民们在图书馆看书。", segment("市民们在图书馆看书。", seg))
    assert words[:4] == ["市民", "们", "在", "图书馆"] and "".join(words) == "市民们在图书馆看书。"


def test_a_damaged_bundled_crf_model_is_refused(tmp_path, monkeypatch):
    import transforms.segment as S

    damaged = tmp_path / "crf_cws.npz"
    damaged.write_bytes(b"version https://git-lfs.github.com/spec/v1\n")  # a checkout without the file
    monkeypatch.setattr(S, "BUNDLED_CRF", str(damaged))
    with pytest.raises(ValueError, match="sha256"):
        S.load_segmenter("crf")


@pytest.mark.skipif(not os.path.exists(PKU), reason="needs ../shared/data (SIGHAN 2005 PKU test)")
def test_the_bundled_model_reaches_the_pku_goal():
    import sys

    sys.path.insert(0, ROOT)
    from benchmarks.segmentation_domains import gold_sets, word_scores

    gold = gold_sets()["pku_test"]
    seg = load_segmenter("crf")
    predicted = seg.cut_many(["".join(words) for words in gold])
    assert word_scores(gold, predicted)[2] >= 0.95


@pytest.mark.parametrize("name", ["crf", "ltp-perceptron"])
def test_a_documents_lengths_from_the_decoders_flags_equal_those_sentence_by_sentence(name):
    import random

    seg = load_segmenter(name)
    if seg.word_starts(["看书"]) is None:
        pytest.skip("no C compiler here")
    rng = random.Random(5)
    alphabet = RANDOM_ALPHABET + ["\n", "\r"]  # line breaks more often, and a carriage return
    texts = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 300))) for _ in range(300)]
    texts += ["\n".join(HOSTILE), "", "\n", "\n\n", "a\n", "\nb", " \n ", "\n".join(g.replace(" ", "") for g in GOLD)]
    fast = [segment(t, seg) for t in texts]
    seg.word_starts = lambda sentences: None  # the sentence-by-sentence path
    assert fast == [segment(t, seg) for t in texts]
    assert all(sum(lengths) == len(t) for lengths, t in zip(fast, texts))
