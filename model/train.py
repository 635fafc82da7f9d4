"""Pretrain ChineseBERT on the corpus shards (MLM, dynamic whole-word/char masking of text and pinyin).

    python -m model.train --corpus out/corpus --out out/model [--config tiny|base|large] [--steps N] …
    torchrun --nproc_per_node 8 -m model.train --config base …   # DDP (NCCL on GPUs, gloo on CPUs)
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import time
from dataclasses import asdict

from apache_beam.io.filesystems import FileSystems
from apache_beam.options.pipeline_options import PipelineOptions

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader

from model.checkpoint import (latest_checkpoint, load_checkpoint, save_checkpoint, save_model, set_rng_states,
                              unwrap)
from model.config import ChineseBertConfig
from model.data import CorpusAssets, DataConfig, PretrainingStream
from model.modeling import ChineseBertForMaskedLM

PRESETS = {  # the paper's base recipe; tiny is a CPU smoke run
    "tiny": {"steps": 300, "batch_size": 16, "max_len": 128, "lr": 1e-3, "warmup": 30, "accum": 1,
             "validation_every": 4},
    "base": {"steps": 500_000, "batch_size": 400, "max_len": 512, "lr": 1e-4, "warmup": 20_000, "accum": 1,
             "validation_every": 100},
    "large": {"steps": 500_000, "batch_size": 400, "max_len": 512, "lr": 1e-4, "warmup": 20_000, "accum": 1,
              "validation_every": 100},
}


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--corpus", default="out/corpus", help="corpus folder: local, s3:// or gs://")
    p.add_argument("--storage-option", action="append", default=[], metavar="--BEAM_OPTION=VALUE",
                   help="a Beam filesystem option for a remote corpus, e.g. --storage-option=--s3_endpoint_url=URL")
    p.add_argument("--out", default="out/model")
    p.add_argument("--config", default="tiny", choices=sorted(PRESETS))
    for name, kind in (("steps", int), ("batch_size", int), ("max_len", int), ("lr", float), ("warmup", int),
                       ("accum", int), ("validation_every", int)):
        p.add_argument(f"--{name.replace('_', '-')}", dest=name, type=kind, default=None,
                       help={"batch_size": "per-device micro-batch", "accum": "micro-batches per optimiser step",
                             "validation_every": "with a single shard, every Nth document is held out"}.get(name))
    p.add_argument("--weight-decay", type=float, default=0.01)
    p.add_argument("--clip", type=float, default=1.0)
    p.add_argument("--eval-every", type=int, default=100)
    p.add_argument("--save-every", type=int, default=100)
    p.add_argument("--log-every", type=int, default=10)
    p.add_argument("--workers", type=int, default=0, help="data-loader worker processes per rank")
    p.add_argument("--seed", type=int, default=1234)
    p.add_argument("--freeze-glyphs", action="store_true", help="keep the glyph pixel table fixed")
    p.add_argument("--no-resume", action="store_true", help="ignore checkpoints in OUT/checkpoints")
    p.add_argument("--stop-after", type=int, default=None, help="checkpoint and stop at this step (resume later)")
    p.add_argument("--quiet", action="store_true", help="no progress bar; one line per log interval")
    args = p.parse_args(argv)
    for key, value in PRESETS[args.config].items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    return args


def param_groups(model: torch.nn.Module, weight_decay: float):
    """AdamW groups: no decay on biases and LayerNorm weights."""
    decay, no_decay = [], []
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        (no_decay if name.endswith("bias") or "LayerNorm" in name else decay).append(param)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def linear_schedule(warmup: int, total: int):
    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / max(1, warmup)
        return max(0.0, (total - step) / max(1, total - warmup))
    return factor


class Batches:
    """Endless micro-batches over epochs; `skip(n)` replays the stream to where a checkpoint left it."""

    def __init__(self, assets, data_cfg, args, rank, world):
        self.assets, self.data_cfg, self.args, self.rank, self.world = assets, data_cfg, args, rank, world
        self.epoch, self.consumed = 0, 0
        self._it = self._epoch_iter()

    def _epoch_iter(self):
        stream = PretrainingStream(self.assets, self.data_cfg, self.args.batch_size, self.args.seed, self.epoch,
                                   self.rank, self.world)
        return iter(DataLoader(stream, batch_size=None, num_workers=self.args.workers))

    def __next__(self):
        for _ in range(2):
            try:
                batch = next(self._it)
                self.consumed += 1
                return batch
            except StopIteration:
                self.epoch += 1
                self._it = self._epoch_iter()
        raise RuntimeError("the corpus yields no training batch (is it empty, or all held out?)")

    def skip(self, n: int) -> None:
        while self.consumed < n:
            next(self)


@torch.no_grad()
def evaluate(model, assets, data_cfg, args, device, rank, world, max_batches: int = 50) -> dict:
    """MLM loss and accuracy on the held-out shards (or documents). Runs the bare module: ranks may hold different
    numbers of validation batches, and a DDP forward would wait for the others."""
    model = unwrap(model)
    model.eval()
    stream = PretrainingStream(assets, data_cfg, args.batch_size, args.seed, 0, rank, world, validation=True)
    total_loss = correct = count = 0.0
    for i, batch in enumerate(DataLoader(stream, batch_size=None)):
        if i >= max_batches:
            break
        batch = {k: v.to(device) for k, v in batch.items()}
        with autocast(device):
            loss, logits = model(batch["input_ids"], batch["pinyin_ids"], batch["attention_mask"],
                                 labels=batch["labels"])
        n = (batch["labels"] != -100).sum().item()
        total_loss += loss.item() * n
        correct += (logits.argmax(-1) == batch["labels"][batch["labels"] != -100]).sum().item()
        count += n
    stats = torch.tensor([total_loss, correct, count], dtype=torch.float64, device=device)
    if world > 1:
        dist.all_reduce(stats)
    model.train()
    total_loss, correct, count = stats.tolist()
    return {"val_loss": total_loss / count if count else float("nan"), "val_accuracy": correct / count if count else 0.0,
            "val_tokens": int(count)}


def autocast(device: torch.device):
    return torch.autocast("cuda", dtype=torch.bfloat16, enabled=device.type == "cuda")


def setup_distributed() -> tuple[int, int, torch.device]:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    if torch.cuda.is_available():
        torch.cuda.set_device(local)
        device = torch.device("cuda", local)
    else:
        device = torch.device("cpu")
    if world > 1:
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return rank, world, device


def train(argv=None) -> dict:
    """Run (or resume) pretraining; returns the final metrics (also in OUT/metrics.jsonl)."""
    args = parse_args(argv)
    rank, world, device = setup_distributed()
    torch.manual_seed(args.seed)
    FileSystems.set_options(PipelineOptions(args.storage_option))  # credentials and endpoints of a remote corpus
    assets = CorpusAssets.load(args.corpus)
    config = ChineseBertConfig.preset(args.config, len(assets.tokens), train_glyphs=not args.freeze_glyphs,
                                      max_position_embeddings=max(512, args.max_len))
    config.glyph_fonts, config.glyph_size = assets.glyphs.shape[1], assets.glyphs.shape[2]
    model = ChineseBertForMaskedLM(config)
    model.load_glyphs(assets.glyphs)
    model.bert.pooler.requires_grad_(False)  # MLM only (no NSP): the pooler gets no gradient; kept for checkpoints
    model.to(device)
    if world > 1:
        model = DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None,
                                        broadcast_buffers=False)  # the only buffer is constant position ids
    optimizer = torch.optim.AdamW(param_groups(model, args.weight_decay), lr=args.lr, betas=(0.9, 0.98), eps=1e-6,
                                  fused=device.type == "cuda")
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, linear_schedule(args.warmup, args.steps))
    data_cfg = DataConfig(max_len=args.max_len, validation_every=args.validation_every)
    batches = Batches(assets, data_cfg, args, rank, world)
    checkpoints = os.path.join(args.out, "checkpoints")
    os.makedirs(checkpoints, exist_ok=True)
    step = 0
    resume = None if args.no_resume else latest_checkpoint(checkpoints)
    if resume:
        try:
            step, consumed, rng = load_checkpoint(resume, model, optimizer, scheduler)
        except (KeyError, ValueError, RuntimeError) as exc:
            raise SystemExit(f"{resume} does not fit this model or optimiser ({exc}); pass --no-resume or another --out")
        batches.skip(consumed)
        set_rng_states(rng)
    log_path = os.path.join(args.out, "metrics.jsonl")
    if rank == 0:
        with open(os.path.join(args.out, "training_args.json"), "w") as f:
            json.dump({**vars(args), "world_size": world, "data": asdict(data_cfg)}, f, indent=2, default=str)
    progress = None
    if rank == 0 and not args.quiet and sys.stderr.isatty():
        from tqdm import tqdm

        progress = tqdm(total=args.steps, initial=step, desc="pretrain", unit="step")
    metrics: dict = {}
    tokens, started = 0, time.time()
    model.train()
    stop = min(args.steps, args.stop_after or args.steps)
    while step < stop:
        optimizer.zero_grad(set_to_none=True)
        step_loss = 0.0
        for micro in range(args.accum):
            batch = {k: v.to(device, non_blocking=True) for k, v in next(batches).items()}
            sync = world == 1 or micro == args.accum - 1
            context = model.no_sync() if not sync else contextlib.nullcontext()
            with context, autocast(device):
                loss, _ = model(batch["input_ids"], batch["pinyin_ids"], batch["attention_mask"],
                                labels=batch["labels"])
                (loss / args.accum).backward()
            step_loss += loss.item() / args.accum
            tokens += int(batch["attention_mask"].sum())
        grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), args.clip)
        optimizer.step()
        scheduler.step()
        step += 1
        metrics = {"step": step, "loss": round(step_loss, 5), "lr": scheduler.get_last_lr()[0],
                   "grad_norm": round(float(grad_norm), 4),
                   "tokens_per_s": round(tokens * world / max(time.time() - started, 1e-9))}
        if step % args.eval_every == 0 or step == args.steps:
            metrics.update(evaluate(model, assets, data_cfg, args, device, rank, world))
        if rank == 0:
            if progress:
                progress.set_postfix(loss=f"{step_loss:.3f}", lr=f"{metrics['lr']:.2e}", tok_s=metrics["tokens_per_s"])
                progress.update(1)
            if step % args.log_every == 0 or "val_loss" in metrics:
                with open(log_path, "a") as f:
                    f.write(json.dumps(metrics) + "\n")
                if not progress:
                    print(json.dumps(metrics), flush=True)
            if step % args.save_every == 0 or step == stop:
                save_checkpoint(os.path.join(checkpoints, f"step-{step}.pt"), model, optimizer, scheduler, step,
                                batches.consumed)
    if rank == 0 and step == args.steps:
        save_model(model, args.out, args.corpus)
        if progress:
            progress.close()
    if world > 1:
        dist.barrier()
        dist.destroy_process_group()
    return metrics


if __name__ == "__main__":
    train()
