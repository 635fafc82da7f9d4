"""A CRF word segmenter with lexicon features: trained with crfsuite's passive-aggressive learner, decoded by
`crf_kernel.c` (or by the pure-Python decoder here, which gives the same words, where no C compiler is at hand).

Why it exists next to LTP's perceptron: LTP's templates are fixed (character n-grams and types); adding the skip
pair, wider type windows and a training-text lexicon lifts PKU test F1 beyond what LTP's perceptron reaches on the same
gold words (BENCHMARKS.md, "Segmentation").

The model is one .npz: the feature keys (sorted) with float16 weights for S B M E (float32 in memory; rounding them
moved no F1 figure by more than 0.0001), the transitions, the lexicon's word hashes and a JSON header. The same
training file and settings give the same bytes.
"""
from __future__ import annotations

import collections
import ctypes
import io
import json
import os
import tempfile

import numpy as np

from transforms.crf_features import LABELS, MAX_WORD, labels_of, sentence_features, word_hash
from transforms.native import code_points, compiled_library, optional_kernel, word_lengths
from transforms.segment import HALF_WIDTH

FORMAT = "crf-segmenter/1"


def _is_white(ch: str) -> bool:
    """Unicode White_Space, as crf_kernel.c's is_white."""
    return ch.isspace() and ch not in "\x1c\x1d\x1e\x1f"


def save_model(path: str, keys: np.ndarray, weights: np.ndarray, transitions: np.ndarray, lexicon: np.ndarray,
               header: dict) -> None:
    """Write the model .npz (uncompressed members with zip's fixed date: its bytes depend on the arrays only)."""
    order = np.argsort(keys, kind="stable")
    if not np.all(np.isfinite(weights.astype(np.float16))):
        raise ValueError("a weight does not fit float16")
    buffer = io.BytesIO()
    np.savez(buffer, keys=keys[order].astype(np.uint64), weights=weights[order].astype(np.float16),
             transitions=transitions.astype(np.float64), lexicon=np.sort(lexicon.astype(np.uint64)),
             header=np.frombuffer(json.dumps({"format": FORMAT, **header}, sort_keys=True).encode(), np.uint8))
    with open(path, "wb") as f:
        f.write(buffer.getvalue())


def load_arrays(path: str) -> dict[str, np.ndarray]:
    """The model's arrays (no pickles), its header checked."""
    with np.load(path, allow_pickle=False) as z:
        arrays = {name: z[name] for name in ("keys", "weights", "transitions", "lexicon")}
        header = json.loads(z["header"].tobytes())
    if header.get("format") != FORMAT or arrays["weights"].dtype != np.float16:
        raise ValueError(f"{path}: not a {FORMAT} model (format {header.get('format')!r})")
    arrays["header"] = header
    return arrays


class CrfModel:
    """A loaded model: `lengths_many(sentences)` → the word lengths of each sentence."""

    def __init__(self, path: str, kernel: bool = True):
        a = load_arrays(path)
        self.header = a["header"]
        self._kernel = optional_kernel(lambda: _Kernel(a), "decoding the CRF in Python (~100× slower, same words)",
                                       __name__) if kernel else None
        self.decoder = "crf_kernel" if self._kernel else "python"
        if not self._kernel:  # the Python decoder's tables (~100 MB of Python objects for the bundled model)
            self._weights = dict(zip(a["keys"].tolist(), a["weights"].astype(np.float64).tolist()))
            self._transitions = a["transitions"].tolist()
            self._lexicon = set(a["lexicon"].tolist())

    def lengths_many(self, sentences: list[str]) -> list[list[int]]:
        """Word lengths covering each sentence exactly (whitespace: a word of its own)."""
        if not sentences:
            return []
        if self._kernel:
            return self._kernel.lengths_many(sentences)
        return [_lengths(self._starts_python(s)) for s in sentences]

    def word_starts(self, sentences: list[str]) -> np.ndarray | None:
        """crf_kernel.c's flags over the joined sentences (nonzero where a word starts); None without the kernel."""
        return self._kernel.flags(sentences)[0] if self._kernel else None

    def _starts_python(self, sentence: str) -> list[int]:
        out, i = [], 0
        while i < len(sentence):
            if _is_white(sentence[i]):
                out.append(1)
                i += 1
                continue
            j = i
            while j < len(sentence) and not _is_white(sentence[j]):
                j += 1
            labels = self.label_run([ord(c) for c in sentence[i:j].translate(HALF_WIDTH)])
            out += [1] + [int(label <= 1) for label in labels[1:]]
            i = j
        return out

    def label_run(self, cps: list[int]) -> list[int]:
        """Viterbi labels (indices into LABELS) of one folded run without whitespace, as crf_kernel.c."""
        scores = []
        for feats in sentence_features(cps, self._lexicon.__contains__):
            s = [0.0] * len(LABELS)
            for k in feats:
                w = self._weights.get(k)
                if w:
                    s = [x + y for x, y in zip(s, w)]
            scores.append(s)
        last, back = scores[0], []
        for s in scores[1:]:
            now, arg = [], []
            for label in range(len(LABELS)):
                options = [last[q] + self._transitions[q][label] for q in range(len(LABELS))]
                best = max(range(len(LABELS)), key=lambda q: (options[q], -q))
                arg.append(best)
                now.append(options[best] + s[label])
            back.append(arg)
            last = now
        best = max(range(len(LABELS)), key=lambda q: (last[q], -q))
        labels = [best]
        for arg in reversed(back):
            best = arg[best]
            labels.append(best)
        return labels[::-1]


class _Table(ctypes.Structure):
    """crf_kernel.c's Table: slots, their count's log2, rows of `width` floats."""

    _fields_ = [("slots", ctypes.c_void_p), ("bits", ctypes.c_int), ("rows", ctypes.c_void_p), ("width", ctypes.c_int)]


class _KernelModel(ctypes.Structure):
    """crf_kernel.c's Model."""

    _fields_ = [("unigrams", _Table), ("bigrams", _Table), ("others", _Table), ("lexicon", ctypes.c_void_p),
                ("lexicon_bits", ctypes.c_int), ("transitions", ctypes.c_void_p)]


class _Kernel:
    """crf_kernel.c with the model's tables (kept alive here): the weights grouped in rows as the kernel reads them."""

    SLOT = np.dtype([("key", np.uint64), ("row", np.int64)])  # crf_kernel.c's Slot

    def __init__(self, arrays: dict[str, np.ndarray]):
        lib = compiled_library("crf_kernel.c")
        u64, u32, i64, u8 = (np.ctypeslib.ndpointer(t, flags="C_CONTIGUOUS")
                             for t in (np.uint64, np.uint32, np.int64, np.uint8))
        lib.crf_build.argtypes = [ctypes.c_void_p, ctypes.c_int, u64, ctypes.c_int64]
        lib.crf_build_set.argtypes = [u64, ctypes.c_int, u64, ctypes.c_int64]
        lib.crf_segment.argtypes = [ctypes.POINTER(_KernelModel), u32, i64, ctypes.c_int64, u8]
        self._lib, self._keep = lib, []
        keys, weights = arrays["keys"], arrays["weights"].astype(np.float32)  # float16 → float32: exact
        template, a = keys >> np.uint64(42), (keys >> np.uint64(21)) & np.uint64((1 << 21) - 1)
        unigram = template <= 4
        bigram = (template >= 5) & (template <= 8)
        tables = [self._table(a[unigram], template[unigram], weights[unigram], 5),
                  self._table(keys[bigram] & np.uint64((1 << 42) - 1), template[bigram] - np.uint64(5),
                              weights[bigram], 4),
                  self._table(keys[template >= 9], np.zeros(int((template >= 9).sum()), np.uint64),
                              weights[template >= 9], 1)]
        lexicon = arrays["lexicon"]
        lexicon_bits = max(4, int(len(lexicon) * 2).bit_length())
        self._lexicon = np.zeros(1 << lexicon_bits, np.uint64)
        lib.crf_build_set(self._lexicon, lexicon_bits, np.ascontiguousarray(lexicon), len(lexicon))
        self._transitions = np.ascontiguousarray(arrays["transitions"], np.float64)
        self._model = _KernelModel(*tables, self._lexicon.ctypes.data, lexicon_bits, self._transitions.ctypes.data)

    def _table(self, keys: np.ndarray, column: np.ndarray, weights: np.ndarray, columns: int) -> _Table:
        """One row of `columns` × S B M E weights per distinct key (column: which part of the row)."""
        distinct, row = np.unique(keys, return_inverse=True)
        rows = np.zeros((len(distinct), columns, len(LABELS)), np.float32)
        rows[row, column.astype(np.int64)] = weights
        bits = max(4, int(len(distinct) * 2).bit_length())
        slots = np.zeros(1 << bits, self.SLOT)
        self._lib.crf_build(slots.ctypes.data, bits, np.ascontiguousarray(distinct, np.uint64), len(distinct))
        rows = np.ascontiguousarray(rows.reshape(len(distinct), -1))
        self._keep += [slots, rows]
        return _Table(slots.ctypes.data, bits, rows.ctypes.data, columns * len(LABELS))

    def flags(self, sentences: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """uint8 per code point of the joined sentences, 1 where a word starts (every sentence's first one too),
        and the sentences' offsets (as cws_kernel's `flags`)."""
        cps, offsets = code_points(sentences)
        starts = np.empty(len(cps), np.uint8)
        if self._lib.crf_segment(ctypes.byref(self._model), cps, offsets, len(sentences), starts):
            raise MemoryError("crf_kernel: out of memory")
        return starts, offsets

    def lengths_many(self, sentences: list[str]) -> list[list[int]]:
        return word_lengths(*self.flags(sentences))  # a sentence's first character always starts a word


def _lengths(starts: list[int]) -> list[int]:
    edges = [i for i, s in enumerate(starts) if s] + [len(starts)]
    return [b - a for a, b in zip(edges, edges[1:])]


def read_training(path: str) -> list[list[str]]:
    """One sentence per line, words separated by spaces, full-width ASCII folded."""
    with open(path, encoding="utf-8") as f:
        return [line.translate(HALF_WIDTH).split() for line in f if line.split()]


def word_counts(sentences: list[list[str]]) -> collections.Counter:
    """How often each word of 2..MAX_WORD characters occurs."""
    return collections.Counter(w for words in sentences for w in words if 2 <= len(w) <= MAX_WORD)


def lexicon_of(counts: collections.Counter, min_count: int) -> set[int]:
    """Hashes of the words counted at least `min_count` times."""
    return {word_hash(map(ord, w)) for w, n in counts.items() if n >= min_count}


def training_lexicons(sentences: list[list[str]], total: collections.Counter, min_count: int,
                      folds: int) -> list[set[int]]:
    """The lexicon each training sentence sees: built without the sentence's own fold (sentence i is in fold
    i % folds), so that training meets words missing from the lexicon about as often as new text does. Without
    that, the model learns that every word is in the lexicon and splits new words into characters. `total`:
    `word_counts(sentences)`."""
    if folds < 2:
        return [lexicon_of(total, min_count)]
    lexicons = []
    for k in range(folds):
        own = word_counts(sentences[k::folds])
        lexicons.append({word_hash(map(ord, w)) for w, n in total.items() if n - own[w] >= min_count})
    return lexicons


def train_crf(train_file: str, out: str, epochs: int = 10, min_count: int = 2, threshold: float = 0.0,
              aggressiveness: float = 1.0, folds: int = 10) -> dict:
    """Train a model on segmented text (one sentence per line) and write it to `out`; returns its header.

    Features whose four weights are all below `threshold` in magnitude are dropped (smaller model)."""
    import pycrfsuite

    sentences = read_training(train_file)
    counts = word_counts(sentences)
    lexicon = lexicon_of(counts, min_count)
    seen = training_lexicons(sentences, counts, min_count, folds)
    trainer = pycrfsuite.Trainer(algorithm="pa", verbose=False)
    for i, words in enumerate(sentences):
        cps = [ord(c) for c in "".join(words)]
        features = sentence_features(cps, seen[i % len(seen)].__contains__)
        trainer.append([[format(k, "x") for k in f] for f in features], labels_of(words))
    trainer.set_params({"max_iterations": epochs, "c": aggressiveness})
    # crfsuite shuffles the sentences with the C library's rand(): reseeding it makes every run, in any process,
    # give the same model bytes (glibc's rand() sequence is fixed).
    ctypes.CDLL(None).srand(1)
    with tempfile.TemporaryDirectory() as folder:
        trainer.train(os.path.join(folder, "model.crfsuite"))
        tagger = pycrfsuite.Tagger()
        tagger.open(os.path.join(folder, "model.crfsuite"))
        info = tagger.info()
        tagger.close()
    index = {label: i for i, label in enumerate(LABELS)}
    rows: dict[int, list[float]] = {}
    for (attribute, label), weight in info.state_features.items():
        rows.setdefault(int(attribute, 16), [0.0] * len(LABELS))[index[label]] = weight
    kept = sorted(k for k, w in rows.items() if max(map(abs, w)) >= threshold and any(w))
    transitions = np.zeros((len(LABELS), len(LABELS)))
    for (a, b), weight in info.transitions.items():
        transitions[index[a], index[b]] = weight
    header = {"epochs": epochs, "min_count": min_count, "threshold": threshold, "sentences": len(sentences),
              "features": len(kept), "lexicon_words": len(lexicon), "algorithm": "crfsuite pa", "c": aggressiveness,
              "lexicon_folds": folds}
    save_model(out, np.array(kept, np.uint64), np.array([rows[k] for k in kept], np.float32), transitions,
               np.array(sorted(lexicon), np.uint64), header)
    return header


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description="Train the CRF segmenter from segmented text.")
    parser.add_argument("train", help="one sentence per line, words separated by spaces")
    parser.add_argument("model", help="output .npz")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--min-count", type=int, default=2, help="lexicon: words seen at least this often")
    parser.add_argument("--threshold", type=float, default=0.0, help="drop features with all |weights| below this")
    parser.add_argument("--c", type=float, default=1.0, help="passive-aggressive aggressiveness")
    parser.add_argument("--folds", type=int, default=10, help="lexicon features of training sentences from the "
                        "other folds (< 2: one lexicon of all training words)")
    cli = parser.parse_args()
    print(json.dumps(train_crf(cli.train, cli.model, cli.epochs, cli.min_count, cli.threshold, cli.c, cli.folds)))
