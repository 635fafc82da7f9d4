"""Pretraining steps on CPU in fp32 against bf16 autocast (`model.train --cpu-bf16`), the same batches in one run.

    python benchmarks/cpu_precision.py [--config tiny] [--steps 40] [--batch 32] [--threads 2]

Batches of 128 random regular tokens (the speed does not depend on the text); the MLM head on 15% of the positions,
AdamW with the pretraining's parameter groups. Prints tokens/s and CPU seconds per step for each precision and their
ratio, and whether this CPU has bf16 instructions (without them bf16 is emulated and slower than fp32).
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
from model.config import ChineseBertConfig  # noqa: E402
from model.modeling import ChineseBertForMaskedLM  # noqa: E402
from model.train import autocast, param_groups  # noqa: E402

def cpu_has_bf16() -> bool:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            return any(flag in f.read() for flag in ("avx512_bf16", "amx_bf16"))
    except OSError:
        return False


def run(config: ChineseBertConfig, batches: list, bf16: bool) -> dict:
    """Time the steps (after two warm-up steps) of a fresh model with the given precision."""
    torch.manual_seed(0)
    model = ChineseBertForMaskedLM(config)
    optimizer = torch.optim.AdamW(param_groups(model, 0.01, 1e-3, 0.1), lr=1e-3)
    cpu = torch.device("cpu")
    losses = []
    for i, batch in enumerate(batches):
        if i == 2:
            wall, process = time.perf_counter(), time.process_time()
        with autocast(cpu, cpu_bf16=bf16):
            loss, _ = model(*batch)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        losses.append(loss.item())
    wall, process = time.perf_counter() - wall, time.process_time() - process
    steps = len(batches) - 2
    tokens = steps * batches[0][0].numel()
    return {"precision": "bf16" if bf16 else "fp32", "tokens_per_s": round(tokens / wall),
            "cpu_s_per_step": round(process / steps, 3), "last_loss": round(losses[-1], 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default="tiny", choices=("tiny", "small"))
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--vocab", type=int, default=5268, help="the ablation corpus's vocabulary size")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    config = ChineseBertConfig.preset(args.config, args.vocab, hidden_dropout_prob=0.0,
                                      attention_probs_dropout_prob=0.0)
    generator = torch.Generator().manual_seed(1)
    seq, n_mask = 128, 19
    batches = []
    for _ in range(args.steps + 2):
        ids = torch.randint(5, args.vocab, (args.batch, seq), generator=generator)
        pinyin = torch.randint(0, config.pinyin_alphabet, (args.batch, seq, config.pinyin_slots), generator=generator)
        positions = torch.stack([torch.randperm(seq, generator=generator)[:n_mask] for _ in range(args.batch)])
        batches.append((ids, pinyin, torch.ones_like(ids), None, ids.gather(1, positions), positions))
    rows = [run(config, batches, bf16) for bf16 in (False, True)]
    print(json.dumps({"config": args.config, "batch": f"{args.batch} x {seq}", "threads": args.threads,
                      "cpu_bf16_instructions": cpu_has_bf16(), "runs": rows,
                      "bf16_speedup": round(rows[1]["tokens_per_s"] / rows[0]["tokens_per_s"], 2)}, indent=1))


if __name__ == "__main__":
    main()
