"""Segmentation backends (jieba, LTP perceptron, ltp.LTP), contextual pinyin, vocabulary, annotation arrays, glyphs."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from conftest import ROOT
from sample import texts as T
from transforms.annotate import annotate
from transforms.chars import split_sentences
from transforms.config import AnnotateConfig
from transforms.pinyin import ALPHABET, PinyinAnnotator, decode, default_reading, encode
from transforms.segment import _dir_sha256, align, drop_lines, load_segmenter, segment, train_perceptron, words_of
from transforms.vocab import SPECIAL_TOKENS, Vocab, char_counts

TEXT = "我去银行取钱，还是走路去。\n他把书归还了。音乐让人快乐！ABC 123"


@pytest.fixture(scope="session")
def ltp_model(tmp_path_factory):
    """A small LTP perceptron model trained here, on our own sample texts segmented by jieba."""
    jieba = load_segmenter("jieba")
    sentences = [s for name in dir(T) for v in [getattr(T, name)] if isinstance(v, list)
                 for p in v if isinstance(p, str) for s in split_sentences(p)]
    folder = tmp_path_factory.mktemp("ltp")
    train = folder / "train.txt"
    train.write_text("\n".join(" ".join(w) for w in jieba.cut_many(sentences)) + "\n", encoding="utf-8")
    return train_perceptron(str(train), str(folder / "model"), epochs=3)


@pytest.mark.parametrize("backend", ["jieba", "ltp-perceptron", "ltp"])
def test_every_backend_covers_the_text_exactly(backend, ltp_model):
    seg = load_segmenter(backend, "" if backend == "jieba" else ltp_model)
    lengths = segment(TEXT, seg)
    words = words_of(TEXT, lengths)
    assert "".join(words) == TEXT and "\n" in words and all(n > 0 for n in lengths)
    assert not any("\n" in w and w != "\n" for w in words)  # no word crosses a line break
    if backend != "jieba":
        assert "图书馆" in words_of("市民图书馆开放了。", segment("市民图书馆开放了。", seg))  # learnt from the sample


def test_ltp_backends_agree_on_the_same_model(ltp_model):
    text = "\n".join(T.RUNNING_CLUB)
    direct = segment(text, load_segmenter("ltp-perceptron", ltp_model))
    through_ltp = segment(text, load_segmenter("ltp", ltp_model))
    assert direct == through_ltp


def test_unknown_or_modelless_segmenter_is_an_error():
    with pytest.raises(ValueError):
        load_segmenter("ltp")
    with pytest.raises(ValueError):
        load_segmenter("stanza", "x")


def test_align_recovers_dropped_and_altered_characters():
    assert align("a b中文", ["a", "b", "中文"]) == [1, 1, 1, 2]
    assert align("中文", ["中", "X", "文"]) == [1, 1]


def test_drop_lines_keeps_words_aligned():
    text = "第一行文字。\n第二行。\n第三行内容。"
    lengths = segment(text, load_segmenter("jieba"))
    new_text, new_lengths = drop_lines(text, lengths, [True, False, True])
    assert new_text == "第一行文字。\n第三行内容。" and sum(new_lengths) == len(new_text)
    assert words_of(new_text, new_lengths) == words_of(new_text, segment(new_text, load_segmenter("jieba")))


@pytest.mark.parametrize("sentence,char,reading", [
    ("我去银行取钱。", "行", "hang2"), ("他在路上行走。", "行", "xing2"), ("你还是来吧。", "还", "hai2"),
    ("请按时归还图书。", "还", "huan2"), ("她喜欢音乐。", "乐", "yue4"), ("祝你快乐！", "乐", "le4"),
    ("我们走了。", "了", "le5"), ("绿色的女孩", "绿", "lv4"),
])
def test_pinyin_in_context(sentence, char, reading):
    words = words_of(sentence, segment(sentence, load_segmenter("jieba")))
    readings = PinyinAnnotator().readings(words)
    assert readings[sentence.index(char)] == reading


def test_pinyin_encoding_in_the_reference_alphabet():
    assert len(ALPHABET) == 32 and ALPHABET[1] == "1" and ALPHABET[5] == "5" and ALPHABET[6] == "a"
    assert encode("lv3").tolist() == [ALPHABET.index("l"), ALPHABET.index("v"), 3, 0, 0, 0, 0, 0]
    assert decode(encode("zhuang1")) == "zhuang1" and not encode(None).any() and not encode("x!").any()
    assert decode(default_reading("行")) in ("xing2", "hang2") and not default_reading("a").any()
    readings = PinyinAnnotator().readings(["ABC", "中文", "𫔰", "ǎ"])
    assert readings == [None, None, None, "zhong1", "wen2", None, None]  # unknown ideographs read None


def test_vocab_from_counts_and_given_vocab_with_wordpieces():
    counts = char_counts("中中中文文A。 ")
    v = Vocab.from_counts(counts, max_size=7)
    assert v.tokens[:5] == list(SPECIAL_TOKENS) and v.tokens[5:] == ["中", "文"]  # by count, capped
    assert v.coverage(counts) == pytest.approx(5 / 7)
    ids, spans = v.tokenize("中 文X")
    assert ids.tolist() == [5, 6, 1] and spans.tolist() == [[0, 1], [2, 3], [3, 4]]
    bert = Vocab.from_text("[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\n中\nchinese\n##bert\nbe\n")
    ids, spans = bert.tokenize("中ChineseBERT yes")
    assert [bert.tokens[i] for i in ids] == ["中", "chinese", "##bert", "[UNK]"]
    assert spans.tolist() == [[0, 1], [1, 8], [8, 12], [13, 16]]
    with pytest.raises(ValueError):
        Vocab(["[UNK]", "[PAD]", "[CLS]", "[SEP]", "[MASK]"])


def test_annotation_arrays_are_consistent():
    lengths = segment(TEXT, load_segmenter("jieba"))
    vocab = Vocab.from_counts(char_counts(TEXT), 1000)
    a = annotate(TEXT, lengths, vocab, PinyinAnnotator())
    ids, pinyin, words, sents = a["ids"], a["pinyin"], a["words"], a["sents"]
    chars = [c for c in TEXT if not c.isspace()]
    assert ids.dtype == np.int32 and pinyin.dtype == np.uint8 and pinyin.shape == (len(chars), 8)
    assert [vocab.tokens[i] for i in ids] == [c.lower() for c in chars]
    assert words[0] == 0 and np.all(np.diff(words) >= 0) and np.all(np.diff(words) <= 1)
    bank = chars.index("银")
    assert words[bank] == words[bank + 1] and decode(pinyin[bank + 1]) == "hang2"
    assert not pinyin[chars.index("，")].any() and not pinyin[chars.index("A")].any()
    assert sents.tolist() == [0, chars.index("他"), chars.index("音"), chars.index("A")]


def test_glyphs_render_detect_missing_and_fall_back():
    from fonts.glyphs import GlyphRenderer, load_manifest, verify

    size, specs = load_manifest()
    verify(specs)
    renderer = GlyphRenderer(specs, size)
    tokens = ["[PAD]", "中", "。", "𠀀", "a"]
    glyphs, report = renderer.render(tokens)
    assert glyphs.shape == (5, 3, 24, 24) and glyphs.dtype == np.uint8
    assert not glyphs[0].any() and all(glyphs[1, f].any() for f in range(3))
    assert not glyphs[3].any()  # Ext B: in none of the fonts' character maps, so blank, not a box
    assert all(r["missing"] == 1 and r["characters"] == 4 for r in report)
    # 。 keeps its place low in the em box; 中 fills the middle
    assert glyphs[2, 2, 12:].sum() > glyphs[2, 2, :12].sum()
    again, _ = GlyphRenderer(specs, size).render(tokens)
    assert np.array_equal(glyphs, again)
    missing_in_kai = next((c for c in "㐀㐁㐂㐃㐄㐅" if not renderer.has("lxgw-wenkai", c) and renderer.has("noto-serif-sc", c)), None)
    if missing_in_kai:
        g, rep = renderer.render([missing_in_kai])
        assert rep[0]["fallback"] == 1 and np.array_equal(g[0, 0], renderer.draw("noto-serif-sc", missing_in_kai))


def test_annotate_command_prints_what_the_job_defaults_give():
    lines = "我去银行还钱。\n音乐 ABC\n"
    out = subprocess.run([sys.executable, "-m", "transforms.annotate"], input=lines, cwd=ROOT,
                         capture_output=True, text=True, check=True).stdout.splitlines()
    rows = [json.loads(line) for line in out]
    assert [r["text"] for r in rows] == ["我去银行还钱。", "音乐 ABC"]
    config = AnnotateConfig()
    seg, reader = load_segmenter(config.segmenter, config.segmenter_model), PinyinAnnotator.from_config(config)
    for r in rows:
        assert r["words"] == words_of(r["text"], segment(r["text"], seg)) and r["pinyin"] == reader.readings(r["words"])
    assert rows[0]["pinyin"][3:5] == ["hang2", "huan2"] and rows[1]["pinyin"][2:] == [None] * 4


def test_a_perceptron_trained_on_gold_words_segments_them_back_the_same_way_every_time(tmp_path):
    """Gold fixture: our own sample sentences with hand-checked words; full-width ASCII reads as ASCII."""
    from recipes.pd1998_gold import gold_words

    tagged = ["市民/n  图书馆/n  新/a  馆/n  今天/t  开放/v  。/w", "图书馆/n  藏书/n  三十万/m  册/q  。/w",
              "小明/nr  在/p  图书馆/n  借/v  了/u  ２/m  本/q  书/n  。/w", "他/r  喜欢/v  看书/v  。/w"] * 30
    assert gold_words(tagged[2]) == ["小明", "在", "图书馆", "借", "了", "２", "本", "书", "。"]
    train = tmp_path / "gold.txt"
    train.write_text("\n".join(" ".join(gold_words(t)) for t in tagged) + "\n", encoding="utf-8")
    first = load_segmenter("ltp-perceptron", train_perceptron(str(train), str(tmp_path / "a"), epochs=10))
    again = load_segmenter("ltp-perceptron", train_perceptron(str(train), str(tmp_path / "b"), epochs=10))
    sentences = ["".join(gold_words(t)) for t in tagged[:4]]
    assert first.cut_many(sentences) == [gold_words(t) for t in tagged[:4]] == again.cut_many(sentences)
    assert [len(w) for w in first.cut_many(["小明在图书馆借了2本书。"])[0]] == [2, 1, 3, 1, 1, 1, 1, 1, 1]


def test_the_bundled_gold_trained_ltp_model_is_still_there_and_recorded():
    from transforms.segment import BUNDLED_MODEL, BUNDLED_SHA256, describe_segmenter, model_file

    described = describe_segmenter("ltp-perceptron")
    assert described["backend"] == "ltp-perceptron" and described["sha256"] == _dir_sha256(BUNDLED_MODEL)
    assert _dir_sha256(model_file(BUNDLED_MODEL)) == BUNDLED_SHA256
    seg = load_segmenter("ltp-perceptron")
    # Our sentences, People's Daily words: 图书馆 whole, 们 apart; full-width digits segment as ASCII ones.
    words = words_of("市民们在图书馆看书。", segment("市民们在图书馆看书。", seg))
    assert words[:4] == ["市民", "们", "在", "图书馆"] and "".join(words) == "市民们在图书馆看书。"
    assert segment("１９９８年１月", seg) == segment("1998年1月", seg)


def test_a_damaged_bundled_model_is_refused_with_a_clear_error(tmp_path, monkeypatch):
    import shutil

    import transforms.segment as S

    damaged = tmp_path / "ltp_cws"
    shutil.copytree(S.BUNDLED_MODEL, damaged)
    (damaged / "cws_model.bin").write_bytes(b"version https://git-lfs.github.com/spec/v1\n")  # a checkout without it
    monkeypatch.setattr(S, "BUNDLED_MODEL", str(damaged))
    with pytest.raises(ValueError, match="sha256"):
        S.load_segmenter("ltp-perceptron")


def _everyday():
    rows = []
    for line in open(os.path.join(ROOT, "tests", "data", "everyday_polyphones.tsv"), encoding="utf-8"):
        if line.strip() and not line.startswith("#"):
            text, readings = line.rstrip("\n").split("\t")
            rows.append((text, readings.split()))
    return rows


def test_polyphones_on_everyday_words_no_worse_than_pypinyin_anywhere():
    """Our list of >= 100 everyday words and sentences: the context reader fixes pypinyin's lone guesses (还|钱) and
    breaks none of its phrase readings (银行, 重庆, 长大, 睡觉, 觉得 ...)."""
    from transforms.chars import HAN_RE

    rows = _everyday()
    assert len(rows) >= 100
    default = AnnotateConfig()
    seg = load_segmenter(default.segmenter, default.segmenter_model)  # what the corpus job reads with
    readers = {name: PinyinAnnotator(name) for name in ("pypinyin", "g2pm")}
    right = {name: set() for name in readers}
    for i, (text, want) in enumerate(rows):
        words = words_of(text, segment(text, seg))
        for name, reader in readers.items():
            got = [r for c, r in zip(text, reader.readings(words)) if HAN_RE.fullmatch(c)]
            if got == want:
                right[name].add(i)
    assert right["pypinyin"] <= right["g2pm"], [rows[i][0] for i in right["pypinyin"] - right["g2pm"]]
    assert len(right["g2pm"]) > len(right["pypinyin"]) and len(right["g2pm"]) >= 0.95 * len(rows)


def test_the_context_model_reads_in_batches_exactly_as_one_at_a_time_and_only_among_a_characters_readings():
    from transforms.polyphone import PolyphoneModel

    model = PolyphoneModel()
    sentences = ["我去银行还钱。", "他还没有回家，长得很高。", "重", "这条路很长很长的"]
    targets = [[4], [1, 7], [0], [4, 6]]
    batched = model.choose(sentences, targets)
    assert batched == [model.choose([s], [t])[0] for s, t in zip(sentences, targets)]
    assert batched[0] == ["huan2"] and batched[1][0] == "hai2"
    readings = {"还": {"hai2", "huan2"}, "长": {"chang2", "zhang3"}, "重": {"zhong4", "chong2"}}
    for s, ts, picks in zip(sentences, targets, batched):
        assert all(p in readings[s[t]] for t, p in zip(ts, picks))
    assert model.choose(["重"], [[0]], min_confidence=1.01) == [[None]]  # never that sure: pypinyin's stays


def test_the_context_models_states_at_a_target_equal_a_whole_sequence_bilstm():
    import numpy as np

    from transforms.polyphone import PolyphoneModel, _load, package_dir

    model = PolyphoneModel()
    H = model.hidden
    raw = {k: np.asarray(v, dtype=np.float64) for k, v in _load(os.path.join(package_dir(), "np_ckpt.pkl")).items()}

    def sigmoid(x):
        return 1.0 / (1.0 + np.exp(-x))

    def run(direction, ids):  # one direction over the whole sequence, one step at a time, the textbook way
        suffix = "_reverse" if direction else ""
        w_ih, w_hh = raw[f"lstm.weight_ih_l0{suffix}"], raw[f"lstm.weight_hh_l0{suffix}"]
        bias = raw[f"lstm.bias_ih_l0{suffix}"] + raw[f"lstm.bias_hh_l0{suffix}"]
        h, c, out = np.zeros(H), np.zeros(H), []
        for i in ids:  # PyTorch's gate order: input, forget, cell, output
            g = w_ih @ raw["embedding.weight"][i] + w_hh @ h + bias
            c = sigmoid(g[H:2 * H]) * c + sigmoid(g[:H]) * np.tanh(g[2 * H:3 * H])
            h = sigmoid(g[3 * H:]) * np.tanh(c)
            out.append(h)
        return out

    rng = np.random.default_rng(0)
    sequences = [list(rng.integers(0, len(model.embedding), size=n)) for n in (3, 19, 7, 40, 1)]
    places = [1, 9, 0, 33, 0]  # lengths and places that differ, so both directions get padding in one batch
    states = model._target_states(sequences, places)
    for row, (ids, p) in enumerate(zip(sequences, places)):
        forward, backward = run(0, ids), run(1, ids[::-1])[::-1]
        assert np.allclose(states[row, :H], forward[p], atol=1e-5)
        assert np.allclose(states[row, H:], backward[p], atol=1e-5)


def test_the_polyphone_weights_are_read_without_running_code_from_the_files(tmp_path):
    import pickle

    from transforms.polyphone import _load

    class Payload:
        def __reduce__(self):
            return (print, ("a pickle ran code",))

    path = tmp_path / "np_ckpt.pkl"
    path.write_bytes(pickle.dumps({"w": Payload()}))
    with pytest.raises(pickle.UnpicklingError, match="not allowed"):
        _load(str(path))
    path.write_bytes(pickle.dumps({"w": np.arange(3, dtype=np.float32), "names": ["a"]}))
    assert _load(str(path))["names"] == ["a"]


def test_the_annotation_workers_run_numpy_blas_on_one_thread():
    from threadpoolctl import threadpool_info, threadpool_limits

    from pipeline.annotate import Annotate

    with threadpool_limits(limits=2, user_api="blas"):  # as on a 2-core worker; restored afterwards
        assert {pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"} == {2}
        Annotate(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "我"], AnnotateConfig()).setup()
        assert {pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"} == {1}
