"""Corpus job vs the equivalent datatrove pipeline, side by side in one run, each pinned to one core.

    make bench                      # builds bench-data/bench.warc.gz (200 MB uncompressed) and the baseline venv
    python benchmarks/corpus_throughput.py [--mb 200] [--skip-baseline] [--warc PATH]

Prints one JSON line per system: wall and CPU seconds, records/s and MB/s per core, peak RSS, and how many of the
real Chinese news articles (../shared/data/html/gne) each keeps.
"""
from __future__ import annotations

import argparse
import glob
import json
import os
import subprocess
import sys
import tarfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
from benchmarks.bench_warc import article_pages, build  # noqa: E402

OURS_PY = os.path.join(ROOT, ".venv", "bin", "python")
BASELINE_PY = os.path.join(ROOT, ".venv-bench", "bin", "python")


def run_pinned(cmd: list[str], core: int = 0) -> dict:
    """Run a command on one core; wall time, CPU time and peak RSS of the process tree's largest member."""
    started = time.time()
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            preexec_fn=lambda: os.sched_setaffinity(0, {core}))
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.time() - started
    err = proc.stderr.read().decode("utf-8", "replace")
    if status != 0:
        raise RuntimeError(f"{cmd[:3]} failed:\n{err[-3000:]}")
    return {"wall_s": round(wall, 2), "cpu_s": round(usage.ru_utime + usage.ru_stime, 2),
            "peak_rss_mb": round(usage.ru_maxrss / 1024, 1)}


def kept_article_ids(urls: list[str]) -> set[str]:
    ids = {aid for aid, _ in article_pages()}
    return {u.rsplit("/", 1)[-1].removesuffix(".html") for u in urls if ".news.example/" in u} & ids


def ours(warc: str, out: str) -> dict:
    stats = run_pinned([OURS_PY, "beam_runner.py", "--input", warc, "--output", out, "--quiet"])
    manifest = json.load(open(os.path.join(out, "manifest.json")))
    urls = []
    for shard in manifest["shards"]:
        with tarfile.open(os.path.join(out, shard["name"])) as tar:
            for m in tar.getmembers():
                if m.name.endswith(".json"):
                    urls.append(json.loads(tar.extractfile(m).read())["url"])
    return {**stats, "records": manifest["funnel"]["read"], "kept_docs": manifest["funnel"]["kept"],
            "articles_kept": len(kept_article_ids(urls))}


def ours_ingest(warc: str, out: str) -> dict:
    """The per-input phase alone (what scales with the crawl; the global phase runs on the few candidates)."""
    return run_pinned([OURS_PY, "benchmarks/ingest_only.py", out, warc])


def datatrove(warc: str, out: str, lid: str) -> dict:
    stats = run_pinned([BASELINE_PY, "benchmarks/datatrove_baseline.py", os.path.dirname(warc),
                        os.path.basename(warc), out, lid])
    urls = [json.loads(line)["metadata"]["url"] for path in glob.glob(os.path.join(out, "*.jsonl"))
            for line in open(path)]
    return {**stats, "kept_docs": len(urls), "articles_kept": len(kept_article_ids(urls))}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mb", type=int, default=200, help="uncompressed size of the benchmark WARC")
    parser.add_argument("--warc", default=None)
    parser.add_argument("--skip-baseline", action="store_true")
    args = parser.parse_args()
    warc = args.warc or os.path.join(ROOT, "bench-data", f"bench-{args.mb}mb", "bench.warc.gz")
    info_path = warc + ".json"
    if not os.path.exists(info_path):
        os.makedirs(os.path.dirname(warc), exist_ok=True)
        json.dump(build(warc, args.mb), open(info_path, "w"))
    info = json.load(open(info_path))
    mb = info["uncompressed_bytes"] / 1e6
    print(json.dumps({"warc": info}))
    lid = subprocess.check_output([OURS_PY, "-c", "from transforms.language import lid176_path; print(lid176_path())"],
                                  cwd=ROOT, text=True).strip()
    systems = {"ours": lambda out: ours(warc, out), "ours_ingest_phase": lambda out: ours_ingest(warc, out)}
    if not args.skip_baseline:
        systems["datatrove"] = lambda out: datatrove(warc, out, lid)
    results = {}
    for name, fn in systems.items():
        out = os.path.join(ROOT, "bench-data", f"out-{name}-{args.mb}mb")
        subprocess.run(["rm", "-rf", out], check=True)
        r = fn(out)
        r["records_per_cpu_s"] = round(info["responses"] / r["cpu_s"], 1)
        r["mb_per_cpu_s"] = round(mb / r["cpu_s"], 2)
        results[name] = r
        print(json.dumps({name: r}), flush=True)
    if "datatrove" in results:
        print(json.dumps({"speedup_per_core": round(results["datatrove"]["cpu_s"] / results["ours"]["cpu_s"], 1),
                          "speedup_per_core_ingest_phase": round(
                              results["datatrove"]["cpu_s"] / results["ours_ingest_phase"]["cpu_s"], 1),
                          "articles_total": info["articles"]}))


if __name__ == "__main__":
    main()
