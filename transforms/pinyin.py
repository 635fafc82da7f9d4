"""Contextual pinyin: pypinyin's phrase readings over our word segmentation (cached per word), g2pM's BiLSTM for
the polyphonic characters no phrase decides (transforms/polyphone.py), encoded in the reference's alphabet
(0 empty, 1–5 tone digits, 6–31 letters a–z) in 8 slots per character."""
from __future__ import annotations

import functools
import os
import re
from itertools import compress
from operator import itemgetter

import numpy as np

from transforms.chars import HAN_RE
from transforms.config import AnnotateConfig

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


@functools.lru_cache(maxsize=1 << 14)
def _encoded_bytes(reading: str | None) -> bytes:
    """`encode(reading)` as bytes; a few thousand readings exist, so each is encoded once."""
    return encode(reading).tobytes()


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


PINYIN_BACKENDS = ("g2pm", "pypinyin")
CROSS_WORD_PHRASE_SIZES = (3, 2)
TRUSTED_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "polyphone_default_ok.txt")


def load_trusted(path: str = TRUSTED_FILE) -> frozenset[str]:
    """Polyphonic characters whose most common reading the model itself picks (nearly) always when they stand
    alone: no need to run it for them (`recipes/polyphone_trust.py` writes the list)."""
    with open(path, encoding="utf-8") as f:
        return frozenset(line.split("\t")[0] for line in f if line.strip() and not line.startswith("#"))


def _phrase_decided(word: str) -> list[bool]:
    """Per character: does pypinyin read it as part of a multi-character dictionary phrase (not a lone guess)?"""
    from pypinyin.constants import PHRASES_DICT
    from pypinyin.seg.mmseg import seg

    if len(word) < 2:
        return [False] * len(word)
    out: list[bool] = []
    for piece in seg.cut(word):
        out.extend([len(piece) > 1 and piece in PHRASES_DICT] * len(piece))
    return out if len(out) == len(word) else [False] * len(word)


class PinyinAnnotator:
    """Readings of the characters of segmented text. pypinyin runs once per distinct word (bounded cache) and its
    phrase dictionary decides the characters of known phrases; with the `g2pm` backend, a polyphonic character it
    would only guess is read by g2pM's BiLSTM from the characters around it, in one batch per call."""

    def __init__(self, backend: str = AnnotateConfig.pinyin, context: int = AnnotateConfig.polyphone_context,
                 min_confidence: float = AnnotateConfig.polyphone_min_confidence, max_cache: int = 1_000_000,
                 trusted: frozenset[str] | None = None):
        if backend not in PINYIN_BACKENDS:
            raise ValueError(f"unknown pinyin backend {backend!r}; one of {PINYIN_BACKENDS}")
        self._cache: dict[str, tuple[list[str | None], bytes, tuple[int, ...]]] = {}
        self.max_cache = max_cache
        self.context = context
        self.min_confidence = min_confidence
        self.model = None
        self.trusted: frozenset[str] = frozenset()
        if backend == "g2pm":
            from transforms.polyphone import PolyphoneModel

            self.model = PolyphoneModel()
            self.trusted = load_trusted() if trusted is None else trusted

    @classmethod
    def from_config(cls, annotate_config, **options) -> "PinyinAnnotator":
        """The annotator an AnnotateConfig (or TokenizerConfig) describes."""
        return cls(annotate_config.pinyin, annotate_config.polyphone_context, annotate_config.polyphone_min_confidence,
                   **options)

    def word(self, word: str) -> tuple[list[str | None], bytes, tuple[int, ...]]:
        """(reading per character, its uint8[len(word), 8] encoding as bytes, offsets the context model must decide)
        for one word out of context; non-Han characters read None."""
        hit = self._cache.get(word)
        if hit is not None:
            return hit
        undecided: tuple[int, ...] = ()
        if HAN_RE.search(word) is None:
            readings: list[str | None] = [None] * len(word)
        else:
            readings = [r if HAN_RE.fullmatch(c) else None for c, r in zip(word, _pypinyin_readings(word))]
            if self.model is not None:
                undecided = tuple(i for i, (c, by_phrase) in enumerate(zip(word, _phrase_decided(word)))
                                  if not by_phrase and c not in self.trusted and self.model.is_polyphonic(c))
        entry = (readings, b"".join([_encoded_bytes(r) for r in readings]), undecided)
        if len(self._cache) < self.max_cache:
            self._cache[word] = entry
        return entry

    def annotate(self, words: list[str], with_readings: bool = True) -> tuple[list[str | None] | None, np.ndarray]:
        """(reading per character or None without `with_readings`, uint8[n_chars, 8]) of the concatenated words,
        polyphones read in context."""
        entries = list(map(self._cache.get, words))  # the cache read in C: one Python call per word adds up
        if not all(entries):  # a miss (entries are non-empty tuples): faster than `None in`, which calls __eq__
            entries = [e or self.word(w) for e, w in zip(entries, words)]
        # bytes joined, then one array: ~10× faster than concatenating hundreds of tiny arrays
        encoded = np.frombuffer(b"".join(map(itemgetter(1), entries)), dtype=np.uint8).reshape(-1, SLOTS).copy()
        readings = [r for entry in entries for r in entry[0]] if with_readings else None
        if self.model is None:
            return readings, encoded
        targets = self.lone_polyphones(words, entries)
        if not targets:
            return readings, encoded
        text = "".join(words)
        decided, snippets, places, asked = {}, [], [], []
        for t in targets:
            reading = reading_across_words(text, t)
            if reading:
                decided[t] = reading
                continue
            snippet, place = self.window(text, t)
            snippets.append(snippet)
            places.append([place])
            asked.append(t)
        for t, (reading,) in zip(asked, self.model.choose(snippets, places, self.min_confidence) if asked else []):
            if reading is not None:  # else pypinyin's reading stays
                decided[t] = reading
        if decided:
            encoded[list(decided)] = np.frombuffer(b"".join(map(_encoded_bytes, decided.values())),
                                                   dtype=np.uint8).reshape(-1, SLOTS)
            if readings is not None:
                for t, reading in decided.items():
                    readings[t] = reading
        return readings, encoded

    def lone_polyphones(self, words: list[str], entries: list | None = None) -> list[int]:
        """Offsets in the concatenated words of the characters no phrase inside their word decides."""
        entries = entries if entries is not None else [self.word(w) for w in words]
        out: list[int] = []
        start = done = 0
        for k in compress(range(len(entries)), map(itemgetter(2), entries)):  # a few words per document
            start += sum(map(len, words[done:k]))  # in C: cheaper than every word's offset
            done = k
            out.extend(start + i for i in entries[k][2])
        return out

    def window(self, text: str, t: int) -> tuple[str, int]:
        """The characters the model reads for text[t] (its context stops at line breaks) and t's place in them."""
        start = max(text.rfind("\n", 0, t) + 1, t - self.context)
        end = text.find("\n", t)
        end = min(len(text) if end < 0 else end, t + self.context + 1)
        return text[start:end], t - start

    def readings(self, words: list[str]) -> list[str | None]:
        """One reading (TONE3, neutral 5, ü as v) or None per character of the concatenated words."""
        return self.annotate(words)[0]

    def encoded(self, words: list[str]) -> np.ndarray:
        """uint8[n_chars, 8] for the concatenated words."""
        return self.annotate(words, with_readings=False)[1]


def reading_across_words(text: str, t: int) -> str | None:
    """text[t]'s reading in a dictionary phrase that the segmentation split (还|钱 → 还钱), longest first; else None."""
    phrases = _phrase_dict()
    for a, b in _SPANS_AROUND:
        start, end = t + a, t + b
        if start >= 0 and end <= len(text) and text[start:end] in phrases:
            reading = _phrase_readings(text[start:end])[-a]
            if READING_RE.fullmatch(reading):
                return reading
    return None


# (start, end) of each span of CROSS_WORD_PHRASE_SIZES characters that holds a character, relative to it: longest first
_SPANS_AROUND = [(a, a + size) for size in CROSS_WORD_PHRASE_SIZES for a in range(1 - size, 1)]


@functools.lru_cache(maxsize=None)
def _phrase_dict() -> dict:
    from pypinyin.constants import PHRASES_DICT

    return PHRASES_DICT


@functools.lru_cache(maxsize=1 << 16)
def _phrase_readings(phrase: str) -> tuple[str, ...]:
    """pypinyin's reading of each character of a dictionary phrase (a phrase recurs: cached, bounded)."""
    from pypinyin import Style, pinyin

    return tuple(item[0] for item in pinyin(phrase, style=Style.TONE3, neutral_tone_with_five=True))


def describe_pinyin(annotate_config) -> dict:
    """What reads the corpus's pinyin, for the manifest: backends, versions, settings, the sha256 of the forward
    pass's source and of the trusted list."""
    import importlib.metadata

    from transforms.checksums import file_sha256
    from transforms.native import HERE

    out = {"backend": annotate_config.pinyin, "pypinyin": importlib.metadata.version("pypinyin")}
    if annotate_config.pinyin == "g2pm":
        out.update({"g2pM": importlib.metadata.version("g2pM"), "context": annotate_config.polyphone_context,
                    "min_confidence": annotate_config.polyphone_min_confidence,
                    "forward_pass": "polyphone_kernel.c where a C compiler is at hand, else numpy (the same bits)",
                    "forward_pass_sha256": file_sha256(os.path.join(HERE, "polyphone_kernel.c")),
                    "trusted_list": os.path.basename(TRUSTED_FILE), "trusted_list_sha256": file_sha256(TRUSTED_FILE)})
    return out


def default_reading(token: str) -> np.ndarray:
    """The most common reading of a single Han character (uint8[8]); zeros for anything else."""
    if len(token) != 1 or not HAN_RE.fullmatch(token):
        return NO_PINYIN.copy()
    return encode(_pypinyin_readings(token)[0])
