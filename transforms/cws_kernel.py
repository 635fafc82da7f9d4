"""A C decoder for LTP perceptron segmentation models (`cws_kernel.c`): ltp_extension's words, 4–9× less CPU.

The kernel is compiled on first use (`transforms.native`), and the model's feature map is laid out as per-character
and per-pair tables (`kernel_tables`), cached next to it (keyed by the model's sha256 and the layout code). Where
there is no compiler, or the model holds features the kernel does not compute (a model from another ltp_extension
version), KernelUnavailable says why and the segmenter keeps ltp_extension: the same words, slower.
"""
from __future__ import annotations

import ctypes
import hashlib
import inspect
import json
import os
import tempfile

import numpy as np

from transforms.checksums import file_sha256
from transforms.native import NativeUnavailable as KernelUnavailable
from transforms.native import cache_dir, code_points, compiled_library, replace_atomically, word_lengths

UNIGRAMS, BIGRAMS, TYPE_DIGITS = "01234", "5678", "123456"
MODEL_FIELDS = ("char_ids", "unigrams", "unigram_has", "pair_slots", "pair_bits", "pairs", "types", "type_has",
                "same_as_2_back", "transitions")


class _Model(ctypes.Structure):
    """cws_kernel.c's Model: pointers into the numpy tables a CwsKernel keeps alive."""

    _fields_ = [(name, ctypes.c_int if name == "pair_bits" else ctypes.c_void_p) for name in MODEL_FIELDS]


def kernel_library() -> ctypes.CDLL:
    """cws_kernel.c compiled and loaded, its functions typed."""
    lib = compiled_library("cws_kernel.c")
    lib.cws_build_pairs.argtypes = [np.ctypeslib.ndpointer(np.uint64, flags="C_CONTIGUOUS"), ctypes.c_int,
                                    np.ctypeslib.ndpointer(np.uint32, flags="C_CONTIGUOUS"),
                                    np.ctypeslib.ndpointer(np.uint32, flags="C_CONTIGUOUS"), ctypes.c_int64]
    lib.cws_segment.argtypes = [ctypes.POINTER(_Model), np.ctypeslib.ndpointer(np.uint32, flags="C_CONTIGUOUS"),
                                np.ctypeslib.ndpointer(np.int64, flags="C_CONTIGUOUS"), ctypes.c_int64, ctypes.c_int,
                                np.ctypeslib.ndpointer(np.uint8, flags="C_CONTIGUOUS")]
    return lib


def kernel_tables(features: dict[str, int], params: np.ndarray) -> dict[str, np.ndarray]:
    """The model's feature map and weights laid out for the kernel: per character its five unigram weights, per
    adjacent pair the rows of the bigram templates it has (consecutive, found through one key), the 36 type pairs,
    the `c` feature and the transitions (the first four rows). Raises KernelUnavailable on a feature the kernel
    does not compute."""
    weights = params.reshape(-1, 4)
    unigram_rows, pair_rows, type_rows, same = {}, {}, {}, None
    for name, row in features.items():
        head, rest = name[:1], name[1:]
        if name == "c":
            same = row
        elif head == "d" and len(rest) == 2 and all(d in TYPE_DIGITS for d in rest):
            type_rows[int(rest[0]) * 7 + int(rest[1])] = row
        elif head in UNIGRAMS and len(rest) == 1:
            unigram_rows[ord(rest), int(head)] = row
        elif head in BIGRAMS and len(rest) == 2:
            pair_rows[ord(rest[0]), ord(rest[1]), int(head) - 5] = row
        else:
            raise KernelUnavailable(f"the model has feature {name[:12]!r}, which the C decoder does not compute")
    chars = sorted({c for c, _ in unigram_rows} | {c for a, b, _ in pair_rows for c in (a, b)})
    if len(chars) >= 1 << 16:
        raise KernelUnavailable(f"{len(chars)} characters: more than the kernel's 16-bit ids hold")
    char_ids = np.zeros(0x110000, dtype=np.uint16)
    char_ids[chars] = np.arange(1, len(chars) + 1)
    unigrams = np.zeros((len(chars) + 1, 5, 4))
    unigram_has = np.zeros(len(chars) + 1, dtype=np.uint8)
    for (c, t), row in unigram_rows.items():
        unigrams[char_ids[c], t] = weights[row]
        unigram_has[char_ids[c]] |= 1 << t
    ordered = sorted(pair_rows)  # by pair, then template: each pair's rows consecutive, in template order
    pairs = weights[[pair_rows[k] for k in ordered]] if ordered else np.zeros((0, 4))
    entries: dict[tuple[int, int], int] = {}
    for n, (a, b, t) in enumerate(ordered):
        entries[a, b] = entries.get((a, b), n << 4) | 1 << t  # first row << 4 | the templates present
    if len(ordered) >= 1 << 28:
        raise KernelUnavailable(f"{len(ordered)} bigram features: more than the kernel's 28-bit rows hold")
    pair_keys = np.array([int(char_ids[a]) << 16 | int(char_ids[b]) for a, b in entries], dtype=np.uint32)
    pair_entries = np.array(list(entries.values()), dtype=np.uint32)
    types, type_has = np.zeros((49, 4)), np.zeros(49, dtype=np.uint8)
    for index, row in type_rows.items():
        types[index], type_has[index] = weights[row], 1
    return {"char_ids": char_ids, "unigrams": unigrams, "unigram_has": unigram_has, "pair_keys": pair_keys,
            "pair_entries": pair_entries, "pairs": pairs, "types": types, "type_has": type_has,
            "same_as_2_back": weights[same] if same is not None else np.zeros(0), "transitions": weights[:4].copy()}


def model_tables(model_file: str) -> dict[str, np.ndarray]:
    """`kernel_tables` of an LTP CWS model, read through ltp_extension once and cached."""
    # keyed by the model and by the code that lays the tables out, so a changed layout never reads an old file
    layout = hashlib.sha256(inspect.getsource(kernel_tables).encode()).hexdigest()[:8]
    target = os.path.join(cache_dir(), f"cws_tables-{file_sha256(model_file)[:16]}-{layout}.npz")
    if not os.path.exists(target):
        from ltp_extension.perceptron import CWSModel

        with tempfile.TemporaryDirectory() as tmp:
            dumped = os.path.join(tmp, "model.json")
            CWSModel.load(model_file).save(dumped)  # ltp_extension writes JSON for a .json name
            with open(dumped, encoding="utf-8") as f:
                model = json.load(f)
        tables = kernel_tables(model["features"], np.array(model["parameters"], dtype=np.float64))

        def write(tmp):
            with open(tmp, "wb") as f:
                np.savez_compressed(f, **tables)  # char_ids is mostly zeros: 2.2 MB → KBs

        replace_atomically(write, target)
    with np.load(target) as data:
        return {name: data[name] for name in data.files}


class CwsKernel:
    """An LTP CWS model decoded in C: `batch_predict` gives ltp_extension's words, `lengths_many` word lengths."""

    def __init__(self, model_file: str):
        self._lib = kernel_library()
        self.tables = {k: np.ascontiguousarray(v) for k, v in model_tables(model_file).items()}
        keys, entries = self.tables.pop("pair_keys"), self.tables.pop("pair_entries")
        bits = max(10, int(len(keys) * 1.25).bit_length())  # at most 80% full (~40-60%): short probe runs, 2 MB
        self.tables["pair_slots"] = np.zeros(1 << bits, dtype=np.uint64)
        self._lib.cws_build_pairs(self.tables["pair_slots"], bits, keys, entries, len(keys))
        pointer = {k: (v.ctypes.data if v.size else None) for k, v in self.tables.items()}
        self._model = _Model(**{name: bits if name == "pair_bits" else pointer[name] for name in MODEL_FIELDS})

    def flags(self, sentences: list[str], fold: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """Per code point of the joined sentences: 1 a word starts, 0 it continues, 2 leading whitespace LTP
        leaves out; and the sentences' offsets. `fold` reads full-width ASCII as ASCII."""
        cps, offsets = code_points(sentences)
        out = np.empty(len(cps), dtype=np.uint8)
        if self._lib.cws_segment(ctypes.byref(self._model), cps, offsets, len(sentences), int(fold), out):
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
        return word_lengths(*self.flags(sentences, fold))  # a sentence's first character is flagged 1 or 2
