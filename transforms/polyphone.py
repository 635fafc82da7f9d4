"""Readings of polyphonic characters in context: the BiLSTM that the registry package g2pM (Apache-2.0) ships, run by
our own forward pass over its weight files (transforms/polyphone_kernel.c, or numpy where no C compiler is at hand:
the same float32 operations in the same order, so the same bits), its choice limited to the character's own readings.

The package's files are loaded with a restricted unpickler (only numpy arrays, dicts, lists and strings can come
out of them), so a tampered wheel cannot run code. requirements.lock pins the version (g2pM==0.1.2.5, whose wheel's
sha256 was 9e920b82df4002f96d8679720c7a858d10816d438dbd61b8b6b621a80a976361 when these figures were measured).
"""
from __future__ import annotations

import ctypes
import importlib.util
import os
import pickle
from itertools import accumulate

import numpy as np

from transforms.native import NativeUnavailable, code_points, compiled_library, optional_kernel

PACKAGE = "g2pM"
FILES = ("np_ckpt.pkl", "char2idx.pkl", "class2idx.pkl", "digest_cedict.pkl")
UNKNOWN, BEGIN, END = "<UNK>", "시", "끝"  # the package's own special tokens (its vocabulary spells them so)
ALLOWED_GLOBALS = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
                   ("numpy", "ndarray"), ("numpy", "dtype")}


class _ArraysOnly(pickle.Unpickler):
    def find_class(self, module, name):
        if (module, name) not in ALLOWED_GLOBALS:
            raise pickle.UnpicklingError(f"{module}.{name} is not allowed in a g2pM data file")
        if module.startswith("numpy.core"):  # pickled by numpy 1.x; numpy 2 names the module numpy._core
            module = module.replace("numpy.core", "numpy._core", 1)
        return super().find_class(module, name)


def _load(path: str):
    with open(path, "rb") as f:
        return _ArraysOnly(f).load()


def package_dir() -> str:
    """The installed g2pM package folder (found without importing it)."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("the polyphone model needs the g2pM package (pinned in requirements.lock)")
    return list(spec.submodule_search_locations)[0]


def one_blas_thread() -> None:
    """Limit numpy's BLAS to one thread in this process: a worker per core would start as many BLAS threads per
    worker again. When the model still ran on BLAS, waking them doubled the annotation's CPU time on 2 cores
    (BENCHMARKS.md, "Segmentation and polyphones"); its forward pass makes no BLAS calls now, so this guards the
    worker's other numpy calls."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1, user_api="blas")


class PolyphoneModel:
    """`choose(sentences, targets)` → one TONE3 reading (ü as v) per target character, from its own readings only.

    `kernel=False` runs the forward pass in numpy (as where no C compiler is at hand); `runs_in` says which ran."""

    def __init__(self, folder: str | None = None, kernel: bool = True):
        folder = folder or package_dir()
        weights, self.char_index, classes, readings = (_load(os.path.join(folder, f)) for f in FILES)
        w = {k: np.asarray(v, dtype=np.float32) for k, v in weights.items()}
        self.embedding = w["embedding.weight"]                                   # [V, E]
        # A character's input-gate contribution depends on nothing else: one table row per vocabulary entry.
        input_gates = [ordered_matmul(self.embedding, w["lstm.weight_ih_l0"].T,
                                      w["lstm.bias_ih_l0"] + w["lstm.bias_hh_l0"]),
                       ordered_matmul(self.embedding, w["lstm.weight_ih_l0_reverse"].T,
                                      w["lstm.bias_ih_l0_reverse"] + w["lstm.bias_hh_l0_reverse"])]  # [V, 4H] each
        self.hidden = H = w["lstm.weight_hh_l0"].shape[1]
        # sigmoid(x) = (tanh(x/2) + 1) / 2: the input, forget and output gates' columns are halved once here, so
        # that one tanh per step serves all four gates (halving is exact in binary floating point).
        halves = np.array([0.5] * (2 * H) + [1.0] * H + [0.5] * H, dtype=np.float32)
        self.hidden_weights = np.ascontiguousarray(np.stack([w["lstm.weight_hh_l0"].T,
                                                             w["lstm.weight_hh_l0_reverse"].T]) * halves)  # [2, H, 4H]
        # One table for both directions (backward ids offset by V) and a padding row of zeros after them: with a
        # zero cell input, a zero state stays exactly zero (c = f·0 + i·tanh(0), h = o·tanh(0)), so a row
        # left-padded with it starts from zero at its first real id, as if it had not been padded.
        pad = np.zeros((1, 4 * H), dtype=np.float32)
        self.gate_table = np.concatenate([input_gates[0] * halves, input_gates[1] * halves, pad])
        self.padding = len(self.gate_table) - 1
        self.fc1 = np.ascontiguousarray(w["logit_layer.0.weight"].T)             # [2H, F]
        self.fc2 = np.ascontiguousarray(w["logit_layer.2.weight"].T)             # [F, C]
        self.fc1_bias, self.fc2_bias = w["logit_layer.0.bias"], w["logit_layer.2.bias"]
        self.class_names = [""] * len(classes)
        for name, index in classes.items():
            self.class_names[index] = name.replace("u:", "v")
        class_of = {name.replace("u:", "v"): i for name, i in classes.items()}
        # Each polyphonic character's candidate classes: the model picks among these only.
        self.candidates = {}
        for char, prons in readings.items():
            ids = sorted({class_of[p.replace("u:", "v")] for p in prons if p.replace("u:", "v") in class_of})
            if len(ids) > 1 and char in self.char_index:
                self.candidates[char] = np.array(ids, dtype=np.int32)
        # code point → model id (what char_index.get(ch, <UNK>) gives), for encoding many sentences at once
        self._id_of = np.full(0x110000, self.char_index[UNKNOWN], dtype=np.int32)
        for char, index in self.char_index.items():
            if len(char) == 1:
                self._id_of[ord(char)] = index
        self._kernel = optional_kernel(lambda: _Kernel(self), "polyphone model in numpy (same readings, slower)",
                                       __name__) if kernel else None
        self.runs_in = "polyphone_kernel" if self._kernel else "numpy"

    def is_polyphonic(self, char: str) -> bool:
        """Whether the model has more than one reading to choose from for this character."""
        return char in self.candidates

    def _encode(self, cps: np.ndarray, offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Sentences' model ids (from `code_points`), each between the begin and end marks, joined (int32), and
        where each starts (int64 [n + 1])."""
        bounds = offsets + 2 * np.arange(len(offsets))
        ids = np.empty(bounds[-1], dtype=np.int32)
        inside = np.ones(bounds[-1], dtype=bool)
        inside[bounds[:-1]] = inside[bounds[1:] - 1] = False
        ids[bounds[:-1]] = self.char_index[BEGIN]
        ids[bounds[1:] - 1] = self.char_index[END]
        ids[inside] = self._id_of[cps]
        return ids, bounds

    def _target_states(self, ids: list[list[int]], places: list[int]) -> np.ndarray:
        """Both directions' LSTM hidden states [N, 2H] at one place of each id sequence, in numpy as
        polyphone_kernel.c computes them. The forward state there depends only on the ids up to it and the backward
        state only on those from it, so each direction runs over its own part, the parts left-padded to one length
        with a row that keeps the state at zero; both directions go side by side."""
        vocabulary = len(self.embedding)
        forward = [list(row[:p + 1]) for row, p in zip(ids, places)]
        backward = [[i + vocabulary for i in reversed(row[p:])] for row, p in zip(ids, places)]  # gate_table rows V..
        parts = forward + backward
        steps = max(map(len, parts))
        padded = np.array([[self.padding] * (steps - len(x)) + x for x in parts])
        gates_in = self.gate_table[padded].reshape(2, len(ids), steps, -1)      # [2, N, T, 4H]
        H = self.hidden
        h = np.zeros((2, len(ids), H), np.float32)
        c = np.zeros_like(h)
        for t in range(steps):
            squashed = exact_tanh(ordered_matmul(h, self.hidden_weights[:, None], gates_in[:, :, t]))  # [2, N, 4H]
            gate = (squashed + ONE) * HALF  # sigmoid on the input, forget and output slices
            c = gate[..., H:2 * H] * c + gate[..., :H] * squashed[..., 2 * H:3 * H]
            h = gate[..., 3 * H:] * exact_tanh(c)
        return np.concatenate([h[0], h[1]], axis=1)

    def _choose_numpy(self, cps, offsets, jobs, candidates, candidate_offsets, batch_size=1024):
        """polyphone_kernel.c's poly_choose in numpy, batch by batch: (best class, its probability) per job."""
        ids, bounds = self._encode(cps, offsets)
        order = None
        if jobs.shape[1] > batch_size:  # jobs of like length batched together: a batch runs its longest part's steps
            order = np.argsort(bounds[jobs[0] + 1] - bounds[jobs[0]], kind="stable")
            jobs, candidates, candidate_offsets = _reordered(jobs, candidates, candidate_offsets, order)
        starts, ends, places = bounds[jobs[0]], bounds[jobs[0] + 1], jobs[1] + 1  # +1: the begin mark
        best, confidence = [], []
        for at in range(0, len(starts), batch_size):
            rows = range(at, min(at + batch_size, len(starts)))
            states = self._target_states([ids[starts[j]:ends[j]] for j in rows], [places[j] for j in rows])
            hidden = ordered_matmul(states, self.fc1, self.fc1_bias)
            hidden = np.where(hidden > 0, hidden, np.float32(0))                   # [N, F]
            counts = np.diff(candidate_offsets[at:rows.stop + 1])
            width = int(counts.max())
            valid = np.arange(width) < counts[:, None]                             # [N, K]
            cand = np.zeros((len(rows), width), dtype=np.int64)
            cand[valid] = candidates[candidate_offsets[at]:candidate_offsets[rows.stop]]
            logits = ordered_matmul(hidden, self.fc2[:, cand].transpose(1, 0, 2), self.fc2_bias[cand])  # [N, K]
            top = np.where(valid, logits, -np.inf).argmax(axis=1)                  # the first of the highest
            total = np.zeros(len(rows), dtype=np.float32)
            for k in range(width):
                term = exact_exp(np.where(valid[:, k], logits[:, k] - logits[np.arange(len(rows)), top], 0))
                total = total + np.where(valid[:, k], term, np.float32(0))
            best.append(cand[np.arange(len(rows)), top])
            confidence.append(np.float32(1) / total)
        best, confidence = np.concatenate(best), np.concatenate(confidence)
        if order is None:
            return best, confidence
        back = np.empty_like(order)
        back[order] = np.arange(len(order))
        return best[back], confidence[back]

    def scores(self, sentences: list[str], targets: list[list[int]],
               batch_size: int = 1024) -> tuple[np.ndarray, np.ndarray]:
        """(best class int32 [N], its probability among the character's readings float32 [N]) for the N targets
        in order (at least one; each must be `is_polyphonic`). `batch_size` bounds the numpy path's batches."""
        flat = [t for ts in targets for t in ts]
        if min(flat) < 0:
            raise IndexError("a target index is negative")  # past the end fails in the lookup below
        sentence_of = [i for i, ts in enumerate(targets) for _ in ts]
        allowed = [self.candidates[sentences[i][t]] for i, t in zip(sentence_of, flat)]
        candidate_offsets = np.fromiter(accumulate(map(len, allowed), initial=0), np.int64, len(allowed) + 1)
        candidates = np.concatenate(allowed)
        cps, offsets = code_points(sentences)
        jobs = np.array([sentence_of, flat], dtype=np.int64)                     # [2, N]: sentence, character
        if self._kernel:
            return self._kernel.choose(cps, offsets, jobs, candidates, candidate_offsets)
        return self._choose_numpy(cps, offsets, jobs, candidates, candidate_offsets, batch_size)

    def choose(self, sentences: list[str], targets: list[list[int]], min_confidence: float = 0.0,
               batch_size: int = 1024) -> list[list[str | None]]:
        """For each sentence, the reading of each target character index (each must be `is_polyphonic`); None where
        the model's probability for its choice, among the character's readings, is below `min_confidence`."""
        if not any(targets):
            return [[] for _ in targets]
        best, confidence = self.scores(sentences, targets, batch_size)
        picks = [self.class_names[b] if p >= min_confidence else None
                 for b, p in zip(best.tolist(), confidence.tolist())]
        result: list[list[str | None]] = []
        at = 0
        for ts in targets:
            result.append(picks[at:at + len(ts)])
            at += len(ts)
        return result


def _reordered(jobs, candidates, candidate_offsets, order):
    """The jobs [2, N] and their candidate lists in the given order."""
    counts = np.diff(candidate_offsets)[order]
    offsets = np.zeros(len(order) + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    picked = np.concatenate([candidates[candidate_offsets[j]:candidate_offsets[j + 1]] for j in order.tolist()])
    return jobs[:, order], picked, offsets


# float32 constants of polyphone_kernel.c, so that numpy's operations round as the kernel's
ONE, HALF = np.float32(1), np.float32(0.5)
EXP_LIMIT, LOG2E = np.float32(80), np.float32(1.44269502)
LN2_HI, LN2_LO = np.float32(0.693145752), np.float32(1.42860677e-06)
SHIFTER, SHIFTER_BITS = np.float32(12582912), np.int32(0x4B400000)
TAYLOR = [np.float32(1) / np.float32(n) for n in (720, 120, 24, 6)] + [np.float32(0.5), np.float32(1), np.float32(1)]


def ordered_matmul(a: np.ndarray, b: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """bias + a @ b in float32, each dot product summed in index order starting from its bias (as the kernel does;
    BLAS sums in an order of its own that depends on the machine). a [..., K], b [..., K, M]."""
    total = np.array(np.broadcast_to(bias, np.broadcast_shapes(bias.shape, a.shape[:-1] + b.shape[-1:])),
                     dtype=np.float32)
    for k in range(a.shape[-1]):
        total = total + a[..., k:k + 1] * b[..., k, :]
    return total


def exact_exp(y: np.ndarray) -> np.ndarray:
    """polyphone_kernel.c's exp4: exp in float32 from + - * / and bit operations only."""
    y = np.clip(np.asarray(y, dtype=np.float32), -EXP_LIMIT, EXP_LIMIT)
    t = y * LOG2E + SHIFTER
    n = t - SHIFTER
    r = (y - n * LN2_HI) - n * LN2_LO
    p = TAYLOR[0] * r + TAYLOR[1]
    for coefficient in TAYLOR[2:]:
        p = p * r + coefficient
    scale = (((t.view(np.int32) - SHIFTER_BITS) + np.int32(127)) << np.int32(23)).view(np.float32)
    return p * scale


def exact_tanh(x: np.ndarray) -> np.ndarray:
    """polyphone_kernel.c's tanh4: 1 − 2 / (exp(2x) + 1)."""
    return np.float32(1) - np.float32(2) / (exact_exp(x + x) + np.float32(1))


class _KernelModel(ctypes.Structure):
    """polyphone_kernel.c's Model."""

    _fields_ = [(name, ctypes.c_void_p) for name in ("gate_table", "hidden_weights", "fc1", "fc1_bias", "fc2",
                                                      "fc2_bias", "id_of")] + \
               [(name, ctypes.c_int64) for name in ("vocabulary", "hidden", "fc_hidden", "classes", "begin", "end",
                                                    "unknown")]


class _Kernel:
    """polyphone_kernel.c with the model's arrays (kept alive by the model)."""

    def __init__(self, model: PolyphoneModel):
        lib = compiled_library("polyphone_kernel.c")
        lib.poly_choose.argtypes = [ctypes.c_void_p] * 4 + [ctypes.c_int64] + [ctypes.c_void_p] * 4
        arrays = [model.gate_table, model.hidden_weights, model.fc1, model.fc1_bias, model.fc2, model.fc2_bias]
        if not all(a.dtype == np.float32 and a.flags.c_contiguous for a in arrays):
            raise NativeUnavailable("the polyphone model's arrays are not contiguous float32")
        if len(model._id_of) != 0x110000 or model._id_of.dtype != np.int32:
            raise NativeUnavailable("the polyphone model's code point table is not int32[0x110000]")
        self._lib = lib
        marks = (model.char_index[BEGIN], model.char_index[END], model.char_index[UNKNOWN])
        self._model = _KernelModel(*(a.ctypes.data for a in arrays + [model._id_of]), len(model.embedding),
                                   model.hidden, model.fc1.shape[1], model.fc2.shape[1], *marks)
        self._model_ref = ctypes.byref(self._model)

    def choose(self, cps, offsets, jobs, candidates, candidate_offsets):
        """(best class int32 [N], its probability float32 [N]) for the jobs (see poly_choose)."""
        count = jobs.shape[1]
        best = np.empty(count, dtype=np.int32)
        confidence = np.empty(count, dtype=np.float32)
        inputs = [np.ascontiguousarray(a, dtype=t) for a, t in ((cps, np.uint32), (offsets, np.int64),
                                                                (jobs, np.int64), (candidates, np.int32),
                                                                (candidate_offsets, np.int64))]
        code = self._lib.poly_choose(self._model_ref, *(a.ctypes.data for a in inputs[:3]), count,
                                     *(a.ctypes.data for a in inputs[3:]), best.ctypes.data, confidence.ctypes.data)
        if code:
            raise MemoryError("polyphone_kernel: out of memory") if code == 1 else ValueError(
                "polyphone_kernel: a size or place it does not handle")
        return best, confidence
