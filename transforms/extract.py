"""HTML → main text, one paragraph per line, with a size guard, a nesting guard (main-content extraction is quadratic in
the depth: a hostile page is flattened instead) and a time guard for the slow extractor."""
from __future__ import annotations

import html as html_lib
import re
import signal
import threading
from contextlib import contextmanager
from functools import lru_cache

from resiliparse.extract.html2text import extract_plain_text
from resiliparse.parse.html import HTMLTree

from transforms.chars import HAN_RE
from transforms.config import ExtractConfig
from transforms.types import Rejected

INLINE_SPACE_RE = re.compile(r"[ \t\u00a0\u3000\u2000-\u200a]+")
SCRIPT_STYLE_RE = re.compile(r"<(script|style|noscript)\b.*?</\1\s*>", re.I | re.S)
BLOCK_TAG_RE = re.compile(r"</?(p|div|br|li|h[1-6]|tr|section|article|blockquote|table|ul|ol|dd|dt|pre)\b[^>]*>", re.I)
ANY_TAG_RE = re.compile(r"<[^>]*>")
TITLE_RE = re.compile(r"<title[^>]*>(.*?)</title>", re.I | re.S)


@lru_cache(maxsize=4)
def _deeper_than(cap: int) -> str:
    """A CSS selector that matches an element nested more than cap levels deep (lexbor checks it bottom-up, so
    the cost grows with the page's real depth, not with the cap)."""
    return " > ".join(["*"] * (cap + 1))


def too_deep(tree: HTMLTree, cap: int) -> bool:
    """Whether any element of the parsed page is nested more than cap levels deep."""
    return tree.document.query_selector(_deeper_than(cap)) is not None


def flattened_text(html: str) -> str:
    """The cheap path for hostile nesting: scripts and styles out, block tags as line breaks, other tags out."""
    text = BLOCK_TAG_RE.sub("\n", SCRIPT_STYLE_RE.sub("", html))
    return html_lib.unescape(ANY_TAG_RE.sub("", text))


def normalise_paragraphs(text: str) -> str:
    """Strip each line, collapse inline whitespace, drop empty lines; lines joined by one newline."""
    lines = (INLINE_SPACE_RE.sub(" ", line).strip() for line in text.splitlines())
    return "\n".join(line for line in lines if line)


@contextmanager
def _deadline(seconds: float):
    """Raise TimeoutError after `seconds` (main thread only; elsewhere the size guard is the bound).

    Yields a list that holds True once the deadline passed, because an extractor may catch the TimeoutError
    itself (trafilatura does, around lxml) and return a partial result.
    """
    expired = [False]
    if threading.current_thread() is not threading.main_thread() or seconds <= 0:
        yield expired
        return

    def _expire(signum, frame):
        expired[0] = True
        raise TimeoutError

    previous = signal.signal(signal.SIGALRM, _expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield expired
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


MIN_MAIN_CONTENT_HAN = 50


def _resiliparse(html: str, max_depth: int) -> tuple[str, str] | None:
    # The tree lives in this frame only, which raises nothing of its own: Resiliparse trees must be freed on the
    # thread that made them, and one kept alive by a traceback or a log record is freed wherever the GC runs.
    tree = HTMLTree.parse(html)
    if too_deep(tree, max_depth):
        return None
    title = tree.title or ""
    options = dict(alt_texts=False, links=False, list_bullets=False, form_fields=False, noscript=False)
    body = extract_plain_text(tree, main_content=True, **options)
    if len(HAN_RE.findall(body)) < MIN_MAIN_CONTENT_HAN:
        # Main-content detection sometimes discards the article itself (pages built of <div>s with
        # navigation-like class names); the whole text then goes on, for trim_to_content to cut.
        body = extract_plain_text(tree, main_content=False, **options)
    return body, title


def _trafilatura(html: str, max_depth: int) -> tuple[str, str] | None:
    import trafilatura  # optional: only when selected

    if too_deep(HTMLTree.parse(html), max_depth):
        return None
    body = trafilatura.extract(html, include_comments=False, include_tables=True, favor_recall=True) or ""
    m = TITLE_RE.search(html[:20000])
    return body, (m.group(1).strip() if m else "")


# (html, max depth) → (text, title), or None for a page nested too deep to extract in bounded time
EXTRACTORS = {"resiliparse": _resiliparse, "trafilatura": _trafilatura}


def extract(html: str, cfg: ExtractConfig) -> tuple[str, str]:
    """(main text with paragraph breaks, page title); raises Rejected('extract', …) on guard or empty result."""
    if len(html) > cfg.max_html_chars:
        raise Rejected("extract", "html_too_large")
    try:
        with _deadline(cfg.timeout_s if cfg.extractor != "resiliparse" else 0) as expired:
            extracted = EXTRACTORS[cfg.extractor](html, cfg.max_depth)
    except TimeoutError:
        raise Rejected("extract", "timeout") from None
    if extracted is None:
        # Main-content extraction would take time quadratic in the depth (a 1 MB page of unclosed <div>s: minutes):
        # the text is taken from the flattened markup instead, and the page goes on to be judged like any other.
        title = TITLE_RE.search(html)
        text = normalise_paragraphs(flattened_text(html))
        if not text:
            raise Rejected("extract", "too_deep")
        return text, INLINE_SPACE_RE.sub(" ", title.group(1) if title else "").strip()[:500]
    body, title = extracted
    if expired[0]:
        raise Rejected("extract", "timeout")
    text = normalise_paragraphs(body)
    if not text:
        raise Rejected("extract", "empty")
    return text, INLINE_SPACE_RE.sub(" ", title).strip()[:500]
