"""report.html's pictures, as inline SVG and PNG: bar charts, histograms on one scale with the threshold drawn,
and the glyph sheet."""
from __future__ import annotations

import base64
import html
import io

import numpy as np
from apache_beam.io.filesystems import FileSystems

from pipeline.work import read_bytes
from transforms.config import CorpusConfig
from transforms.decide import RULES

GLYPHS_SHOWN = 60
GLYPHS_PER_ROW = 20  # 20 × 52 px: the sheet fits the page's 1,100 px
esc = html.escape


def bars(items: list[tuple[str, float]], color: str = "#3b7dd8", width: int = 640) -> str:
    """A horizontal bar chart as inline SVG."""
    if not items:
        return "<p><i>none</i></p>"
    top = max(v for _, v in items) or 1
    row = 18
    parts = [f'<svg width="{width}" height="{row * len(items) + 4}" role="img">']
    for i, (label, value) in enumerate(items):
        w = max(1, int((width - 330) * value / top))
        y = i * row + 2
        parts.append(f'<text x="0" y="{y + 13}" font-size="12">{esc(str(label))[:44]}</text>'
                     f'<rect x="300" y="{y + 2}" width="{w}" height="{row - 5}" fill="{color}"/>'
                     f'<text x="{305 + w}" y="{y + 13}" font-size="12">{value:g}</text>')
    return "".join(parts) + "</svg>"


SERIES_COLOURS = {"candidates": "#bbbbbb", "kept": "#2e8b57"}


def histogram(name: str, series: dict[str, list[float]], threshold: tuple[str, float] | None = None,
              bins: int = 20) -> str:
    """Histograms of one score, every series on one scale (bars side by side, counts written on them), with the
    threshold drawn as a red line, as inline SVG."""
    values = [v for vs in series.values() for v in vs]
    if not values:
        return ""
    lo, hi = min(values), max(values)
    if threshold:
        lo, hi = min(lo, threshold[1]), max(hi, threshold[1])
    edges = np.linspace(lo, hi if hi > lo else lo + 1, bins + 1)
    counts = {label: np.histogram(vs, bins=edges)[0] for label, vs in series.items()}
    top = max(int(c.max()) for c in counts.values()) or 1
    w, h, left, bottom = 320, 110, 28, 16
    plot_w, plot_h = w - left - 4, h - bottom - 12
    step = plot_w / bins
    parts = [f'<figure class="hist"><figcaption>{esc(name)}</figcaption><svg width="{w}" height="{h}" role="img">',
             f'<line x1="{left}" y1="{12 + plot_h}" x2="{w - 4}" y2="{12 + plot_h}" stroke="#333"/>',
             f'<line x1="{left}" y1="12" x2="{left}" y2="{12 + plot_h}" stroke="#333"/>',
             f'<text x="{left - 3}" y="16" font-size="9" text-anchor="end">{top}</text>',
             f'<text x="{left - 3}" y="{12 + plot_h}" font-size="9" text-anchor="end">0</text>']
    for x, value, anchor in ((left, edges[0], "start"), (left + plot_w / 2, edges[bins // 2], "middle"),
                             (w - 4, edges[-1], "end")):
        parts.append(f'<text x="{x:.1f}" y="{h - 3}" font-size="9" text-anchor="{anchor}">{value:.3g}</text>')
    width = step / len(counts) - 1
    for s_i, (label, c) in enumerate(counts.items()):
        colour = SERIES_COLOURS.get(label, "#3b7dd8")
        for b_i, n in enumerate(c):
            if not n:
                continue
            bh = plot_h * n / top
            x = left + b_i * step + s_i * (width + 1)
            parts.append(f'<rect x="{x:.1f}" y="{12 + plot_h - bh:.1f}" width="{width:.1f}" height="{bh:.1f}" '
                         f'fill="{colour}"><title>{esc(label)}: {n}</title></rect>'
                         f'<text x="{x + width / 2:.1f}" y="{10 + plot_h - bh:.1f}" font-size="7" '
                         f'text-anchor="middle">{n}</text>')
    if threshold:
        kind, limit = threshold
        x = left + plot_w * (limit - edges[0]) / (edges[-1] - edges[0])
        parts.append(f'<line class="threshold" x1="{x:.1f}" y1="10" x2="{x:.1f}" y2="{12 + plot_h}" stroke="#d00" '
                     f'stroke-dasharray="3,2"><title>{kind} {limit:g}</title></line>')
    return "".join(parts) + "</svg></figure>"


def thresholds_of(config: CorpusConfig) -> dict[str, tuple[str, float]]:
    """score name → (min|max, the configured limit), for the lines drawn on the histograms."""
    return {score: (kind, float(getattr(config.thresholds, field))) for _, score, kind, field in RULES}


def glyph_sheet(folder: str, manifest: dict, tokens: list[str]) -> str:
    """The most frequent characters in each font, as one PNG; characters a font draws by fallback outlined."""
    from PIL import Image, ImageDraw

    path = FileSystems.join(folder, "glyphs.npy")
    if not FileSystems.exists(path):
        return "<p><i>no glyphs.npy</i></p>"
    glyphs = np.load(io.BytesIO(read_bytes(path)), allow_pickle=False)
    chars = [i for i, t in enumerate(tokens) if len(t) == 1 and not t.isascii()][:GLYPHS_SHOWN]
    if not chars:
        return "<p><i>no characters in the vocabulary</i></p>"
    fonts = manifest.get("glyphs", {}).get("fonts", [])
    fallback = _fallback_marks(fonts, [tokens[i] for i in chars])
    size, scale, n_fonts = glyphs.shape[-1], 2, glyphs.shape[1]
    cell, rows = (size + 2) * scale, -(-len(chars) // GLYPHS_PER_ROW)
    band = n_fonts * cell + 2 * scale  # one band of GLYPHS_PER_ROW characters, a row per font, then a gap
    sheet = Image.new("L", (min(len(chars), GLYPHS_PER_ROW) * cell, rows * band), 255)
    draw = ImageDraw.Draw(sheet)
    for n, v in enumerate(chars):
        for f in range(n_fonts):
            tile = Image.fromarray(255 - glyphs[v, f]).resize((size * scale, size * scale), Image.NEAREST)
            x, y = (n % GLYPHS_PER_ROW) * cell, (n // GLYPHS_PER_ROW) * band + f * cell
            sheet.paste(tile, (x, y))
            if (f, v) in fallback:
                draw.rectangle([x, y, x + size * scale - 1, y + size * scale - 1], outline=0, width=2)
    buf = io.BytesIO()
    sheet.save(buf, format="PNG")
    names = ", ".join(f"{i + 1}: {esc(f['name'])} ({esc(f['style'])})" for i, f in enumerate(fonts))
    return (f'<p>in each band, rows = fonts ({names}); boxed = drawn by a fallback font</p>'
            f'<img id="glyph-sheet" alt="glyph sheet" style="max-width:100%" src="data:image/png;base64,{base64.b64encode(buf.getvalue()).decode()}">')


def _fallback_marks(fonts: list[dict], chars: list[str]) -> set:
    try:
        from fonts.glyphs import DEFAULT_MANIFEST, GlyphRenderer, load_manifest

        size, specs = load_manifest(DEFAULT_MANIFEST)
        renderer = GlyphRenderer([s for s in specs if s.name in {f["name"] for f in fonts}], size)
    except Exception:  # fonts not on this machine: no marks
        return set()
    return {(f, v) for f, spec in enumerate(renderer.specs) for v, c in enumerate(chars) if not renderer.has(spec.name, c)}
