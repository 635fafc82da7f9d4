"""Dynamic masking of text and pinyin together, per sequence (numpy; runs in the data-loader workers).

Per sequence: whole-word masking with probability 0.9, else character masking; 15% of the maskable tokens;
of those 80% → [MASK] (pinyin all zeros, as the reference's maintainers specify; the glyph follows the [MASK] id),
10% → a random token (pinyin = that token's default reading), 10% unchanged. Labels are -100 elsewhere.
Special tokens and padding are never masked.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

IGNORE = -100


@dataclass(frozen=True)
class MaskingConfig:
    mask_prob: float = 0.15
    whole_word_prob: float = 0.9
    replace_mask: float = 0.8
    replace_random: float = 0.1  # the rest stays unchanged


@dataclass(frozen=True)
class SpecialIds:
    """Ids of the special tokens, read from the vocabulary (never hard-coded)."""

    pad: int
    unk: int
    cls: int
    sep: int
    mask: int
    first_regular: int  # random replacements are drawn from [first_regular, vocab size)

    @classmethod
    def from_tokens(cls, tokens: list[str]) -> "SpecialIds":
        index = {t: i for i, t in enumerate(tokens)}
        ids = [index[t] for t in ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")]
        return cls(*ids, first_regular=max(ids) + 1)


def choose_positions(words: np.ndarray, maskable: np.ndarray, n_mask: int, whole_word: bool,
                     rng: np.random.Generator) -> np.ndarray:
    """Boolean [L]: n_mask maskable positions, whole words at a time (never more than n_mask) or single tokens."""
    chosen = np.zeros(len(words), dtype=bool)
    candidates = np.nonzero(maskable)[0]
    if not whole_word:
        chosen[rng.choice(candidates, size=min(n_mask, len(candidates)), replace=False)] = True
        return chosen
    word_ids, inverse, counts = np.unique(words[candidates], return_inverse=True, return_counts=True)
    sizes = counts.tolist()
    take = np.zeros(len(word_ids), dtype=bool)
    total = 0
    for w in rng.permutation(len(word_ids)).tolist():  # words in random order, skipping those that would overshoot
        if total + sizes[w] > n_mask:
            continue
        take[w] = True
        total += sizes[w]
        if total == n_mask:
            break
    chosen[candidates[take[inverse]]] = True
    return chosen


def mask_sequence(ids: np.ndarray, pinyin: np.ndarray, words: np.ndarray, special: SpecialIds, vocab_size: int,
                  default_pinyin: np.ndarray, cfg: MaskingConfig, rng: np.random.Generator):
    """(input ids, input pinyin, labels, whole_word flag) for one sequence; inputs are copies."""
    maskable = (ids != special.pad) & (ids != special.cls) & (ids != special.sep)
    n_maskable = int(maskable.sum())
    ids_in, pinyin_in = ids.copy(), pinyin.copy()
    labels = np.full(len(ids), IGNORE, dtype=np.int64)
    if n_maskable == 0:
        return ids_in, pinyin_in, labels, False
    n_mask = max(1, int(round(cfg.mask_prob * n_maskable)))
    whole_word = bool(rng.random() < cfg.whole_word_prob)
    chosen = choose_positions(words, maskable, n_mask, whole_word, rng)
    positions = np.nonzero(chosen)[0]
    labels[positions] = ids[positions]
    action = rng.random(len(positions))
    to_mask = positions[action < cfg.replace_mask]
    to_random = positions[(action >= cfg.replace_mask) & (action < cfg.replace_mask + cfg.replace_random)]
    ids_in[to_mask] = special.mask
    pinyin_in[to_mask] = 0
    random_ids = rng.integers(special.first_regular, vocab_size, size=len(to_random))
    ids_in[to_random] = random_ids
    pinyin_in[to_random] = default_pinyin[random_ids]
    return ids_in, pinyin_in, labels, whole_word
