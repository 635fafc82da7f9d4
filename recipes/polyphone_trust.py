"""The list of polyphonic characters the context model need not read: those whose reading out of context (pypinyin's)
the model itself keeps in nearly every lone occurrence in real prose. Running the model only for the others makes
the annotation several times cheaper for the same readings (BENCHMARKS.md, "Polyphones").

    python -m recipes.polyphone_trust [--out transforms/data/polyphone_default_ok.txt]

Reads People's Daily 1998 and the CLUECorpusSmall sample from ../shared/data/prose (unlabelled text: no reading
labels are used), segmented and read with the job's defaults.
"""
from __future__ import annotations

import argparse
import collections
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
from transforms.config import AnnotateConfig  # noqa: E402
from transforms.pinyin import TRUSTED_FILE, PinyinAnnotator, reading_across_words  # noqa: E402
from transforms.segment import load_segmenter, segment, words_of  # noqa: E402

PROSE = os.path.join(os.path.dirname(ROOT), "shared", "data", "prose")
MIN_OCCURRENCES = 20
MIN_AGREEMENT = 0.995


def agreement(lines: list[str]) -> tuple[collections.Counter, collections.Counter]:
    """Per character: lone occurrences the model would decide, and how many of them it reads as pypinyin does."""
    config = AnnotateConfig()
    segmenter = load_segmenter(config.segmenter, config.segmenter_model)
    annotator = PinyinAnnotator.from_config(config, trusted=frozenset())
    plain = PinyinAnnotator("pypinyin")
    seen, kept = collections.Counter(), collections.Counter()
    snippets, places, defaults, chars = [], [], [], []
    for text in lines:
        words = words_of(text, segment(text, segmenter))
        readings, _ = plain.annotate(words)
        for t in annotator.lone_polyphones(words):
            if reading_across_words(text, t):
                continue
            snippet, place = annotator.window(text, t)
            snippets.append(snippet)
            places.append([place])
            defaults.append(readings[t])
            chars.append(text[t])
    for ch, default, (pick,) in zip(chars, defaults, annotator.model.choose(snippets, places, annotator.min_confidence)):
        seen[ch] += 1
        kept[ch] += pick is None or pick == default
    return seen, kept


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=TRUSTED_FILE)
    parser.add_argument("--sentences", type=int, default=20000, help="People's Daily sentences read")
    args = parser.parse_args()
    with open(os.path.join(PROSE, "peopledaily1998_sentences.txt"), encoding="utf-8") as f:
        lines = [line.strip() for line in f if line.strip()][:args.sentences]
    with open(os.path.join(PROSE, "cluecorpussmall_sample.txt"), encoding="utf-8") as f:
        lines += [line.strip() for line in f if line.strip()]
    seen, kept = agreement(lines)
    trusted = sorted(ch for ch, n in seen.items() if n >= MIN_OCCURRENCES and kept[ch] / n >= MIN_AGREEMENT)
    with open(args.out, "w", encoding="utf-8") as f:
        f.write(f"# written by `python -m recipes.polyphone_trust` from {len(lines)} lines of real prose: a polyphonic "
                f"character read alone at least {MIN_OCCURRENCES} times, where the context model kept pypinyin's "
                f"reading in at least {MIN_AGREEMENT:.1%} of them. character<TAB>occurrences<TAB>agreement\n")
        for ch in trusted:
            f.write(f"{ch}\t{seen[ch]}\t{kept[ch] / seen[ch]:.4f}\n")
    total = sum(seen.values())
    print(f"{len(trusted)} characters trusted of {len(seen)} seen; they make "
          f"{sum(seen[c] for c in trusted) / max(1, total):.1%} of {total} lone occurrences → {args.out}")


if __name__ == "__main__":
    main()
