"""Dedup at scale on generated documents: the global phase (decide, URL / exact / near-duplicate / line dedup,
counts, buckets) on N synthetic scored documents, in a fresh process per size.

    python benchmarks/dedup_scale.py 100000 300000 [--docs-per-file 10000] [--workers 2]

Documents: 300 Han characters from GB2312's level-1 set in 5 lines; 5% exact copies, 10% near copies (3% of the
characters changed), 2% revisions (each a near copy of the revision before: chains that take label propagation
several rounds), 2% second captures of a URL, and one boilerplate line shared by 20% of the documents (the
hot line a C4-style line dedup must not choke on). Prints wall time, peak RSS and the largest group per key.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import time
from collections import Counter

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

PASSING = {"mojibake_per_1k": 0, "lang_score": 1.0, "kana_ratio": 0, "hangul_ratio": 0, "latin_ratio": 0,
           "n_han": 300, "han_ratio": 0.95, "badwords_per_1k": 0, "terminal_punct_lines": 1.0, "short_line_ratio": 0,
           "dup_line_chars": 0, "top_2gram": 0.01, "dup_5gram": 0, "symbol_ratio": 0, "digit_ratio": 0, "n_chars": 320}


def generate(n: int, folder: str, per_file: int) -> list[str]:
    from pipeline.work import docs_bytes, write_bytes
    from transforms.dedup import document_key
    from transforms.types import Document

    rng = random.Random(n)
    chars = [bytes([0xB0 + i // 94, 0xA1 + i % 94]).decode("gb2312") for i in range(3755)]
    boiler = "本站所有文章均来自网络，转载请注明出处，如有侵权请联系删除。"
    texts: list[str] = []
    files, batch = [], []
    revision = ""

    def edited(text: str) -> str:
        chars_ = list(text)
        for _ in range(9):
            chars_[rng.randrange(len(chars_))] = rng.choice(chars)
        return "".join(chars_)

    for i in range(n):
        r = rng.random()
        if texts and r < 0.05:
            text = rng.choice(texts)
        elif texts and r < 0.15:
            text = edited(rng.choice(texts))
        elif revision and r < 0.17:
            text = revision = edited(revision)  # a chain of revisions: each near the one before
        else:
            lines = ["".join(rng.choices(chars, k=59)) + "。" for _ in range(5)]
            if rng.random() < 0.2:
                lines.append(boiler)
            text = "\n".join(lines)
            texts.append(text)
            if rng.random() < 0.01:
                revision = text
            if len(texts) > 5000:
                texts.pop(0)
        page = i if rng.random() > 0.02 else i - 1  # 2%: a second capture of the previous URL
        url = f"http://site{page % 997}.example/{page}.html"
        meta = {**PASSING, "url": url, "warc_file": f"gen-{i // per_file:05d}", "warc_offset": i,
                "fetch_time": f"2026-01-{1 + i % 28:02d}T00:00:00Z"}
        batch.append(Document(document_key(url), url, text, meta, [1] * len(text)))
        if len(batch) == per_file or i == n - 1:
            path = os.path.join(folder, f"gen-{len(files):05d}.docs.jsonl.gz")
            write_bytes(path, docs_bytes(sorted(batch, key=lambda d: d.key)))
            files.append(path)
            batch = []
    return files


def largest_keys(files: list[str]) -> dict:
    """The most elements one key gathers in a group: the captures of one URL, and the members of one part of an LSH
    bucket (copies of a text and holders of a line meet only in combiners, never in a group)."""
    from pipeline.dedup import band_part
    from pipeline.work import read_docs
    from transforms.config import DedupConfig
    from transforms.dedup import MinHasher

    hasher, bands, urls = MinHasher(DedupConfig()), Counter(), Counter()
    for path in files:
        for doc in read_docs(path):
            for band in hasher.band_keys(doc.text):
                bands[(band, band_part(doc.key))] += 1
            urls[doc.key] += 1
    return {"largest_band_part": max(bands.values()), "largest_url_group": max(urls.values())}


def run_one(n: int, per_file: int, workers: int) -> dict:
    import tempfile

    from apache_beam.options.pipeline_options import PipelineOptions

    from pipeline.graph import run_global
    from pipeline.work import read_json
    from transforms.config import CorpusConfig

    folder = tempfile.mkdtemp(prefix=f"dedup-{n}-")
    files = generate(n, folder, per_file)
    started = time.time()
    args = ["--runner=FnApiRunner"]
    if workers:  # SDK worker processes: their peak RSS is a worker's; the runner process does the shuffles
        args += [f"--direct_num_workers={workers}", "--direct_running_mode=multi_processing"]
    graph = run_global(PipelineOptions(args), files, CorpusConfig(), folder, max(1, min(256, len(files))))
    wall = time.time() - started
    funnel = Counter()
    for name in ("funnel_candidates.json", "funnel.json"):
        for _, outcome, reason, count in read_json(os.path.join(folder, name)):
            funnel[f"{outcome}.{reason}"] += count
    kept = sum(b["documents"] for b in read_json(os.path.join(folder, "buckets.json")))
    return {"documents": n, "wall_s": round(wall, 1), "docs_per_s": round(n / wall),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
            "peak_worker_rss_mb": (round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)
                                   if workers else None),
            "kept": kept, "dropped": dict(sorted(funnel.items())), "near_duplicate_graph": graph,
            **largest_keys(files)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("sizes", nargs="+", type=int)
    parser.add_argument("--docs-per-file", type=int, default=10000)
    parser.add_argument("--workers", type=int, default=0, help="SDK worker processes (default: in-process)")
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_one(args.sizes[0], args.docs_per_file, args.workers)), flush=True)
        return
    for n in args.sizes:  # a fresh process per size: peak RSS is that size's
        subprocess.run([sys.executable, __file__, str(n), "--one", "--docs-per-file", str(args.docs_per_file),
                        "--workers", str(args.workers)], check=True)


if __name__ == "__main__":
    main()
