"""The learned spam/quality score: a small fastText classifier over characters and character bigrams of the title
and the text (segmenter-independent, so changing the segmenter never shifts it). Load once per worker."""
from __future__ import annotations

import re

MAX_CHARS = 3000  # the head of a page decides; more only costs time
TITLE_MARK = "¶"  # between title and body, so that bigrams across them are their own features
_TOKEN_RE = re.compile(r"[a-z]+|0+|[^\sa-z0]")
_DIGIT_RE = re.compile(r"\d+")


def fasttext_line(title: str, text: str) -> str:
    """The classifier's input: lower case, digit runs as 0, Latin words whole, every other character a token."""
    joined = f"{title} {TITLE_MARK} {text[:MAX_CHARS]}".lower()
    return " ".join(_TOKEN_RE.findall(_DIGIT_RE.sub("0", joined)))


class QualityClassifier:
    """P(spam) of a page from the committed fastText model (labels __label__spam / __label__good)."""

    def __init__(self, model_path: str):
        import fasttext

        fasttext.FastText.eprint = lambda *args, **kwargs: None
        self.model = fasttext.load_model(model_path)

    def spam_probability(self, title: str, text: str) -> float:
        """Probability of the spam label, rounded for stable output."""
        labels, probs = self.model.predict(fasttext_line(title, text), k=2)
        p = dict(zip(labels, probs)).get("__label__spam", 0.0)
        return round(float(min(max(p, 0.0), 1.0)), 4)
