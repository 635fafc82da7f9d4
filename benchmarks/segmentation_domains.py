"""Word F1 of a segmenter on three gold standards: SIGHAN-2005 PKU test (news, the People's Daily standard), and the
held-out parts of UD Chinese GSD train (Wikipedia, CTB-like words; every 5th sentence) and SIGHAN-2008 SXU train
(news, another standard; every 10th sentence), plus its speed.

    python benchmarks/segmentation_domains.py                         # the job's default segmenter (our venv)
    python benchmarks/segmentation_domains.py --segmenter jieba
    PKUSEG_VENV/bin/python benchmarks/segmentation_domains.py --pkuseg MODEL_DIR   # pkuseg, in its own venv

This file imports nothing of the project at module level, so that pkuseg's venv can run it. BENCHMARKS.md says
where the pkuseg model comes from.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SEG = os.path.join(os.path.dirname(ROOT), "shared", "data", "segmentation")
HELD_OUT = {"ud_gsd_wikipedia": 5, "sxu_news": 10}  # every 5th GSD and every 10th SXU sentence: never trained on


def spaced(name: str) -> list[list[str]]:
    """A file of this folder with words separated by spaces, one sentence per line."""
    with open(os.path.join(SEG, name), encoding="utf-8") as f:
        return [line.split() for line in f if line.split()]


def _gsd() -> list[list[str]]:
    gsd, words = [], []
    with open(os.path.join(SEG, "ud_gsd_train.conll"), encoding="utf-8") as f:
        for line in f:
            cols = line.rstrip("\n").split("\t")
            if len(cols) >= 2 and cols[0].isdigit():
                words.append(cols[1])
            elif not line.strip() and words:
                gsd.append(words)
                words = []
    if words:
        gsd.append(words)
    return gsd


def gold_sets() -> dict[str, list[list[str]]]:
    """name → held-out gold sentences as word lists."""
    return {"pku_test": spaced("pku_test_gold.utf8"), "ud_gsd_wikipedia": _gsd()[::HELD_OUT["ud_gsd_wikipedia"]],
            "sxu_news": spaced("sxu_train.txt")[::HELD_OUT["sxu_news"]]}


def training_parts() -> dict[str, list[list[str]]]:
    """The sentences of GSD and SXU that are not held out (what a mixed-domain model may train on)."""
    sets = {"ud_gsd_wikipedia": _gsd(), "sxu_news": spaced("sxu_train.txt")}
    return {name: [s for i, s in enumerate(sents) if i % HELD_OUT[name]] for name, sents in sets.items()}


def word_scores(gold: list[list[str]], predicted: list[list[str]]) -> tuple[float, float, float]:
    """Word-span precision, recall and F1."""
    def spans(words):
        out, pos = set(), 0
        for w in words:
            out.add((pos, pos + len(w)))
            pos += len(w)
        return out

    tp = n_gold = n_pred = 0
    for g, p in zip(gold, predicted):
        gs, ps = spans(g), spans(p)
        tp += len(gs & ps)
        n_gold += len(gs)
        n_pred += len(ps)
    precision, recall = tp / n_pred, tp / n_gold
    return precision, recall, 2 * precision * recall / (precision + recall)


def f1(gold: list[list[str]], predicted: list[list[str]]) -> float:
    """Word-span F1, rounded."""
    return round(word_scores(gold, predicted)[2], 4)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--segmenter", default=None, help="one of the job's segmenters (default: the job's default)")
    parser.add_argument("--model", default="", help="its model path")
    parser.add_argument("--pkuseg", default=None, metavar="MODEL_DIR", help="run spacy_pkuseg with this model")
    args = parser.parse_args()
    os.sched_setaffinity(0, {0})
    if args.pkuseg:
        import spacy_pkuseg

        model = spacy_pkuseg.pkuseg(model_name=args.pkuseg)
        name, cut = f"pkuseg ({args.pkuseg})", lambda texts: [model.cut(t) for t in texts]
    else:
        sys.path.insert(0, ROOT)
        from transforms.config import AnnotateConfig
        from transforms.segment import load_segmenter, segment, words_of

        segmenter_name = args.segmenter or AnnotateConfig().segmenter
        segmenter = load_segmenter(segmenter_name, args.model)
        name = segmenter_name + (f" ({args.model})" if args.model else "")
        cut = lambda texts: [words_of(t, segment(t, segmenter)) for t in texts]  # noqa: E731
    row = {"segmenter": name}
    chars = cpu = 0.0
    for set_name, gold in gold_sets().items():
        texts = ["".join(words) for words in gold]
        started = time.process_time()
        predicted = cut(texts)
        cpu += time.process_time() - started
        chars += sum(map(len, texts))
        row[set_name] = f1(gold, predicted)
    row["chars_per_cpu_s"] = round(chars / cpu)
    print(json.dumps(row, ensure_ascii=False), flush=True)


if __name__ == "__main__":
    main()
