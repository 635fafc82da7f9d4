"""Where a model's heads look: mean attention weight at each offset j - i, per layer, as a multiple of uniform.

    python benchmarks/attention_offsets.py MODEL_DIR [MODEL_DIR ...] [--span 3]

1.0 everywhere is a bag of words (every position sees the same average); a value well above 1 at ±1 means the layer
reads its neighbours, which tagging needs. Our CPU-budget ablation models stay near 1.0 (BENCHMARKS.md, "Fine-tuning
ablation"). The sentences are written for this project.
"""
from __future__ import annotations

import argparse
import os
import sys

import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
from model.checkpoint import load_model  # noqa: E402
from model.tokenizer import ChineseBertTokenizer  # noqa: E402

TEXTS = ("经济发展需要长期稳定的政策环境，今天的天气非常好，我们去公园散步吧。",
         "他们被视为除了红军之外的第三势力，最后的守则是由游戏版主和管理员确定的。",
         "这家店的外卖送得很快，味道也不错，下次还会再点。")


@torch.no_grad()
def attention_by_offset(model, tokenizer, texts=TEXTS, span: int = 3) -> list[list[float]]:
    """[layer][offset + span]: mean weight a(i, i + offset) × sequence length, over heads, positions and texts."""
    totals = [[0.0] * (2 * span + 1) for _ in model.bert.encoder.layer]
    for text in texts:
        e = tokenizer(text)
        ids, pinyin = torch.as_tensor([e["input_ids"]]), torch.as_tensor([e["pinyin_ids"]])
        x = model.bert.embeddings(ids, pinyin)
        t = ids.shape[1]
        for row, layer in zip(totals, model.bert.encoder.layer):
            weights = layer.attention.self.probabilities(x)[0].mean(0)  # [T, T], averaged over heads
            for i, offset in enumerate(range(-span, span + 1)):
                row[i] += weights.diagonal(offset).mean().item() * t / len(texts)
            x = layer(x, None)
    return totals


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("models", nargs="+")
    parser.add_argument("--span", type=int, default=3)
    args = parser.parse_args()
    offsets = range(-args.span, args.span + 1)
    print("| model | layer | " + " | ".join(f"{o:+d}" for o in offsets) + " |")
    print("|---|---|" + "---|" * len(offsets))
    for folder in args.models:
        model = load_model(folder).eval()
        rows = attention_by_offset(model, ChineseBertTokenizer.from_pretrained(folder), span=args.span)
        for n, row in enumerate(rows):
            print(f"| {os.path.basename(os.path.normpath(folder))} | {n} | " + " | ".join(f"{v:.2f}" for v in row) + " |")


if __name__ == "__main__":
    main()
