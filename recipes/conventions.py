"""Bring other gold corpora to People's Daily's word conventions before they are mixed into segmenter training.

UD GSD and SXU split words that People's Daily 1998 writes as one (数字+年/月/日, 一个) and join some it splits (江泽民
→ 江 泽民). Mixed raw, the model learns both conventions and the corpus gets both (`1998年` here, `2023 | 年` there).
Every rule here is read off People's Daily's own training words, never off a test set: a pair of adjacent words is
joined when People's Daily writes the pair as one word at least MIN_SEEN times and splits it in at most SPLIT_SHARE of
them; a word is split in two when People's Daily never writes it whole but writes its two parts side by side at least
MIN_SEEN times. Digits count as one symbol, so `1998 年` follows what People's Daily does with every number + 年.
"""
from __future__ import annotations

import collections
import re

from transforms.segment import HALF_WIDTH

MIN_SEEN = 5
SPLIT_SHARE = 0.05
DIGITS = re.compile(r"[0-9]+(?:\.[0-9]+)?")


def shape(word: str) -> str:
    """The word as its convention sees it: full-width folded, every number one symbol."""
    return DIGITS.sub("#", word.translate(HALF_WIDTH))


class Conventions:
    """What People's Daily joins and splits, counted from its gold sentences."""

    def __init__(self, reference: list[list[str]]):
        self.whole = collections.Counter(shape(w) for words in reference for w in words)
        self.pairs = collections.Counter((shape(a), shape(b)) for words in reference for a, b in zip(words, words[1:]))

    def joins(self, a: str, b: str) -> bool:
        """People's Daily writes a b as one word."""
        pair, whole = (shape(a), shape(b)), shape(a + b)
        seen, apart = self.whole[whole], self.pairs[pair]
        return seen >= MIN_SEEN and apart <= SPLIT_SHARE * (seen + apart)

    def split(self, word: str) -> list[str]:
        """The word as People's Daily writes it: whole, or in the two parts it always writes apart."""
        if len(word) < 2 or self.whole[shape(word)]:
            return [word]
        for cut in range(1, len(word)):
            if self.pairs[shape(word[:cut]), shape(word[cut:])] >= MIN_SEEN:
                return [word[:cut], word[cut:]]
        return [word]

    def apply(self, words: list[str]) -> list[str]:
        """One sentence in People's Daily's conventions (splits first, then joins, left to right)."""
        parts = [p for w in words for p in self.split(w)]
        out: list[str] = []
        for w in parts:
            if out and self.joins(out[-1], w):
                out[-1] += w
            else:
                out.append(w)
        return out
