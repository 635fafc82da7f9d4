"""The one place where thresholds meet scores: keep, or the first failed rule's name; and the kept document's tier."""
from __future__ import annotations

from typing import Any

from transforms.config import Thresholds

# (reason, score name, "min" or "max", threshold field). Order matters: the first failed rule names the drop, so
# the spam rules come right after language, before the length and shape rules most spam pages also fail.
RULES: tuple[tuple[str, str, str, str], ...] = (
    ("mojibake", "mojibake_per_1k", "max", "max_mojibake_per_1k"),
    ("not_chinese", "lang_score", "min", "min_lang_score"),
    ("japanese", "kana_ratio", "max", "max_kana_ratio"),
    ("spam_title", "spam_title_hits", "max", "max_spam_title_hits"),
    ("spam_classifier", "quality_spam", "max", "max_spam_score"),
    ("bad_words", "badwords_per_1k", "max", "max_badwords_per_1k"),
    ("spam_sentences", "spam_sentences", "max", "max_spam_sentences"),
    ("title_stuffing", "title_stuffing", "max", "max_title_stuffing"),
    ("too_much_latin", "latin_ratio", "max", "max_latin_ratio"),
    ("too_short", "n_han", "min", "min_han_chars"),
    ("low_han_ratio", "han_ratio", "min", "min_han_ratio"),
    ("few_sentences", "terminal_punct_lines", "min", "min_terminal_punct_lines"),
    ("short_lines", "short_line_ratio", "max", "max_short_line_ratio"),
    ("duplicate_lines", "dup_line_chars", "max", "max_dup_line_chars"),
    ("repeated_2gram", "top_2gram", "max", "max_top_2gram"),
    ("repeated_5gram", "dup_5gram", "max", "max_dup_5gram"),
    ("symbols", "symbol_ratio", "max", "max_symbol_ratio"),
    ("digits", "digit_ratio", "max", "max_digit_ratio"),
    ("perplexity", "perplexity", "max", "max_perplexity"),
)
TIERS = ("head", "middle", "tail")


def han_evidence_overrides_lid(scores: dict[str, Any], t: Thresholds) -> bool:
    """Dense Han text without kana or hangul is Chinese whatever lid.176 says."""
    return (scores["han_ratio"] >= t.han_ratio_overrides_lid
            and scores["kana_ratio"] + scores["hangul_ratio"] <= t.max_kana_hangul_for_override)


def learned_score_overrules(reason: str, scores: dict[str, Any], t: Thresholds) -> bool:
    """A confidently clean page (classifier) keeps through a soft shape rule (lines, Latin share)."""
    return reason in t.soft_rules and scores.get("quality_spam", 1.0) <= t.overrule_max_spam_score


def failed_rule(scores: dict[str, Any], thresholds: Thresholds) -> tuple[str, Any, Any] | None:
    """(rule, the document's value, the threshold) of the first rule it fails, or None to keep it."""
    for reason, score, kind, field in RULES:
        value = scores.get(score)
        if value is None:  # a score this intermediate predates: the rule cannot judge it
            continue
        limit = getattr(thresholds, field)
        if (kind == "min" and value < limit) or (kind == "max" and value > limit):
            if reason == "not_chinese" and han_evidence_overrides_lid(scores, thresholds):
                continue
            if learned_score_overrules(reason, scores, thresholds):
                continue
            return reason, value, limit
    return None


def decide(scores: dict[str, Any], thresholds: Thresholds) -> str | None:
    """None to keep the document, else the name of the first rule it fails."""
    failed = failed_rule(scores, thresholds)
    return failed[0] if failed else None


def tier(scores: dict[str, Any], t: Thresholds) -> str:
    """cc_net-style bucket of a kept document by its perplexity under the clean-Chinese LM."""
    ppl = scores.get("perplexity", 0.0)
    return "head" if ppl <= t.tier_head_max_perplexity else "middle" if ppl <= t.tier_middle_max_perplexity else "tail"


def long_enough(scores: dict[str, Any], thresholds: Thresholds) -> bool:
    """The length rule alone, for re-checking a document after cross-document line removal."""
    return scores["n_han"] >= thresholds.min_han_chars
