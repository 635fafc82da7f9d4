"""Character classes for Chinese text, counted with compiled regexes (C speed, no per-character Python loop)."""
from __future__ import annotations

import re

# Every CJK ideograph block: URO, Ext A–H, compatibility ideographs and their supplement.
HAN_RANGES = (
    "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
    "\U00020000-\U0002a6df\U0002a700-\U0002ebef\U0002ebf0-\U0002ee5f"
    "\U0002f800-\U0002fa1f\U00030000-\U0003134f\U00031350-\U000323af"
)
HAN_RE = re.compile(f"[{HAN_RANGES}]")
KANA_RE = re.compile("[\u3040-\u30ff\u31f0-\u31ff\uff66-\uff9f]")
HANGUL_RE = re.compile("[\uac00-\ud7af\u1100-\u11ff\u3130-\u318f]")
LATIN_RE = re.compile("[A-Za-z\u00c0-\u024f\uff21-\uff3a\uff41-\uff5a]")
DIGIT_RE = re.compile("[0-9\uff10-\uff19]")
SPACE_RE = re.compile(r"\s")
# Punctuation, ASCII and CJK (full-width forms, CJK symbols and punctuation, general punctuation).
PUNCT_CHARS = "!-/:-@\\[-`{-~\u3000-\u303f\uff01-\uff0f\uff1a-\uff20\uff3b-\uff40\uff5b-\uff65\u2010-\u2027\u2030-\u205e\u00b7"
PUNCT_RE = re.compile(f"[{PUNCT_CHARS}]")
# What is none of the above and no letter: emoji, arrows, box drawing, dingbats, private use...
SYMBOL_RE = re.compile(
    f"[^{HAN_RANGES}\u3040-\u30ff\u31f0-\u31ff\uff66-\uff9f\uac00-\ud7af{PUNCT_CHARS}\\w\\s]"
)
PRIVATE_USE_RE = re.compile("[\ue000-\uf8ff\U000f0000-\U000ffffd\U00100000-\U0010fffd]")
CONTROL_RE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b\ufeff]")

# A sentence ends with one of these, optionally followed by closing quotes or brackets (。」 or ！” count).
SENTENCE_END = "。！？；…!?;．"
CLOSERS = "」』”’）)】》〉\"'"
SENTENCE_END_RE = re.compile(f"[{SENTENCE_END}][{CLOSERS}]*$")
SENTENCE_SPLIT_RE = re.compile(f"(?<=[{SENTENCE_END}])(?![{SENTENCE_END}{CLOSERS}])|(?<=[{SENTENCE_END}][{CLOSERS}])(?![{CLOSERS}])")


def count(pattern: re.Pattern, text: str) -> int:
    """Number of matches of a single-character class in text."""
    return len(pattern.findall(text))


def char_profile(text: str) -> dict[str, float]:
    """Character counts and ratios over non-space characters (han, kana, hangul, latin, digit, punct, symbol)."""
    n_nonspace = len(text) - count(SPACE_RE, text)
    counts = {
        "han": count(HAN_RE, text),
        "kana": count(KANA_RE, text),
        "hangul": count(HANGUL_RE, text),
        "latin": count(LATIN_RE, text),
        "digit": count(DIGIT_RE, text),
        "punct": count(PUNCT_RE, text),
        "symbol": count(SYMBOL_RE, text),
    }
    denom = max(n_nonspace, 1)
    profile: dict[str, float] = {"n_chars": n_nonspace, "n_han": counts["han"]}
    for name, n in counts.items():
        profile[f"{name}_ratio"] = round(n / denom, 4)
    return profile


# News closes paragraphs with a short attribution after the full stop: 。（完） 。（记者 李明） 。(新华社)
TRAILING_ATTRIBUTION_RE = re.compile(r"[（(][^（）()\n]{1,20}[）)]$")


def ends_sentence(line: str) -> bool:
    """True when the line ends in sentence punctuation, closing quotes or brackets (or an attribution) after it."""
    line = line.rstrip()
    return SENTENCE_END_RE.search(line) is not None or SENTENCE_END_RE.search(
        TRAILING_ATTRIBUTION_RE.sub("", line)) is not None


def sentence_starts(text: str) -> list[int]:
    """Character offsets where the sentences of a text begin (split_sentences' pieces, and line starts)."""
    starts, pos = [], 0
    for line in text.split("\n"):
        for piece in SENTENCE_SPLIT_RE.split(line):
            if piece:
                starts.append(pos)
                pos += len(piece)
        pos += 1  # the newline
    return starts


def split_sentences(text: str) -> list[str]:
    """Split text at sentence ends (and line breaks); pieces concatenate back to the text without newlines."""
    out: list[str] = []
    for line in text.split("\n"):
        out.extend(p for p in SENTENCE_SPLIT_RE.split(line) if p)
    return out
