"""Fine-tuning: the tokenizer (offsets, pairs, truncation, the shards' pinyin), the heads and their loading report,
the input formats and their errors, and small fine-tunes that fit their training sets."""
import json
import subprocess
import sys

import numpy as np
import pytest
import torch

from conftest import ROOT
from model import ChineseBertConfig, ChineseBertForMaskedLM
from model.checkpoint import save_model
from model.finetune_data import FormatError, entities, read_examples, tagging_metrics
from model.heads import ChineseBertForSequenceClassification, ChineseBertForTokenClassification
from model.tokenizer import ChineseBertTokenizer
from transforms.annotate import annotate
from transforms.config import AnnotateConfig
from transforms.pinyin import PinyinAnnotator
from transforms.segment import load_segmenter, segment


@pytest.fixture(scope="module")
def model_dir(corpus, tmp_path_factory):
    """A tiny, untrained model folder on the sample corpus's vocabulary and assets."""
    out, _, _ = corpus
    vocab = (out / "vocab.txt").read_text(encoding="utf-8").split("\n")
    torch.manual_seed(0)
    model = ChineseBertForMaskedLM(ChineseBertConfig.tiny(len([t for t in vocab if t])))
    folder = tmp_path_factory.mktemp("tiny")
    save_model(model, str(folder), str(out))
    return folder


def test_tokenizer_offsets_pairs_truncation_and_the_shards_pinyin(model_dir):
    tok = ChineseBertTokenizer.from_pretrained(str(model_dir))
    config = AnnotateConfig()  # the sample corpus was made with the job's defaults; the tokenizer reads as it did
    assert (tok.config.segmenter, tok.config.pinyin) == (config.segmenter, config.pinyin) == ("crf", "g2pm")
    text = "市民图书馆今天开放，银行也开门了。"
    enc = tok(text)
    assert enc["input_ids"][0] == tok.special.cls and enc["input_ids"][-1] == tok.special.sep
    assert "".join(text[s:e] for s, e in enc["offsets"]) == text  # offsets cover the text, specials are (0, 0)
    shards = annotate(text, segment(text, load_segmenter(config.segmenter)), tok.vocab,
                      PinyinAnnotator.from_config(config))
    assert enc["input_ids"][1:-1] == shards["ids"].tolist()
    assert np.array_equal(np.array(enc["pinyin_ids"][1:-1]), shards["pinyin"].astype(np.int64))  # as the shards hold
    pair = tok("今天天气很好。", "明天呢？")
    assert pair["token_type_ids"] == [0] * 9 + [1] * 5 and pair["input_ids"].count(tok.special.sep) == 2
    cut = tok(text * 10, "短句。" * 3, max_length=20)
    assert len(cut["input_ids"]) == 20 and cut["token_type_ids"].count(1) == 10  # longest first: the pair keeps 9 + [SEP]
    batch = tok([text, "好"], padding="longest", return_tensors="pt")
    assert batch["input_ids"].shape == (2, len(enc["input_ids"])) and batch["attention_mask"][1].sum() == 3
    assert batch["pinyin_ids"].shape == (2, len(enc["input_ids"]), 8) and tok.decode(enc["input_ids"]) == text


def test_heads_load_the_encoder_and_say_what_is_new_and_unused(model_dir):
    model, report = ChineseBertForSequenceClassification.from_pretrained(str(model_dir), num_labels=3)
    assert "initialised new: classifier.bias, classifier.weight" in report and "cls.predictions" in report
    ids = torch.randint(5, 100, (2, 7))
    pinyin = torch.zeros(2, 7, 8, dtype=torch.long)
    assert model(ids, pinyin, torch.ones_like(ids)).shape == (2, 3)
    tagger, _ = ChineseBertForTokenClassification.from_pretrained(str(model_dir), num_labels=5)
    loss, logits = tagger(ids, pinyin, torch.ones_like(ids), labels=torch.full((2, 7), -100))
    assert logits.shape == (2, 7, 5) and loss.item() == 0.0
    encoder = dict(model.bert.named_parameters())["embeddings.word_embeddings.weight"]
    from safetensors.torch import load_file

    assert torch.equal(encoder, load_file(str(model_dir / "model.safetensors"))["bert.embeddings.word_embeddings.weight"])


def test_input_formats_and_bad_lines(tmp_path):
    (tmp_path / "a.jsonl").write_text('{"sentence": "好吃", "label": "1"}\n{"sentence": "难吃", "label": 0}\n',
                                      encoding="utf-8")
    (tmp_path / "p.tsv").write_text("label\ttext_a\ttext_b\n1\t今天\t明天\n0\t你好\t再见\n", encoding="utf-8")
    (tmp_path / "t.conll").write_text("北 B-LOC\n京 I-LOC\n好 O\n\n上 B-LOC\n海 I-LOC\n", encoding="utf-8")
    assert [(e.text, e.label) for e in read_examples(str(tmp_path / "a.jsonl"), "classify")] == [("好吃", "1"), ("难吃", "0")]
    assert [(e.text, e.pair, e.label) for e in read_examples(str(tmp_path / "p.tsv"), "pair")][0] == ("今天", "明天", "1")
    tagged = read_examples(str(tmp_path / "t.conll"), "tag")
    assert [e.items for e in tagged] == [["北", "京", "好"], ["上", "海"]] and tagged[1].tags == ["B-LOC", "I-LOC"]
    for name, content, task, where in (("b.jsonl", '{"sentence": "好", "label": 1}\n{"sentence": 1}\n', "classify", ":2:"),
                                       ("c.jsonl", '{"sentence": "好", "label": 1}\nnot json\n', "classify", ":2:"),
                                       ("d.tsv", "label\ttext_a\n1\tx\textra\n", "classify", ":2:"),
                                       ("e.tsv", "label\ttext\n1\tx\n", "classify", ":1:"),
                                       ("f.conll", "北 B-LOC\n京 I-LOC x\n", "tag", ":2:")):
        (tmp_path / name).write_text(content, encoding="utf-8")
        with pytest.raises(FormatError, match=f"{name}{where}"):
            read_examples(str(tmp_path / name), task)


def test_entity_spans_and_metrics():
    assert entities(["B-PER", "I-PER", "O", "B-LOC", "B-LOC", "I-ORG"]) == {(0, 2, "PER"), (3, 4, "LOC"), (4, 5, "LOC"),
                                                                        (5, 6, "ORG")}
    m = tagging_metrics([["B-PER", "I-PER", "O"]], [["B-PER", "O", "O"]])
    assert m["entity_f1"] == 0.0 and m["token_accuracy"] == pytest.approx(2 / 3, abs=1e-4)


def test_count_taggers_set_the_floor_only_context_can_pass(tmp_path):
    from model.evaluate import count_taggers

    # 行 is B after 银 (银行 is one word) and a word of its own after 步 (步行 split on purpose): only context tells
    train = "银 B-W\n行 I-W\n\n步 B-W\n行 B-W\n\n银 B-W\n行 I-W\n\n"
    (tmp_path / "train.conll").write_text(train, encoding="utf-8")
    (tmp_path / "test.conll").write_text("步 B-W\n行 B-W\n\n银 B-W\n行 I-W\n\n", encoding="utf-8")
    scores = count_taggers(str(tmp_path / "train.conll"), str(tmp_path / "test.conll"))
    assert scores["bigram"] == 1.0
    assert scores["unigram"] == pytest.approx(tagging_metrics([["B-W", "B-W"], ["B-W", "I-W"]],
                                                              [["B-W", "I-W"], ["B-W", "I-W"]])["entity_f1"])
    assert scores["unigram"] < 1.0


def test_count_classifiers_set_the_lexical_floor_and_bigrams_see_negation(tmp_path):
    from model.evaluate import count_classifiers

    # Both reviews have the same characters, so only bigrams tell what 不 negates (a character tie goes to "neg")
    train = [("好吃不贵", "pos"), ("不好吃贵", "neg")]
    for name, rows in (("train", train), ("test", [("不贵", "pos"), ("不好", "neg")])):
        (tmp_path / f"{name}.jsonl").write_text("".join(json.dumps({"sentence": t, "label": label}, ensure_ascii=False)
                                                        + "\n" for t, label in rows), encoding="utf-8")
    scores = count_classifiers(str(tmp_path / "train.jsonl"), str(tmp_path / "test.jsonl"))
    assert scores == {"characters": 0.5, "characters + bigrams": 1.0}


def sentiment_rows() -> list[dict]:
    """Eight short reviews, four of each label: a training set a tiny model can fit."""
    good, bad = ["味道很好吃", "服务很好", "很好很满意", "好评推荐"], ["味道很难吃", "服务太差", "很差不满意", "差评失望"]
    return [{"sentence": t, "label": "pos"} for t in good] + [{"sentence": t, "label": "neg"} for t in bad]


def test_a_small_fine_tune_fits_its_training_set(model_dir, tmp_path):
    from model.finetune import main

    rows = sentiment_rows()
    train = tmp_path / "train.jsonl"
    train.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows * 4), encoding="utf-8")
    metrics = main([str(model_dir), "--task", "classify", "--train", str(train), "--dev", str(train), "--test",
                    str(train), "--out", str(tmp_path / "cls"), "--epochs", "12", "--lr", "5e-4", "--batch-size", "8", "--patience", "12",
                    "--quiet"])
    assert metrics["dev"]["accuracy"] == 1.0 and metrics["test"]["macro_f1"] == 1.0
    assert (tmp_path / "cls" / "best" / "vocab.txt").exists() and (tmp_path / "cls" / "predictions_test.jsonl").exists()
    conll = "".join(f"{c} {t}\n" for c, t in zip("我去上海", ["O", "O", "B-LOC", "I-LOC"])) + "\n" + \
        "".join(f"{c} {t}\n" for c, t in zip("北大很大", ["B-ORG", "I-ORG", "O", "O"])) + "\n"
    (tmp_path / "t.conll").write_text(conll * 6, encoding="utf-8")
    tagged = main([str(model_dir), "--task", "tag", "--train", str(tmp_path / "t.conll"), "--dev",
                   str(tmp_path / "t.conll"), "--out", str(tmp_path / "tag"), "--epochs", "12", "--lr", "5e-4", "--patience", "12",
                   "--batch-size", "4", "--cpu-bf16", "--quiet"])  # the evaluation suite fine-tunes in bf16
    assert tagged["dev"]["entity_f1"] == 1.0


def test_two_cpu_processes_fine_tune_with_ddp_and_rank_zero_writes(model_dir, tmp_path):
    rows = sentiment_rows()
    train = tmp_path / "train.jsonl"
    train.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows * 4 + rows[:3]), encoding="utf-8")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "-m", "model.finetune",
           str(model_dir), "--task", "classify", "--train", str(train), "--dev", str(train), "--out",
           str(tmp_path / "ddp"), "--epochs", "12", "--lr", "5e-4", "--batch-size", "4", "--patience", "12", "--quiet"]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    metrics = json.loads((tmp_path / "ddp" / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["world_size"] == 2 and metrics["dev"]["accuracy"] == 1.0
    assert done.stdout.count("classify: best epoch") == 1  # rank 0 alone reports


def test_the_evaluation_suites_splits_are_fixed_disjoint_and_mixed(tmp_path):
    import os

    from conftest import SHARED_DATA
    from model.evaluate import write_task

    if not os.path.isdir(SHARED_DATA):
        pytest.skip("needs ../shared/data")
    first, again = write_task("waimai", str(tmp_path / "a")), write_task("waimai", str(tmp_path / "b"))
    texts = {}
    for split in ("train", "dev", "test"):
        rows = [json.loads(line) for line in open(first[split], encoding="utf-8")]
        assert open(first[split], "rb").read() == open(again[split], "rb").read()  # the same files every time
        assert {r["label"] for r in rows} == {"0", "1"}  # both labels, although the source file is sorted by label
        texts[split] = {r["sentence"] for r in rows}
    assert not texts["train"] & texts["test"] and not texts["dev"] & texts["test"]
    tagged = read_examples(write_task("gsd-seg", str(tmp_path / "seg"))["test"], "tag")
    assert len(tagged) == 379 and all(t.tags[0] == "B-W" for t in tagged)


def test_a_converted_reference_checkpoint_fine_tunes_with_the_same_command(model_dir, tmp_path):
    """The released ChineseBERT cannot be downloaded here: a reference-format folder made from our own model stands
    in for it (pytorch_model.bin, BERT config.json, vocab.txt, config/), converted back with model.convert."""
    import subprocess
    import sys

    from conftest import ROOT

    for command in (["to-reference", str(model_dir), str(tmp_path / "ref")],
                    ["from-reference", str(tmp_path / "ref"), str(tmp_path / "converted")]):
        subprocess.run([sys.executable, "-m", "model.convert", *command], cwd=ROOT, check=True, capture_output=True)
    train = tmp_path / "t.jsonl"
    train.write_text("".join(json.dumps({"sentence1": a, "sentence2": b, "label": str(int(a == b))},
                                        ensure_ascii=False) + "\n" for a, b in [("好吃", "好吃"), ("好吃", "难吃")] * 4),
                     encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "model.finetune", str(tmp_path / "converted"), "--task", "pair",
                           "--train", str(train), "--dev", str(train), "--out", str(tmp_path / "ft"), "--epochs", "1",
                           "--quiet"], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "initialised new: classifier.bias, classifier.weight" in done.stderr and done.stdout.startswith("pair: ")


def test_the_ablation_bootstrap_scores_both_models_on_the_same_resamples(tmp_path):
    from recipes.ablation_significance import example_counts, paired_bootstrap, score, significance

    gold = ["1", "0"] * 50
    always_right = [{"text": str(i), "label": g, "predicted": g} for i, g in enumerate(gold)]
    half_right = [{**r, "predicted": r["label"] if i % 2 else "9"} for i, r in enumerate(always_right)]
    same = paired_bootstrap([example_counts(half_right)], [example_counts(half_right)], resamples=200)
    assert same["mean"] == {"diff": 0.0, "ci95": [0.0, 0.0]}  # paired: identical predictions never differ
    better = paired_bootstrap([example_counts(always_right)], [example_counts(half_right)], resamples=200)
    low, high = better["per_seed"][0]["ci95"]
    assert better["per_seed"][0]["diff"] == 50.0 and 35 < low < 50 < high < 65
    tags = {"items": list("abcd"), "tags": ["B-W", "I-W", "B-W", "B-W"]}
    counts = example_counts([{**tags, "predicted": ["B-W", "B-W", "B-W", "B-W"]}])
    assert counts.tolist() == [[2, 3, 4]] and score(counts) == pytest.approx(2 * 2 / 7)
    for model, rows in (("pretrained", always_right), ("random", half_right[::-1])):
        (tmp_path / f"eval-{model}-1" / "waimai").mkdir(parents=True)
        (tmp_path / f"eval-{model}-1" / "waimai" / "predictions_test.jsonl").write_text(
            "".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    with pytest.raises(ValueError, match="same test examples"):
        significance(str(tmp_path), [1], ["waimai"], resamples=10)
