"""Render vocabulary entries as 24×24 bitmaps in each glyph font: centred, deterministic, missing glyphs detected.

A font that lacks a character renders a box (or nothing) without complaint, so coverage is decided by the font's
character map (fontTools), and a missing character is drawn by the first font of its declared fallback chain.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass

import numpy as np

from transforms.checksums import file_sha256

DEFAULT_MANIFEST = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fonts.json")
REFERENCE_GLYPH = "田"  # fills the em box in every CJK font
SUPERSAMPLE = 2  # draw at 2× and average down: smoother strokes than 24 px directly, 4× cheaper than 4×


@dataclass
class FontSpec:
    name: str
    style: str
    file: str
    face_index: int
    licence: str
    sha256: str
    fallback: list[str]


def load_manifest(path: str = DEFAULT_MANIFEST) -> tuple[int, list[FontSpec]]:
    """(bitmap size, font specs in glyph order) from a fonts manifest."""
    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    keys = FontSpec.__dataclass_fields__
    return data["size"], [FontSpec(**{k: v for k, v in spec.items() if k in keys}) for spec in data["fonts"]]


def verify(specs: list[FontSpec]) -> None:
    """Every font file exists and has the declared sha256 (a different file would change every glyph)."""
    for spec in specs:
        if not os.path.exists(spec.file):
            raise FileNotFoundError(f"font {spec.name}: {spec.file} is missing (run `make fonts`)")
        actual = file_sha256(spec.file)
        if spec.sha256 and actual != spec.sha256:
            raise ValueError(f"font {spec.name}: sha256 {actual} differs from the manifest's {spec.sha256}")


class GlyphRenderer:
    """Loads each font once; `render(tokens)` → uint8[V, fonts, size, size] and per-font coverage."""

    def __init__(self, specs: list[FontSpec], size: int):
        from fontTools.ttLib import TTFont
        from PIL import ImageFont

        self.specs, self.size = specs, size
        self.cmaps: dict[str, set[int]] = {}
        self._origins: dict[str, tuple[float, float]] = {}
        self.fonts = {}
        for spec in specs:
            with TTFont(spec.file, fontNumber=spec.face_index, lazy=True) as tt:
                self.cmaps[spec.name] = set(tt.getBestCmap())
            self.fonts[spec.name] = ImageFont.truetype(spec.file, size * SUPERSAMPLE, index=spec.face_index)

    def has(self, font: str, char: str) -> bool:
        return ord(char) in self.cmaps[font]

    def _origin(self, font: str) -> tuple[float, float]:
        """Baseline origin that centres the font's full-width reference glyph: every character of the font is
        drawn from it, so punctuation keeps its place in the em box (。 low left, “ high)."""
        if font not in self._origins:
            big = self.size * SUPERSAMPLE
            left, top, right, bottom = self.fonts[font].getbbox(REFERENCE_GLYPH, anchor="ls")
            self._origins[font] = ((big - (right - left)) / 2 - left, (big - (bottom - top)) / 2 - top)
        return self._origins[font]

    def draw(self, font: str, char: str) -> np.ndarray:
        """One character, uint8[size, size] (0 = paper, 255 = ink)."""
        from PIL import Image, ImageDraw

        big = self.size * SUPERSAMPLE
        canvas = Image.new("L", (big, big), 0)
        ImageDraw.Draw(canvas).text(self._origin(font), char, fill=255, font=self.fonts[font], anchor="ls")
        return np.asarray(canvas.resize((self.size, self.size), Image.BOX), dtype=np.uint8)

    def render(self, tokens: list[str]) -> tuple[np.ndarray, list[dict]]:
        """Glyphs of single-character tokens (others stay blank), and per font: drawn / drawn by fallback / missing."""
        glyphs = np.zeros((len(tokens), len(self.specs), self.size, self.size), dtype=np.uint8)
        report = [{"font": s.name, "characters": 0, "own": 0, "fallback": 0, "missing": 0} for s in self.specs]
        for v, token in enumerate(tokens):
            if len(token) != 1 or token.isspace():
                continue
            for f, spec in enumerate(self.specs):
                report[f]["characters"] += 1
                chain = [spec.name] + spec.fallback
                source = next((name for name in chain if self.has(name, token)), None)
                if source is None:
                    report[f]["missing"] += 1
                    continue
                report[f]["own" if source == spec.name else "fallback"] += 1
                glyphs[v, f] = self.draw(source, token)
        return glyphs, report
