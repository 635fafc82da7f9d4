"""What the spam and quality scorers cost, as a share of the corpus job's CPU time, on the benchmark WARC.

    python benchmarks/scorer_cost.py [--mb 200]

Runs the whole job on one core (CPU seconds of the process tree), then the per-input chain alone over the same file
with the new scorers (spam lexicon on title and body, fastText P(spam), character-LM perplexity) timed apart.
Prints the scorers' CPU seconds and their share of the job without them.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
from benchmarks.bench_warc import build  # noqa: E402
from benchmarks.corpus_throughput import ours  # noqa: E402
from transforms.chain import DocumentChain  # noqa: E402
from transforms.config import CorpusConfig  # noqa: E402
from transforms.segment import segment  # noqa: E402
from transforms.spam import spam_signals  # noqa: E402
from transforms.types import Record, Rejected  # noqa: E402
from transforms.warc import iter_warc  # noqa: E402


class TimedChain(DocumentChain):
    """The chain with the time spent in the new scorers accumulated."""

    spent = 0.0

    def scores(self, title, text, words):
        started = time.process_time()
        view = self.script.simplified_view
        spam_signals(self.lexicon, title, segment(title, self.segmenter), text, words)
        self.classifier.spam_probability(view(title), view(text))
        self.lm.perplexity(view(text))
        TimedChain.spent += time.process_time() - started
        return super().scores(title, text, words)


def scorer_seconds(warc: str) -> tuple[float, int]:
    """CPU seconds of one pass of the new scorers over every candidate of the WARC, and the candidate count."""
    config = CorpusConfig()
    base = DocumentChain.load(config)
    chain = TimedChain(**{f: getattr(base, f) for f in base.__dataclass_fields__})
    docs = 0
    with open(warc, "rb") as f:
        for item in iter_warc(f, warc, config.read):
            if isinstance(item, Record):
                try:
                    chain(item)
                    docs += 1
                except Rejected:
                    pass
    return TimedChain.spent, docs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mb", type=int, default=200)
    parser.add_argument("--warc", help="an existing benchmark WARC (default: build bench-data/bench.warc.gz)")
    args = parser.parse_args()
    warc = args.warc or os.path.join(ROOT, "bench-data", "bench.warc.gz")
    if not os.path.exists(warc):
        os.makedirs(os.path.dirname(warc), exist_ok=True)
        print(json.dumps(build(warc, args.mb)))
    with tempfile.TemporaryDirectory() as out:
        job = ours(warc, os.path.join(out, "corpus"))
    os.sched_setaffinity(0, {0})
    spent, docs = scorer_seconds(warc)
    without = job["cpu_s"] - spent
    print(json.dumps({"job_cpu_s": job["cpu_s"], "scorers_cpu_s": round(spent, 2), "candidates_scored": docs,
                      "scorers_share_of_job_without_them": round(spent / without, 4)}))


if __name__ == "__main__":
    main()
