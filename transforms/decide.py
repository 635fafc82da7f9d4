"""The one place where thresholds meet scores: keep, or the first failed rule's name."""
from __future__ import annotations

from typing import Any

from transforms.config import Thresholds

# (reason, score name, "min" or "max", threshold field). Order matters: the first failed rule names the drop.
RULES: tuple[tuple[str, str, str, str], ...] = (
    ("mojibake", "mojibake_per_1k", "max", "max_mojibake_per_1k"),
    ("not_chinese", "lang_score", "min", "min_lang_score"),
    ("japanese", "kana_ratio", "max", "max_kana_ratio"),
    ("too_much_latin", "latin_ratio", "max", "max_latin_ratio"),
    ("too_short", "n_han", "min", "min_han_chars"),
    ("low_han_ratio", "han_ratio", "min", "min_han_ratio"),
    ("bad_words", "badwords_per_1k", "max", "max_badwords_per_1k"),
    ("few_sentences", "terminal_punct_lines", "min", "min_terminal_punct_lines"),
    ("short_lines", "short_line_ratio", "max", "max_short_line_ratio"),
    ("duplicate_lines", "dup_line_chars", "max", "max_dup_line_chars"),
    ("repeated_2gram", "top_2gram", "max", "max_top_2gram"),
    ("repeated_5gram", "dup_5gram", "max", "max_dup_5gram"),
    ("symbols", "symbol_ratio", "max", "max_symbol_ratio"),
    ("digits", "digit_ratio", "max", "max_digit_ratio"),
)


def han_evidence_overrides_lid(scores: dict[str, Any], t: Thresholds) -> bool:
    """Dense Han text without kana or hangul is Chinese whatever lid.176 says."""
    return (scores["han_ratio"] >= t.han_ratio_overrides_lid
            and scores["kana_ratio"] + scores["hangul_ratio"] <= t.max_kana_hangul_for_override)


def decide(scores: dict[str, Any], thresholds: Thresholds) -> str | None:
    """None to keep the document, else the name of the first rule it fails."""
    for reason, score, kind, field in RULES:
        value = scores[score]
        limit = getattr(thresholds, field)
        if (kind == "min" and value < limit) or (kind == "max" and value > limit):
            if reason == "not_chinese" and han_evidence_overrides_lid(scores, thresholds):
                continue
            return reason
    return None


def long_enough(scores: dict[str, Any], thresholds: Thresholds) -> bool:
    """The length rule alone, for re-checking a document after cross-document line removal."""
    return scores["n_han"] >= thresholds.min_han_chars
