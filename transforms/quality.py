"""Chinese quality scores, counted in characters; stored with the document, judged later by decide."""
from __future__ import annotations

import re
from collections import Counter

from transforms.chars import HAN_RE, char_profile, ends_sentence

SHORT_LINE_CHARS = 10
WORD_CHARS_RE = re.compile(r"[^\W_]", re.UNICODE)


def line_scores(text: str) -> dict[str, float]:
    """Share of lines ending a sentence, of short lines, and of characters in lines repeated in the document."""
    lines = [line for line in text.split("\n") if line]
    if not lines:
        return {"n_lines": 0, "terminal_punct_lines": 0.0, "short_line_ratio": 0.0, "dup_line_chars": 0.0}
    counts = Counter(lines)
    total = sum(len(line) for line in lines)
    dup_chars = sum(len(line) * n for line, n in counts.items() if n > 1)
    return {
        "n_lines": len(lines),
        "terminal_punct_lines": round(sum(ends_sentence(line) for line in lines) / len(lines), 4),
        "short_line_ratio": round(sum(len(line) < SHORT_LINE_CHARS for line in lines) / len(lines), 4),
        "dup_line_chars": round(dup_chars / max(total, 1), 4),
    }


def ngram_scores(text: str) -> dict[str, float]:
    """Gopher-style repetition over characters: top Han 2-gram share, share of characters in repeated 5-grams."""
    han = "".join(HAN_RE.findall(text))
    top2 = 0.0
    if len(han) >= 2:
        grams = Counter(han[i:i + 2] for i in range(len(han) - 1))
        top2 = grams.most_common(1)[0][1] * 2 / len(han)
    chars = "".join(WORD_CHARS_RE.findall(text))
    dup5 = 0.0
    if len(chars) >= 10:
        seen: dict[str, int] = {}
        covered = bytearray(len(chars))
        for i in range(len(chars) - 4):
            gram = chars[i:i + 5]
            first = seen.setdefault(gram, i)
            if first != i:
                covered[i:i + 5] = b"\x01" * 5
                covered[first:first + 5] = b"\x01" * 5
        dup5 = sum(covered) / len(chars)
    return {"top_2gram": round(min(top2, 1.0), 4), "dup_5gram": round(dup5, 4)}


def quality_scores(text: str) -> dict[str, float]:
    """All character-based scores of a cleaned text (profile, lines, repetition)."""
    scores: dict[str, float] = {}
    scores.update(char_profile(text))
    scores.update(line_scores(text))
    scores.update(ngram_scores(text))
    return scores
