"""Pretrain ChineseBERT on the corpus shards (MLM, dynamic whole-word/char masking of text and pinyin).

    python -m model.train --corpus out/corpus --out out/model [--config tiny|small|base|large] [--steps N] …
    torchrun --nproc_per_node 8 -m model.train --config base …   # DDP (NCCL on GPUs, gloo on CPUs)
    python -m model.train --init MODEL_DIR …                      # continued pretraining from a model folder

A relaunch with the same --out resumes from its latest checkpoint (weights, optimiser, schedule, every reader's
position, every rank's RNG): in seconds, whatever the step (model/stream.py).
"""
from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import sys
import time
from dataclasses import asdict

import torch
import torch.distributed as dist
from apache_beam.io.filesystems import FileSystems
from apache_beam.options.pipeline_options import PipelineOptions
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader

from model.checkpoint import (CheckpointWriter, latest_checkpoint, load_checkpoint, load_model, rng_states,
                              save_model, set_rng_states, training_state, unwrap)
from model.config import ChineseBertConfig
from model.data import CorpusAssets, DataConfig
from model.masking import MaskingConfig
from model.modeling import ChineseBertForMaskedLM
from model.stream import PretrainingStream, check_readers, validation_batches
from model.tblog import ScalarWriter

LOG = logging.getLogger("chinesebert")
# The paper's base recipe: global batch 3,200 sequences of 512, lr 1e-4, 20k warm-up steps, 500k steps. The global
# batch is micro_batch × accum × world size; accum is derived from it (see README for the memory estimates).
PRESETS = {
    "tiny": {"steps": 300, "global_batch": None, "batch_size": 16, "max_len": 128, "lr": 1e-3, "warmup": 30,
             "validation_every": 4, "eval_every": 100, "save_every": 100, "val_batches": 20, "workers": 0,
             "keep_every": 0},
    "small": {"steps": 3000, "global_batch": None, "batch_size": 32, "max_len": 128, "lr": 5e-4, "warmup": 300,
              "validation_every": 10, "eval_every": 500, "save_every": 500, "val_batches": 20, "workers": 1,
              "keep_every": 0},
    "base": {"steps": 500_000, "global_batch": 3200, "batch_size": 100, "max_len": 512, "lr": 1e-4, "warmup": 20_000,
             "validation_every": 100, "eval_every": 2000, "save_every": 2000, "val_batches": 50, "workers": 6,
             "keep_every": 50_000},
    "large": {"steps": 500_000, "global_batch": 3200, "batch_size": 40, "max_len": 512, "lr": 1e-4, "warmup": 20_000,
              "validation_every": 100, "eval_every": 2000, "save_every": 2000, "val_batches": 50, "workers": 6,
              "keep_every": 50_000},
}
OPTIONAL = ("steps", "batch_size", "max_len", "lr", "warmup", "accum", "validation_every", "eval_every", "save_every",
            "val_batches", "workers", "keep_every", "global_batch")


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--corpus", default="out/corpus", help="corpus folder: local, s3:// or gs://")
    p.add_argument("--storage-option", action="append", default=[], metavar="--BEAM_OPTION=VALUE",
                   help="a Beam filesystem option for a remote corpus, e.g. --storage-option=--s3_endpoint_url=URL")
    p.add_argument("--out", default="out/model")
    p.add_argument("--config", default="tiny", choices=sorted(PRESETS))
    p.add_argument("--init", default=None, metavar="MODEL_DIR",
                   help="start from this model folder's weights (fresh optimiser); its vocab.txt must be the corpus's")
    helps = {"batch_size": "per-device micro-batch", "accum": "micro-batches per optimiser step (default: from the "
             "preset's global batch)", "validation_every": "with a single shard, every Nth document is held out",
             "workers": "data-loader worker processes per rank", "keep_every": "also keep every Nth step's checkpoint",
             "val_batches": "validation batches per evaluation", "global_batch": "sequences per optimiser step"}
    for name in OPTIONAL:
        kind = float if name == "lr" else int
        p.add_argument(f"--{name.replace('_', '-')}", dest=name, type=kind, default=None, help=helps.get(name))
    p.add_argument("--weight-decay", type=float, default=0.01)
    p.add_argument("--clip", type=float, default=1.0)
    p.add_argument("--log-every", type=int, default=10, help="steps between log lines (the only host syncs)")
    p.add_argument("--keep-last", type=int, default=3, help="checkpoints kept besides every --keep-every-th")
    p.add_argument("--seed", type=int, default=1234)
    p.add_argument("--freeze-glyphs", action="store_true", help="keep the glyph pixel table fixed")
    p.add_argument("--glyph-lr-scale", type=float, default=1.0, metavar="S",
                   help="glyph_map's learning rate is lr × S: its 1,728 pixel inputs make Adam's steps S⁻¹ too large")
    p.add_argument("--dropout", type=float, default=None, metavar="P",
                   help="dropout of this run only; the saved config keeps its own (fine-tuning uses that)")
    p.add_argument("--whole-word-prob", type=float, default=MaskingConfig.whole_word_prob, metavar="P",
                   help="share of sequences masked by whole words (else by characters); the paper's 0.9")
    p.add_argument("--compile", action="store_true", help="torch.compile the model")
    p.add_argument("--cpu-bf16", action="store_true", help="bf16 autocast on CPU too (CUDA always uses it)")
    p.add_argument("--checkpoint-activations", action="store_true", help="recompute layer activations in backward")
    p.add_argument("--no-resume", action="store_true", help="ignore checkpoints in OUT/checkpoints")
    p.add_argument("--stop-after", type=int, default=None, help="checkpoint and stop at this step (resume later)")
    p.add_argument("--max-minutes", type=float, default=None,
                   help="wall-clock budget: checkpoint and stop at the first log step past it (resume later)")
    p.add_argument("--quiet", action="store_true", help="no progress bar; one line per log interval")
    args = p.parse_args(argv)
    for key, value in PRESETS[args.config].items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    return args


def accumulation(args, world: int) -> int:
    """Micro-batches per optimiser step so that micro × accum × world is the global batch."""
    if args.accum:
        return args.accum
    if not args.global_batch:
        return 1
    per_step = args.batch_size * world
    if args.global_batch % per_step:
        raise SystemExit(f"--global-batch {args.global_batch} is not a multiple of --batch-size {args.batch_size} × "
                         f"{world} ranks; choose a micro-batch that divides {args.global_batch // world}")
    return args.global_batch // per_step


def param_groups(model: torch.nn.Module, weight_decay: float, lr: float, glyph_lr_scale: float = 1.0):
    """AdamW groups: no decay on biases and LayerNorm weights; glyph_map's weight at lr × glyph_lr_scale."""
    groups = {"decay": [], "no_decay": [], "glyph": []}
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        kind = ("no_decay" if name.endswith("bias") or "LayerNorm" in name
                else "glyph" if name.endswith("glyph_map.weight") else "decay")
        groups[kind].append(param)
    out = [{"params": groups["decay"], "weight_decay": weight_decay, "lr": lr},
           {"params": groups["no_decay"], "weight_decay": 0.0, "lr": lr}]
    if groups["glyph"]:
        out.append({"params": groups["glyph"], "weight_decay": weight_decay, "lr": lr * glyph_lr_scale})
    return out


def over_budget(started: float, args, device, world: int) -> bool:
    """Whether the wall-clock budget is spent; rank 0's clock decides for every rank so that all stop together."""
    spent = torch.tensor(float(time.time() - started > args.max_minutes * 60), device=device)
    if world > 1:
        dist.broadcast(spent, 0)
    return bool(spent.item())


def linear_schedule(warmup: int, total: int):
    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / max(1, warmup)
        return max(0.0, (total - step) / max(1, total - warmup))
    return factor


class Batches:
    """This rank's endless training batches; keeps each of its readers' positions after the batches taken."""

    def __init__(self, assets, data_cfg, args, rank: int, world: int, device, saved: dict | None):
        total = saved["readers"] if saved else world * max(args.workers, 1)
        check_readers(assets, data_cfg, total)
        self.mine = [g for g in range(total) if g % world == rank]
        self.positions = dict(saved["positions"]) if saved else {}
        same = saved is not None and saved.get("world") == world
        self.start = saved["cursors"][rank] % len(self.mine) if same else 0
        self.taken = 0
        order = self.mine[self.start:] + self.mine[:self.start]  # the reader due next comes first
        stream = PretrainingStream(assets, data_cfg, args.batch_size, args.seed, order, total,
                                   {g: self.positions.get(g) for g in order})
        workers = min(args.workers, len(order))
        self.loader = iter(DataLoader(stream, batch_size=None, num_workers=workers, pin_memory=device.type == "cuda",
                                      prefetch_factor=4 if workers else None))

    def __next__(self) -> dict:
        batch = next(self.loader)
        self.positions[batch.pop("reader")] = batch.pop("position")
        self.taken += 1
        return batch

    def state(self) -> tuple[dict, int]:
        """(this rank's reader positions, the index in its reader list of the reader due next)."""
        return self.positions, (self.start + self.taken) % len(self.mine)


MODEL_INPUTS = ("input_ids", "pinyin_ids", "attention_mask", "masked_positions", "masked_labels")


def mlm_loss(model, batch):
    loss, logits = model(batch["input_ids"], batch["pinyin_ids"], batch["attention_mask"],
                         labels=batch["masked_labels"], masked_positions=batch["masked_positions"])
    return loss, logits


@torch.no_grad()
def evaluate(model, assets, data_cfg, args, device, rank, world) -> dict:
    """MLM loss and accuracy on a fixed set of held-out batches. Runs the bare module: ranks may hold different
    numbers of validation batches, and a DDP forward would wait for the others."""
    model = unwrap(model)
    model.eval()
    stats = torch.zeros(3, dtype=torch.float64, device=device)  # loss × tokens, correct, tokens
    for batch in validation_batches(assets, data_cfg, args.batch_size, args.seed, rank, world, args.val_batches):
        batch = {k: batch[k].to(device) for k in MODEL_INPUTS}
        with autocast(device, args.cpu_bf16):
            loss, logits = mlm_loss(model, batch)
        labelled = batch["masked_labels"] != -100
        n = labelled.sum()
        stats += torch.stack([loss.double() * n, (logits.argmax(-1) == batch["masked_labels"])[labelled].sum(), n])
    if world > 1:
        dist.all_reduce(stats)
    model.train()
    total_loss, correct, count = stats.tolist()
    return {"val_loss": total_loss / count if count else float("nan"), "val_accuracy": correct / count if count else 0.0,
            "val_tokens": int(count)}


def autocast(device: torch.device, cpu_bf16: bool = False):
    """bf16 autocast: always on CUDA; on CPU only when asked (1.35–1.65× the tokens/s of fp32 for `tiny` on this
    project's avx512_bf16 cores, BENCHMARKS.md; slower than fp32 on CPUs without bf16 instructions)."""
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return torch.autocast("cpu", dtype=torch.bfloat16, enabled=cpu_bf16)


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


def gather(obj, world: int) -> list:
    """Every rank's `obj`, in rank order (a collective: every rank calls it)."""
    if world == 1:
        return [obj]
    out = [None] * world
    dist.all_gather_object(out, obj)
    return out


def build_model(args, assets: CorpusAssets) -> ChineseBertForMaskedLM:
    """A fresh model sized by the preset, or the --init folder's weights (its vocabulary must be the corpus's)."""
    if args.init:
        vocab_path = os.path.join(args.init, "vocab.txt")
        if not os.path.exists(vocab_path):
            raise SystemExit(f"--init {args.init}: no vocab.txt there (a folder written by make pretrain or by "
                             "python -m model.convert)")
        with open(vocab_path, encoding="utf-8") as f:
            tokens = [line for line in f.read().split("\n") if line]
        if tokens != assets.tokens:
            differ = sum(a != b for a, b in zip(tokens, assets.tokens)) + abs(len(tokens) - len(assets.tokens))
            raise SystemExit(f"--init {args.init}: its vocab.txt ({len(tokens)} tokens) differs from the corpus's "
                             f"({len(assets.tokens)}; {differ} positions differ). Build the corpus with "
                             f"annotate.vocab_file={vocab_path}")
        model = load_model(args.init)
        if model.config.use_glyph:
            model.bert.embeddings.glyph_embeddings.embedding.weight.requires_grad_(not args.freeze_glyphs)
        return model
    config = ChineseBertConfig.preset(args.config, len(assets.tokens), train_glyphs=not args.freeze_glyphs,
                                      max_position_embeddings=max(512, args.max_len))
    config.glyph_fonts, config.glyph_size = assets.glyphs.shape[1], assets.glyphs.shape[2]
    return ChineseBertForMaskedLM.fresh(config, assets.glyphs)


def set_dropout(model: torch.nn.Module, p: float) -> None:
    """Every dropout of the model to p for this run, without touching its config (fine-tuning keeps the config's)."""
    for module in model.modules():
        if isinstance(module, torch.nn.Dropout):
            module.p = p
        if hasattr(module, "dropout_p"):  # attention dropout inside scaled_dot_product_attention
            module.dropout_p = p


def weights_digest(model) -> torch.Tensor:
    """Sum and sum of squares of every parameter (float64): equal on every rank when DDP keeps them in step."""
    return torch.stack([torch.stack([p.double().sum(), p.double().square().sum()])
                        for p in unwrap(model).parameters()]).sum(0).cpu()


def train(argv=None) -> dict:
    """Run (or resume) pretraining; returns the final metrics (also in OUT/metrics.jsonl)."""
    args = parse_args(argv)
    rank, world, device = setup_distributed()
    torch.manual_seed(args.seed + rank)  # ranks draw different dropout masks
    FileSystems.set_options(PipelineOptions(args.storage_option))  # credentials and endpoints of a remote corpus
    assets = CorpusAssets.load(args.corpus)
    accum = accumulation(args, world)
    model = build_model(args, assets)
    if args.dropout is not None:
        set_dropout(model, args.dropout)
    model.bert.pooler.requires_grad_(False)  # MLM only (no NSP): the pooler gets no gradient; kept for checkpoints
    model.bert.encoder.checkpoint_activations = args.checkpoint_activations
    model.to(device)
    if world > 1:
        model = DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None,
                                        broadcast_buffers=False)  # the only buffer is constant position ids
    optimizer = torch.optim.AdamW(param_groups(model, args.weight_decay, args.lr, args.glyph_lr_scale), lr=args.lr,
                                  betas=(0.9, 0.98), eps=1e-6,
                                  fused=True)  # one kernel per step on CUDA and CPU (~9% of a tiny CPU step)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, linear_schedule(args.warmup, args.steps))
    data_cfg = DataConfig(max_len=args.max_len, validation_every=args.validation_every,
                          masking=MaskingConfig(whole_word_prob=args.whole_word_prob))
    checkpoints = os.path.join(args.out, "checkpoints")
    writer = CheckpointWriter(checkpoints, args.keep_last, args.keep_every) if rank == 0 else None
    step, saved_data = 0, None
    resume = None if args.no_resume else latest_checkpoint(checkpoints)
    if resume:
        try:
            saved = load_checkpoint(resume, model, optimizer, scheduler)
        except (KeyError, ValueError, RuntimeError) as exc:
            raise SystemExit(f"{resume} does not fit this model or optimiser ({exc}); pass --no-resume or another --out")
        step, saved_data = saved["step"], saved["data"]
    batches = Batches(assets, data_cfg, args, rank, world, device, saved_data)  # draws a loader seed: before the restore
    if resume and len(saved["rng"]) == world:
        set_rng_states(saved["rng"][rank])
    elif resume:  # another world size: reseeded, said so (the data positions are still exact)
        torch.manual_seed(args.seed + rank + 1_000_003 * step)
        LOG.warning("resuming %d ranks from a %d-rank checkpoint: dropout RNG reseeded", world, len(saved["rng"]))
    step_model = torch.compile(model) if args.compile else model
    if rank == 0:
        os.makedirs(args.out, exist_ok=True)
        with open(os.path.join(args.out, "training_args.json"), "w") as f:
            json.dump({**vars(args), "world_size": world, "accum": accum, "readers": world * len(batches.mine),
                       "global_batch": args.batch_size * accum * world, "data": asdict(data_cfg)}, f, indent=2,
                      default=str)
    progress = None
    if rank == 0 and not args.quiet and sys.stderr.isatty():
        from tqdm import tqdm

        progress = tqdm(total=args.steps, initial=step, desc="pretrain", unit="step")
    metrics: dict = {}
    log_path = os.path.join(args.out, "metrics.jsonl")
    board = ScalarWriter(os.path.join(args.out, "tensorboard")) if rank == 0 else None
    # Accumulated on the device and read only at log steps: no host sync inside a step.
    loss_sum = torch.zeros((), device=device)
    tokens = torch.zeros((), dtype=torch.long, device=device)
    grad_norm = torch.zeros((), device=device)
    started, eval_seconds, window = time.time(), 0.0, 0
    model.train()
    stop = min(args.steps, args.stop_after or args.steps)
    while step < stop:
        optimizer.zero_grad(set_to_none=True)
        for micro in range(accum):
            batch = {k: v.to(device, non_blocking=True) for k, v in next(batches).items() if k in MODEL_INPUTS}
            sync = world == 1 or micro == accum - 1
            context = model.no_sync() if not sync else contextlib.nullcontext()
            with context, autocast(device, args.cpu_bf16):
                loss, _ = mlm_loss(step_model, batch)
                (loss / accum).backward()
            loss_sum += loss.detach().float() / accum
            tokens += batch["attention_mask"].sum()
        grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), args.clip)
        optimizer.step()
        scheduler.step()
        step += 1
        window += 1
        evaluating = step % args.eval_every == 0 or step == args.steps
        if step % args.log_every == 0 or evaluating or step == stop:
            elapsed = time.time() - started
            metrics = {"step": step, "loss": round(loss_sum.item() / window, 5), "lr": scheduler.get_last_lr()[0],
                       "grad_norm": round(float(grad_norm), 4), "tokens_per_s": round(tokens.item() * world / elapsed)}
            loss_sum.zero_()
            window = 0
        if args.max_minutes and step % args.log_every == 0 and step < stop and over_budget(started, args, device,
                                                                                          world):
            stop, metrics["stopped_by_time_budget"] = step, True
        if evaluating:
            began = time.time()
            metrics.update(evaluate(model, assets, data_cfg, args, device, rank, world))
            eval_seconds += time.time() - began
            metrics["eval_time_share"] = round(eval_seconds / (time.time() - started), 4)
        if step % args.save_every == 0 or step == stop:
            positions, cursors = zip(*gather(batches.state(), world))
            rng = gather(rng_states(), world)
            if rank == 0:
                data = {"readers": world * len(batches.mine), "world": world, "cursors": list(cursors),
                        "positions": {g: p for per_rank in positions for g, p in per_rank.items()}}
                writer.save(step, training_state(model, optimizer, scheduler, step, data, rng))
        if rank == 0 and metrics.get("step") == step:
            if progress:
                progress.set_postfix(loss=f"{metrics['loss']:.3f}", lr=f"{metrics['lr']:.2e}",
                                     tok_s=metrics["tokens_per_s"])
            with open(log_path, "a") as f:
                f.write(json.dumps(metrics) + "\n")
            board.add(step, {k: v for k, v in metrics.items() if k != "step"})
            if not progress:
                print(json.dumps(metrics), flush=True)
        if progress:
            progress.update(1)
    if world > 1:
        digests = gather(weights_digest(model), world)
        metrics["weights_equal_across_ranks"] = all(torch.equal(d, digests[0]) for d in digests)
    if rank == 0:
        writer.wait()
        board.close()
        if step == args.steps or metrics.get("stopped_by_time_budget"):
            save_model(model, args.out, args.corpus)
        with open(os.path.join(args.out, "final_metrics.json"), "w") as f:
            json.dump(metrics, f, indent=2)
        if progress:
            progress.close()
    if world > 1:
        dist.barrier()
        dist.destroy_process_group()
    return metrics


if __name__ == "__main__":
    train()
