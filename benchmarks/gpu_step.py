"""Training-step throughput and model FLOPs utilisation (MFU) of ChineseBERT, as `model/train.py` runs a step:
bf16 autocast on CUDA, fused AdamW, the MLM head on masked positions only.

    python benchmarks/gpu_step.py                       # base, vocabulary 23,236, batch 32 × 512, on the GPU
    python benchmarks/gpu_step.py --compile             # the same under torch.compile
    python benchmarks/gpu_step.py --device cpu --size tiny --batch 2 --seq 128 --steps 3   # checks the script

FLOPs are counted from the config, per token: 6 × the multiply-adds of every matmul and of the pinyin convolution
(forward 2, backward 4), attention scores and mixing at the full sequence length, and the vocabulary projection at
the loader's fixed number of masked positions per sequence only (the others never go through the head). The peak is the device's dense bf16
figure (H100 SXM / H200 989 TFLOPS, H100 PCIe 756, A100 312) or --peak-tflops.
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
from model.data import DataConfig  # noqa: E402
from model.modeling import ChineseBertForMaskedLM  # noqa: E402
from model.train import autocast, param_groups  # noqa: E402

PEAK_BF16_TFLOPS = (("H100 PCIe", 756.0), ("H100", 989.4), ("H200", 989.4), ("A100", 312.0))
MASKED_SHARE = 0.15


def flops_per_token(c: ChineseBertConfig, seq: int, masked_share: float = MASKED_SHARE) -> float:
    """Training FLOPs per input token (forward and backward) of ChineseBertForMaskedLM."""
    h = c.hidden_size
    conv_positions = c.pinyin_slots - c.pinyin_conv_width + 1
    embeddings = (c.use_glyph * c.glyph_dim * h + (c.fused_parts > 1) * c.fused_parts * h * h
                  + c.use_pinyin * conv_positions * c.pinyin_embedding * c.pinyin_conv_width * h)
    layer = 4 * h * h + 2 * h * c.intermediate_size + 2 * seq * h  # projections, feed-forward, scores and mixing
    head = masked_share * (h * h + h * c.vocab_size)
    return 6.0 * (embeddings + c.num_hidden_layers * layer + head)


def peak_tflops(device: torch.device, given: float | None) -> float | None:
    if given:
        return given
    if device.type != "cuda":
        return None
    name = torch.cuda.get_device_name(device)
    return next((peak for key, peak in PEAK_BF16_TFLOPS if key in name), None)


def random_batch(c: ChineseBertConfig, batch: int, seq: int, device: torch.device, generator: torch.Generator):
    """Full-length packed inputs (as 90% of pretraining batches are) with the training loader's fixed number of
    masked positions per sequence (DataConfig.max_predictions), every one labelled."""
    predictions = DataConfig(max_len=seq).max_predictions
    ids = torch.randint(5, c.vocab_size, (batch, seq), generator=generator)
    pinyin = torch.randint(0, c.pinyin_alphabet, (batch, seq, c.pinyin_slots), generator=generator)
    positions = torch.stack([torch.randperm(seq, generator=generator)[:predictions].sort().values
                             for _ in range(batch)])
    labels = ids.gather(1, positions)
    mask = torch.ones(batch, seq, dtype=torch.long)
    return [t.to(device) for t in (ids, pinyin, mask, positions, labels)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", default="base", choices=("tiny", "base", "large"))
    parser.add_argument("--vocab", type=int, default=23236)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--seq", type=int, default=512)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--compile", action="store_true")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--peak-tflops", type=float, help="the device's dense bf16 peak, if not in the table")
    args = parser.parse_args()

    device = torch.device(args.device)
    torch.manual_seed(0)
    config = ChineseBertConfig.preset(args.size, args.vocab, max_position_embeddings=max(512, args.seq))
    model = ChineseBertForMaskedLM(config).to(device)
    model.bert.pooler.requires_grad_(False)
    optimizer = torch.optim.AdamW(param_groups(model, 0.01, 1e-4), lr=1e-4, betas=(0.9, 0.98), eps=1e-6,
                                  fused=device.type == "cuda")
    step_model = torch.compile(model) if args.compile else model
    batch = random_batch(config, args.batch, args.seq, device, torch.Generator().manual_seed(0))

    def step() -> float:
        ids, pinyin, mask, positions, labels = batch
        with autocast(device):
            loss, _ = step_model(ids, pinyin, attention_mask=mask, labels=labels, masked_positions=positions)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        return loss.detach()

    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    for _ in range(args.warmup):
        step()
    sync()
    started = time.perf_counter()
    for _ in range(args.steps):
        loss = step()
    sync()
    seconds = (time.perf_counter() - started) / args.steps
    tokens_per_s = args.batch * args.seq / seconds
    achieved = flops_per_token(config, args.seq, batch[3].shape[1] / args.seq) * tokens_per_s / 1e12
    peak = peak_tflops(device, args.peak_tflops)
    print(json.dumps({
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "size": args.size, "vocab": args.vocab, "batch": args.batch, "seq": args.seq, "compile": args.compile,
        "bf16": device.type == "cuda", "torch": torch.__version__, "step_ms": round(seconds * 1000, 1),
        "tokens_per_s": round(tokens_per_s), "achieved_tflops": round(achieved, 1), "peak_tflops": peak,
        "mfu": round(achieved / peak, 3) if peak else None, "final_loss": round(float(loss), 3),
        "peak_memory_gib": round(torch.cuda.max_memory_allocated(device) / 2**30, 1) if device.type == "cuda" else None,
    }))


if __name__ == "__main__":
    main()
