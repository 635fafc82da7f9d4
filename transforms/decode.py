"""Bytes → str for Chinese pages: BOM → valid UTF-8 → HTTP charset → <meta> → detector, and the bytes win.

GB2312/GBK are read as GB18030 (a superset), Big5 as Big5-HKSCS. A declared double-byte charset is checked
against the alternatives by plausibility (the share of common characters), because GBK, GB18030 and Big5 bytes
often decode without error in each other's codecs, into nonsense.
"""
from __future__ import annotations

import codecs
import re
from dataclasses import dataclass
from functools import lru_cache

from resiliparse.parse.encoding import detect_encoding

from transforms.chars import CONTROL_RE, PRIVATE_USE_RE
from transforms.config import DecodeConfig
from transforms.types import Rejected

CHARSET_ALIASES = {
    "gb2312": "gb18030", "gbk": "gb18030", "x-gbk": "gb18030", "cp936": "gb18030", "euc-cn": "gb18030",
    "gb_2312-80": "gb18030", "csgb2312": "gb18030", "gb18030": "gb18030", "windows-936": "gb18030",
    "big5": "big5hkscs", "big5-hkscs": "big5hkscs", "x-big5": "big5hkscs", "cp950": "big5hkscs", "big5hkscs": "big5hkscs",
    "utf8": "utf-8", "utf-8": "utf-8", "unicode-1-1-utf-8": "utf-8",
}
BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (b"\x84\x31\x95\x33", "gb18030"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
# Mojibake signatures: U+FFFD's UTF-8 bytes read as GBK (锟斤拷), MSVC's uninitialised memory read as GBK
# (烫 = 0xCC, 屯 = 0xCD), and UTF-8 read as Latin-1 / cp1252 (a lead byte letter followed by a continuation).
MOJIBAKE_RE = re.compile(
    "锟斤拷|烫烫烫|屯屯屯|[\u00c2-\u00ef][\u0080-\u00bf\u2018-\u201e\u2020-\u2022\u2026\u2030\u2039\u203a\u20ac\u2122\u0152\u0153\u0160\u0161\u0178\u017d\u017e\u0192\u02c6\u02dc]"
)
PLAUSIBILITY_CHARS = 20000


def normalise_charset(name: str) -> str:
    """A Python codec name for a declared charset (Chinese families widened), or "" when unknown."""
    name = (name or "").strip().lower()
    if not name:
        return ""
    if name in CHARSET_ALIASES:
        return CHARSET_ALIASES[name]
    try:
        return codecs.lookup(name).name
    except LookupError:
        return ""


@lru_cache(maxsize=1)
def _common_chars_table() -> dict[int, None]:
    """Deletion table of characters that real Chinese/Japanese text is mostly made of.

    Built from the codecs themselves: GB2312 level-1 hanzi and symbols (rows 0xA1–0xD7) and Big5's
    frequently used characters (0xA140–0xC67E), plus ASCII.
    """
    chars: set[str] = set(chr(i) for i in range(128))
    for lead in range(0xA1, 0xD8):
        for trail in range(0xA1, 0xFF):
            try:
                chars.add(bytes([lead, trail]).decode("gb2312"))
            except UnicodeDecodeError:
                pass
    for lead in range(0xA1, 0xC7):
        for trail in list(range(0x40, 0x7F)) + list(range(0xA1, 0xFF)):
            try:
                chars.add(bytes([lead, trail]).decode("big5"))
            except UnicodeDecodeError:
                pass
    return {ord(c): None for c in chars}


def plausibility(text: str) -> float:
    """Share of characters in the common set: near 1 for a right decoding, far lower for a wrong one."""
    sample = text[:PLAUSIBILITY_CHARS]
    if not sample:
        return 0.0
    rare = len(sample.translate(_common_chars_table()))
    return 1.0 - rare / len(sample)


@dataclass
class Decoded:
    text: str
    charset: str  # codec used
    source: str  # bom | utf8 | http | meta | detector | fallback
    declared: str  # what the page declared (HTTP first, then meta), normalised, "" if nothing
    replacement_ratio: float
    private_use_removed: int


def _strict(payload: bytes, codec: str) -> str | None:
    try:
        return payload.decode(codec)
    except (UnicodeDecodeError, LookupError):
        return None


def _choose(payload: bytes, candidates: list[tuple[str, str]]) -> tuple[str, str, str] | None:
    """Best strict decoding among (codec, source) candidates: most plausible, earlier wins ties."""
    best: tuple[float, str, str, str] | None = None
    for codec, source in candidates:
        text = _strict(payload, codec)
        if text is None:
            continue
        score = plausibility(text)
        if best is None or score > best[0] + 0.02:
            best = (score, text, codec, source)
        if score > 0.98:
            break
    return None if best is None else (best[1], best[2], best[3])


def decode(payload: bytes, http_charset: str, meta_charset: str, cfg: DecodeConfig) -> Decoded:
    """Decode a page; raises Rejected('decode', 'failed_<declared>') when no codec gives clean text."""
    http_codec = normalise_charset(http_charset)
    meta_codec = normalise_charset(meta_charset)
    declared = http_codec or meta_codec
    chosen: tuple[str, str, str] | None = None
    for bom, codec in BOMS:
        if payload.startswith(bom):
            text = _strict(payload, codec)
            if text is not None:
                chosen = (text.lstrip("\ufeff"), codec, "bom")
            break
    if chosen is None:
        text = _strict(payload, "utf-8")
        if text is not None:
            chosen = (text, "utf-8", "utf8")
    if chosen is None:
        detected = normalise_charset(detect_encoding(payload))
        candidates: list[tuple[str, str]] = []
        for codec, source in ((http_codec, "http"), (meta_codec, "meta"), (detected, "detector"),
                              ("gb18030", "fallback"), ("big5hkscs", "fallback")):
            if codec and codec not in {c for c, _ in candidates}:
                candidates.append((codec, source))
        chosen = _choose(payload, candidates)
        if chosen is None:  # nothing decodes strictly: take the least damaged decoding and measure it
            scored = []
            for codec, source in candidates:
                text = payload.decode(codec, errors="replace")
                scored.append((text.count("\ufffd"), -len(scored), text, codec, source))
            _, _, text, codec, source = min(scored)
            chosen = (text, codec, source)
    text, codec, source = chosen
    replacement_ratio = text.count("\ufffd") / max(len(text), 1)
    if replacement_ratio > cfg.max_replacement_ratio:
        raise Rejected("decode", f"failed_{declared or 'undeclared'}")
    text, n_private = PRIVATE_USE_RE.subn("", text)
    text = CONTROL_RE.sub("", text).replace("\ufffd", "")  # invalid bytes: measured above, never kept as text
    return Decoded(text, codec, source, declared, round(replacement_ratio, 5), n_private)


def mojibake_per_1k(text: str) -> float:
    """Mojibake signatures per 1,000 characters of text."""
    return round(1000 * len(MOJIBAKE_RE.findall(text)) / max(len(text), 1), 3)
