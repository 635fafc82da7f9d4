"""The ablation corpus: the CLUECorpusSmall sample (2,500 documents) and People's Daily 1998 (50,658 sentences, as
documents of 20 sentences) written as HTML pages into a WARC, then run through the corpus job.

    python -m recipes.ablation_corpus OUT_DIR      # OUT_DIR/ablation.warc.gz and OUT_DIR/corpus/
"""
from __future__ import annotations

import html
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
from benchmarks.bench_warc import response_record  # noqa: E402
from sample.make_sample import gzip_member  # noqa: E402

PROSE = os.path.join(os.path.dirname(ROOT), "shared", "data", "prose")
SENTENCES_PER_DOCUMENT = 20


def documents() -> list[tuple[str, list[str]]]:
    """(url, paragraphs) of every document, in a fixed order."""
    docs = []
    with open(os.path.join(PROSE, "cluecorpussmall_sample.txt"), encoding="utf-8") as f:
        for i, line in enumerate(f):
            paragraphs = [p for p in line.strip().replace("。", "。\n").split("\n") if p]
            if paragraphs:
                docs.append((f"http://clue.example/{i}.html", paragraphs))
    with open(os.path.join(PROSE, "peopledaily1998_sentences.txt"), encoding="utf-8") as f:
        sentences = [line.strip() for line in f if line.strip()]
    for i in range(0, len(sentences), SENTENCES_PER_DOCUMENT):
        docs.append((f"http://peopledaily.example/{i // SENTENCES_PER_DOCUMENT}.html",
                     sentences[i:i + SENTENCES_PER_DOCUMENT]))
    return docs


def build(out_dir: str) -> str:
    """Write the WARC and run the corpus job on it; returns the corpus folder (kept if already built)."""
    corpus = os.path.join(out_dir, "corpus")
    if os.path.exists(os.path.join(corpus, "manifest.json")):
        return corpus
    os.makedirs(out_dir, exist_ok=True)
    warc = os.path.join(out_dir, "ablation.warc.gz")
    with open(warc, "wb") as f:
        for url, paragraphs in documents():
            body = "".join(f"<p>{html.escape(p)}</p>" for p in paragraphs)
            page = f'<html lang="zh"><head><meta charset="utf-8"></head><body><article>{body}</article></body></html>'
            f.write(gzip_member(response_record(url, b"text/html; charset=utf-8", page.encode("utf-8"))))
    subprocess.run([sys.executable, "beam_runner.py", "--input", warc, "--output", corpus, "--quiet"], cwd=ROOT,
                   check=True)
    return corpus


if __name__ == "__main__":
    print(build(sys.argv[1]))
