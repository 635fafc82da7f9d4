"""Pretraining steps on CPU: fp32 against bf16 autocast (`model.train --cpu-bf16`), and what each CPU-step choice
of the training loop buys, on the same batches in one run.

    python benchmarks/cpu_precision.py [--config tiny] [--steps 12] [--batch 32] [--threads 2]

Variants, stepped in turn (one step of each, round after round, so that this VM's speed drifts hit all alike):
- fp32: what `model.train` does without `--cpu-bf16`;
- bf16, previous loop: PyTorch's fused CPU attention kernel, the per-parameter AdamW, the glyph and pinyin maps run
  on every token (the loop before session 12); then each change of session 12 added in turn:
  + plain attention (up to 128 tokens), + fused AdamW, + the maps once per distinct input (= today's loop);
- bf16, glyph table fixed: today's loop as `recipes.ablation` pretrains (`--freeze-glyphs`).
Batches of 128 tokens drawn with Zipf frequencies (rank r has weight 1/r: ~1,300 distinct ids in 4,096 tokens;
the ablation corpus's documents have 870–990), each id with one pinyin row; the MLM head on 15% of the positions,
AdamW with the pretraining's parameter groups, gradient clipping as in training. Prints CPU seconds per step, tokens
per CPU second and each variant's speed against the previous bf16 loop, and whether this CPU has bf16 instructions
(without them bf16 is emulated and slower than fp32).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
import model.modeling as modeling  # noqa: E402
from model.config import ChineseBertConfig  # noqa: E402
from model.modeling import ChineseBertForMaskedLM  # noqa: E402
from model.train import autocast, param_groups  # noqa: E402

PLAIN = modeling.CPU_BF16_MATH_MAX_LEN
VARIANTS = {  # name: (bf16, plain attention up to this length, fused AdamW, maps per distinct input, train glyphs)
    "fp32": (False, PLAIN, True, True, True),
    "bf16, previous loop": (True, 0, False, False, True),
    "+ plain attention": (True, PLAIN, False, False, True),
    "+ fused AdamW": (True, PLAIN, True, False, True),
    "+ maps per distinct input (bf16 today)": (True, PLAIN, True, True, True),
    "bf16, glyph table fixed": (True, PLAIN, True, True, False),
}


def cpu_has_bf16() -> bool:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            return any(flag in f.read() for flag in ("avx512_bf16", "amx_bf16"))
    except OSError:
        return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default="tiny", choices=("tiny", "small"))
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--vocab", type=int, default=5268, help="the ablation corpus's vocabulary size")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    generator = torch.Generator().manual_seed(1)
    seq, n_mask = 128, 19
    shapes = ChineseBertConfig.preset(args.config, args.vocab)
    batches = []
    weights = 1.0 / torch.arange(1, args.vocab - 4, dtype=torch.float64)
    readings = torch.randint(0, shapes.pinyin_alphabet, (args.vocab, shapes.pinyin_slots), generator=generator)
    for _ in range(args.steps + 2):
        ids = 5 + torch.multinomial(weights, args.batch * seq, replacement=True, generator=generator).view(args.batch, seq)
        pinyin = readings[ids]
        positions = torch.stack([torch.randperm(seq, generator=generator)[:n_mask] for _ in range(args.batch)])
        batches.append((ids, pinyin, torch.ones_like(ids), None, ids.gather(1, positions), positions))
    runs = {}
    for name, (bf16, plain_max, fused, _, train_glyphs) in VARIANTS.items():
        config = ChineseBertConfig.preset(args.config, args.vocab, hidden_dropout_prob=0.0,
                                          attention_probs_dropout_prob=0.0, train_glyphs=train_glyphs)
        torch.manual_seed(0)
        model = ChineseBertForMaskedLM(config)
        optimizer = torch.optim.AdamW(param_groups(model, 0.01, 1e-3, 0.1), lr=1e-3, fused=fused)
        runs[name] = {"model": model, "optimizer": optimizer, "cpu_s": 0.0, "loss": None}
    cpu = torch.device("cpu")
    per_distinct = modeling.per_distinct
    for i, batch in enumerate(batches):
        for name, (bf16, plain_max, _, distinct, _) in VARIANTS.items():
            run = runs[name]
            modeling.CPU_BF16_MATH_MAX_LEN = plain_max
            modeling.per_distinct = per_distinct if distinct else modeling.per_token
            started = time.process_time()
            with autocast(cpu, cpu_bf16=bf16):
                loss, _ = run["model"](*batch)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(run["model"].parameters(), 1.0)
            run["optimizer"].step()
            run["optimizer"].zero_grad(set_to_none=True)
            if i >= 2:  # the first two steps warm up allocators and kernels
                run["cpu_s"] += time.process_time() - started
            run["loss"] = round(loss.item(), 4)
    modeling.CPU_BF16_MATH_MAX_LEN, modeling.per_distinct = PLAIN, per_distinct
    tokens = args.steps * batches[0][0].numel()
    previous = runs["bf16, previous loop"]["cpu_s"]
    rows = [{"variant": name, "cpu_s_per_step": round(run["cpu_s"] / args.steps, 3),
             "tokens_per_cpu_s": round(tokens / run["cpu_s"]), "vs_previous_bf16_loop": round(previous / run["cpu_s"], 2),
             "last_loss": run["loss"]} for name, run in runs.items()]
    print(json.dumps({"config": args.config, "batch": f"{args.batch} x {seq}", "threads": args.threads,
                      "cpu_bf16_instructions": cpu_has_bf16(), "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
