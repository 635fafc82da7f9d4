"""Readings of polyphonic characters in context: the BiLSTM that the registry package g2pM (Apache-2.0) ships, run by
our own batched numpy forward pass over its weight files, and its choice limited to the character's own readings.

The package's files are loaded with a restricted unpickler (only numpy arrays, dicts, lists and strings can come
out of them), so a tampered wheel cannot run code. requirements.lock pins the version (g2pM==0.1.2.5, whose wheel's
sha256 was 9e920b82df4002f96d8679720c7a858d10816d438dbd61b8b6b621a80a976361 when these figures were measured).
"""
from __future__ import annotations

import importlib.util
import os
import pickle

import numpy as np

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
    """Limit numpy's BLAS to one thread in this process. The model's matrices are tiny, so BLAS threads never pay:
    waking them doubled the annotation's CPU time on 2 cores (BENCHMARKS.md, "Segmentation and polyphones"), and
    a worker per core would start as many threads per worker again."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1, user_api="blas")


class PolyphoneModel:
    """`choose(sentences, targets)` → one TONE3 reading (ü as v) per target character, from its own readings only."""

    def __init__(self, folder: str | None = None):
        folder = folder or package_dir()
        weights, self.char_index, classes, readings = (_load(os.path.join(folder, f)) for f in FILES)
        w = {k: np.asarray(v, dtype=np.float32) for k, v in weights.items()}
        self.embedding = w["embedding.weight"]                                   # [V, E]
        # A character's input-gate contribution depends on nothing else: one table row per vocabulary entry.
        input_gates = [self.embedding @ w["lstm.weight_ih_l0"].T + w["lstm.bias_ih_l0"] + w["lstm.bias_hh_l0"],
                       self.embedding @ w["lstm.weight_ih_l0_reverse"].T + w["lstm.bias_ih_l0_reverse"]
                       + w["lstm.bias_hh_l0_reverse"]]                           # [V, 4H] per direction
        # both directions stacked once: every step multiplies both
        self.hidden_weights = np.stack([w["lstm.weight_hh_l0"].T, w["lstm.weight_hh_l0_reverse"].T])  # [2, H, 4H]
        self.hidden = H = self.hidden_weights.shape[1]
        # sigmoid(x) = (tanh(x/2) + 1) / 2: the input, forget and output gates' columns are halved once here, so
        # that one tanh per step serves all four gates. Halving is exact in binary floating point, so every
        # value is bit for bit what halving each step's sums would give.
        halves = np.array([0.5] * (2 * H) + [1.0] * H + [0.5] * H, dtype=np.float32)
        self.hidden_weights = self.hidden_weights * halves
        # One table for both directions (backward ids offset by V) and a padding row of zeros after them: with a
        # zero cell input, a zero state stays exactly zero (c = f·0 + i·tanh(0), h = o·tanh(0)), so a row
        # left-padded with it starts from zero at its first real id, as if it had not been padded.
        pad = np.zeros((1, 4 * H), dtype=np.float32)
        self.gate_table = np.concatenate([input_gates[0] * halves, input_gates[1] * halves, pad])
        self.padding = len(self.gate_table) - 1
        self.fc1, self.fc1_bias = w["logit_layer.0.weight"].T, w["logit_layer.0.bias"]     # [2H, F]
        self.fc2, self.fc2_bias = w["logit_layer.2.weight"].T, w["logit_layer.2.bias"]     # [F, C]
        self.class_names = [""] * len(classes)
        for name, index in classes.items():
            self.class_names[index] = name.replace("u:", "v")
        class_of = {name.replace("u:", "v"): i for name, i in classes.items()}
        # Each polyphonic character's candidate classes: the model picks among these only.
        self.candidates = {}
        for char, prons in readings.items():
            ids = sorted({class_of[p.replace("u:", "v")] for p in prons if p.replace("u:", "v") in class_of})
            if len(ids) > 1 and char in self.char_index:
                self.candidates[char] = np.array(ids, dtype=np.int64)

    def is_polyphonic(self, char: str) -> bool:
        """Whether the model has more than one reading to choose from for this character."""
        return char in self.candidates

    def _target_states(self, ids: list[list[int]], places: list[int]) -> np.ndarray:
        """Both directions' LSTM hidden states [N, 2H] at one place of each id sequence. The forward state there
        depends only on the ids up to it and the backward state only on those from it, so each direction runs over
        its own part (about half the steps of the whole sequence), the parts left-padded to one length with a row
        that keeps the state at zero; both directions go side by side (one matmul and one set of
        element-wise operations per step: per-call overhead dominates at these sizes)."""
        vocabulary = len(self.embedding)
        forward = [row[:p + 1] for row, p in zip(ids, places)]
        backward = [[i + vocabulary for i in reversed(row[p:])] for row, p in zip(ids, places)]  # gate_table rows V..
        parts = forward + backward
        steps = max(map(len, parts))
        padded = np.array([[self.padding] * (steps - len(x)) + x for x in parts])
        gates_in = self.gate_table[padded].reshape(2, len(ids), steps, -1)      # [2, N, T, 4H]
        H = self.hidden
        h = np.zeros((2, len(ids), H), np.float32)
        c = np.zeros_like(h)
        for t in range(steps):
            squashed = np.tanh(gates_in[:, :, t] + h @ self.hidden_weights)     # [2, N, 4H]; halved: see __init__
            gate = (squashed + 1.0) * 0.5  # sigmoid on the input, forget and output slices (cell's unused)
            c = gate[..., H:2 * H] * c + gate[..., :H] * squashed[..., 2 * H:3 * H]
            h = gate[..., 3 * H:] * np.tanh(c)
        return np.concatenate([h[0], h[1]], axis=1)

    def choose(self, sentences: list[str], targets: list[list[int]], min_confidence: float = 0.0,
               batch_size: int = 1024) -> list[list[str | None]]:
        """For each sentence, the reading of each target character index (each must be `is_polyphonic`); None where
        the model's probability for its choice, among the character's readings, is below `min_confidence`."""
        unknown, begin, end = self.char_index[UNKNOWN], self.char_index[BEGIN], self.char_index[END]
        jobs = [(i, t) for i, ts in enumerate(targets) for t in ts]
        encoded = {i: [begin] + [self.char_index.get(ch, unknown) for ch in sentences[i]] + [end]
                   for i in {i for i, _ in jobs}}
        picks: list[str | None] = []
        for start in range(0, len(jobs), batch_size):
            chunk = jobs[start:start + batch_size]
            states = self._target_states([encoded[i] for i, _ in chunk], [t + 1 for _, t in chunk])  # +1: begin
            hidden = np.maximum(states @ self.fc1 + self.fc1_bias, 0.0)
            logits = hidden @ self.fc2 + self.fc2_bias                              # [N, C]
            allowed = [self.candidates[sentences[i][t]] for i, t in chunk]
            rows = np.repeat(np.arange(len(chunk)), [len(a) for a in allowed])
            cols = np.concatenate(allowed)
            masked = np.full_like(logits, -np.inf)
            masked[rows, cols] = logits[rows, cols]                                 # only the character's readings
            best = masked.argmax(axis=1)
            confidence = 1.0 / np.exp(masked - masked[np.arange(len(chunk)), best][:, None]).sum(axis=1)
            picks.extend(self.class_names[b] if p >= min_confidence else None for b, p in zip(best, confidence))
        result: list[list[str | None]] = []
        at = 0
        for ts in targets:
            result.append(picks[at:at + len(ts)])
            at += len(ts)
        return result
