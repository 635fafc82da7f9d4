"""A compact character n-gram language model (interpolated Kneser-Ney, stored in backoff form) for cc_net-style
perplexity: trained on clean news and encyclopaedic Chinese, it scores a document and each of its lines.

The model is a few sorted arrays (32-bit n-gram fingerprints, quantised log-probabilities and back-off weights),
scored with numpy in a few hundred microseconds per page; no KenLM binary is needed to build or read it.
"""
from __future__ import annotations

import io
import re
from dataclasses import dataclass

import numpy as np

NEWLINE = ord("\n")
LOGP_STEP = 0.08  # natural-log quantisation step: 256 levels cover [-20.4, 0]
DISCOUNT = 0.75
VOCAB_GUESS = 40_000  # unseen characters share the unigram's reserved mass as if the alphabet had this many
_MULT = np.uint64(0x9E3779B97F4A7C15)
_SPACE_RE = re.compile(r"[^\S\n]+")
_DIGIT_RE = re.compile(r"\d")


def normalise(text: str) -> str:
    """What the model sees: lower case, every digit as 0, no spaces, lines kept."""
    return _DIGIT_RE.sub("0", _SPACE_RE.sub("", text.lower()))


def codes(text: str) -> np.ndarray:
    """Code points of the normalised text, with a newline in front as the start-of-line context."""
    return _codes_of(normalise(text))


def _codes_of(normalised: str) -> np.ndarray:
    return np.frombuffer(("\n" + normalised).encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser: spreads rolling keys over 64 bits."""
    with np.errstate(over="ignore"):
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return x ^ (x >> np.uint64(31))


def ngram_keys(c: np.ndarray, order: int) -> list[np.ndarray]:
    """keys[n-1][i] = 32-bit fingerprint of the n-gram ending at position i (0 where it would start before 0)."""
    keys, rolling = [], np.zeros(len(c), dtype=np.uint64)
    for n in range(1, order + 1):
        prev = np.zeros(len(c), dtype=np.uint64)
        prev[1:] = rolling[:-1]
        with np.errstate(over="ignore"):
            rolling = prev * _MULT + c + np.uint64(n)
        k = (_mix(rolling) >> np.uint64(32)).astype(np.uint32)
        k[: n - 1] = 0
        keys.append(k)
    return keys


def _lookup(table: np.ndarray, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(index, found) of each query in a sorted key table."""
    idx = np.searchsorted(table, q)
    idx = np.minimum(idx, len(table) - 1)
    return idx, table[idx] == q


@dataclass
class CharLM:
    keys: list[np.ndarray]  # per order, sorted uint32 fingerprints
    logp: list[np.ndarray]  # per order, uint8: -logp / LOGP_STEP
    bow: list[np.ndarray]  # per order, uint8: -log back-off weight / LOGP_STEP, for the n-gram as a history
    unk_logp: float

    @property
    def order(self) -> int:
        return len(self.keys)

    def char_logprobs(self, text: str) -> np.ndarray:
        """Natural-log probability of each scored character of a text (newlines are context only)."""
        return self._logprobs(codes(text))

    def _logprobs(self, c: np.ndarray) -> np.ndarray:
        keys = ngram_keys(c, self.order)
        n = len(c)
        logp = np.full(n, self.unk_logp)
        best = np.zeros(n, dtype=np.int8)
        for order in range(1, self.order + 1):
            idx, found = _lookup(self.keys[order - 1], keys[order - 1])
            found[: order - 1] = False
            logp = np.where(found, self.logp[order - 1][idx] * -LOGP_STEP, logp)
            best = np.where(found, order, best)
        for order in range(1, self.order):  # histories longer than the n-gram that was found pay their back-off
            idx, found = _lookup(self.keys[order - 1], _shift(keys[order - 1]))
            found[:order] = False
            logp = logp - np.where(found & (best <= order), self.bow[order - 1][idx] * LOGP_STEP, 0.0)
        scored = c != NEWLINE
        scored[0] = False
        return logp[scored]

    def perplexity(self, text: str) -> tuple[float, list[float]]:
        """(perplexity of the whole text, perplexity of each non-empty line), per character."""
        lines = [line for line in (normalise(raw) for raw in text.split("\n")) if line]  # normalised once
        logp = self._logprobs(_codes_of("\n".join(lines)))
        if not len(logp):
            return 0.0, []
        lengths = np.array([len(line) for line in lines])
        starts = np.concatenate(([0], np.cumsum(lengths)[:-1]))
        per_line = np.add.reduceat(logp, starts) / lengths
        return round(float(np.exp(-logp.mean())), 1), [round(float(x), 1) for x in np.exp(-per_line)]

    def to_bytes(self) -> bytes:
        """npz bytes (deterministic: fixed member order, no timestamps of our own)."""
        buf = io.BytesIO()
        arrays = {"unk_logp": np.array([self.unk_logp])}
        for i in range(self.order):
            arrays.update({f"keys{i}": self.keys[i], f"logp{i}": self.logp[i], f"bow{i}": self.bow[i]})
        np.savez_compressed(buf, **arrays)
        return buf.getvalue()

    @classmethod
    def load(cls, path: str) -> "CharLM":
        """Read a model written by to_bytes (numeric arrays only: no pickle)."""
        with np.load(path, allow_pickle=False) as z:
            order = sum(1 for k in z.files if k.startswith("keys"))
            return cls([z[f"keys{i}"] for i in range(order)], [z[f"logp{i}"] for i in range(order)],
                       [z[f"bow{i}"] for i in range(order)], float(z["unk_logp"][0]))


def _quantise(neg_log: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(neg_log / LOGP_STEP), 0, 255).astype(np.uint8)


def _shift(keys: np.ndarray) -> np.ndarray:
    out = np.zeros(len(keys), dtype=keys.dtype)
    out[1:] = keys[:-1]
    return out


def train(texts, order: int = 3, min_count: int = 2) -> CharLM:
    """Interpolated Kneser-Ney over characters; n-grams of the highest order seen fewer than min_count times are
    pruned (their mass stays with the back-off)."""
    rows = [[] for _ in range(order)]  # per order: (n-gram key, history key, suffix key) at each valid position
    for text in texts:
        c = codes(text)
        keys = ngram_keys(c, order)
        for n in range(order):
            valid = c != NEWLINE  # an n-gram predicts a character, never the line break
            valid[:n + 1 if n else 1] = False
            zeros = np.zeros(len(c), dtype=np.uint32)
            hist, suffix = (_shift(keys[n - 1]), keys[n - 1]) if n else (zeros, zeros)
            rows[n].append((keys[n][valid], hist[valid], suffix[valid]))
    cols = [[np.concatenate([r[j] for r in rows[n]]) for j in range(3)] for n in range(order)]
    probs: list[tuple[np.ndarray, np.ndarray]] = []  # per order: sorted keys, log P(w|h)
    backoff: list[tuple[np.ndarray, np.ndarray]] = [(np.zeros(0, np.uint32), np.zeros(0))]  # history key, weight
    unk = 0.0
    for n in range(order):
        k, h, s = cols[n]
        uniq, first, counts = np.unique(k, return_index=True, return_counts=True)
        if n < order - 1:  # lower orders count distinct left extensions (Kneser-Ney continuation counts)
            longer, _, longer_suffix = cols[n + 1]
            _, first_long = np.unique(longer, return_index=True)
            cont_keys, cont = np.unique(longer_suffix[first_long], return_counts=True)
            idx, found = _lookup(cont_keys, uniq)
            counts = np.where(found, cont[idx], 1)
        if n == 0:
            total = counts.sum()
            reserved = DISCOUNT * len(uniq) / total
            unk = float(np.log(reserved / VOCAB_GUESS))
            probs.append((uniq, np.log(np.maximum(counts - DISCOUNT, 0) / total + reserved / VOCAB_GUESS)))
            continue
        hist_keys, inverse = np.unique(h[first], return_inverse=True)
        h_total = np.bincount(inverse, weights=counts)
        lam = DISCOUNT * np.bincount(inverse) / h_total  # the back-off weight of each history
        lower_keys, lower_logp = probs[n - 1]
        idx, found = _lookup(lower_keys, s[first])
        lower = np.where(found, np.exp(lower_logp[idx]), np.exp(unk))
        p = np.maximum(counts - DISCOUNT, 0) / h_total[inverse] + lam[inverse] * lower
        keep = counts >= (min_count if n == order - 1 else 1)
        probs.append((uniq[keep], np.log(p[keep])))
        backoff.append((hist_keys, lam))
    out_keys, out_logp, out_bow = [], [], []
    for n in range(order):
        keys, logp = probs[n]
        bow = np.zeros(len(keys))
        if n < order - 1:
            hist_keys, lam = backoff[n + 1]
            idx, found = _lookup(hist_keys, keys)
            bow = np.where(found, -np.log(lam[idx]), 0.0)
        out_keys.append(keys.astype(np.uint32))
        out_logp.append(_quantise(-logp))
        out_bow.append(_quantise(bow))
    return CharLM(out_keys, out_logp, out_bow, unk)
