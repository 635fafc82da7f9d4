"""Fine-tune a model folder on a classification, pair or tagging task, keep the best epoch on dev, report metrics.

    python -m model.finetune MODEL_DIR --task {classify,pair,tag} --train F --dev F [--test F] --out DIR

Writes OUT/best/ (a model folder with the head, its labels and the tokenizer), OUT/metrics.json, and
OUT/predictions_{dev,test}.jsonl; prints one summary line. bf16 autocast on CUDA and DDP under torchrun, as in
pretraining: `torchrun --nproc_per_node N -m model.finetune …` splits each epoch's shuffled examples over the ranks
(wrapped to a multiple of N, as DistributedSampler does); every rank scores dev, rank 0 writes.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time

import numpy as np
import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

from model.finetune_data import Example, FormatError, classification_metrics, read_examples, tagging_metrics
from model.heads import ChineseBertForSequenceClassification, ChineseBertForTokenClassification
from model.masking import IGNORE
from model.tokenizer import ChineseBertTokenizer
from model.train import autocast, linear_schedule, param_groups, setup_distributed

INPUTS = ("input_ids", "pinyin_ids", "token_type_ids", "attention_mask")


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model_dir")
    p.add_argument("--task", required=True, choices=("classify", "pair", "tag"))
    p.add_argument("--train", required=True)
    p.add_argument("--dev", required=True)
    p.add_argument("--test")
    p.add_argument("--out", required=True)
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--patience", type=int, default=2, help="epochs without a better dev score before stopping")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=3e-5)
    p.add_argument("--warmup", type=float, default=0.1, help="share of the steps")
    p.add_argument("--max-length", type=int, default=128)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--cpu-bf16", action="store_true", help="bf16 autocast on CPU too (CUDA always uses it)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p.parse_args(argv)


def tag_targets(tokenizer: ChineseBertTokenizer, example: Example, encoded: dict, tag_ids: dict) -> list[int]:
    """Per token: the tag id of the item the token starts, IGNORE for specials and for an item's later tokens."""
    starts, pos = {}, 0
    for item, tag in zip(example.items, example.tags):
        starts[pos] = tag_ids.get(tag, IGNORE)
        pos += len(item)
    return [starts.get(start, IGNORE) if end > start else IGNORE for start, end in encoded["offsets"]]


def encode(tokenizer, examples: list[Example], task: str, label_ids: dict, max_length: int) -> list[dict]:
    """Examples → per-example arrays (unpadded) with their targets."""
    out = []
    for ex in examples:
        e = tokenizer(ex.text, ex.pair, max_length=max_length)
        target = tag_targets(tokenizer, ex, e, label_ids) if task == "tag" else label_ids.get(ex.label, IGNORE)
        out.append({**{k: e[k] for k in INPUTS}, "offsets": e["offsets"], "target": target})
    return out


def batches(encoded: list[dict], batch_size: int, pad: int, shuffle_rng=None, rank: int = 0, world: int = 1):
    """Padded tensor batches (with the example indices); with world > 1 this rank's share of the (shuffled) order."""
    order = list(range(len(encoded)))
    if shuffle_rng is not None:
        shuffle_rng.shuffle(order)
    if world > 1:  # every rank the same number of examples, so every rank takes the same number of steps
        order = (order * world)[:-(-len(order) // world) * world][rank::world]
    for i in range(0, len(order), batch_size):
        chunk = [encoded[j] for j in order[i:i + batch_size]]
        width = max(len(e["input_ids"]) for e in chunk)
        batch = {}
        for key, fill in (("input_ids", pad), ("token_type_ids", 0), ("attention_mask", 0)):
            batch[key] = torch.tensor([e[key] + [fill] * (width - len(e[key])) for e in chunk])
        batch["pinyin_ids"] = torch.tensor([e["pinyin_ids"] + [[0] * 8] * (width - len(e["pinyin_ids"])) for e in chunk])
        targets = [e["target"] for e in chunk]
        batch["labels"] = torch.tensor([t + [IGNORE] * (width - len(t)) for t in targets] if isinstance(targets[0], list)
                                       else targets)
        yield order[i:i + batch_size], batch


@torch.no_grad()
def predict(model, encoded, args, device, pad) -> list:
    """Predicted label ids: one per example (classify, pair), or one per token (tag)."""
    model.eval()
    out = [None] * len(encoded)
    for index, batch in batches(encoded, args.batch_size, pad):
        batch = {k: v.to(device) for k, v in batch.items()}
        with autocast(device, args.cpu_bf16):
            logits = model(*(batch[k] for k in ("input_ids", "pinyin_ids", "attention_mask", "token_type_ids")))
        best = logits.argmax(-1).cpu().tolist()
        for i, p in zip(index, best):
            out[i] = p
    model.train()
    return out


def evaluate(examples, encoded, predicted, task: str, labels: list[str]) -> tuple[dict, list[dict]]:
    """Metrics and prediction rows for one split."""
    if task != "tag":
        gold = [labels.index(ex.label) if ex.label in labels else -1 for ex in examples]
        rows = [{"text": ex.text, **({"pair": ex.pair} if ex.pair is not None else {}), "label": ex.label,
                 "predicted": labels[p]} for ex, p in zip(examples, predicted)]
        return classification_metrics(gold, predicted, len(labels)), rows
    gold_tags, predicted_tags, rows = [], [], []
    for ex, enc, pred in zip(examples, encoded, predicted):
        by_start = {start: labels[p] for (start, end), p in zip(enc["offsets"], pred) if end > start}
        pos, tags = 0, []
        for item in ex.items:
            tags.append(by_start.get(pos, "O"))  # an item cut off by truncation is predicted O
            pos += len(item)
        gold_tags.append(ex.tags)
        predicted_tags.append(tags)
        rows.append({"items": ex.items, "tags": ex.tags, "predicted": tags})
    return tagging_metrics(gold_tags, predicted_tags), rows


def main(argv=None) -> dict:
    """Run the fine-tuning; returns the metrics (also in OUT/metrics.json)."""
    args = parse_args(argv)
    rank, world, device = setup_distributed()
    random.seed(args.seed)
    torch.manual_seed(args.seed)
    try:
        train_ex, dev_ex = read_examples(args.train, args.task), read_examples(args.dev, args.task)
        test_ex = read_examples(args.test, args.task) if args.test else None
    except (FormatError, OSError) as exc:
        raise SystemExit(str(exc)) from None
    labels = sorted({t for ex in train_ex for t in (ex.tags or [ex.label])})
    label_ids = {label: i for i, label in enumerate(labels)}
    head = ChineseBertForTokenClassification if args.task == "tag" else ChineseBertForSequenceClassification
    model, report = head.from_pretrained(args.model_dir, num_labels=len(labels))
    if rank == 0:
        print(report, file=sys.stderr)
    if args.task == "tag":
        model.bert.pooler.requires_grad_(False)  # unused by the tagging head; DDP wants every trained weight used
    model.to(device).train()
    step_model = model
    if world > 1:
        step_model = DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
        torch.manual_seed(args.seed + rank)  # the ranks' dropout masks differ (the weights are rank 0's)
    tokenizer = ChineseBertTokenizer.from_pretrained(args.model_dir)
    pad = tokenizer.special.pad
    data = {name: encode(tokenizer, ex, args.task, label_ids, args.max_length)
            for name, ex in (("train", train_ex), ("dev", dev_ex), ("test", test_ex)) if ex is not None}
    per_rank = -(-len(train_ex) // world)  # examples per rank and epoch, rounded up as batches() wraps them
    steps = args.epochs * -(-per_rank // args.batch_size)
    optimizer = torch.optim.AdamW(param_groups(model, 0.01, args.lr), lr=args.lr, fused=True)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, linear_schedule(int(args.warmup * steps), steps))
    score_key = "entity_f1" if args.task == "tag" else "accuracy"
    best, best_epoch, history, rng = -1.0, 0, [], random.Random(args.seed)
    progress = None
    if rank == 0 and not args.quiet and sys.stderr.isatty():
        from tqdm import tqdm

        progress = tqdm(total=steps, desc="finetune", unit="step")
    started = time.time()
    for epoch in range(1, args.epochs + 1):
        for _, batch in batches(data["train"], args.batch_size, pad, rng, rank, world):
            batch = {k: v.to(device) for k, v in batch.items()}
            with autocast(device, args.cpu_bf16):
                loss, _ = step_model(batch["input_ids"], batch["pinyin_ids"], batch["attention_mask"],
                                     batch["token_type_ids"], labels=batch["labels"])
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            if progress:
                progress.update(1)
        dev_metrics, _ = evaluate(dev_ex, data["dev"], predict(model, data["dev"], args, device, pad), args.task, labels)
        history.append({"epoch": epoch, **dev_metrics})
        if dev_metrics[score_key] > best:
            best, best_epoch = dev_metrics[score_key], epoch
            if rank == 0:
                model.save_pretrained(os.path.join(args.out, "best"), {"labels": labels, "task": args.task})
        elif epoch - best_epoch >= args.patience:
            break  # every rank scored the same dev with the same weights: they stop together
    if progress:
        progress.close()
    if world > 1:
        dist.barrier()
        dist.destroy_process_group()
        if rank > 0:
            return {}
    model, _ = head.from_pretrained(os.path.join(args.out, "best"))
    model.to(device)
    tokenizer.save_pretrained(os.path.join(args.out, "best"))
    metrics = {"task": args.task, "world_size": world, "best_epoch": best_epoch, "epochs_run": len(history),
               "history": history, "labels": labels, "seconds": round(time.time() - started, 1)}
    for name, examples in (("dev", dev_ex), ("test", test_ex)):
        if examples is None:
            continue
        split_metrics, rows = evaluate(examples, data[name], predict(model, data[name], args, device, pad), args.task,
                                       labels)
        metrics[name] = split_metrics
        with open(os.path.join(args.out, f"predictions_{name}.jsonl"), "w", encoding="utf-8") as f:
            f.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    with open(os.path.join(args.out, "metrics.json"), "w", encoding="utf-8") as f:
        json.dump(metrics, f, indent=2, ensure_ascii=False)
    shown = {k: metrics[k] for k in ("dev", "test") if k in metrics}
    print(f"{args.task}: best epoch {best_epoch} of {len(history)}; " +
          "; ".join(f"{k} {json.dumps(v)}" for k, v in shown.items()))
    return metrics


if __name__ == "__main__":
    main()
