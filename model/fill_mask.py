"""Top predictions for each [MASK] in a sentence: `python -m model.fill_mask MODEL_DIR "北京是[MASK]国的首都。" [--top 5]`.

The text is tokenised with the model's vocabulary; pinyin is read in context by the model folder's tokenizer (its
corpus's segmenter and pinyin reader) with the [MASK] positions' pinyin left at zero, as in pretraining.
"""
from __future__ import annotations

import argparse
import os

import numpy as np
import torch

from model.checkpoint import load_model
from model.tokenizer import ChineseBertTokenizer
from transforms.vocab import MASK

MASK_STANDIN = "\u3007"  # 〇: a Han-like placeholder so segmentation and pinyin see a character in the slot


def encode(text: str, tokenizer: ChineseBertTokenizer) -> tuple[torch.Tensor, torch.Tensor, list[int]]:
    """(input ids [1, T], pinyin ids [1, T, 8], positions of the masks) with [CLS] … [SEP]."""
    special = tokenizer.special
    plain = text.replace(MASK, MASK_STANDIN)
    ids, pinyin, spans = tokenizer.encode_text(plain)
    masks = [i for i, (start, _) in enumerate(spans) if plain[start] == MASK_STANDIN]
    ids[masks] = special.mask
    pinyin[masks] = 0
    ids = np.concatenate([[special.cls], ids, [special.sep]])
    pinyin = np.concatenate([np.zeros((1, 8), np.int64), pinyin, np.zeros((1, 8), np.int64)])
    return torch.tensor(ids)[None], torch.tensor(pinyin)[None], [m + 1 for m in masks]


@torch.no_grad()
def fill_mask(model_dir: str, text: str, top: int = 5) -> list[list[tuple[str, float]]]:
    """For each [MASK] in order: the top tokens and their probabilities."""
    tokenizer = ChineseBertTokenizer.from_pretrained(model_dir)
    vocab = tokenizer.vocab
    model = load_model(model_dir).eval()
    ids, pinyin, masks = encode(text, tokenizer)
    if not masks:
        raise ValueError("the text has no [MASK]")
    probs = model(ids, pinyin, torch.ones_like(ids))[0, masks].softmax(-1)
    values, indices = probs.topk(min(top, probs.shape[-1]), dim=-1)
    return [[(vocab.tokens[i], float(p)) for p, i in zip(v.tolist(), ix.tolist())] for v, ix in zip(values, indices)]


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("model_dir")
    parser.add_argument("text")
    parser.add_argument("--top", type=int, default=5)
    args = parser.parse_args(argv)
    if MASK not in args.text:
        raise SystemExit(f"the text has no {MASK}: write one where a character should be predicted")
    if not os.path.isfile(os.path.join(args.model_dir, "config.json")):
        raise SystemExit(f"{args.model_dir}: no config.json (not a model folder written by make pretrain)")
    for n, predictions in enumerate(fill_mask(args.model_dir, args.text, args.top), 1):
        print(f"[MASK] {n}: " + "  ".join(f"{token} {p:.3f}" for token, p in predictions))


if __name__ == "__main__":
    main()
