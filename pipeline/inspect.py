"""Look at shards, and check a whole corpus folder.

    python -m pipeline.inspect OUT/shards/shard-00000-of-00001.tar [--n 3] [--key K] [--grep 图书馆] [--json]
    python -m pipeline.inspect --check OUT        # exit 1, naming each damaged shard and what is wrong
"""
from __future__ import annotations

import argparse
import hashlib
import io
import json
import posixpath
import re
import sys
import tarfile
from collections import defaultdict

import numpy as np
from apache_beam.io.filesystems import FileSystems

from pipeline.work import read_bytes
from transforms.pinyin import ALPHABET, SLOTS, decode
from transforms.vocab import UNK, Vocab

ARRAYS = ("ids", "pinyin", "words", "sents")


def iter_samples(data: bytes):
    """(key, {ext: bytes}) per sample of a WebDataset tar, in tar order."""
    samples: dict[str, dict[str, bytes]] = {}
    order: list[str] = []
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        for member in tar:
            if not member.isfile():
                continue
            key, _, ext = posixpath.basename(member.name).partition(".")
            if key not in samples:
                samples[key] = {}
                order.append(key)
            samples[key][ext] = tar.extractfile(member).read()
    for key in order:
        yield key, samples[key]


def corpus_of(shard_path: str) -> str:
    """The corpus folder a shard belongs to (OUT for OUT/shards/x.tar)."""
    return posixpath.dirname(posixpath.dirname(shard_path))


def load_vocab(folder: str) -> Vocab | None:
    path = FileSystems.join(folder, "vocab.txt")
    return Vocab.from_text(read_bytes(path).decode("utf-8")) if FileSystems.exists(path) else None


def arrays_of(files: dict[str, bytes]) -> dict[str, np.ndarray]:
    return {name: np.load(io.BytesIO(files[f"{name}.npy"]), allow_pickle=False)
            for name in ARRAYS if f"{name}.npy" in files}


CONTROL_RE = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def terminal_safe(text: str) -> str:
    """Control characters (a hostile URL's terminal escape sequences) shown as \\xNN, never sent to the terminal."""
    return CONTROL_RE.sub(lambda m: f"\\x{ord(m.group(0)):02x}", text)


def render(key: str, files: dict[str, bytes], vocab: Vocab | None, width: int = 16) -> str:
    """A sample for a person: provenance, scores, the text with word boundaries, pinyin under each character."""
    meta = json.loads(files["json"])
    text = files["txt"].decode("utf-8")
    arrays = arrays_of(files)
    lines = [f"── {key}  {terminal_safe(meta.get('url', ''))}",
             "   " + "  ".join(f"{k}={terminal_safe(str(meta[k]))}" for k in (
                 "warc_file", "warc_offset", "fetch_time", "charset", "charset_declared", "lang", "lang_score", "script",
                 "dedup_cluster_size") if k in meta)]
    if "quality" in meta:
        q = meta["quality"]
        lines.append(f"   quality: tier={q['tier']}  P(spam)={q['spam']}  perplexity={q['perplexity']}")
    scores = meta.get("scores", {})
    lines.append("   scores: " + "  ".join(f"{k}={v}" for k, v in sorted(scores.items())
                                        if not isinstance(v, (dict, list))))
    if vocab is None or "ids" not in arrays:
        return "\n".join(lines + [text])
    ids, pinyin, words = arrays["ids"], arrays["pinyin"], arrays["words"]
    tokens = [vocab.tokens[i] if 0 <= i < len(vocab) else "?" for i in ids]
    unk = sum(t == UNK for t in tokens)
    lines.append(f"   tokens={len(ids)} words={int(words.max(initial=-1)) + 1} sentences={len(arrays.get('sents', []))} "
                 f"[UNK]={unk}")
    for start in range(0, len(ids), width):
        cells = range(start, min(start + width, len(ids)))
        row_tokens, row_pinyin, row_ids = [], [], []
        for i in cells:
            boundary = "｜" if i > 0 and words[i] != words[i - 1] else " "
            row_tokens.append(boundary + tokens[i].ljust(6 - len(tokens[i])))
            row_pinyin.append(" " + (decode(pinyin[i]) or "·").ljust(6))
            row_ids.append(" " + str(int(ids[i])).ljust(6))
        lines += ["   " + "".join(row_tokens), "   " + "".join(row_pinyin), "   " + "".join(row_ids), ""]
    return "\n".join(lines)


def sample_problems(key: str, files: dict[str, bytes], vocab: Vocab | None) -> list[str]:
    """What is inconsistent in one sample (empty when it is sound)."""
    problems = []
    missing = [ext for ext in ("txt", "json") + tuple(f"{a}.npy" for a in ARRAYS) if ext not in files]
    if missing:
        return [f"{key}: missing {missing}"]
    try:
        text = files["txt"].decode("utf-8")
        json.loads(files["json"])
        arrays = arrays_of(files)
    except Exception as exc:  # a damaged member
        return [f"{key}: unreadable ({type(exc).__name__}: {exc})"]
    ids, pinyin, words, sents = (arrays[a] for a in ARRAYS)
    if not (len(ids) == len(pinyin) == len(words)):
        problems.append(f"{key}: array lengths differ (ids {len(ids)}, pinyin {len(pinyin)}, words {len(words)})")
    if pinyin.ndim != 2 or pinyin.shape[1:] != (SLOTS,) or (pinyin >= len(ALPHABET)).any():
        problems.append(f"{key}: pinyin outside the {len(ALPHABET)}-symbol alphabet or not [T, {SLOTS}]")
    if len(words) and (words[0] != 0 or np.any(np.diff(words) < 0) or np.any(np.diff(words) > 1)):
        problems.append(f"{key}: word indices do not increase 0, 1, 2…")
    if len(sents) and (sents[0] != 0 or np.any(np.diff(sents) <= 0) or sents[-1] >= max(len(ids), 1)):
        problems.append(f"{key}: sentence starts not increasing within the tokens")
    if vocab is not None:
        if len(ids) and (ids.min() < 0 or ids.max() >= len(vocab)):
            problems.append(f"{key}: token id outside the vocabulary of {len(vocab)}")
        expected, _ = vocab.tokenize(text)
        if len(expected) != len(ids) or not np.array_equal(expected, ids):
            problems.append(f"{key}: ids do not match the text under vocab.txt")
    return problems


def check(folder: str) -> list[str]:
    """Every problem found in a corpus folder: shards against the manifest, samples, assets, funnel."""
    problems = []
    manifest_path = FileSystems.join(folder, "manifest.json")
    if not FileSystems.exists(manifest_path):
        return [f"{folder}: no manifest.json (not a corpus folder, or the job did not finish)"]
    manifest = json.loads(read_bytes(manifest_path))
    if not manifest.get("samples") or not manifest["shards"]:
        problems.append("the corpus is empty: no document was kept (see the manifest's funnel and report.html)")
    vocab = load_vocab(folder)
    for asset in manifest.get("assets", []):
        path = FileSystems.join(folder, asset["name"])
        if not FileSystems.exists(path) or hashlib.sha256(read_bytes(path)).hexdigest() != asset["sha256"]:
            problems.append(f"{asset['name']}: missing or sha256 differs from the manifest")
    for shard in manifest["shards"]:
        path = FileSystems.join(folder, shard["name"])
        if not FileSystems.exists(path):
            problems.append(f"{shard['name']}: missing")
            continue
        data = read_bytes(path)
        if hashlib.sha256(data).hexdigest() != shard["sha256"]:
            problems.append(f"{shard['name']}: sha256 differs from the manifest")
        try:
            samples = list(iter_samples(data))
        except tarfile.TarError as exc:
            problems.append(f"{shard['name']}: not a readable tar ({exc})")
            continue
        if len(samples) != shard["samples"]:
            problems.append(f"{shard['name']}: {len(samples)} samples, the manifest says {shard['samples']}")
        for key, files in samples:
            problems += [f"{shard['name']}: {p}" for p in sample_problems(key, files, vocab)]
    problems += funnel_problems(manifest)
    return problems


def funnel_problems(manifest: dict) -> list[str]:
    def balanced(f):
        return f["read"] == f["kept"] + sum(f["dropped"].values()) + sum(f["failed"].values())

    problems = [] if balanced(manifest["funnel"]) else ["funnel: read != kept + dropped + failed"]
    totals = defaultdict(int)
    for entry in manifest["inputs"]:
        if not balanced(entry["funnel"]):
            problems.append(f"funnel of {entry['path']}: read != kept + dropped + failed")
        totals["read"] += entry["funnel"]["read"]
        totals["kept"] += entry["funnel"]["kept"]
    if totals["read"] != manifest["funnel"]["read"] or totals["kept"] != manifest["funnel"]["kept"]:
        problems.append("funnel: the inputs' funnels do not add up to the total")
    if manifest["funnel"]["kept"] != manifest.get("samples", manifest["funnel"]["kept"]):
        problems.append("funnel: kept differs from the number of samples in the shards")
    return problems


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("paths", nargs="*", help="shard files (local or any Beam filesystem)")
    parser.add_argument("--n", type=int, default=3, help="samples to show per shard")
    parser.add_argument("--key")
    parser.add_argument("--grep", help="only samples whose text contains this")
    parser.add_argument("--json", action="store_true", help="one JSON object per sample instead")
    parser.add_argument("--check", metavar="OUTPUT", help="validate a whole corpus folder")
    args = parser.parse_args(argv)
    if args.check:
        problems = check(args.check)
        for p in problems:
            print(p)
        print(f"{len(problems)} problems" if problems else "corpus OK")
        return 1 if problems else 0
    missing = [p for p in args.paths if not FileSystems.exists(p)]
    if missing:
        print(f"no such shard: {', '.join(missing)}", file=sys.stderr)
        return 2
    for path in args.paths:
        vocab = load_vocab(corpus_of(path))
        shown = 0
        for key, files in iter_samples(read_bytes(path)):
            if (args.key and key != args.key) or (args.grep and args.grep not in files["txt"].decode("utf-8")):
                continue
            if args.json:
                arrays = arrays_of(files)
                out = {"key": key, "json": json.loads(files["json"]), "txt": files["txt"].decode("utf-8"),
                       **{k: v.tolist() for k, v in arrays.items()}}
                print(json.dumps(out, ensure_ascii=False))
            else:
                print(render(key, files, vocab))
            shown += 1
            if shown >= args.n:
                break
    return 0


if __name__ == "__main__":
    sys.exit(main())
