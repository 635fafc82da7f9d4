"""A C decoder for LTP perceptron segmentation models (`cws_kernel.c`): ltp_extension's words, ~5× less CPU.

The kernel is compiled on first use (`transforms.native`), and the model's feature map is turned into one hash
table, cached next to it (keyed by the model's sha256). Where there is no compiler, or the model holds features
the kernel does not compute (a model from another ltp_extension version), KernelUnavailable says why and the
segmenter keeps ltp_extension: the same words, slower.
"""
from __future__ import annotations

import ctypes
import json
import os
import tempfile

import numpy as np

from transforms.native import NativeUnavailable as KernelUnavailable
from transforms.native import cache_dir, compiled_library, file_sha256, replace_atomically

TEMPLATES = {**{str(t): t for t in range(9)}, "d": 13}  # the feature string's first character → template id
UNIGRAMS = "01234"
TYPE_DIGITS = "123456"
SLOT_WORDS = 5  # one table slot: the feature key and its four weights, 8 bytes each


def kernel_library() -> ctypes.CDLL:
    """cws_kernel.c compiled and loaded, its functions typed."""
    lib = compiled_library("cws_kernel.c")
    u64p, i32p, f64p = (np.ctypeslib.ndpointer(t, flags="C_CONTIGUOUS") for t in (np.uint64, np.int32, np.float64))
    lib.cws_build.argtypes = [u64p, ctypes.c_int, u64p, i32p, f64p, ctypes.c_int64]
    lib.cws_segment.argtypes = [u64p, ctypes.c_int, f64p, ctypes.c_int32,
                                np.ctypeslib.ndpointer(np.uint32, flags="C_CONTIGUOUS"),
                                np.ctypeslib.ndpointer(np.int64, flags="C_CONTIGUOUS"), ctypes.c_int64, ctypes.c_int,
                                np.ctypeslib.ndpointer(np.uint8, flags="C_CONTIGUOUS")]
    return lib


def feature_table(features: dict[str, int]) -> tuple[np.ndarray, np.ndarray, int]:
    """The model's feature strings as (template, code point, code point) keys with their rows; the row of the
    `c` feature (-1 when absent). Raises KernelUnavailable on a feature the kernel does not compute."""
    keys, rows, c_row = [], [], -1
    for name, row in features.items():
        head, rest = name[:1], name[1:]
        if name == "c":
            c_row = row
            continue
        if head == "d" and len(rest) == 2 and all(d in TYPE_DIGITS for d in rest):
            a, b = int(rest[0]), int(rest[1])
        elif head in UNIGRAMS and len(rest) == 1:
            a, b = ord(rest), 0
        elif head in TEMPLATES and head not in UNIGRAMS and len(rest) == 2:
            a, b = ord(rest[0]), ord(rest[1])
        else:
            raise KernelUnavailable(f"the model has feature {name[:12]!r}, which the C decoder does not compute")
        keys.append((TEMPLATES[head] + 1) << 42 | a << 21 | b)
        rows.append(row)
    return np.array(keys, dtype=np.uint64), np.array(rows, dtype=np.int32), c_row


def model_tables(model_file: str) -> dict[str, np.ndarray]:
    """Feature keys, rows and parameters of an LTP CWS model, read through ltp_extension once and cached."""
    target = os.path.join(cache_dir(), f"cws_tables-{file_sha256(model_file)[:16]}.npz")
    if not os.path.exists(target):
        from ltp_extension.perceptron import CWSModel

        with tempfile.TemporaryDirectory() as tmp:
            dumped = os.path.join(tmp, "model.json")
            CWSModel.load(model_file).save(dumped)  # ltp_extension writes JSON for a .json name
            with open(dumped, encoding="utf-8") as f:
                model = json.load(f)
        keys, rows, c_row = feature_table(model["features"])
        params = np.array(model["parameters"], dtype=np.float64)

        def write(tmp):
            with open(tmp, "wb") as f:
                np.savez(f, keys=keys, rows=rows, c_row=np.int32(c_row), params=params)

        replace_atomically(write, target)
    with np.load(target) as data:
        return {name: data[name] for name in data.files}


class CwsKernel:
    """An LTP CWS model decoded in C: `batch_predict` gives ltp_extension's words, `lengths_many` word lengths."""

    def __init__(self, model_file: str):
        self._lib = kernel_library()
        tables = model_tables(model_file)
        self.params = np.ascontiguousarray(tables["params"])
        self.bits = max(10, int(len(tables["keys"]) * 1.6).bit_length())  # at most ~60% full: short probe runs
        self.table = np.zeros((1 << self.bits) * SLOT_WORDS, dtype=np.uint64)  # C's Slot: key + 4 doubles
        self._lib.cws_build(self.table, self.bits, tables["keys"], tables["rows"], self.params, len(tables["keys"]))
        self.c_row = int(tables["c_row"])

    def flags(self, sentences: list[str], fold: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """Per code point of the joined sentences: 1 a word starts, 0 it continues, 2 leading whitespace LTP
        leaves out; and the sentences' offsets. `fold` reads full-width ASCII as ASCII."""
        offsets = np.zeros(len(sentences) + 1, dtype=np.int64)
        np.cumsum([len(s) for s in sentences], out=offsets[1:])
        cps = np.frombuffer("".join(sentences).encode("utf-32-le"), dtype=np.uint32)
        out = np.empty(len(cps), dtype=np.uint8)
        if self._lib.cws_segment(self.table, self.bits, self.params, self.c_row, cps, offsets, len(sentences),
                                 int(fold), out):
            raise MemoryError("cws_segment could not allocate its buffers")
        return out, offsets

    def batch_predict(self, sentences: list[str]) -> list[list[str]]:
        """Words of each sentence as ltp_extension gives them: whitespace stays with the word before it,
        leading whitespace is left out."""
        flags, offsets = self.flags(sentences)
        begins = np.flatnonzero(flags == 1)
        cuts = np.searchsorted(begins, offsets).tolist()
        begins = begins.tolist()
        words = []
        for s, sentence in enumerate(sentences):
            start, end = int(offsets[s]), int(offsets[s + 1])
            edges = [b - start for b in begins[cuts[s]:cuts[s + 1]]] + [end - start]
            words.append([sentence[a:b] for a, b in zip(edges, edges[1:])])
        return words

    def lengths_many(self, sentences: list[str], fold: bool = False) -> list[list[int]]:
        """Word lengths covering each sentence exactly; leading whitespace becomes one-character words (as
        `segment.align` places characters a backend left out)."""
        flags, offsets = self.flags(sentences, fold)
        edges = np.flatnonzero(flags)  # every sentence starts a word: its first character is flagged 1 or 2
        lengths = np.diff(np.append(edges, offsets[-1])).tolist()
        cuts = np.searchsorted(edges, offsets).tolist()
        return [lengths[a:b] for a, b in zip(cuts, cuts[1:])]
