"""Near-duplicate components by label propagation over files, checked against networkx on graphs of every shape."""
import random

import apache_beam as beam
import networkx as nx
import pytest
from apache_beam.options.pipeline_options import PipelineOptions

from pipeline.components import WriteEdges, propagate
from pipeline.parts import read_rows
from pipeline.graph import run_global, run_pipeline
from pipeline.work import docs_bytes, read_json, write_bytes, write_json
from transforms.config import CorpusConfig
from transforms.dedup import document_key, tree_edges
from transforms.types import Document

OPTIONS = PipelineOptions(["--runner=FnApiRunner"])


def components(tmp_path, edges, max_rounds=64, per_pipeline=1):
    """(node → label, rounds, edge summary) from the Beam rounds."""
    def build(pipeline):
        _ = (pipeline | beam.Create(edges) | WriteEdges(str(tmp_path / "near"), 3)
             | beam.Map(lambda summary: write_json(str(tmp_path / "edges.json"), summary)))
    run_pipeline(OPTIONS, build)
    summary = read_json(str(tmp_path / "edges.json"))
    found = propagate(lambda *a: run_pipeline(OPTIONS, *a), summary["files"], str(tmp_path / "near"), 3, max_rounds,
                      per_pipeline)
    labels = {row[0]: row[1] for path in found["label_files"] for row in read_rows(path)}
    return labels, found["rounds"], summary


def expected(edges):
    graph = nx.Graph(edges)
    return {node: min(component) for component in nx.connected_components(graph) for node in component}


def k(i: int) -> str:
    return f"{i:08x}"


GRAPHS = {
    "hub": [(k(0), k(i)) for i in range(1, 40)] + [(k(50), k(51))],
    "chain": [(k(i + 1), k(i)) for i in range(9)],  # labels must walk the whole chain
    "reversed_chain": [(k(i), k(i + 1)) for i in range(9)],
    "random": [(k(a), k(b)) for a, b in zip(*[random.Random(seed).choices(range(120), k=90) for seed in (1, 2)])],
}


@pytest.mark.parametrize("shape", sorted(GRAPHS))
def test_label_propagation_finds_the_components_networkx_finds(tmp_path, shape):
    edges = [(u, v) for u, v in GRAPHS[shape] if u != v]
    labels, rounds, summary = components(tmp_path, edges)
    assert labels == expected(edges)
    assert summary["edges"] == nx.Graph(edges).number_of_edges()
    assert summary["max_degree"] == max(d for _, d in nx.Graph(edges).degree())
    if shape == "chain":
        assert rounds == 10  # 9 to carry the smallest key along 9 edges, 1 to see nothing change


def test_several_rounds_in_one_pipeline_give_the_same_labels(tmp_path):
    labels, rounds, _ = components(tmp_path, GRAPHS["chain"], per_pipeline=4)
    assert labels == expected(GRAPHS["chain"]) and rounds == 12  # three pipelines of 4 rounds


def test_too_few_rounds_is_a_clear_error(tmp_path):
    with pytest.raises(RuntimeError, match="dedup.max_rounds=3"):
        components(tmp_path, GRAPHS["chain"], max_rounds=3)


def test_tree_edges_connect_a_bucket_with_bounded_degree():
    members = [k(i) for i in range(1000)] + [k(5)]
    edges = tree_edges(reversed(members), 16)
    graph = nx.Graph(edges)
    assert nx.is_connected(graph) and graph.number_of_nodes() == 1000 and len(edges) == 999
    assert max(d for _, d in graph.degree()) == 17  # fanout children and one parent
    assert nx.eccentricity(graph, k(0)) == 3  # 1 + 16 + 256 < 1000 ≤ 1 + 16 + 256 + 4096


def test_a_large_near_duplicate_bucket_stays_bounded_per_key_and_keeps_one(tmp_path):
    """600 variants of one page (one character changed each): one component, one keeper, every other counted as a
    near duplicate, and no node holds more than 2 × bands × (fanout + 1) edges however large the bucket."""
    rng = random.Random(7)
    base = "".join(chr(0x4E00 + rng.randrange(3000)) for _ in range(400))
    meta = {"mojibake_per_1k": 0, "lang_score": 1.0, "kana_ratio": 0, "hangul_ratio": 0, "latin_ratio": 0,
            "n_han": 400, "han_ratio": 1.0, "badwords_per_1k": 0, "terminal_punct_lines": 1.0,
            "short_line_ratio": 0, "dup_line_chars": 0, "top_2gram": 0.01, "dup_5gram": 0, "symbol_ratio": 0,
            "digit_ratio": 0, "n_chars": 400, "fetch_time": "2026-01-01T00:00:00Z", "warc_file": "gen"}
    docs = []
    for i in range(600):
        text = base[:i % 400] + "。" + base[i % 400 + 1:] if i else base
        url = f"http://mirror{i}.example/page.html"
        docs.append(Document(document_key(url), url, text, {**meta, "url": url, "warc_offset": i}, [1] * len(text)))
    path = str(tmp_path / "gen.docs.jsonl.gz")
    write_bytes(path, docs_bytes(sorted(docs, key=lambda d: d.key)))
    config = CorpusConfig()
    graph = run_global(OPTIONS, [path], config, str(tmp_path / "global"), 4)
    assert graph["nodes"] == len({d.text for d in docs}) == 401  # exact copies went before
    assert graph["max_degree"] <= 2 * config.dedup.lsh_bands * (config.dedup.tree_fanout + 1)
    funnel = {(o, r): n for _, o, r, n in read_json(str(tmp_path / "global" / "funnel.json"))}
    assert funnel[("dropped", "dedup.near_duplicate")] == graph["nodes"] - 1
    kept = sum(b["documents"] for b in read_json(str(tmp_path / "global" / "buckets.json")))
    assert kept == 1

    # A relaunch after a kill in the last round keeps the finished steps and gives the same files.
    folder = tmp_path / "global"
    last = folder / "near" / f"round-{graph['rounds']:03d}"
    finished = {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in (folder / "near").rglob("*.tsv.gz")
                if p.parent != last}
    before = (folder / "buckets.json").read_bytes(), (folder / "funnel.json").read_bytes()
    for name in ("stats.json", "buckets.json", "funnel.json"):
        (last / name if name == "stats.json" else folder / name).unlink()
    assert run_global(OPTIONS, [path], config, str(folder), 4) == graph
    assert {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in finished} == finished
    assert ((folder / "buckets.json").read_bytes(), (folder / "funnel.json").read_bytes()) == before
