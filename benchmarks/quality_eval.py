"""Spam and quality filtering on the labelled material of recipes/quality_data.py, through the whole per-input chain.

    python benchmarks/quality_eval.py [--split dev|test] [--limit N]

Every example is wrapped in an HTML page (title, paragraphs, a navigation bar), run through DocumentChain and
decide(); the real GNE news pages and the real CommonCrawl sample's Chinese pages go through the same path. Prints,
per category, how many pages the spam rules drop (spam_title, spam_classifier, bad_words, spam_sentences,
title_stuffing), how many any rule drops, and a threshold sweep of the classifier. Thresholds were tuned on dev;
test is read once, at the end.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from collections import Counter, defaultdict

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
from recipes import quality_data as q  # noqa: E402
from transforms.chain import DocumentChain  # noqa: E402
from transforms.config import CorpusConfig  # noqa: E402
from transforms.decide import decide  # noqa: E402
from transforms.types import Record, Rejected  # noqa: E402
from transforms.warc import Skipped, iter_warc  # noqa: E402

SPAM_RULES = ("spam_title", "spam_classifier", "bad_words", "spam_sentences", "title_stuffing")
CC_SAMPLE = os.path.join(q.DATA, "warc", "cc-main-2020-34-sample.warc.gz")


def record(key: str, html: bytes) -> Record:
    return Record(url=f"http://{key}.example/", warc_file="eval", warc_offset=0, record_id=key, fetch_time="",
                  http_status=200, content_type="text/html", http_charset="", payload=html)


def outcome(chain: DocumentChain, rec: Record, config: CorpusConfig) -> tuple[str, dict | None]:
    """('kept' | the drop label, the document's scores when it got that far)."""
    try:
        doc = chain(rec)
    except Rejected as r:
        return r.label, None
    reason = decide(doc.meta, config.thresholds)
    return ("kept" if reason is None else f"quality.{reason}"), doc.meta


def evaluate(split: str, limit: int | None, overrides: list[str] = ()) -> dict:
    config = CorpusConfig().with_overrides(list(overrides))
    chain = DocumentChain.load(config)
    rows = []  # (category, label, outcome, scores)
    examples = [ex for ex in q.examples() if ex.split == split]
    per_category: dict[str, int] = Counter()
    for ex in examples:
        if limit and per_category[ex.category] >= limit:
            continue
        per_category[ex.category] += 1
        html = q.as_html(ex).encode("utf-8")
        rows.append((ex.category, ex.label, *outcome(chain, record(ex.id, html), config)))
    for key, page_split, html in q.gne_pages():
        if page_split == split:
            rows.append(("news_gne_real", q.GOOD, *outcome(chain, record(key, html), config)))
    if split == "test" and os.path.exists(CC_SAMPLE):  # the real crawl's Chinese pages: all spam, never tuned on
        with open(CC_SAMPLE, "rb") as f:
            for item in iter_warc(f, CC_SAMPLE, config.read):
                if isinstance(item, Record):
                    label, scores = outcome(chain, item, config)
                    if label != "sniff.not_chinese":
                        rows.append(("cc_sample_chinese", q.SPAM, label, scores))
    return {"rows": rows, "config": config}


def summarise(rows, config: CorpusConfig) -> dict:
    table = defaultdict(Counter)
    for category, label, out, _ in rows:
        t = table[(category, label)]
        t["n"] += 1
        t["dropped_any"] += out != "kept"
        t["dropped_spam_rules"] += out.removeprefix("quality.") in SPAM_RULES
        t["dropped_by_" + out] += 1
    sweep = {}
    for cut in (0.3, 0.5, 0.7, 0.9):
        t = dataclasses.replace(config.thresholds, max_spam_score=cut)
        res = defaultdict(Counter)
        for category, label, out, scores in rows:
            if scores is None:
                continue
            reason = decide(scores, t)
            res[category]["n"] += 1
            res[category]["spam_rules"] += (reason or "") in SPAM_RULES
        sweep[cut] = {c: round(r["spam_rules"] / r["n"], 4) for c, r in sorted(res.items())}
    return {"categories": {f"{c} ({label})": dict(sorted(t.items())) for (c, label), t in sorted(table.items())},
            "sweep_max_spam_score": sweep}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--split", default="dev", choices=("dev", "test"))
    parser.add_argument("--limit", type=int, help="at most N examples per category")
    parser.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE", help="config override")
    args = parser.parse_args()
    if not q.available():
        raise SystemExit(f"labelled data not found under {q.DATA}")
    result = evaluate(args.split, args.limit, args.set)
    summary = summarise(result["rows"], result["config"])
    print(f"split={args.split}")
    print(f"{'category (label)':34} {'n':>6} {'spam rules':>11} {'any rule':>9}")
    for name, t in summary["categories"].items():
        print(f"{name:34} {t['n']:6d} {t['dropped_spam_rules'] / t['n']:11.4f} {t['dropped_any'] / t['n']:9.4f}")
    print("P(spam) threshold sweep, share dropped by the spam rules:")
    print(json.dumps(summary["sweep_max_spam_score"], indent=1, ensure_ascii=False))
    print(json.dumps(summary["categories"], ensure_ascii=False))


if __name__ == "__main__":
    main()
