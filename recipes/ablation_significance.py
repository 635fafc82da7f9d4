"""How sure is each ablation margin? A paired bootstrap over the test examples of the pretrained and random models.

    python -m recipes.ablation_significance [--out bench-data/ablation] [--seeds 1,2,3] [--resamples 2000]

Both models predicted the same test examples, so one resample of example indices scores both: the interval is for the
difference (pretrained − random, in points), per seed and for the mean over seeds (one resample shared by the seeds,
since they share the test set). Accuracy for classification, entity F1 (from per-example span counts) for tagging.
"""
from __future__ import annotations

import argparse
import json
import os

import numpy as np

from model.finetune_data import entities


def example_counts(rows: list[dict]) -> np.ndarray:
    """Per example: [correct] for classification, [true positives, gold spans, predicted spans] for tagging."""
    if rows and "tags" in rows[0]:
        out = []
        for r in rows:
            gold, predicted = entities(r["tags"]), entities(r["predicted"])
            out.append((len(gold & predicted), len(gold), len(predicted)))
        return np.array(out, dtype=np.float64).reshape(-1, 3)
    return np.array([[r["label"] == r["predicted"]] for r in rows], dtype=np.float64).reshape(-1, 1)


def score(counts: np.ndarray) -> np.ndarray:
    """Accuracy or entity F1 of each resample: counts [..., n, k] → [...]."""
    sums = counts.sum(axis=-2)
    if counts.shape[-1] == 1:
        return sums[..., 0] / counts.shape[-2]
    tp, gold, predicted = sums[..., 0], sums[..., 1], sums[..., 2]
    return 2 * tp / np.maximum(gold + predicted, 1)


def paired_bootstrap(pretrained: list[np.ndarray], random: list[np.ndarray], resamples: int = 2000,
                     seed: int = 0) -> dict:
    """Observed difference in points and its 95% interval, per seed and for the mean over seeds."""
    n = len(pretrained[0])
    if any(len(c) != n for c in pretrained + random):
        raise ValueError("every model must have predicted the same test examples")
    picks = np.random.default_rng(seed).integers(0, n, size=(resamples, n))
    diffs = np.stack([score(p[picks]) - score(r[picks]) for p, r in zip(pretrained, random)]) * 100  # [seeds, B]
    observed = [round(float(score(p) - score(r)) * 100, 2) for p, r in zip(pretrained, random)]

    def interval(values):
        low, high = np.percentile(values, [2.5, 97.5])
        return [round(float(low), 2), round(float(high), 2)]

    return {"per_seed": [{"diff": d, "ci95": interval(v)} for d, v in zip(observed, diffs)],
            "mean": {"diff": round(float(np.mean(observed)), 2), "ci95": interval(diffs.mean(axis=0))}}


def read_predictions(path: str) -> list[dict]:
    """The rows of a predictions_test.jsonl that model.finetune wrote."""
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def significance(out: str, seeds: list[int], tasks: list[str], resamples: int = 2000) -> dict:
    """{task: paired_bootstrap(...)} from the ablation's eval-{pretrained,random}-SEED/TASK/predictions_test.jsonl."""
    results = {}
    for task in tasks:
        runs = {model: [read_predictions(os.path.join(out, f"eval-{model}-{seed}", task, "predictions_test.jsonl"))
                        for seed in seeds] for model in ("pretrained", "random")}
        first = [r.get("text", r.get("items")) for r in runs["pretrained"][0]]
        for rows in runs["pretrained"] + runs["random"]:
            if [r.get("text", r.get("items")) for r in rows] != first:
                raise ValueError(f"{task}: the runs did not predict the same test examples in the same order")
        results[task] = paired_bootstrap([example_counts(r) for r in runs["pretrained"]],
                                         [example_counts(r) for r in runs["random"]], resamples)
    return results


def table(results: dict, seeds: list[int]) -> str:
    """Markdown rows: the difference and its 95% interval per seed and for the mean over seeds."""
    lines = ["| task | " + " | ".join(f"seed {s}" for s in seeds) + " | mean over seeds |",
             "|---" * (len(seeds) + 2) + "|"]
    for task, r in results.items():
        cells = [f"{x['diff']:+.2f} [{x['ci95'][0]:+.2f}, {x['ci95'][1]:+.2f}]" for x in r["per_seed"] + [r["mean"]]]
        lines.append(f"| {task} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def report(out: str, seeds: list[int], tasks: list[str], resamples: int = 2000) -> str:
    """significance() written to OUT/significance.json; returns its table."""
    results = significance(out, seeds, tasks, resamples)
    with open(os.path.join(out, "significance.json"), "w", encoding="utf-8") as f:
        json.dump({"seeds": seeds, "resamples": resamples, "tasks": results}, f, indent=2)
    return table(results, seeds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=os.path.join("bench-data", "ablation"))
    parser.add_argument("--seeds", default="1,2,3")
    parser.add_argument("--tasks", default="waimai,gsd-seg,gsd-pos")
    parser.add_argument("--resamples", type=int, default=2000)
    args = parser.parse_args()
    print(report(args.out, [int(s) for s in args.seeds.split(",")], args.tasks.split(","), args.resamples))


if __name__ == "__main__":
    main()
