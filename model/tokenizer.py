"""Raw text → ChineseBERT inputs, with the corpus job's own code: the vocabulary's tokenisation, the configured
segmenter and the pinyin reader in context (`transforms.annotate.tokens_pinyin`), so a text gets the ids and pinyin the shards
would hold for it.

    tok = ChineseBertTokenizer.from_pretrained("out/model")
    batch = tok(["今天天气很好。"], ["明天呢？"], max_length=64, padding="longest", return_tensors="pt")
"""
from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass

import numpy as np
import torch

from model.masking import SpecialIds
from transforms.annotate import tokens_pinyin
from transforms.config import AnnotateConfig
from transforms.pinyin import SLOTS, PinyinAnnotator
from transforms.segment import load_segmenter, segment
from transforms.vocab import Vocab

CONFIG_NAME = "tokenizer_config.json"
NO_SPAN = (0, 0)  # offsets of [CLS], [SEP] and padding


@dataclass
class TokenizerConfig:
    # The corpus job's annotate settings: the words and readings the model was pretrained on.
    segmenter: str = AnnotateConfig.segmenter
    segmenter_model: str = AnnotateConfig.segmenter_model
    pinyin: str = AnnotateConfig.pinyin
    polyphone_context: int = AnnotateConfig.polyphone_context
    polyphone_min_confidence: float = AnnotateConfig.polyphone_min_confidence
    max_length: int = 512


class ChineseBertTokenizer:
    """input_ids, pinyin_ids [T, 8], attention_mask, token_type_ids and character offsets, for texts or pairs."""

    def __init__(self, vocab: Vocab, config: TokenizerConfig | None = None):
        self.vocab, self.config = vocab, config or TokenizerConfig()
        self.special = SpecialIds.from_tokens(vocab.tokens)
        self._segmenter = load_segmenter(self.config.segmenter, self.config.segmenter_model)
        self._pinyin = PinyinAnnotator.from_config(self.config)

    @classmethod
    def from_pretrained(cls, folder: str) -> "ChineseBertTokenizer":
        """A model folder's vocab.txt and tokenizer_config.json (defaults when absent)."""
        with open(os.path.join(folder, "vocab.txt"), encoding="utf-8") as f:
            vocab = Vocab.from_text(f.read())
        path = os.path.join(folder, CONFIG_NAME)
        config = None
        if os.path.exists(path):
            with open(path, encoding="utf-8") as f:
                saved = json.load(f)
            saved.setdefault("pinyin", "pypinyin")  # written before the context model existed
            config = TokenizerConfig(**saved)
        return cls(vocab, config)

    def save_pretrained(self, folder: str) -> None:
        os.makedirs(folder, exist_ok=True)
        with open(os.path.join(folder, "vocab.txt"), "w", encoding="utf-8") as f:
            f.write(self.vocab.to_text())
        with open(os.path.join(folder, CONFIG_NAME), "w", encoding="utf-8") as f:
            json.dump(asdict(self.config), f, indent=2)

    def encode_text(self, text: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(ids int64[T], pinyin int64[T, 8], spans int64[T, 2]) of one text, no special tokens."""
        ids, spans = self.vocab.tokenize(text)
        pinyin = tokens_pinyin(text, segment(text, self._segmenter), spans, self._pinyin)
        return ids.astype(np.int64), pinyin.astype(np.int64), spans.astype(np.int64)

    def _one(self, text: str, pair: str | None, max_length: int) -> dict:
        a = self.encode_text(text)
        b = self.encode_text(pair) if pair is not None else None
        room = max_length - (3 if b is not None else 2)
        n_a, n_b = len(a[0]), len(b[0]) if b is not None else 0
        while n_a + n_b > room:  # longest first, as BERT's tokenizers truncate pairs
            if n_a >= n_b:
                n_a -= 1
            else:
                n_b -= 1
        cls, sep = self.special.cls, self.special.sep
        zeros = np.zeros((1, SLOTS), np.int64)
        parts = [([cls], zeros, [NO_SPAN], 0), (a[0][:n_a], a[1][:n_a], a[2][:n_a].tolist(), 0), ([sep], zeros, [NO_SPAN], 0)]
        if b is not None:
            parts += [(b[0][:n_b], b[1][:n_b], b[2][:n_b].tolist(), 1), ([sep], zeros, [NO_SPAN], 1)]
        return {"input_ids": np.concatenate([np.asarray(p[0], np.int64) for p in parts]),
                "pinyin_ids": np.concatenate([p[1] for p in parts]),
                "token_type_ids": np.concatenate([np.full(len(p[0]), p[3], np.int64) for p in parts]),
                "offsets": [tuple(int(x) for x in span) for p in parts for span in p[2]]}

    def __call__(self, text, text_pair=None, max_length: int | None = None, padding: bool | str = False,
                 return_tensors: str | None = None) -> dict:
        """Encode one text (or pair), or lists of them. Truncation to max_length (the config's by default) is
        always on; padding: False, "longest" (True) or "max_length"; return_tensors="pt" gives padded tensors."""
        single = isinstance(text, str)
        texts = [text] if single else list(text)
        pairs = ([text_pair] if single else list(text_pair)) if text_pair is not None else [None] * len(texts)
        if len(pairs) != len(texts):
            raise ValueError(f"{len(texts)} texts but {len(pairs)} pairs")
        max_length = max_length or self.config.max_length
        encoded = [self._one(t, p, max_length) for t, p in zip(texts, pairs)]
        for e in encoded:
            e["attention_mask"] = np.ones(len(e["input_ids"]), np.int64)
        if padding or return_tensors:
            width = max_length if padding == "max_length" else max(len(e["input_ids"]) for e in encoded)
            for e in encoded:
                extra = width - len(e["input_ids"])
                for key, fill in (("input_ids", self.special.pad), ("token_type_ids", 0), ("attention_mask", 0)):
                    e[key] = np.concatenate([e[key], np.full(extra, fill, np.int64)])
                e["pinyin_ids"] = np.concatenate([e["pinyin_ids"], np.zeros((extra, SLOTS), np.int64)])
                e["offsets"] = e["offsets"] + [NO_SPAN] * extra
        if return_tensors == "pt":
            out = {k: torch.from_numpy(np.stack([e[k] for e in encoded])) for k in
                   ("input_ids", "pinyin_ids", "token_type_ids", "attention_mask")}
            out["offsets"] = [e["offsets"] for e in encoded]
            return out
        if single:
            return {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in encoded[0].items()}
        return {k: [e[k].tolist() if isinstance(e[k], np.ndarray) else e[k] for e in encoded] for k in encoded[0]}

    def decode(self, ids) -> str:
        """The tokens of ids without special tokens and padding, joined (word pieces rejoined)."""
        skip = {self.special.pad, self.special.cls, self.special.sep}
        text = ""
        for i in ids:
            if int(i) in skip:
                continue
            token = self.vocab.tokens[int(i)]
            text += token[2:] if token.startswith("##") else token
        return text
