"""CommonCrawl inputs: a crawl id → its WARC paths (from the crawl's warc.paths.gz), and retries with jittered
exponential backoff for remote storage that throttles (HTTP 503 SlowDown)."""
from __future__ import annotations

import gzip
import logging
import random
import re
import time
from typing import Callable, TypeVar

DEFAULT_LISTING = "s3://commoncrawl/crawl-data/{crawl}/warc.paths.gz"
DEFAULT_PREFIX = "s3://commoncrawl/"
CRAWL_RE = re.compile(r"^CC-MAIN-\d{4}-\d{2}$")
SEGMENT_RE = re.compile(r"/segments/([^/]+)/")
RETRYABLE_RE = re.compile(r"SlowDown|503|429|Throttl|TooManyRequests|RequestLimitExceeded|Connection reset|timed out",
                          re.I)
T = TypeVar("T")


def select_paths(lines: list[str], prefix: str, segments: str | None = None, max_files: int | None = None) -> list[str]:
    """Listing lines → input paths: optionally segments A:B (by index among the listing's sorted distinct
    segments, Python slice semantics) and the first max_files."""
    paths = [line.strip() for line in lines if line.strip()]
    if segments:
        start, _, stop = segments.partition(":")
        ordered = sorted({m.group(1) for p in paths if (m := SEGMENT_RE.search(p))})
        chosen = set(ordered[int(start) if start else None:int(stop) if stop else None])
        paths = [p for p in paths if (m := SEGMENT_RE.search(p)) and m.group(1) in chosen]
    if max_files is not None:
        paths = paths[:max_files]
    return [prefix + p for p in paths]


def expand_crawl(crawl: str, listing: str | None = None, prefix: str = DEFAULT_PREFIX, segments: str | None = None,
                 max_files: int | None = None) -> list[str]:
    """The WARC paths of a CommonCrawl crawl id, read from its warc.paths.gz (local or remote)."""
    if not CRAWL_RE.match(crawl):
        raise ValueError(f"not a CommonCrawl crawl id: {crawl!r} (expected CC-MAIN-YYYY-WW)")
    from pipeline.work import read_bytes  # Beam's filesystems; imported here so the CLI can read the defaults cheaply

    data = retry(lambda: read_bytes((listing or DEFAULT_LISTING).format(crawl=crawl)))
    return select_paths(gzip.decompress(data).decode("utf-8").splitlines(), prefix, segments, max_files)


def is_retryable(exc: BaseException) -> bool:
    """Throttling and transient network errors of object stores."""
    return RETRYABLE_RE.search(f"{type(exc).__name__}: {exc}") is not None


def retry(call: Callable[[], T], attempts: int = 6, base_s: float = 1.0, cap_s: float = 60.0,
          sleep: Callable[[float], None] = time.sleep, rng: random.Random | None = None) -> T:
    """Call, retrying retryable errors with full-jitter exponential backoff (sleep U(0, min(cap, base·2^k)))."""
    rng = rng or random.Random()
    for attempt in range(attempts):
        try:
            return call()
        except Exception as exc:
            if attempt == attempts - 1 or not is_retryable(exc):
                raise
            delay = rng.uniform(0, min(cap_s, base_s * 2 ** attempt))
            logging.warning("retrying after %r in %.1fs (attempt %d/%d)", exc, delay, attempt + 1, attempts)
            sleep(delay)
    raise AssertionError("unreachable")
