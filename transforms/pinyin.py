"""Contextual pinyin: pypinyin's phrase readings over our word segmentation, cached per word, encoded in the
reference's alphabet (0 empty, 1–5 tone digits, 6–31 letters a–z) in 8 slots per character."""
from __future__ import annotations

import re

import numpy as np

from transforms.chars import HAN_RE

SLOTS = 8
ALPHABET = ["", "1", "2", "3", "4", "5"] + [chr(c) for c in range(ord("a"), ord("z") + 1)]
SYMBOL_ID = {s: i for i, s in enumerate(ALPHABET) if s}
NO_PINYIN = np.zeros(SLOTS, dtype=np.uint8)
READING_RE = re.compile(r"[a-z]{1,7}[1-5]")


def encode(reading: str | None) -> np.ndarray:
    """TONE3 reading ('lv3', 'ma5') → uint8[8]; None or unknown symbols → all zeros."""
    out = np.zeros(SLOTS, dtype=np.uint8)
    if not reading or len(reading) > SLOTS or any(c not in SYMBOL_ID for c in reading):
        return out
    out[:len(reading)] = [SYMBOL_ID[c] for c in reading]
    return out


def decode(ids: np.ndarray) -> str | None:
    """uint8[8] → the reading it encodes, or None for all zeros."""
    text = "".join(ALPHABET[i] for i in ids if i)
    return text or None


def _pypinyin_readings(word: str) -> list[str | None]:
    """pypinyin's reading of each character of a word, chosen with the word as context."""
    from pypinyin import Style, pinyin

    # Characters pypinyin cannot read (rare ideographs, symbols) come back as a placeholder, which the
    # reading pattern then rejects: a None from the callback would crash pypinyin's tone conversion.
    items = pinyin(word, style=Style.TONE3, neutral_tone_with_five=True, v_to_u=False, heteronym=False,
                   errors=lambda chars: ["-"] * len(chars))
    if len(items) != len(word):  # never seen; keep the alignment whatever pypinyin does
        return [_pypinyin_readings(c)[0] if len(word) > 1 else None for c in word]
    return [item[0] if READING_RE.fullmatch(item[0]) else None for item in items]


class PinyinAnnotator:
    """Readings of the characters of segmented text; pypinyin runs once per distinct word (bounded cache)."""

    def __init__(self, max_cache: int = 1_000_000):
        self._cache: dict[str, tuple[list[str | None], np.ndarray]] = {}
        self.max_cache = max_cache

    def word(self, word: str) -> tuple[list[str | None], np.ndarray]:
        """(reading per character, uint8[len(word), 8]) for one word; non-Han characters read None."""
        hit = self._cache.get(word)
        if hit is not None:
            return hit
        if HAN_RE.search(word) is None:
            readings: list[str | None] = [None] * len(word)
        else:
            readings = [r if HAN_RE.fullmatch(c) else None for c, r in zip(word, _pypinyin_readings(word))]
        encoded = np.stack([encode(r) for r in readings]) if readings else np.zeros((0, SLOTS), np.uint8)
        if len(self._cache) < self.max_cache:
            self._cache[word] = (readings, encoded)
        return readings, encoded

    def readings(self, words: list[str]) -> list[str | None]:
        """One reading (TONE3, neutral 5, ü as v) or None per character of the concatenated words."""
        out: list[str | None] = []
        for w in words:
            out.extend(self.word(w)[0])
        return out

    def encoded(self, words: list[str]) -> np.ndarray:
        """uint8[n_chars, 8] for the concatenated words."""
        if not words:
            return np.zeros((0, SLOTS), np.uint8)
        return np.concatenate([self.word(w)[1] for w in words])


def default_reading(token: str) -> np.ndarray:
    """The most common reading of a single Han character (uint8[8]); zeros for anything else."""
    if len(token) != 1 or not HAN_RE.fullmatch(token):
        return NO_PINYIN.copy()
    return encode(_pypinyin_readings(token)[0])
