"""The ablation that shows the corpus and pretraining are worth it: a small model pretrained on the ablation
corpus against the same architecture from random initialisation, both fine-tuned by `model.evaluate` with the same
budget and seeds.

    python -m recipes.ablation [--out bench-data/ablation] [--config tiny] [--steps 12000] [--batch-size 32]
                               [--dropout 0] [--glyph-lr-scale 0.1] [--train-glyphs] [--minutes 58] [--fp32]
                               [--seeds 1,2,3]

The model is `tiny` (4 layers of 128): in a CPU hour it sees ~5× the tokens `small` (4 × 256) does, and only then
does masked-LM pretraining leave the bag-of-words plateau (BENCHMARKS.md, "Fine-tuning ablation"). The glyph pixel
table stays fixed during pretraining (`--train-glyphs` trains it, as the reference does): it holds ~80% of `tiny`'s
parameters, and its dense gradient and AdamW update cost ~10% of a CPU step that the hour spends on tokens instead.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
from model.checkpoint import load_model, save_model  # noqa: E402
from model.evaluate import evaluate  # noqa: E402
from model.modeling import ChineseBertForMaskedLM  # noqa: E402
from recipes.ablation_corpus import build  # noqa: E402
from recipes.ablation_significance import report  # noqa: E402


def random_twin(pretrained: str, corpus: str, out: str, seed: int = 1) -> str:
    """A model folder with the pretrained model's config and the corpus's glyph table, and random weights."""
    import numpy as np

    torch.manual_seed(seed)
    model = ChineseBertForMaskedLM.fresh(load_model(pretrained).config,
                                         np.load(os.path.join(corpus, "glyphs.npy"), allow_pickle=False))
    save_model(model, out, corpus)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=os.path.join(ROOT, "bench-data", "ablation"))
    parser.add_argument("--config", default="tiny", choices=("tiny", "small"), help="model.train's size preset")
    parser.add_argument("--steps", type=int, default=12000, help="the schedule's length (lr decays to 0 there)")
    parser.add_argument("--batch-size", type=int, default=32, help="sequences of 128 per step")
    parser.add_argument("--fp32", action="store_true", help="pretrain in fp32 on CPU (default: bf16 autocast)")
    parser.add_argument("--dropout", type=float, default=0.0, help="pretraining dropout (fine-tuning keeps 0.1)")
    parser.add_argument("--glyph-lr-scale", type=float, default=0.1, help="glyph_map's lr multiplier (see model.train)")
    parser.add_argument("--train-glyphs", action="store_true", help="train the glyph pixel table too")
    parser.add_argument("--minutes", type=float, default=58.0, help="pretraining wall-clock budget")
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--seeds", default="1,2,3")
    parser.add_argument("--pretrain-only", action="store_true")
    args = parser.parse_args()
    corpus = build(args.out)
    pretrained = os.path.join(args.out, "pretrained")
    if not os.path.exists(os.path.join(pretrained, "model.safetensors")):
        started = time.time()
        subprocess.run([sys.executable, "-m", "model.train", "--config", args.config, "--corpus", corpus, "--out",
                        pretrained, "--steps", str(args.steps), "--warmup", str(args.steps // 14), "--lr", str(args.lr),
                        "--batch-size", str(args.batch_size), "--dropout", str(args.dropout),
                        "--validation-every", "10", "--workers", "1",
                        "--glyph-lr-scale", str(args.glyph_lr_scale),
                        "--max-minutes", str(args.minutes), "--log-every", "50",
                        "--eval-every", "500", "--save-every", "500", "--quiet"] + ([] if args.fp32 else ["--cpu-bf16"])
                       + ([] if args.train_glyphs else ["--freeze-glyphs"]),
                       cwd=ROOT, check=True)
        print(json.dumps({"pretraining_wall_min": round((time.time() - started) / 60, 1)}), flush=True)
    if args.pretrain_only:
        return
    scratch = random_twin(pretrained, corpus, os.path.join(args.out, "random"))
    rows, seeds, tasks = [], [int(s) for s in args.seeds.split(",")], ["waimai", "gsd-seg", "gsd-pos"]
    for seed in seeds:
        for name, folder in (("pretrained", pretrained), ("random", scratch)):
            results = evaluate(folder, os.path.join(args.out, f"eval-{name}-{seed}"), tasks, seed=seed)
            rows.append({"model": name, "seed": seed, **{t: r["test"] for t, r in results.items()},
                         "dev": {t: r["dev"] for t, r in results.items()}})
            print(json.dumps(rows[-1]), flush=True)
    with open(os.path.join(args.out, "ablation.json"), "w", encoding="utf-8") as f:
        json.dump(rows, f, indent=2)
    print(report(args.out, seeds, tasks))  # pretrained − random in points, with paired-bootstrap 95% intervals


if __name__ == "__main__":
    main()
