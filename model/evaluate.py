"""A small, fixed evaluation suite: fine-tune a model folder on each task and print one table.

    python -m model.evaluate MODEL_DIR [--out DIR] [--tasks waimai,gsd-seg,gsd-pos] [--seed 1]

Tasks, built from ../shared/data with fixed splits (a text goes to test when crc32(text) % 10 == 0, to dev when it
is 1, else to train; each split capped, taken in a fixed hash order):
- waimai: food-delivery review sentiment (classify; train 2,000 / dev 400 / test 1,000).
- gsd-seg: word segmentation as tagging, B-W / I-W per character (UD Chinese GSD train; 1,000 / 300 / 379).
- gsd-pos: part of speech as tagging, B-UPOS / I-UPOS per character (the same sentences).
The same hyper-parameters for every model (--epochs 12, batch 32, max length 128, patience 3, bf16 autocast on CPU
unless --fp32; lr 3e-4 for waimai and 1e-3 for tagging, or --lr for all): small models fine-tuned for 3 epochs at 3e-4
were still improving at the last epoch, and that budget hid what pretraining gives; at 1e-3 waimai peaked at epoch 1
(BENCHMARKS.md, "Fine-tuning ablation").

Each task also prints two count baselines trained on the same split: for tagging, the most frequent tag of each
character and of each (previous character, character) pair (a model at the unigram row has learned nothing from
context); for sentiment, naive Bayes on characters and on characters + bigrams (the lexical floor).
"""
from __future__ import annotations

import argparse
import csv
import json
import math
import os
import zlib
from collections import Counter, defaultdict

from model.finetune import main as finetune
from model.finetune_data import read_examples, tagging_metrics

DATA = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "..", "shared", "data")
CAPS = {"waimai": (2000, 400, 1000), "gsd-seg": (1000, 300, 600), "gsd-pos": (1000, 300, 600)}
TASKS = {"waimai": "classify", "gsd-seg": "tag", "gsd-pos": "tag"}
SCORE = {"classify": "accuracy", "tag": "entity_f1"}
LEARNING_RATES = {"waimai": 3e-4, "gsd-seg": 1e-3, "gsd-pos": 1e-3}


def split_of(text: str) -> str:
    bucket = zlib.crc32(text.encode("utf-8")) % 10
    return "test" if bucket == 0 else "dev" if bucket == 1 else "train"


def _capped(rows, key, caps) -> dict[str, list]:
    """Rows split by hash, in a fixed hash order (the files are sorted by label), each split capped."""
    out = {"train": [], "dev": [], "test": []}
    limit = dict(zip(("train", "dev", "test"), caps))
    for row in sorted(rows, key=lambda r: (zlib.crc32(b"order" + key(r).encode("utf-8")), key(r))):
        split = split_of(key(row))
        if len(out[split]) < limit[split]:
            out[split].append(row)
    return out


def gsd_sentences() -> list[list[tuple[str, str]]]:
    """(form, UPOS) words of each UD GSD sentence (multi-word token ranges skipped)."""
    sentences, words = [], []
    with open(os.path.join(DATA, "segmentation", "ud_gsd_train.conll"), encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line:
                if words:
                    sentences.append(words)
                words = []
                continue
            cols = line.split("\t")
            if line.startswith("#") or len(cols) < 4 or not cols[0].isdigit():
                continue
            words.append((cols[1], cols[3]))
    if words:
        sentences.append(words)
    return sentences


def write_task(name: str, folder: str) -> dict[str, str]:
    """The task's train/dev/test files in the finetune input formats; returns their paths."""
    os.makedirs(folder, exist_ok=True)
    paths = {split: os.path.join(folder, f"{split}.{'jsonl' if name == 'waimai' else 'conll'}")
             for split in ("train", "dev", "test")}
    if name == "waimai":
        with open(os.path.join(DATA, "quality", "reviews_waimai_10k.csv"), encoding="utf-8") as f:
            rows = [(r["review"], r["label"]) for r in csv.DictReader(f) if r["review"].strip()]
        for split, part in _capped(rows, lambda r: r[0], CAPS[name]).items():
            with open(paths[split], "w", encoding="utf-8") as f:
                f.writelines(json.dumps({"sentence": t, "label": label}, ensure_ascii=False) + "\n" for t, label in part)
        return paths
    for split, part in _capped(gsd_sentences(), lambda s: "".join(w for w, _ in s), CAPS[name]).items():
        with open(paths[split], "w", encoding="utf-8") as f:
            for sentence in part:
                for word, pos in sentence:
                    kind = "W" if name == "gsd-seg" else pos
                    f.writelines(f"{ch} {'B' if i == 0 else 'I'}-{kind}\n" for i, ch in enumerate(word))
                f.write("\n")
    return paths


def count_taggers(train: str, test: str) -> dict[str, float]:
    """Test entity F1 of the unigram and bigram count taggers trained on `train` (the floor a model should pass)."""
    counts = {"unigram": defaultdict(Counter), "bigram": defaultdict(Counter)}
    keys = {"unigram": lambda items, i: items[i], "bigram": lambda items, i: (items[i - 1] if i else "", items[i])}
    overall = Counter()
    for ex in read_examples(train, "tag"):
        overall.update(ex.tags)
        for i, tag in enumerate(ex.tags):
            for name, key in keys.items():
                counts[name][key(ex.items, i)][tag] += 1
    gold = read_examples(test, "tag")
    scores = {}
    for name, key in keys.items():
        def guess(items, i):
            for table, k in ((counts[name], key(items, i)), (counts["unigram"], items[i])):
                if k in table:
                    return table[k].most_common(1)[0][0]
            return overall.most_common(1)[0][0]
        predicted = [[guess(ex.items, i) for i in range(len(ex.items))] for ex in gold]
        scores[name] = tagging_metrics([ex.tags for ex in gold], predicted)["entity_f1"]
    return scores


def count_classifiers(train: str, test: str) -> dict[str, float]:
    """Test accuracy of naive Bayes on characters, and on characters + bigrams (the lexical floor for sentiment)."""
    def features(text: str, bigrams: bool) -> list[str]:
        return list(text) + ([text[i:i + 2] for i in range(len(text) - 1)] if bigrams else [])

    train_examples, gold = read_examples(train, "classify"), read_examples(test, "classify")
    labels = sorted({ex.label for ex in train_examples})
    documents = Counter(ex.label for ex in train_examples)
    scores = {}
    for name, bigrams in (("characters", False), ("characters + bigrams", True)):
        counts = {label: Counter() for label in labels}
        for ex in train_examples:
            counts[ex.label].update(features(ex.text, bigrams))
        vocabulary = len(set().union(*counts.values()))
        totals = {label: sum(c.values()) + vocabulary for label, c in counts.items()}

        def guess(text):
            # Laplace-smoothed log-likelihoods; ties go to the first label in sorted order
            found = features(text, bigrams)
            return max(labels, key=lambda label: math.log(documents[label]) + sum(
                math.log((counts[label][f] + 1) / totals[label]) for f in found))
        scores[name] = round(sum(guess(ex.text) == ex.label for ex in gold) / max(len(gold), 1), 4)
    return scores


def evaluate(model_dir: str, out: str, tasks: list[str], seed: int = 1, epochs: int = 12, lr: float | None = None,
             patience: int = 3, cpu_bf16: bool = True) -> dict:
    """Fine-tune on each task; {task: {"metric", "dev", "test", "best_epoch", "seconds", "count_baselines_test"}}."""
    results = {}
    for name in tasks:
        paths = write_task(name, os.path.join(out, "data", name))
        task_lr = LEARNING_RATES[name] if lr is None else lr
        metrics = finetune([model_dir, "--task", TASKS[name], "--train", paths["train"], "--dev", paths["dev"],
                            "--test", paths["test"], "--out", os.path.join(out, name), "--epochs", str(epochs),
                            "--lr", str(task_lr), "--batch-size", "32",
                            "--max-length", "128", "--seed", str(seed),
                            "--patience", str(patience), "--quiet"] + (["--cpu-bf16"] if cpu_bf16 else []))
        key = SCORE[TASKS[name]]
        results[name] = {"metric": key, "dev": metrics["dev"][key], "test": metrics["test"][key],
                         "lr": task_lr, "best_epoch": metrics["best_epoch"],
                         "seconds": metrics["seconds"]}
        floor = count_taggers if TASKS[name] == "tag" else count_classifiers
        results[name]["count_baselines_test"] = floor(paths["train"], paths["test"])
    with open(os.path.join(out, "evaluation.json"), "w", encoding="utf-8") as f:
        json.dump({"model": model_dir, "seed": seed, "epochs": epochs, "lr": lr, "patience": patience,
                   "cpu_bf16": cpu_bf16, "tasks": results}, f, indent=2)
    return results


def table(results: dict) -> str:
    lines = ["| task | metric | dev | test |", "|---|---|---|---|"]
    for task, r in results.items():
        lines.append(f"| {task} | {r['metric']} | {r['dev']:.4f} | {r['test']:.4f} |")
        lines += [f"| {task}: count baseline, {name} | {r['metric']} | — | {score:.4f} |"
                  for name, score in r.get("count_baselines_test", {}).items()]
    return "\n".join(lines)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model_dir")
    parser.add_argument("--out", default="out/evaluate")
    parser.add_argument("--tasks", default=",".join(TASKS))
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--lr", type=float, default=None, help="one rate for every task (default: per task)")
    parser.add_argument("--patience", type=int, default=3)
    parser.add_argument("--fp32", action="store_true", help="fine-tune in fp32 on CPU (default: bf16 autocast)")
    args = parser.parse_args(argv)
    if not os.path.isdir(DATA):
        raise SystemExit(f"the evaluation data is read from {os.path.normpath(DATA)}, which is not here")
    print(table(evaluate(args.model_dir, args.out, args.tasks.split(","), args.seed, args.epochs, args.lr,
                         args.patience, not args.fp32)))


if __name__ == "__main__":
    main()
