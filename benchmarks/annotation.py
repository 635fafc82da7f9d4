"""Annotation quality and speed: word F1 on SIGHAN-2005 PKU, polyphone accuracy on CPP dev, throughput per core,
glyph rendering time. `python benchmarks/annotation.py [--ltp-train N]` (needs ../shared/data)."""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
from recipes.pd1998_gold import write_training_file  # noqa: E402
from transforms.annotate import annotate  # noqa: E402
from transforms.chars import HAN_RE  # noqa: E402
from transforms.pinyin import PinyinAnnotator, _pypinyin_readings  # noqa: E402
from transforms.segment import load_segmenter, segment, train_perceptron, words_of  # noqa: E402
from transforms.vocab import Vocab, char_counts  # noqa: E402

DATA = os.path.join(os.path.dirname(ROOT), "shared", "data")


def spans(words: list[str]) -> set[tuple[int, int]]:
    out, pos = set(), 0
    for w in words:
        out.add((pos, pos + len(w)))
        pos += len(w)
    return out


def word_f1(segmenter) -> dict:
    """Precision, recall and F1 of word spans against the PKU gold (one sentence per line)."""
    gold_lines = [line.split() for line in open(os.path.join(DATA, "segmentation", "pku_test_gold.utf8"), encoding="utf-8")]
    gold_lines = [g for g in gold_lines if g]
    texts = ["".join(g) for g in gold_lines]
    started = time.process_time()
    predicted = [words_of(t, segment(t, segmenter)) for t in texts]
    elapsed = time.process_time() - started
    tp = n_gold = n_pred = 0
    for g, p in zip(gold_lines, predicted):
        gs, ps = spans(g), spans(p)
        tp += len(gs & ps)
        n_gold += len(gs)
        n_pred += len(ps)
    precision, recall = tp / n_pred, tp / n_gold
    return {"precision": round(precision, 4), "recall": round(recall, 4),
            "f1": round(2 * precision * recall / (precision + recall), 4),
            "chars_per_s": round(sum(map(len, texts)) / elapsed)}


def polyphone_accuracy(segmenter) -> dict:
    """Accuracy of the marked polyphonic character's reading: pypinyin alone vs pypinyin over our words."""
    sents = open(os.path.join(DATA, "pinyin", "cpp_dev.sent"), encoding="utf-8").read().splitlines()
    gold = open(os.path.join(DATA, "pinyin", "cpp_dev.lb"), encoding="utf-8").read().splitlines()
    annotator = PinyinAnnotator()
    plain = ours = 0
    for marked, label in zip(sents, gold):
        index = marked.index("▁")
        text = marked.replace("▁", "")
        plain += _pypinyin_readings(text)[index] == label
        words = words_of(text, segment(text, segmenter))
        ours += annotator.readings(words)[index] == label
    return {"sentences": len(sents), "pypinyin_alone": round(plain / len(sents), 4),
            "ours_in_context": round(ours / len(sents), 4)}


def throughput(segmenter, texts: list[str]) -> dict:
    """Segment + pinyin + ids per core on real prose, in Han characters per CPU second: a first pass with an empty
    pinyin cache, then a second pass with the cache a long-running worker has."""
    vocab = Vocab.from_counts(char_counts("".join(texts)), 23236)
    annotator = PinyinAnnotator()
    han = sum(len(HAN_RE.findall(t)) for t in texts)
    out = {"documents": len(texts), "han_characters": han}
    for run in ("cold", "warm"):
        started = time.process_time()
        for t in texts:
            annotate(t, segment(t, segmenter), vocab, annotator)
        elapsed = time.process_time() - started
        out[f"{run}_han_chars_per_s"] = round(han / elapsed)
    return out


def documents(sentences: list[str], per_doc: int = 20) -> list[str]:
    """Consecutive sentences joined into documents (paragraph per sentence), as the corpus job writes them."""
    return ["\n".join(sentences[i:i + per_doc]) for i in range(0, len(sentences), per_doc)]


def glyph_time(n: int) -> dict:
    from fonts.glyphs import GlyphRenderer, load_manifest

    chars = [chr(c) for c in range(0x4E00, 0x4E00 + n)]
    size, specs = load_manifest()
    started = time.time()
    glyphs, _ = GlyphRenderer(specs, size).render(chars)
    return {"vocab": n, "seconds": round(time.time() - started, 1), "shape": list(glyphs.shape)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--ltp-train", type=int, default=50658, help="People's Daily sentences for the LTP model")
    parser.add_argument("--gold-epochs", type=int, default=15)
    args = parser.parse_args()
    os.sched_setaffinity(0, {0})
    jieba = load_segmenter("jieba")
    prose = [line.strip() for line in open(os.path.join(DATA, "prose", "peopledaily1998_sentences.txt"), encoding="utf-8")
             if line.strip()]
    clue = [line.strip() for line in open(os.path.join(DATA, "prose", "cluecorpussmall_sample.txt"), encoding="utf-8")
            if line.strip()]
    with tempfile.TemporaryDirectory() as tmp:
        # No segmented training data is on this machine apart from the PKU test gold (the test set): the LTP
        # perceptron is trained on People's Daily 1998 sentences segmented by jieba (silver data).
        train = os.path.join(tmp, "train.txt")
        with open(train, "w", encoding="utf-8") as f:
            for words in jieba.cut_many(prose[:args.ltp_train]):
                f.write(" ".join(words) + "\n")
        model = train_perceptron(train, os.path.join(tmp, "ltp"), epochs=5)
        gold = os.path.join(tmp, "gold.txt")
        write_training_file(gold)  # People's Daily 1998 with gold words (the SIGHAN PKU training standard)
        started = time.process_time()
        gold_model = train_perceptron(gold, os.path.join(tmp, "ltp-gold"), epochs=args.gold_epochs)
        print(json.dumps({"ltp_gold_training_cpu_s": round(time.process_time() - started, 1),
                          "model_mb": round(os.path.getsize(os.path.join(gold_model, "cws_model.bin")) / 1e6, 1)}))
        backends = {"jieba": jieba, "ltp-perceptron (silver jieba training)": load_segmenter("ltp-perceptron", model),
                    "ltp-perceptron (gold PD1998)": load_segmenter("ltp-perceptron", gold_model)}
        for name, seg in backends.items():
            print(json.dumps({"backend": name, "pku_word": word_f1(seg), "cpp_polyphone": polyphone_accuracy(seg)},
                             ensure_ascii=False), flush=True)
        print(json.dumps({"throughput_ltp_gold_peopledaily": throughput(backends["ltp-perceptron (gold PD1998)"],
                                                                       documents(prose))}), flush=True)
    print(json.dumps({"throughput_jieba_peopledaily": throughput(jieba, documents(prose))}), flush=True)
    print(json.dumps({"throughput_jieba_cluecorpus": throughput(jieba, clue)}), flush=True)
    print(json.dumps({"glyphs": glyph_time(21128)}), flush=True)


if __name__ == "__main__":
    main()
