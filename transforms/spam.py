"""SEO-injection and spam-phrase signals: lexicon hits on word boundaries (title and body apart), sentences that
carry them, and keyword stuffing (a title phrase repeated through the body). Scores only; decide() judges them."""
from __future__ import annotations

import bisect
import re
from collections import Counter
from typing import Iterable

from transforms.chars import sentence_starts

TITLE_SPLIT_RE = re.compile(r"[\s_|\-–—,，、:：;；/·()（）\[\]【】《》<>]+")
MIN_STUFFING_PHRASE = 4  # shorter title pieces (a company or place name) legitimately recur in an article


class SpamLexicon:
    """Category counts of listed terms that sit on word boundaries of the segmentation, plus SEO regexes."""

    def __init__(self, entries: Iterable[tuple[str, str]]):
        self.category: dict[str, str] = {}
        patterns: list[tuple[str, str]] = []
        for category, term in entries:
            if term.startswith("re:"):
                patterns.append((category, term[3:]))
            else:
                self.category[term.lower()] = category
        terms = sorted(self.category, key=len, reverse=True)
        self.pattern = re.compile("|".join(re.escape(t) for t in terms), re.I)
        self.regexes = [(category, re.compile(p)) for category, p in patterns]

    @classmethod
    def from_tsv(cls, path: str) -> "SpamLexicon":
        """Load `category<TAB>term` lines (# comments allowed)."""
        with open(path, encoding="utf-8") as f:
            rows = [line.rstrip("\n").split("\t") for line in f if line.strip() and not line.startswith("#")]
        return cls((row[0], row[1]) for row in rows)

    def hits(self, text: str, word_lengths: list[int]) -> list[tuple[int, str]]:
        """(offset, category) of every hit: listed terms on word boundaries, regexes anywhere."""
        found = [(m.start(), category) for category, rx in self.regexes for m in rx.finditer(text)]
        matches = list(self.pattern.finditer(text))
        if matches:
            starts, ends, pos = set(), set(), 0
            for n in word_lengths:
                starts.add(pos)
                pos += n
                ends.add(pos)
            found += [(m.start(), self.category[m.group(0).lower()])
                      for m in matches if m.start() in starts and m.end() in ends]
        return sorted(found)

    def counts(self, text: str, word_lengths: list[int]) -> dict[str, int]:
        """Hits per category."""
        return dict(sorted(Counter(c for _, c in self.hits(text, word_lengths)).items()))


def title_stuffing(title: str, text: str) -> int:
    """How often the most repeated title phrase (≥ 4 characters) occurs in the body: SEO pages repeat their
    keyword title through a summary and the text; articles repeat a headline once, if at all."""
    pieces = {p for p in TITLE_SPLIT_RE.split(title) if len(p) >= MIN_STUFFING_PHRASE}
    return max((text.count(p) for p in pieces), default=0)


def spam_signals(lexicon: SpamLexicon, title: str, title_words: list[int], text: str,
                 words: list[int]) -> dict[str, object]:
    """Lexicon hits in the title and the body, their rate, the sentences that carry them, stuffing."""
    body_hits = lexicon.hits(text, words)
    title_counts = lexicon.counts(title, title_words)
    n_chars = max(len(text), 1)
    starts = sentence_starts(text) if body_hits else []
    spam_sentences = len({bisect.bisect_right(starts, offset) - 1 for offset, _ in body_hits})
    return {
        "spam_title": title_counts,
        "spam_title_hits": sum(title_counts.values()),
        "badwords": dict(sorted(Counter(c for _, c in body_hits).items())),
        "badwords_per_1k": round(1000 * len(body_hits) / n_chars, 3),
        "spam_sentences": spam_sentences,
        "title_stuffing": title_stuffing(title, text),
    }
