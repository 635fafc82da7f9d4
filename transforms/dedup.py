"""Dedup building blocks: URL normalisation, text fingerprints, MinHash-LSH bands, line hashes, union-find."""
from __future__ import annotations

import hashlib
import re
import unicodedata
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import numpy as np

from transforms.config import DedupConfig

TRACKING_PARAMS = re.compile(r"^(utm_\w+|spm|from|fromid|share_token|sessionid|sid|phpsessid|jsessionid|fbclid|gclid)$", re.I)
NON_WORD_RE = re.compile(r"[\W_]+", re.UNICODE)
DEFAULT_PORTS = {"http": "80", "https": "443"}


def normalise_url(url: str) -> str:
    """Canonical form for URL dedup: lower-case scheme/host, no default port, fragment or tracking params."""
    try:
        parts = urlsplit(url.strip())
        port_number = parts.port  # raises on ":abc" or ":99999"
    except ValueError:  # web content is hostile: an unparsable URL is its own key, never an error
        return url.strip()
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower().rstrip(".")
    if host.startswith("www."):
        host = host[4:]
    port = f":{port_number}" if port_number and str(port_number) != DEFAULT_PORTS.get(scheme) else ""
    query = urlencode(sorted((k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
                             if not TRACKING_PARAMS.match(k)))
    path = parts.path or "/"
    return urlunsplit(("", host + port, path, query, ""))


def url_host(url: str) -> str:
    """The URL's host name, or "(unparsable URL)" for one that cannot be split (e.g. http://[::1/x)."""
    try:
        return urlsplit(url).hostname or ""
    except ValueError:
        return "(unparsable URL)"


def stable_hash(text: str, n_bytes: int = 12) -> str:
    """Hex digest (blake2b) of a string: stable across processes and machines, unlike hash()."""
    return hashlib.blake2b(text.encode("utf-8"), digest_size=n_bytes).hexdigest()


def document_key(url: str) -> str:
    """The sample key: derived from the normalised URL only, hex, safe as a file name."""
    return stable_hash(normalise_url(url))


def normalise_text(text: str) -> str:
    """NFKC, lower case, punctuation and whitespace removed: what two copies of one text share."""
    return NON_WORD_RE.sub("", unicodedata.normalize("NFKC", text).lower())


def text_fingerprint(text: str) -> str:
    """Exact-duplicate key of a text."""
    return stable_hash(normalise_text(text), 16)


def _permutations(cfg: DedupConfig) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(cfg.seed)
    a = rng.integers(1, 2**63, size=cfg.minhash_perms, dtype=np.uint64) | np.uint64(1)
    b = rng.integers(0, 2**63, size=cfg.minhash_perms, dtype=np.uint64)
    return a, b


class MinHasher:
    """MinHash over character shingles (multiply-shift hashing, vectorised), cut into LSH band keys."""

    def __init__(self, cfg: DedupConfig):
        if cfg.minhash_perms % cfg.lsh_bands:
            raise ValueError("minhash_perms must be a multiple of lsh_bands")
        self.cfg = cfg
        self.a, self.b = _permutations(cfg)

    def shingle_hashes(self, text: str) -> np.ndarray:
        """32-bit hashes of the distinct character n-grams of the normalised text."""
        norm = normalise_text(text)
        n = self.cfg.shingle_chars
        if len(norm) < n:
            norm = norm.ljust(n, "\0")
        codes = np.frombuffer(norm.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
        h = np.zeros(len(codes) - n + 1, dtype=np.uint64)
        for j in range(n):  # polynomial rolling hash; uint64 arithmetic wraps, which is what we want
            h = h * np.uint64(1_000_003) + codes[j:len(codes) - n + 1 + j]
        return np.unique((h ^ (h >> np.uint64(29))) & np.uint64(0xFFFFFFFF))

    def signature(self, text: str) -> np.ndarray:
        """MinHash signature, uint32[perms]."""
        h = self.shingle_hashes(text)
        with np.errstate(over="ignore"):
            values = (self.a[:, None] * h[None, :] + self.b[:, None]) >> np.uint64(32)
        return values.min(axis=1).astype(np.uint32)

    def band_keys(self, text: str) -> list[str]:
        """One key per LSH band: documents sharing any key are near-duplicate candidates."""
        sig = self.signature(text)
        rows = self.cfg.minhash_perms // self.cfg.lsh_bands
        return [f"{i:02d}{hashlib.blake2b(sig[i * rows:(i + 1) * rows].tobytes(), digest_size=8).hexdigest()}"
                for i in range(self.cfg.lsh_bands)]


def line_hashes(text: str, min_chars: int) -> list[str]:
    """Hashes of the distinct lines long enough to take part in cross-document line dedup."""
    seen = []
    for line in dict.fromkeys(text.split("\n")):
        norm = normalise_text(line)
        if len(norm) >= min_chars:
            seen.append(stable_hash(norm, 8))
    return seen


def line_hash(line: str) -> str:
    """The hash line_hashes gives a line (same normalisation)."""
    return stable_hash(normalise_text(line), 8)


def tree_edges(members, fanout: int) -> list[tuple[str, str]]:
    """Edges of a fanout-ary tree over the sorted distinct members, rooted at the smallest: it connects them all
    while no member gets more than fanout + 1 edges, and its depth grows as log_fanout(n)."""
    members = sorted(set(members))
    return [(members[i], members[(i - 1) // fanout]) for i in range(1, len(members))]
