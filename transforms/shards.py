"""Deterministic WebDataset samples and tar shards, and the funnel arithmetic of the manifest."""
from __future__ import annotations

import io
import json
import re
import tarfile
from collections import defaultdict
from typing import BinaryIO, Iterable

import numpy as np

from transforms.types import Document

SAFE_KEY_RE = re.compile(r"^[0-9a-f]{8,64}$")
# Metadata fields that go into each sample's json, in this order (the rest of meta are scores, sorted after).
PROVENANCE = ("url", "warc_file", "warc_offset", "warc_record_id", "fetch_time", "title", "charset",
              "charset_declared", "charset_source", "lang", "lang_score", "script", "script_conversion",
              "dedup_cluster_size", "exact_duplicates", "url_captures")


def sample_json(doc: Document) -> dict:
    """The sample's json: provenance first, then every score, all from doc.meta."""
    out = {k: doc.meta[k] for k in PROVENANCE if k in doc.meta}
    if "quality_tier" in doc.meta:  # the learned scores and the tier they give, where a user looks first
        out["quality"] = {"tier": doc.meta["quality_tier"], "spam": doc.meta.get("quality_spam"),
                          "perplexity": doc.meta.get("perplexity")}
    out["scores"] = {k: v for k, v in sorted(doc.meta.items()) if k not in out and k != "quality_tier"}
    return out


# Fixed bin edges, so that shards' histograms add up in the manifest whatever the data.
HISTOGRAM_EDGES = {
    "quality_spam": [round(i / 20, 2) for i in range(21)],
    "perplexity": [0, 25, 50, 75, 100, 150, 200, 300, 400, 600, 800, 1200, 1600, 2400, 3200, 1e9],
}


def _empty_histograms() -> dict[str, list[int]]:
    return {name: [0] * (len(edges) - 1) for name, edges in HISTOGRAM_EDGES.items()}


def quality_summary(metas: Iterable[dict]) -> dict:
    """Per-tier counts and fixed-bin histograms of the learned scores of kept documents."""
    tiers: dict[str, int] = {}
    hist = _empty_histograms()
    for meta in metas:
        tier = meta.get("quality_tier", "")
        tiers[tier] = tiers.get(tier, 0) + 1
        for name, edges in HISTOGRAM_EDGES.items():
            if name in meta:
                b = int(np.searchsorted(edges, meta[name], side="right")) - 1
                hist[name][min(max(b, 0), len(edges) - 2)] += 1
    return {"tiers": dict(sorted(tiers.items())), "histograms": hist}


def merge_quality(summaries: Iterable[dict]) -> dict:
    """Sum of quality_summary results (the manifest's view over all shards)."""
    tiers: dict[str, int] = {}
    hist = _empty_histograms()
    for s in summaries:
        for t, n in s["tiers"].items():
            tiers[t] = tiers.get(t, 0) + n
        for name, counts in s["histograms"].items():
            hist[name] = [a + b for a, b in zip(hist[name], counts)]
    return {"tiers": dict(sorted(tiers.items())), "histograms": hist, "histogram_edges": HISTOGRAM_EDGES}


def npy_bytes(array: np.ndarray) -> bytes:
    """np.save into bytes (the header is deterministic for a given dtype and shape)."""
    buf = io.BytesIO()
    np.save(buf, array, allow_pickle=False)
    return buf.getvalue()


def sample_files(doc: Document, arrays: dict[str, np.ndarray] | None = None) -> dict[str, bytes]:
    """Extension → bytes of one WebDataset sample (key not included): txt, json and NAME.npy per array."""
    files = {
        "txt": doc.text.encode("utf-8"),
        "json": json.dumps(sample_json(doc), ensure_ascii=False, sort_keys=False, separators=(",", ":")).encode("utf-8"),
    }
    for name, array in (arrays or {}).items():
        files[f"{name}.npy"] = npy_bytes(array)
    return files


def write_tar(fileobj: BinaryIO, samples: Iterable[tuple[str, dict[str, bytes]]]) -> int:
    """Write samples (key, {ext: bytes}) as a tar with fixed mtimes, owners and modes; returns the sample count."""
    n = 0
    with tarfile.open(fileobj=fileobj, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for key, files in samples:
            if not SAFE_KEY_RE.match(key):
                raise ValueError(f"unsafe sample key: {key!r}")
            for ext in sorted(files):
                info = tarfile.TarInfo(f"{key}.{ext}")
                info.size = len(files[ext])
                info.mtime = 0
                info.mode = 0o644
                info.uid = info.gid = 0
                info.uname = info.gname = ""
                tar.addfile(info, io.BytesIO(files[ext]))
            n += 1
    return n


def shard_name(prefix: str, index: int, total: int) -> str:
    """File name of shard `index` of `total` (WebDataset brace-expandable)."""
    return f"{prefix}-{index:05d}-of-{total:05d}.tar"


def build_funnel(events: Iterable[tuple[tuple[str, str, str], int]]) -> dict:
    """Per-input and total funnels from ((input, outcome, reason), count) where outcome is read|kept|dropped|failed.

    `balanced` is true when, for every input and in total, read == kept + Σdropped + Σfailed.
    """
    per_input: dict[str, dict] = defaultdict(lambda: {"read": 0, "kept": 0, "dropped": {}, "failed": {}})
    for (path, outcome, reason), n in events:
        entry = per_input[path]
        if outcome in ("read", "kept"):
            entry[outcome] += n
        else:
            entry[outcome][reason] = entry[outcome].get(reason, 0) + n
    total = {"read": 0, "kept": 0, "dropped": {}, "failed": {}}
    for entry in per_input.values():
        total["read"] += entry["read"]
        total["kept"] += entry["kept"]
        for outcome in ("dropped", "failed"):
            for reason, n in entry[outcome].items():
                total[outcome][reason] = total[outcome].get(reason, 0) + n

    def _balanced(e: dict) -> bool:
        return e["read"] == e["kept"] + sum(e["dropped"].values()) + sum(e["failed"].values())

    def _sorted(e: dict) -> dict:
        return {"read": e["read"], "kept": e["kept"], "dropped": dict(sorted(e["dropped"].items())),
                "failed": dict(sorted(e["failed"].items()))}

    return {
        "total": _sorted(total),
        "per_input": {p: _sorted(per_input[p]) for p in sorted(per_input)},
        "balanced": _balanced(total) and all(_balanced(e) for e in per_input.values()),
    }
