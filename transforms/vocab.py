"""BERT-format vocabulary from character counts, and tokenisation that maps every token to a span of the text.

Every Han character is one token. With our own vocabulary every other non-space character is one token too
(Latin lower-cased, as in uncased Chinese BERT vocabularies); with a given BERT vocabulary (e.g. the released
ChineseBERT's), runs of ASCII letters and digits are split into word pieces (`##` continuations) as BERT does.
"""
from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
PAD, UNK, CLS, SEP, MASK = SPECIAL_TOKENS
ASCII_RUN_RE = re.compile(r"[A-Za-z0-9]{2,}")
MAX_WORDPIECE_CHARS = 100


SPACE_CHARS = " \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f\x85\u00a0\u1680\u3000\u2028\u2029\u200b\u202f\u205f" + "".join(
    chr(c) for c in range(0x2000, 0x200b))
_IS_SPACE = np.zeros(0x110000, dtype=bool)  # a table look-up per character: ~20× np.isin on a 30-entry set
_IS_SPACE[[ord(c) for c in SPACE_CHARS]] = True
_DROP_SPACES = {ord(c): None for c in SPACE_CHARS}


def char_counts(text: str) -> Counter:
    """Counts of the characters that become tokens (no whitespace), Latin lower-cased."""
    return Counter(text.translate(_DROP_SPACES).lower())


@dataclass
class Vocab:
    tokens: list[str]
    index: dict[str, int] = field(init=False)

    def __post_init__(self):
        self.index = {t: i for i, t in enumerate(self.tokens)}
        missing = [t for t in SPECIAL_TOKENS if t not in self.index]
        if missing:
            raise ValueError(f"vocabulary lacks special tokens {missing}")
        if self.index[PAD] != 0:
            raise ValueError("[PAD] must be id 0")
        self.has_wordpieces = any(t.startswith("##") for t in self.tokens)
        # Single characters → id, as a lookup over code points (vectorised tokenisation).
        self._table = np.full(0x110000, self.index[UNK], dtype=np.int32)
        for t, i in self.index.items():
            if len(t) == 1:
                self._table[ord(t)] = i
                if t.isalpha() and t.lower() == t and t.upper() != t and len(t.upper()) == 1:
                    self._table[ord(t.upper())] = i

    def __len__(self) -> int:
        return len(self.tokens)

    def id(self, token: str) -> int:
        return self.index[token]

    @classmethod
    def from_counts(cls, counts: Counter, max_size: int, min_count: int = 1) -> "Vocab":
        """Special tokens, then characters by falling count (ties by code point), up to max_size entries."""
        ranked = sorted((c for c, n in counts.items() if n >= min_count and c not in SPECIAL_TOKENS),
                        key=lambda c: (-counts[c], c))
        return cls(list(SPECIAL_TOKENS) + ranked[:max(0, max_size - len(SPECIAL_TOKENS))])

    @classmethod
    def from_text(cls, text: str) -> "Vocab":
        """Parse a vocab.txt (one token per line; order gives ids)."""
        return cls([line.rstrip("\r") for line in text.split("\n") if line.rstrip("\r")])

    def to_text(self) -> str:
        return "\n".join(self.tokens) + "\n"

    def coverage(self, counts: Counter) -> float:
        """Share of character occurrences that map to a token other than [UNK]."""
        total = sum(counts.values())
        covered = sum(n for c, n in counts.items() if self._table[ord(c)] != self.index[UNK])
        return covered / total if total else 1.0

    def _wordpieces(self, word: str, start: int) -> list[tuple[int, int, int]]:
        """Greedy longest-match word pieces of an ASCII run: (id, start, end) each; [UNK] for the run if stuck."""
        if len(word) > MAX_WORDPIECE_CHARS:
            return [(self.index[UNK], start, start + len(word))]
        pieces, pos, lower = [], 0, word.lower()
        while pos < len(lower):
            for end in range(len(lower), pos, -1):
                piece = lower[pos:end] if pos == 0 else "##" + lower[pos:end]
                if piece in self.index:
                    pieces.append((self.index[piece], start + pos, start + end))
                    pos = end
                    break
            else:
                return [(self.index[UNK], start, start + len(word))]
        return pieces

    def tokenize(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """(ids int32[T], spans int32[T, 2]): every non-space character or word piece, with its [start, end)."""
        codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
        keep = ~_IS_SPACE[codes]
        starts = np.nonzero(keep)[0].astype(np.int32)
        ids = self._table[codes[starts]]
        spans = np.stack([starts, starts + 1], axis=1) if len(starts) else np.zeros((0, 2), np.int32)
        if not self.has_wordpieces:
            return ids.astype(np.int32), spans.astype(np.int32)
        out_ids, out_spans, cursor = [], [], 0
        position = {int(s): i for i, s in enumerate(starts)}
        for m in ASCII_RUN_RE.finditer(text):
            first, last = position[m.start()], position[m.end() - 1]
            out_ids.append(ids[cursor:first])
            out_spans.append(spans[cursor:first])
            pieces = self._wordpieces(m.group(0), m.start())
            out_ids.append(np.array([p[0] for p in pieces], np.int32))
            out_spans.append(np.array([[p[1], p[2]] for p in pieces], np.int32))
            cursor = last + 1
        out_ids.append(ids[cursor:])
        out_spans.append(spans[cursor:])
        return np.concatenate(out_ids).astype(np.int32), np.concatenate(out_spans).astype(np.int32)

