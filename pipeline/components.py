"""Connected components of the near-duplicate graph, without one worker holding all pairs.

Min-label propagation: every node starts labelled with its own key; in each round a node whose label changed in
the round before sends it to its neighbours, and every node keeps the smallest label it has seen. The driver runs
small pipelines over edge and label files (`dedup.rounds_per_pipeline` rounds each, 1 by default) until no label
changes: each node is then labelled with the smallest key of its component. Rounds grow with the graph's diameter,
and `dedup.max_rounds` bounds them.

No key is hot: a round is one join on the node key (its neighbours and its label) and one combiner, and LSH
buckets are wired as trees of bounded fanout (transforms.dedup.tree_edges), so a node has at most
2 × bands × (fanout + 1) edges whatever the size of its bucket. The edges are written once and never change.

    folder/edges-<part>.tsv.gz          "u<TAB>v" for both directions of every edge, sorted
    folder/round-<r>/labels-<part>.tsv.gz  "node<TAB>label<TAB>changed" after round r, sorted
    folder/round-<r>/stats.json         nodes and labels changed in round r (written last: the round is complete)
"""
from __future__ import annotations

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems

from pipeline.parts import WriteRows, read_files
from pipeline.work import all_exist, clear, read_json, write_json


@beam.ptransform_fn
def Gather(named: dict):
    """{name: collection of one element} → a collection of one dict {name: that element}. Branches meet this way,
    not through side inputs, which Beam's Dask runner recomputes inconsistently."""
    tagged = [pc | f"Tag{name}" >> beam.Map(lambda x, n=name: (n, x)) for name, pc in sorted(named.items())]
    return tagged | "Flatten" >> beam.Flatten() | "List" >> beam.combiners.ToList() | "Dict" >> beam.Map(dict)


def _max(values) -> int:
    return max(values, default=0)


def _sum_pairs(pairs) -> tuple[int, int]:
    return sum(p[0] for p in pairs), sum(p[1] for p in pairs)


@beam.ptransform_fn
def WriteEdges(edges, folder: str, n_parts: int):
    """Undirected edges (u, v) → edge files holding both directions; returns one {"files", "edges", "max_degree"}."""
    directed = edges | "BothWays" >> beam.FlatMap(lambda e: [(e[0], e[1]), (e[1], e[0])]) | "Distinct" >> beam.Distinct()
    files = directed | "WriteEdgeFiles" >> WriteRows(folder, "edges", n_parts)
    max_degree = (directed | "Degree" >> beam.combiners.Count.PerKey() | "Degrees" >> beam.Values()
                  | "MaxDegree" >> beam.CombineGlobally(_max))
    return ({"files": files, "max_degree": max_degree} | "Summary" >> Gather()
            | "Entry" >> beam.Map(lambda g: {"files": [f["path"] for f in g["files"]],
                                            "edges": sum(f["lines"] for f in g["files"]) // 2,
                                            "max_degree": g["max_degree"]}))


class MinLabelFn(beam.CombineFn):
    """Over a node's (label, is_own) inputs: (smallest label, whether it is smaller than the node's own)."""

    def create_accumulator(self):
        return None, None  # smallest label received, own label

    def add_input(self, acc, item):
        return self.merge_accumulators([acc, (None, item[0]) if item[1] else (item[0], None)])

    def merge_accumulators(self, accumulators):
        best, own = None, None
        for b, o in accumulators:
            if b is not None and (best is None or b < best):
                best = b
            own = o if o is not None else own
        return best, own

    def extract_output(self, acc):
        best, own = acc
        new = own if best is None or own < best else best
        return new, new != own


def _messages(element):
    """(neighbour, label) for each neighbour of a node whose label changed in the last round."""
    _, grouped = element
    labels = list(grouped["label"])
    if not labels:
        return []
    return [(v, labels[0]) for v in grouped["neighbours"]]


@beam.ptransform_fn
def PropagateOnce(inputs: dict):
    """{"edges": (u, v), "labels": (node, label, changed) or absent in the first round} → the next round's labels.
    In the first round every node's label is itself, and every node counts as changed."""
    edges = inputs["edges"]
    if "labels" in inputs:
        labels = inputs["labels"]
        own = labels | "Own" >> beam.Map(lambda r: (r[0], (r[1], True)))
        changed = labels | "Changed" >> beam.Filter(lambda r: r[2]) | "ChangedLabel" >> beam.Map(lambda r: (r[0], r[1]))
        messages = ({"neighbours": edges, "label": changed} | "JoinLabels" >> beam.CoGroupByKey()
                    | "Messages" >> beam.FlatMap(_messages) | "AsReceived" >> beam.Map(lambda m: (m[0], (m[1], False))))
    else:
        own = edges | "OwnKey" >> beam.Map(lambda e: (e[0], (e[0], True)))
        messages = edges | "FirstMessages" >> beam.Map(lambda e: (e[1], (e[0], False)))
    return ((own, messages) | "AllLabels" >> beam.Flatten() | "MinLabel" >> beam.CombinePerKey(MinLabelFn())
            | "Row" >> beam.Map(lambda kv: (kv[0], kv[1][0], int(kv[1][1]))))


def build_rounds(pipeline, edge_files: list[str], label_files: list[str], folder: str, n_parts: int, rounds: int):
    """`rounds` propagation rounds in one graph, from the given labels (none: the start); writes the last round's
    folder/labels-*.tsv.gz, then folder/stats.json with the nodes and the labels that changed in that round."""
    edges = read_files(pipeline, "Edges", edge_files) | "EdgePair" >> beam.Map(tuple)
    new = None
    if label_files:
        new = read_files(pipeline, "Labels", label_files) | "ParseLabels" >> beam.Map(lambda r: (r[0], r[1], int(r[2])))
    for i in range(rounds):
        inputs = {"edges": edges} if new is None else {"edges": edges, "labels": new}
        new = inputs | f"Round{i + 1}" >> PropagateOnce()
    written = new | "WriteLabels" >> WriteRows(folder, "labels", n_parts)
    counts = new | "ChangedFlag" >> beam.Map(lambda r: (1, r[2])) | "Count" >> beam.CombineGlobally(_sum_pairs)
    stats = {"files": written, "counts": counts} | "Stats" >> Gather()
    return stats | "WriteStats" >> beam.Map(lambda g: write_json(FileSystems.join(folder, "stats.json"), {
        "files": [f["path"] for f in g["files"]], "nodes": g["counts"][0], "changed": g["counts"][1]}))


def propagate(run, edge_files: list[str], folder: str, n_parts: int, max_rounds: int, per_pipeline: int = 1) -> dict:
    """Run rounds, per_pipeline of them in each pipeline (run(build_rounds, …) runs one), until no label changes;
    the last files label every node of the graph with its component's smallest key.
    Returns {"label_files", "rounds", "nodes"}."""
    label_files: list[str] = []
    done = 0
    while done < max_rounds:
        rounds = min(per_pipeline, max_rounds - done)
        done += rounds
        round_folder = FileSystems.join(folder, f"round-{done:03d}")
        if not all_exist(round_folder, ["stats.json"]):  # written last: a finished round of a killed run is kept
            clear(FileSystems.join(round_folder, "*"))
            run(build_rounds, edge_files, label_files, round_folder, n_parts, rounds)
        stats = read_json(FileSystems.join(round_folder, "stats.json"))
        label_files = stats["files"]
        if stats["changed"] == 0:
            return {"label_files": label_files, "rounds": done, "nodes": stats["nodes"]}
    raise RuntimeError(f"near-duplicate components did not converge in dedup.max_rounds={max_rounds} rounds; "
                       "raise it (rounds grow with the diameter of the near-duplicate graph)")
