"""report.html: one self-contained page (no network) about a corpus: funnel, distributions, samples, vocabulary
and glyphs, config and versions. Written at the end of the job; `python -m pipeline.report OUTPUT` rewrites it."""
from __future__ import annotations

import html
import json
import sys
from collections import Counter

from apache_beam.io.filesystems import FileSystems

from pipeline.inspect import arrays_of, iter_samples, load_vocab
from pipeline.report_charts import bars, glyph_sheet, histogram, thresholds_of
from pipeline.work import ingest_dir, input_paths, input_source, read_bytes, read_docs, read_json, write_bytes
from transforms.config import CorpusConfig
from transforms.decide import TIERS, failed_rule
from transforms.dedup import url_host
from transforms.pinyin import decode

SCORES = ("quality_spam", "perplexity", "spam_title_hits", "spam_sentences", "title_stuffing", "n_han", "han_ratio",
          "lang_score", "terminal_punct_lines", "short_line_ratio", "dup_line_chars", "top_2gram", "dup_5gram",
          "symbol_ratio", "digit_ratio", "badwords_per_1k", "mojibake_per_1k")
SAMPLES_SHOWN = 3
esc = html.escape


def link(url: str) -> str:
    """A link only for http(s) URLs: a page's javascript: or data: URL is shown as text, never made clickable."""
    if url.lower().startswith(("http://", "https://")):
        return f'<a href="{esc(url)}" rel="noopener noreferrer">{esc(url)}</a>'
    return f"<code>{esc(url)}</code>"


def annotated_sample(key: str, files: dict[str, bytes], tokens: list[str]) -> str:
    """A kept document: provenance, then its first sentences with word boundaries and pinyin under each character."""
    meta = json.loads(files["json"])
    arrays = arrays_of(files)
    ids, pinyin, words = arrays["ids"][:120], arrays["pinyin"][:120], arrays["words"][:120]
    cells = []
    for i, tid in enumerate(ids):
        boundary = " wb" if i and words[i] != words[i - 1] else ""
        cells.append(f'<ruby class="t{boundary}">{esc(tokens[tid])}<rt>{esc(decode(pinyin[i]) or "")}</rt></ruby>')
    return (f'<div class="sample"><div class="prov">{esc(key)} · {link(meta["url"])} · '
            f'{esc(str(meta.get("charset")))} · lang {meta.get("lang_score")} · {esc(str(meta.get("script")))}</div>'
            f'<p class="ann">{"".join(cells)}</p></div>')


DEDUP_EXAMPLES = "dedup.*"


def rejects_section(funnel: dict, examples: dict[str, list], intermediates_found: bool) -> str:
    """Every drop and failure reason of the funnel, each with up to three examples, or why it has none."""
    parts = []
    for reason in sorted({**funnel["dropped"], **funnel["failed"]}):
        shown = examples.get(DEDUP_EXAMPLES if reason.startswith("dedup.") else reason, [])
        items = "".join(f'<li><code>{esc(u)}</code>' + (f"<br><small>{esc(t)}</small>" if t else "") + "</li>"
                        for u, t in sorted(shown)[:3])
        if reason.startswith("dedup.") and shown:
            items = "<li><i>candidates removed by dedup (URL, exact, near or line duplicates):</i></li>" + items
        if not items:
            items = ("<li><i>counted; no example stored for this reason</i></li>" if intermediates_found
                     else "<li><i>no example: the intermediates are gone</i></li>")
        parts.append(f'<h4 class="reason">{esc(reason)}</h4><ul>{items}</ul>')
    return "".join(parts)


def current_input(entry: dict) -> dict | None:
    """The input as its storage lists it now, if it still is the one the manifest names (same size)."""
    try:
        found = FileSystems.match([entry["path"]])[0].metadata_list
    except Exception:  # deleted, unreachable: nothing to show from it
        return None
    meta = next((m for m in found if m.path == entry["path"] and m.size_in_bytes == entry["size"]), None)
    return None if meta is None else input_source(meta)


def tiers_section(manifest: dict, kept: list[dict]) -> str:
    """Kept documents per perplexity tier (head / middle / tail), with one example of each."""
    tiers = manifest.get("quality", {}).get("tiers", {})
    rows = []
    for name in TIERS:
        example = next((m for m in kept if m.get("quality", {}).get("tier") == name), None)
        shown = (f'<code>{esc(example["url"])}</code> · perplexity {example.get("perplexity")} · '
                 f'P(spam) {example.get("quality_spam")}' if example else "")
        rows.append(f'<tr><td>{name}</td><td class="tier-count">{tiers.get(name, 0)}</td><td>{shown}</td></tr>')
    return ('<h3 id="tiers">Quality tiers of kept documents (character-LM perplexity)</h3>'
            '<table><tr><th>tier</th><th>documents</th><th>example</th></tr>' + "".join(rows) + "</table>")


def build_report(folder: str) -> str:
    """The whole page as a string."""
    manifest = json.loads(read_bytes(FileSystems.join(folder, "manifest.json")))
    config = CorpusConfig.from_dict(manifest["config"])
    vocab = load_vocab(folder)
    tokens = vocab.tokens if vocab else []
    kept, kept_samples = [], []
    for shard in manifest["shards"]:
        for key, files in iter_samples(read_bytes(FileSystems.join(folder, shard["name"]))):
            meta = json.loads(files["json"])
            kept.append({**meta.get("scores", {}), **meta})
            if len(kept_samples) < SAMPLES_SHOWN:
                kept_samples.append(annotated_sample(key, files, tokens))
    candidates, quality_rejects, read_rejects = [], {}, {}
    kept_urls = {m["url"] for m in kept}
    idir = ingest_dir(folder, config)
    intermediates_found = False
    for entry in manifest["inputs"]:
        source = current_input(entry)
        if source is None:  # gone or rewritten since the run: its intermediates are not this corpus's
            continue
        docs_file, funnel_file = input_paths(idir, source)
        if FileSystems.exists(funnel_file):
            intermediates_found = True
            for reason, url, ctype, head in read_json(funnel_file).get("rejects", []):
                read_rejects.setdefault(reason, []).append((url, ": ".join(p for p in (ctype, head) if p)))
        if FileSystems.exists(docs_file):
            for doc in read_docs(docs_file):
                candidates.append(doc.meta)
                failed = failed_rule(doc.meta, config.thresholds)
                if failed:
                    reason, value, limit = failed
                    quality_rejects.setdefault(f"quality.{reason}", []).append(
                        (doc.url, f"[{value} against {limit}] {doc.meta.get('title', '')[:60]} · {doc.text[:200]}"))
                elif doc.url not in kept_urls:
                    quality_rejects.setdefault(DEDUP_EXAMPLES, []).append((doc.url, doc.text[:200]))
    funnel = manifest["funnel"]
    if not intermediates_found:
        hist_note = (f'<p id="no-intermediates"><b>The intermediates ({esc(idir)}) are gone:</b> the distributions '
                     "show the kept documents only, and rejected pages have no examples. The funnel, the inputs, "
                     "the kept documents and the vocabulary come from the manifest and the shards.</p>")
    else:
        hist_note = ""
    stages = [("read", funnel["read"]), ("kept", funnel["kept"])]
    reasons = sorted({**funnel["dropped"], **funnel["failed"]}.items(), key=lambda kv: -kv[1])
    domains_kept = Counter(url_host(m["url"]) for m in kept).most_common(15)
    domains_dropped = Counter(url_host(m["url"]) for m in candidates
                              if m["url"] not in kept_urls).most_common(15)
    charsets = Counter(f'{m.get("charset_declared") or "(none)"} → {m.get("charset")}' for m in candidates).most_common()
    rejects_html = rejects_section(funnel, {**read_rejects, **quality_rejects}, intermediates_found)
    limits = thresholds_of(config)
    hist = hist_note + "".join(histogram(s, {"candidates": [m[s] for m in candidates if s in m],
                                 "kept": [m[s] for m in kept if s in m]}, limits.get(s)) for s in SCORES)
    hist += histogram("dedup_cluster_size", {"kept": [m.get("dedup_cluster_size", 1) for m in kept]})
    hist += tiers_section(manifest, kept)
    graph = manifest.get("near_duplicate_graph")
    if graph:
        hist += (f'<p id="near-graph">Near-duplicate graph: {graph["nodes"]} documents, {graph["edges"]} edges, '
                 f'largest degree {graph["max_degree"]}, {graph["rounds"]} label-propagation rounds</p>')
    data = json.dumps({"funnel": funnel, "samples": manifest["samples"], "inputs": len(manifest["inputs"])})
    return PAGE.format(
        title=f"Corpus report · {manifest['samples']} documents",
        data=data.replace("</", "<\\/"),
        funnel_chart=bars(stages) + bars(reasons, "#d2691e"),
        inputs="".join(f'<tr><td><code>{esc(i["path"])}</code></td><td>{i["size"]}</td><td>{i["funnel"]["read"]}</td>'
                       f'<td>{i["funnel"]["kept"]}</td><td>{sum(i["funnel"]["dropped"].values())}</td>'
                       f'<td>{sum(i["funnel"]["failed"].values())}</td></tr>' for i in manifest["inputs"]),
        histograms=hist, charsets=bars(charsets), domains_kept=bars(domains_kept, "#2e8b57"),
        domains_dropped=bars(domains_dropped, "#999999"), samples="".join(kept_samples), rejects=rejects_html,
        vocab=esc(json.dumps(manifest.get("vocab", {}), ensure_ascii=False)),
        glyph_fonts="".join(f'<tr><td>{esc(f["name"])}</td><td>{esc(f["style"])}</td><td>{f["own"]}</td>'
                            f'<td>{f["fallback"]}</td><td>{f["missing"]}</td><td>{esc(f["licence"])}</td></tr>'
                            for f in manifest.get("glyphs", {}).get("fonts", [])),
        glyphs=glyph_sheet(folder, manifest, tokens),
        config=esc(json.dumps(manifest["config"], indent=1, ensure_ascii=False)),
        versions=esc(json.dumps({"versions": manifest.get("versions"), "models": manifest.get("models"),
                                 "config_sha256": manifest.get("config_sha256")}, indent=1, ensure_ascii=False)),
    )


PAGE = """<!DOCTYPE html>
<html lang="zh"><head><meta charset="utf-8"><title>{title}</title>
<style>
body{{font-family:sans-serif;margin:2em;max-width:1100px}} h2{{border-bottom:1px solid #ccc}}
figure{{display:inline-block;margin:.4em}} figcaption{{font-size:12px}} table{{border-collapse:collapse}}
td,th{{border:1px solid #ddd;padding:2px 6px;font-size:13px}} .sample{{margin:1em 0}} .prov{{font-size:12px;color:#555}}
ruby.t{{margin:0 1px}} ruby.wb{{margin-left:.6em}} rt{{font-size:9px;color:#36c}} pre{{font-size:11px;background:#f6f6f6;overflow:auto}}
#totals td{{font-weight:bold}} .legend span{{padding:0 .5em}}
</style></head><body>
<h1>{title}</h1>
<script id="corpus-data" type="application/json">{data}</script>
<table id="totals"><tr><th>read</th><th>kept</th><th>dropped</th><th>failed</th><th>balanced</th><th>samples</th></tr>
<tr><td id="n-read"></td><td id="n-kept"></td><td id="n-dropped"></td><td id="n-failed"></td><td id="balanced"></td>
<td id="n-samples"></td></tr></table>
<p id="js-errors"></p>
<h2>Funnel</h2>{funnel_chart}
<h3>Inputs</h3><table id="inputs"><tr><th>path</th><th>bytes</th><th>read</th><th>kept</th><th>dropped</th><th>failed</th></tr>{inputs}</table>
<h2>Distributions</h2><p class="legend"><span style="color:#999">■ candidates (scored, before the thresholds)</span>
<span style="color:#2e8b57">■ kept</span></p>{histograms}
<h3>Charsets, declared → used (candidates)</h3>{charsets}
<h3>Top domains kept</h3>{domains_kept}<h3>Top domains dropped after scoring</h3>{domains_dropped}
<h2>Kept documents</h2><p>word boundaries spaced, pinyin above each character</p>{samples}
<h2>Rejected examples, per reason</h2>{rejects}
<h2>Vocabulary and glyphs</h2><p><code>{vocab}</code></p>
<table><tr><th>font</th><th>style</th><th>own</th><th>fallback</th><th>missing</th><th>licence</th></tr>{glyph_fonts}</table>
{glyphs}
<h2>Config</h2><pre>{config}</pre><h2>Versions and models</h2><pre>{versions}</pre>
<script>
window.addEventListener("error", function (e) {{ document.getElementById("js-errors").textContent += "error: " + e.message; }});
(function () {{
  var d = JSON.parse(document.getElementById("corpus-data").textContent), f = d.funnel;
  function sum(o) {{ return Object.keys(o).reduce(function (a, k) {{ return a + o[k]; }}, 0); }}
  var dropped = sum(f.dropped), failed = sum(f.failed);
  document.getElementById("n-read").textContent = f.read;
  document.getElementById("n-kept").textContent = f.kept;
  document.getElementById("n-dropped").textContent = dropped;
  document.getElementById("n-failed").textContent = failed;
  document.getElementById("balanced").textContent = (f.read === f.kept + dropped + failed) ? "yes" : "NO";
  document.getElementById("n-samples").textContent = d.samples;
}})();
</script></body></html>
"""


def write_report(folder: str) -> str:
    path = FileSystems.join(folder, "report.html")
    write_bytes(path, build_report(folder).encode("utf-8"))
    return path


if __name__ == "__main__":
    print(write_report(sys.argv[1] if len(sys.argv) > 1 else "out/corpus"))
