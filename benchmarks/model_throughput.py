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


def loader_throughput(corpus: str, seq: int, batch: int, batches: int = 300) -> dict:
    """Tokens per CPU second of one logical reader: shards read, documents packed, masked, collated."""
    from model.data import CorpusAssets, DataConfig
    from model.stream import PretrainingStream

    assets = CorpusAssets.load(corpus)
    stream = iter(PretrainingStream(assets, DataConfig(max_len=seq), batch, seed=1, readers=[0], total_readers=1))
    started, tokens = time.process_time(), 0
    for _ in range(batches):
        tokens += int(next(stream)["attention_mask"].sum())
    elapsed = time.process_time() - started
    return {"max_len": seq, "batches": batches, "tokens": tokens, "tokens_per_cpu_s": round(tokens / elapsed)}


def loader_with_workers(corpus: str, seq: int, batch: int, workers: int, batches: int = 400) -> dict:
    """Wall-clock tokens/s of the training input path as model.train runs it: DataLoader worker processes, one
    logical reader each."""
    from torch.utils.data import DataLoader

    from model.data import CorpusAssets, DataConfig
    from model.stream import PretrainingStream

    assets = CorpusAssets.load(corpus)
    stream = PretrainingStream(assets, DataConfig(max_len=seq), batch, seed=1, readers=list(range(workers)),
                               total_readers=workers)
    loader = iter(DataLoader(stream, batch_size=None, num_workers=workers, prefetch_factor=4))
    next(loader)  # workers started
    started, tokens = time.perf_counter(), 0
    for _ in range(batches):
        tokens += int(next(loader)["attention_mask"].sum())
    return {"workers": workers, "tokens_per_s": round(tokens / (time.perf_counter() - started))}


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


def parameters(model) -> int:
    """Trainable parameters outside a pooler (HF's BertForMaskedLM has none; ours keeps one, untrained, for
    checkpoints)."""
    return sum(p.numel() for n, p in model.named_parameters() if "pooler" not in n)


def training_step(size: str, batch: int, seq: int, vocab: int) -> dict:
    """Like with like: the MLM head on every position on both sides (HF's way), ChineseBERT with and without its
    pinyin and glyph embeddings (without: HF BERT's parameter count), and the gain of the masked-positions head."""
    from transformers import BertConfig, BertForMaskedLM

    from model import ChineseBertConfig, ChineseBertForMaskedLM
    from model.data import DataConfig

    cfg = ChineseBertConfig.preset(size, vocab, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    torch.manual_seed(0)
    ids = torch.randint(5, vocab, (batch, seq))
    predictions = DataConfig(max_len=seq).max_predictions
    positions = torch.stack([torch.randperm(seq)[:predictions].sort().values for _ in range(batch)])
    full_labels = torch.full((batch, seq), -100).scatter(1, positions, ids.gather(1, positions))
    mask = torch.ones_like(ids)
    pinyin = torch.randint(0, 32, (batch, seq, 8))
    hf = BertForMaskedLM(BertConfig(vocab_size=vocab, hidden_size=cfg.hidden_size, num_hidden_layers=cfg.num_hidden_layers,
                                    num_attention_heads=cfg.num_attention_heads, intermediate_size=cfg.intermediate_size,
                                    hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0,
                                    attn_implementation="sdpa"))
    ours = ChineseBertForMaskedLM(cfg)
    plain = ChineseBertForMaskedLM(ChineseBertConfig(**{**cfg.__dict__, "use_pinyin": False, "use_glyph": False}))
    full = {"input_ids": ids, "pinyin_ids": pinyin, "attention_mask": mask, "labels": full_labels}
    gathered = {**full, "labels": ids.gather(1, positions), "masked_positions": positions}
    t_hf = step_time(hf, {"input_ids": ids, "attention_mask": mask, "labels": full_labels})
    t_ours, t_plain, t_gathered = step_time(ours, full), step_time(plain, full), step_time(ours, gathered)
    return {"size": size, "batch": batch, "seq": seq, "vocab": vocab, "threads": torch.get_num_threads(),
            "hf_bert_s": round(t_hf, 3), "chinesebert_s": round(t_ours, 3), "ratio": round(t_ours / t_hf, 3),
            "without_pinyin_glyph_s": round(t_plain, 3), "ratio_without_pinyin_glyph": round(t_plain / t_hf, 3),
            "chinesebert_masked_head_s": round(t_gathered, 3),
            "masked_head_speedup": round(t_ours / t_gathered, 3),
            "hf_bert_params": parameters(hf), "chinesebert_params": parameters(ours),
            "without_pinyin_glyph_params": parameters(plain)}


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
    os.sched_setaffinity(0, set(range(os.cpu_count())))
    workers = min(4, os.cpu_count())
    print(json.dumps({"loader_with_workers": loader_with_workers(corpus, 512, 16, workers)}), flush=True)
    os.sched_setaffinity(0, {0})
    vocab = len(open(os.path.join(corpus, "vocab.txt"), encoding="utf-8").read().split("\n")) - 1
    print(json.dumps({"training_step": training_step(args.size, args.batch, args.seq, max(vocab, 21128))}), flush=True)


if __name__ == "__main__":
    main()
