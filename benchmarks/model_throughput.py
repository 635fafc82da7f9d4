"""Pretraining data and step speed on CPU, one core each (needs ../shared/data):

1. loader + masking throughput from real shards (the CLUECorpusSmall sample run through the corpus job);
2. one training step of ChineseBERT vs HF transformers' BertForMaskedLM with the same encoder, side by side.

    python benchmarks/model_throughput.py [--size base] [--batch 8] [--seq 128]
"""
from __future__ import annotations

import argparse
import html
import json
import os
import subprocess
import sys
import time

import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
from benchmarks.bench_warc import response_record  # noqa: E402
from sample.make_sample import gzip_member  # noqa: E402

DATA = os.path.join(os.path.dirname(ROOT), "shared", "data")
BENCH = os.path.join(ROOT, "bench-data", "clue")


def build_corpus() -> str:
    """Real documents (CLUECorpusSmall sample, one per line) as HTML pages → WARC → the corpus job → shards."""
    out = os.path.join(BENCH, "corpus")
    if os.path.exists(os.path.join(out, "manifest.json")):
        return out
    os.makedirs(BENCH, exist_ok=True)
    warc = os.path.join(BENCH, "clue.warc.gz")
    with open(os.path.join(DATA, "prose", "cluecorpussmall_sample.txt"), encoding="utf-8") as src, open(warc, "wb") as f:
        for i, line in enumerate(src):
            paragraphs = [p for p in line.strip().replace("。", "。\n").split("\n") if p]
            body = "".join(f"<p>{html.escape(p)}</p>" for p in paragraphs)
            page = f'<html lang="zh"><head><meta charset="utf-8"></head><body><article>{body}</article></body></html>'
            f.write(gzip_member(response_record(f"http://clue.example/{i}.html", b"text/html; charset=utf-8",
                                                page.encode("utf-8"))))
    subprocess.run([sys.executable, "beam_runner.py", "--input", warc, "--output", out, "--quiet"], cwd=ROOT, check=True)
    return out


def loader_throughput(corpus: str, seq: int, batch: int) -> dict:
    from model.data import CorpusAssets, DataConfig, PretrainingStream

    assets = CorpusAssets.load(corpus)
    stream = PretrainingStream(assets, DataConfig(max_len=seq), batch, seed=1)
    started, tokens, batches = time.process_time(), 0, 0
    for _ in range(3):  # epochs
        for b in stream:
            tokens += int(b["attention_mask"].sum())
            batches += 1
    elapsed = time.process_time() - started
    return {"max_len": seq, "batches": batches, "tokens": tokens, "tokens_per_cpu_s": round(tokens / elapsed)}


def step_time(model, inputs: dict, steps: int = 6) -> float:
    """Median seconds of forward + backward + AdamW step."""
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    times = []
    for _ in range(steps + 2):
        started = time.perf_counter()
        optimizer.zero_grad(set_to_none=True)
        out = model(**inputs)
        loss = out[0] if isinstance(out, tuple) else out.loss
        loss.backward()
        optimizer.step()
        times.append(time.perf_counter() - started)
    return sorted(times[2:])[len(times[2:]) // 2]


def training_step(size: str, batch: int, seq: int, vocab: int) -> dict:
    from transformers import BertConfig, BertForMaskedLM

    from model import ChineseBertConfig, ChineseBertForMaskedLM

    cfg = ChineseBertConfig.preset(size, vocab, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    torch.manual_seed(0)
    ids = torch.randint(5, vocab, (batch, seq))
    labels = torch.full((batch, seq), -100)
    pick = torch.rand(batch, seq) < 0.15
    labels[pick] = ids[pick]
    mask = torch.ones_like(ids)
    ours = ChineseBertForMaskedLM(cfg)
    hf = BertForMaskedLM(BertConfig(vocab_size=vocab, hidden_size=cfg.hidden_size, num_hidden_layers=cfg.num_hidden_layers,
                                    num_attention_heads=cfg.num_attention_heads, intermediate_size=cfg.intermediate_size,
                                    hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0,
                                    attn_implementation="sdpa"))
    t_ours = step_time(ours, {"input_ids": ids, "pinyin_ids": torch.randint(0, 32, (batch, seq, 8)),
                              "attention_mask": mask, "labels": labels})
    t_hf = step_time(hf, {"input_ids": ids, "attention_mask": mask, "labels": labels})
    return {"size": size, "batch": batch, "seq": seq, "vocab": vocab, "threads": torch.get_num_threads(),
            "chinesebert_s": round(t_ours, 3), "hf_bert_s": round(t_hf, 3), "ratio": round(t_ours / t_hf, 3),
            "chinesebert_params": sum(p.numel() for p in ours.parameters()),
            "hf_bert_params": sum(p.numel() for p in hf.parameters())}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", default="base")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--seq", type=int, default=128)
    args = parser.parse_args()
    corpus = build_corpus()
    os.sched_setaffinity(0, {0})
    torch.set_num_threads(1)
    print(json.dumps({"loader_masking": loader_throughput(corpus, 512, 16)}), flush=True)
    vocab = len(open(os.path.join(corpus, "vocab.txt"), encoding="utf-8").read().split("\n")) - 1
    print(json.dumps({"training_step": training_step(args.size, args.batch, args.seq, max(vocab, 21128))}), flush=True)


if __name__ == "__main__":
    main()
