"""Fine-tuning inputs in the formats users already have, read strictly (a bad line is an error naming it), and the
metrics: accuracy, macro-F1, entity-level F1 for BIO tags.

- classify / pair: CLUE-style JSON lines (`sentence`, or `sentence1` and `sentence2`; `label`), or TSV with a header
  (`label`, `text_a`, `text_b`).
- tag: CoNLL-style, one character or word and its tag per line (whitespace between), a blank line between sentences.
"""
from __future__ import annotations

import json
from dataclasses import dataclass


@dataclass
class Example:
    text: str
    pair: str | None = None
    label: str | None = None  # classify / pair
    items: list[str] | None = None  # tag: the characters or words…
    tags: list[str] | None = None  # …and their tags


class FormatError(ValueError):
    """A line of an input file that cannot be read, named by file and line number."""


def read_examples(path: str, task: str) -> list[Example]:
    """Examples of one file for the task (classify, pair or tag)."""
    if task == "tag":
        return _read_conll(path)
    with open(path, encoding="utf-8") as f:
        first = f.readline()
    return _read_jsonl(path, task) if first.lstrip().startswith("{") else _read_tsv(path, task)


def _read_jsonl(path: str, task: str) -> list[Example]:
    out = []
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise FormatError(f"{path}:{number}: not a JSON object ({exc.msg})") from None
            keys = ("sentence1", "sentence2") if task == "pair" else ("sentence",)
            if not isinstance(row, dict) or any(not isinstance(row.get(k), str) for k in keys) or "label" not in row:
                raise FormatError(f"{path}:{number}: needs {', '.join(keys)} (text) and label")
            out.append(Example(row[keys[0]], row[keys[1]] if task == "pair" else None, label=str(row["label"])))
    return _nonempty(out, path)


def _read_tsv(path: str, task: str) -> list[Example]:
    out = []
    with open(path, encoding="utf-8") as f:
        header = f.readline().rstrip("\r\n").split("\t")
        need = ["label", "text_a"] + (["text_b"] if task == "pair" else [])
        if any(name not in header for name in need):
            raise FormatError(f"{path}:1: the header must name {', '.join(need)} (tab-separated); got {header}")
        column = {name: header.index(name) for name in need}
        for number, line in enumerate(f, 2):
            if not line.strip():
                continue
            cells = line.rstrip("\r\n").split("\t")
            if len(cells) != len(header):
                raise FormatError(f"{path}:{number}: {len(cells)} fields, the header has {len(header)}")
            out.append(Example(cells[column["text_a"]], cells[column["text_b"]] if task == "pair" else None,
                               label=cells[column["label"]]))
    return _nonempty(out, path)


def _read_conll(path: str) -> list[Example]:
    out, items, tags = [], [], []
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            fields = line.split()
            if not fields:
                if items:
                    out.append(Example("".join(items), items=items, tags=tags))
                items, tags = [], []
                continue
            if len(fields) != 2:
                raise FormatError(f"{path}:{number}: expected a token and its tag, got {len(fields)} fields")
            items.append(fields[0])
            tags.append(fields[1])
    if items:
        out.append(Example("".join(items), items=items, tags=tags))
    return _nonempty(out, path)


def _nonempty(examples: list[Example], path: str) -> list[Example]:
    if not examples:
        raise FormatError(f"{path}: no example")
    return examples


def classification_metrics(gold: list[int], predicted: list[int], n_labels: int) -> dict:
    """Accuracy and macro-F1 over the labels."""
    accuracy = sum(g == p for g, p in zip(gold, predicted)) / max(len(gold), 1)
    f1s = []
    for label in range(n_labels):
        tp = sum(g == p == label for g, p in zip(gold, predicted))
        n_pred, n_gold = predicted.count(label), gold.count(label)
        if n_pred + n_gold:
            f1s.append(2 * tp / (n_pred + n_gold))
    return {"accuracy": round(accuracy, 4), "macro_f1": round(sum(f1s) / max(len(f1s), 1), 4)}


def entities(tags: list[str]) -> set[tuple[int, int, str]]:
    """(start, end, type) spans of BIO(ES) tags; an I- without a matching B- starts an entity (conlleval's rule)."""
    spans, start, kind = set(), None, None
    for i, tag in enumerate(list(tags) + ["O"]):
        prefix, _, label = tag.partition("-")
        continues = prefix in ("I", "M", "E") and start is not None and label == kind
        if not continues and start is not None:
            spans.add((start, i, kind))
            start = None
        if prefix in ("B", "S") or (prefix in ("I", "M", "E") and not continues):
            start, kind = i, label
        if prefix in ("E", "S") and start is not None:
            spans.add((start, i + 1, kind))
            start = None
    return spans


def tagging_metrics(gold: list[list[str]], predicted: list[list[str]]) -> dict:
    """Entity-level precision, recall and F1, and token accuracy."""
    tp = n_gold = n_pred = correct = total = 0
    for g, p in zip(gold, predicted):
        gs, ps = entities(g), entities(p)
        tp, n_gold, n_pred = tp + len(gs & ps), n_gold + len(gs), n_pred + len(ps)
        correct += sum(a == b for a, b in zip(g, p))
        total += len(g)
    precision, recall = tp / max(n_pred, 1), tp / max(n_gold, 1)
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"entity_f1": round(f1, 4), "entity_precision": round(precision, 4), "entity_recall": round(recall, 4),
            "token_accuracy": round(correct / max(total, 1), 4)}
