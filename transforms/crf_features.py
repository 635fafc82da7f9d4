"""Feature templates of the CRF word segmenter (`transforms.crf_segment`), in Python; `crf_kernel.c` computes the
same keys in the same order.

A feature is one 64-bit integer, no string: template id << 42 | a << 21 | b, where a and b are code points, word
lengths or packed character types. Keys are exact (no hashing, no collisions). Per character, in this order:

    0..4  c[-2] .. c[+2]                       unigrams
    5..8  c[-2]c[-1], c[-1]c[0], c[0]c[+1], c[+1]c[+2]   bigrams
    9     c[-1]c[+1]                            the pair around the character
    10    types of c[-1] c[0] c[+1]; 11 types of c[-2] .. c[+2]
    12    c[0] = c[-1] (only when true); 13 c[0] = c[-2]
    14    length of the longest lexicon word starting at c[0]; 15 ... ending at c[0]; 16 ... with c[0] strictly inside
    17    14 with c[0]; 18 15 with c[0]

The lexicon is the training text's words of 2..MAX_WORD characters (seen at least `min_count` times; 1 for the bundled
model): it lets the model learn how far to trust a dictionary match, which helps most where character n-grams are
rare (names, long terms, numbers). crf_kernel.c reads templates 0..4 and 5..8 from rows grouped per code point and
per pair, but sums them in this order too.
Sentences are padded with BOS/EOS code points; full-width ASCII is folded before features are taken.
"""
from __future__ import annotations

MAX_WORD = 6
BOS, EOS = 2, 3
LABELS = "SBME"  # word of one character, begin, middle, end
HAN, NUMERAL, DATE, DIGIT, LATIN, OTHER, BOS_TYPE, EOS_TYPE = range(8)
NUMERALS = frozenset(map(ord, "零○〇一二三四五六七八九十百千万亿两"))
DATES = frozenset(map(ord, "年月日时分秒"))
HAN_RANGES = ((0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xF900, 0xFAFF), (0x20000, 0x2FA1F))
MASK64 = (1 << 64) - 1


def char_type(cp: int) -> int:
    """The character class of a (folded) code point, as crf_kernel.c's char_type."""
    if cp == BOS:
        return BOS_TYPE
    if cp == EOS:
        return EOS_TYPE
    if cp in NUMERALS:
        return NUMERAL
    if cp in DATES:
        return DATE
    if 0x30 <= cp <= 0x39:
        return DIGIT
    if 0x41 <= cp <= 0x5A or 0x61 <= cp <= 0x7A:
        return LATIN
    if any(lo <= cp <= hi for lo, hi in HAN_RANGES):
        return HAN
    return OTHER


def key(template: int, a: int = 0, b: int = 0) -> int:
    """One feature: template id and two values of up to 21 bits each."""
    return template << 42 | a << 21 | b


def _mix(h: int) -> int:
    h = (h ^ (h >> 30)) * 0xBF58476D1CE4E5B9 & MASK64
    h = (h ^ (h >> 27)) * 0x94D049BB133111EB & MASK64
    return h ^ (h >> 31)


def word_hash(cps) -> int:
    """64-bit hash of a word's code points (the lexicon is stored as these; crf_kernel.c's word_hash)."""
    h = 0x9E3779B97F4A7C15
    for cp in cps:
        h = _mix(h ^ cp)
    return h or 1


def lexicon_spans(cps: list[int], in_lexicon) -> tuple[list[int], list[int], list[int]]:
    """Per character: the length of the longest lexicon word starting there, ending there, and holding it inside
    (0 for none); `in_lexicon(hash)` answers for one word hash."""
    n = len(cps)
    starts, ends, inside = [0] * n, [0] * n, [0] * n
    for a in range(n):
        h = 0x9E3779B97F4A7C15
        h = _mix(h ^ cps[a])
        for length in range(2, min(MAX_WORD, n - a) + 1):
            h = _mix(h ^ cps[a + length - 1])
            if in_lexicon(h or 1):
                starts[a] = length
                z = a + length - 1
                ends[z] = max(ends[z], length)
                for i in range(a + 1, z):
                    inside[i] = max(inside[i], length)
    return starts, ends, inside


def sentence_features(cps: list[int], in_lexicon) -> list[list[int]]:
    """The feature keys of every character of one folded sentence without whitespace, in the kernel's order."""
    n = len(cps)
    p = [BOS, BOS, *cps, EOS, EOS]
    t = [char_type(c) for c in p]
    starts, ends, inside = lexicon_spans(cps, in_lexicon)
    out = []
    for i in range(n):
        j = i + 2
        c = p[j]
        f = [key(0, p[j - 2]), key(1, p[j - 1]), key(2, c), key(3, p[j + 1]), key(4, p[j + 2]),
             key(5, p[j - 2], p[j - 1]), key(6, p[j - 1], c), key(7, c, p[j + 1]), key(8, p[j + 1], p[j + 2]),
             key(9, p[j - 1], p[j + 1]), key(10, t[j - 1] << 6 | t[j] << 3 | t[j + 1]),
             key(11, t[j - 2] << 12 | t[j - 1] << 9 | t[j] << 6 | t[j + 1] << 3 | t[j + 2])]
        if c == p[j - 1]:
            f.append(key(12))
        if c == p[j - 2]:
            f.append(key(13))
        f += [key(14, starts[i]), key(15, ends[i]), key(16, inside[i]), key(17, starts[i], c), key(18, ends[i], c)]
        out.append(f)
    return out


def labels_of(words: list[str]) -> list[str]:
    """S/B/M/E per character of a segmented sentence."""
    out = []
    for w in words:
        out += ["S"] if len(w) == 1 else ["B"] + ["M"] * (len(w) - 2) + ["E"]
    return out
