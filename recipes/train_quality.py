"""`make quality-model`: train the committed spam classifier and character language model, deterministically.

    python -m recipes.train_quality [--out transforms/data]

fastText supervised, one thread, fixed seed, then quantised (.ftz); the character 3-gram LM on the train split of
the clean news and encyclopaedia text. Prints each file's sha256; the same data give the same bytes.
"""
from __future__ import annotations

import argparse
import os
import random
import tempfile

from recipes import quality_data as q
from transforms.chain import page_view
from transforms.charlm import train as train_lm
from transforms.config import CorpusConfig
from transforms.script import ScriptDetector, opencc_dictionary_dir
from transforms.checksums import file_sha256
from transforms.classifier import fasttext_line

OUT = os.path.join(q.ROOT, "transforms", "data")
CLASSIFIER = "quality_zh.ftz"
LANGUAGE_MODEL = "charlm_zh.npz"
FASTTEXT = dict(lr=0.5, epoch=10, wordNgrams=2, dim=32, minCount=2, bucket=200_000, loss="softmax", thread=1, seed=1)
QUANTISE = dict(qnorm=True, cutoff=50_000, retrain=False, dsub=2)
LM_CATEGORIES = ("news", "encyclopedia")
LM_ORDER, LM_MIN_COUNT = 3, 2


def training_lines(examples: list[q.Example]) -> list[str]:
    """fastText lines of the train split, each page seen as the job sees it (extracted, cleaned), in a fixed
    shuffled order."""
    config, view = CorpusConfig(), ScriptDetector(opencc_dictionary_dir()).simplified_view
    lines = []
    for ex in examples:
        if ex.split == "train":
            title, text = page_view(q.as_html(ex), config)
            lines.append(f"__label__{ex.label} {fasttext_line(view(title), view(text))}")
    random.Random(1).shuffle(lines)
    return lines


def train_classifier(lines: list[str], path: str) -> None:
    """Supervised fastText on the given lines, quantised into `path`."""
    import fasttext

    fasttext.FastText.eprint = lambda *args, **kwargs: None
    with tempfile.NamedTemporaryFile("w", suffix=".txt", encoding="utf-8", delete=False) as f:
        f.write("\n".join(lines) + "\n")
    try:
        model = fasttext.train_supervised(input=f.name, verbose=0, **FASTTEXT)
        model.quantize(input=f.name, verbose=0, thread=1, **QUANTISE)
        model.save_model(path)
    finally:
        os.unlink(f.name)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", default=OUT)
    args = parser.parse_args(argv)
    if not q.available():
        raise SystemExit(f"training data not found under {q.DATA}")
    examples = q.examples()
    os.makedirs(args.out, exist_ok=True)
    ftz = os.path.join(args.out, CLASSIFIER)
    train_classifier(training_lines(examples), ftz)
    lm = train_lm((ex.text for ex in examples if ex.split == "train" and ex.category in LM_CATEGORIES),
                  order=LM_ORDER, min_count=LM_MIN_COUNT)
    npz = os.path.join(args.out, LANGUAGE_MODEL)
    with open(npz, "wb") as f:
        f.write(lm.to_bytes())
    for path in (ftz, npz):
        print(f"{file_sha256(path)}  {os.path.relpath(path, q.ROOT)}  ({os.path.getsize(path)} bytes)")


if __name__ == "__main__":
    main()
