"""Is this payload a Chinese candidate? A byte-level look before paying for decoding and HTML extraction.

Recall first: a page passes when any signal says Chinese (declared charset, `lang`, UTF-8 CJK sequences,
GB/Big5 double-byte pairs in non-UTF-8 bytes, numeric entities for CJK code points). Japanese and Korean
pages pass too; the language step drops them.
"""
from __future__ import annotations

import re

from transforms.config import SniffConfig
from transforms.types import Rejected

CHINESE_CHARSETS = ("gb2312", "gbk", "gb18030", "big5", "big5-hkscs", "x-gbk", "cp936", "euc-cn", "hz-gb-2312", "x-euc-tw")
UTF8_CJK_RE = re.compile(rb"[\xe3-\xe9][\x80-\xbf][\x80-\xbf]")
DOUBLE_BYTE_RE = re.compile(rb"[\x81-\xfe][\x40-\x7e\xa1-\xfe]")
CJK_ENTITY_RE = re.compile(rb"&#(?:(?:1[3-9]|[2-3]\d|40)\d{3}|x(?:[34][0-9a-fA-F]|[5-9][0-9a-fA-F])[0-9a-fA-F]{2});")
META_CHARSET_RE = re.compile(rb"""<meta[^>]{0,200}?charset\s*=\s*["']?\s*([A-Za-z0-9_:.\-]{1,40})""", re.I)
LANG_RE = re.compile(rb"""<html[^>]{0,500}?\blang\s*=\s*["']?\s*([A-Za-z\-]{2,20})""", re.I)
SINGLE_BYTE_RE = re.compile(r"^(iso-?8859|latin|windows-125|cp125|koi8|ascii|us-ascii|tis-620)")
HEAD_BYTES = 8192


def meta_charset(payload: bytes) -> str:
    """The charset a <meta> tag declares in the first bytes of the page, lower case, or ""."""
    m = META_CHARSET_RE.search(payload, 0, HEAD_BYTES)
    return m.group(1).decode("ascii", "ignore").lower() if m else ""


def html_lang(payload: bytes) -> str:
    """The <html lang> attribute, lower case, or ""."""
    m = LANG_RE.search(payload, 0, HEAD_BYTES)
    return m.group(1).decode("ascii", "ignore").lower() if m else ""


def declared_single_byte(charset: str) -> bool:
    """True for a declared single-byte charset (Latin, Cyrillic, Greek…), whose high bytes are no Han evidence."""
    return SINGLE_BYTE_RE.match(charset) is not None


def _count_upto(pattern: re.Pattern, data: bytes, limit: int) -> int:
    n = 0
    for _ in pattern.finditer(data):
        n += 1
        if n >= limit:
            break
    return n


def _is_utf8(payload: bytes) -> bool:
    try:
        payload.decode("utf-8")
        return True
    except UnicodeDecodeError:
        return False


def sniff(payload: bytes, http_charset: str, cfg: SniffConfig) -> dict[str, object]:
    """Signals that this page may be Chinese; raises Rejected('sniff', 'not_chinese') when there are none."""
    declared = http_charset or meta_charset(payload)
    lang = html_lang(payload)
    need = max(cfg.min_han_bytes_seqs, int(cfg.min_han_share * len(payload) / 3))
    signals = {"declared_charset": declared, "html_lang": lang}
    if declared in CHINESE_CHARSETS or lang.startswith("zh"):
        signals["sniff"] = "declared"
        return signals
    if _count_upto(UTF8_CJK_RE, payload, need) >= need:
        signals["sniff"] = "utf8_cjk"
        return signals
    if _count_upto(CJK_ENTITY_RE, payload, need) >= need:
        signals["sniff"] = "entities"
        return signals
    if declared_single_byte(declared):
        raise Rejected("sniff", "not_chinese")
    if not _is_utf8(payload) and _count_upto(DOUBLE_BYTE_RE, payload, need) >= need:
        signals["sniff"] = "double_byte"
        return signals
    raise Rejected("sniff", "not_chinese")
