"""Word segmentation behind one interface: rjieba, LTP's perceptron (ltp_extension) and `ltp.LTP` (neural or legacy).

A document is segmented line by line, so that words never cross a line break and dropping a line drops exactly
its words. The result is stored as word lengths in characters: they concatenate back to the text exactly.
"""
from __future__ import annotations

import hashlib
import json
import os
from itertools import accumulate, chain

import numpy as np

from transforms.chars import split_sentences
from transforms.native import optional_kernel

SEGMENTERS = ("crf", "ltp-perceptron", "jieba", "ltp")
DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")
# The default: our CRF trained on People's Daily 1998 + GSD + SXU gold words (`make segmenter-model`; BENCHMARKS.md).
BUNDLED_CRF = os.path.join(DATA, "crf_cws.npz")
BUNDLED_CRF_SHA256 = "81f4d88c8ea476688800a62bd800f3f008e66e03479e3ccf6cc415355ffe5f53"
# LTP's perceptron trained on the same gold words (`make ltp-segmenter-model`).
BUNDLED_MODEL = os.path.join(DATA, "ltp_cws")
BUNDLED_SHA256 = "8eb3a662ef4974d54f2596af3805928df7de71866dc1cbd0888dff692b4f055a"  # its cws_model.bin
HALF_WIDTH = {c: c - 0xFEE0 for c in range(0xFF01, 0xFF5F)}  # full-width ASCII → ASCII, one character for one


def _dir_sha256(path: str) -> str:
    """sha256 over a model file, or over every file of a model folder (names and bytes, sorted)."""
    h = hashlib.sha256()
    files = [path] if os.path.isfile(path) else sorted(
        os.path.join(root, name) for root, _, names in os.walk(path) for name in names)
    for f in files:
        h.update(os.path.relpath(f, path).encode() if f != path else b"")
        with open(f, "rb") as stream:
            for block in iter(lambda: stream.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()


def cut_folded(sentences: list[str], predict) -> list[list[str]]:
    """`predict` on the sentences with full-width ASCII folded to ASCII (as `train_perceptron` folds its training
    text), the words cut from the original sentences, whose lengths the folding keeps."""
    out = []
    folded = [s.translate(HALF_WIDTH) for s in sentences]
    for sentence, fold, words in zip(sentences, folded, predict(folded)):
        # Folding keeps lengths: the same cuts in the original. Where the backend dropped characters (LTP leaves
        # out leading whitespace), `align` places its words in the folded text first.
        lengths = map(len, words) if "".join(words) == fold else align(fold, words)
        out.append(words_of(sentence, lengths))
    return out


class Segmenter:
    """Base: `cut_many(sentences)` → the words of each sentence."""

    name = "base"
    whole_lines = False  # True when the backend splits at punctuation itself: it gets lines, not sentences

    def cut_many(self, sentences: list[str]) -> list[list[str]]:
        raise NotImplementedError

    def word_starts(self, sentences: list[str]) -> np.ndarray | None:
        """Per code point of the joined sentences, nonzero where a word starts (a C decoder's flags, which
        `segment` turns into a document's lengths in one go); None where this backend has no such flags."""
        return None

    def lengths_many(self, sentences: list[str]) -> list[list[int]]:
        """Word lengths covering each sentence exactly (`align` places what a backend dropped or changed)."""
        return [align(s, words) for s, words in zip(sentences, self.cut_many(sentences))]


class JiebaSegmenter(Segmenter):
    """rjieba: jieba's algorithm and dictionary in Rust; offline, ~7M chars/s."""

    name = "jieba"
    whole_lines = True  # jieba cuts its input into runs of Han/alphanumerics first

    def __init__(self):
        import rjieba

        self._cut = rjieba.cut

    def cut_many(self, sentences):
        return [self._cut(s) for s in sentences]


class LtpPerceptronSegmenter(Segmenter):
    """LTP's legacy perceptron segmenter: its model decoded by `cws_kernel` (C, the same words), or by
    ltp_extension where the kernel cannot run (no C compiler; a model with features the kernel lacks)."""

    name = "ltp-perceptron"

    def __init__(self, model: str, kernel: bool = True):
        from transforms.cws_kernel import CwsKernel

        self._kernel = optional_kernel(lambda: CwsKernel(model_file(model)),
                                       "segmenting with ltp_extension (slower, same words)", __name__) if kernel else None
        if self._kernel is None:
            from ltp_extension.perceptron import CWSModel

            self._model = CWSModel.load(model_file(model))
        self.decoder = "cws_kernel" if self._kernel else "ltp_extension"

    def _predict(self, batch):
        if self._kernel:
            return self._kernel.batch_predict(batch)
        # One thread: Beam runs one worker process per core, so rayon's threads would only oversubscribe them.
        return self._model.batch_predict(batch, False)

    def cut_many(self, sentences):
        return cut_folded(sentences, self._predict) if sentences else []

    def lengths_many(self, sentences):
        if self._kernel:  # folded inside the kernel, lengths without building words
            return self._kernel.lengths_many(sentences, fold=True)
        return super().lengths_many(sentences)

    def word_starts(self, sentences):
        return self._kernel.flags(sentences, fold=True)[0] if self._kernel else None


class CrfSegmenter(Segmenter):
    """Our CRF with lexicon features (`transforms.crf_segment`), decoded by crf_kernel.c or in Python (same words)."""

    name = "crf"

    def __init__(self, model: str, kernel: bool = True):
        from transforms.crf_segment import CrfModel

        self._model = CrfModel(model, kernel)
        self.decoder = self._model.decoder

    def lengths_many(self, sentences):
        return self._model.lengths_many(sentences)

    def word_starts(self, sentences):
        return self._model.word_starts(sentences)

    def cut_many(self, sentences):
        return [words_of(s, lengths) for s, lengths in zip(sentences, self.lengths_many(sentences))]


class LtpSegmenter(Segmenter):
    """`ltp.LTP` on a hub id or a local folder (neural models, or legacy ones with config.json)."""

    name = "ltp"

    def __init__(self, model: str):
        from ltp import LTP

        self._ltp = LTP(model)

    def cut_many(self, sentences):
        return cut_folded(sentences, lambda folded: self._ltp.pipeline(folded, tasks=["cws"]).cws) if sentences else []


def model_file(model: str) -> str:
    """The perceptron file of a model folder made by `train_perceptron` (or the file itself)."""
    if os.path.isdir(model):
        with open(os.path.join(model, "config.json"), encoding="utf-8") as f:
            return os.path.join(model, json.load(f)["tasks"]["cws"])
    return model


def describe_segmenter(name: str, model: str = "") -> dict:
    """What segments the corpus, for the manifest: backend, model, sha256 of the model's files."""
    import importlib.metadata

    if name == "jieba":
        return {"backend": name, "model": f"rjieba {importlib.metadata.version('rjieba')} built-in dictionary",
                "sha256": ""}
    found = {"backend": name, "model": model, "sha256": _dir_sha256(model) if os.path.exists(model) else "hub id"}
    # (bundled model, its name in the manifest, C decoder, decoder without a compiler); the words do not depend on
    # which decoder ran (tests/test_cws_kernel.py, test_crf_segment.py), the C source is recorded anyway
    ours = {"crf": (BUNDLED_CRF, "transforms/data/crf_cws.npz", "crf_kernel.c", "Python"),
            "ltp-perceptron": (BUNDLED_MODEL, "transforms/data/ltp_cws", "cws_kernel.c", "ltp_extension")}
    if name in ours:
        from transforms.checksums import file_sha256
        from transforms.native import HERE

        bundled, shown, kernel, fallback = ours[name]
        if not model:
            found.update(model=f"bundled: {shown} (People's Daily 1998 + UD GSD + SXU gold)",
                         sha256=_dir_sha256(bundled))
        found.update(decoder=f"{kernel} where a C compiler is at hand, else {fallback} (the same words)",
                     decoder_sha256=file_sha256(os.path.join(HERE, kernel)))
    return found


def load_segmenter(name: str, model: str = "") -> Segmenter:
    """The segmenter named in the config (jieba needs no model; crf and ltp-perceptron default to the bundled one)."""
    if name == "jieba":
        return JiebaSegmenter()
    if name == "crf":
        return CrfSegmenter(model or _checked(BUNDLED_CRF, BUNDLED_CRF_SHA256, "segmenter-model"))
    if name == "ltp-perceptron" and not model:
        _checked(model_file(BUNDLED_MODEL), BUNDLED_SHA256, "ltp-segmenter-model")
        return LtpPerceptronSegmenter(BUNDLED_MODEL)
    if not model:
        raise ValueError(f"segmenter {name!r} needs a model (path, or hub id for ltp)")
    if name == "ltp-perceptron":
        return LtpPerceptronSegmenter(model)
    if name == "ltp":
        return LtpSegmenter(model)
    raise ValueError(f"unknown segmenter {name!r}; one of {SEGMENTERS}")


def _checked(path: str, sha256: str, target: str) -> str:
    """A bundled model file, refused unless its sha256 is the expected one."""
    found = _dir_sha256(path) if os.path.isfile(path) else "missing"
    if found != sha256:
        raise ValueError(f"the bundled segmenter {path} has sha256 {found[:12]}…, not {sha256[:12]}…: damaged or "
                         f"not checked out (rebuild: make {target})")
    return path


def align(text: str, words: list[str]) -> list[int]:
    """Word lengths covering `text` exactly, even when a backend dropped or altered characters (spaces...)."""
    if "".join(words) == text:  # the usual case
        return [len(w) for w in words]
    lengths: list[int] = []
    pos = 0
    for word in words:
        if not word:
            continue
        found = text.find(word, pos)
        if found < 0:
            continue
        lengths.extend(1 for _ in range(found - pos))  # characters the backend skipped: one word each
        lengths.append(len(word))
        pos = found + len(word)
    lengths.extend(1 for _ in range(len(text) - pos))
    return lengths


def segment(text: str, segmenter: Segmenter) -> list[int]:
    """Word lengths of a whole text; every newline is a word of its own, sentences are segmented as a batch."""
    lines = text.split("\n")
    pieces = [[line] if line else [] for line in lines] if segmenter.whole_lines else [split_sentences(line) for line in lines]
    flat = [s for p in pieces for s in p]
    starts = segmenter.word_starts(flat)
    if starts is not None:  # flags over the joined sentences, which are the text without its newlines
        codes = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
        flags = np.ones(len(codes), dtype=bool)  # a newline is a word, and so starts one
        flags[codes != 10] = starts != 0
        return np.diff(np.append(np.flatnonzero(flags), len(codes))).tolist()
    cut = iter(segmenter.lengths_many(flat))
    lengths: list[int] = []
    for i, sentences in enumerate(pieces):
        if i:
            lengths.append(1)  # the newline
        for _ in sentences:
            lengths.extend(next(cut))
    return lengths


def words_of(text: str, lengths) -> list[str]:
    """The words an iterable of lengths cuts text into."""
    ends = list(accumulate(lengths))
    return [text[start:end] for start, end in zip(chain((0,), ends), ends)]


def drop_lines(text: str, lengths: list[int], keep: list[bool]) -> tuple[str, list[int]]:
    """Text and word lengths without the lines whose `keep` entry is False."""
    lines = text.split("\n")
    per_line: list[list[int]] = [[]]
    for word in words_of(text, lengths):
        if word == "\n":
            per_line.append([])
        else:
            per_line[-1].append(len(word))
    kept_lines = [(line, w) for line, w, k in zip(lines, per_line, keep) if k]
    new_lengths: list[int] = []
    for i, (_, w) in enumerate(kept_lines):
        if i:
            new_lengths.append(1)
        new_lengths.extend(w)
    return "\n".join(line for line, _ in kept_lines), new_lengths


def train_perceptron(train_file: str, out_dir: str, epochs: int = 10, held_out: float = 0.05, algorithm: str = "PaII",
                     margin: float = 1.0, threshold: float = 0.001) -> str:
    """Train an LTP perceptron segmenter from one sentence per line, words separated by spaces; returns out_dir.

    Passive-aggressive updates (PaII, C=1) scored 0.956 word F1 on held-out People's Daily against 0.950 for the
    averaged perceptron (BENCHMARKS.md, "Segmentation"). The bundled model also drops the features whose weights
    sum to less than 0.15 (`threshold`): 13.1 MB → 9.7 MB for 0.0004 PKU F1; on a small training set that pruning
    costs more, so the default keeps LTP's own 0.001.

    Full-width ASCII is folded to ASCII (the segmenter folds its input the same way). The last `held_out` share of
    the lines is kept out of training and scored after every epoch (ltp_extension runs its epochs only when it has
    such data). The folder holds `cws_model.bin` and the `config.json` that `ltp.LTP(out_dir)` reads (key spelled
    as LTP does).
    """
    import tempfile

    from ltp_extension.perceptron import Algorithm, CWSTrainer

    with open(train_file, encoding="utf-8") as f:
        lines = [line.translate(HALF_WIDTH).strip() for line in f if line.strip()]
    cut = len(lines) - max(1, int(len(lines) * held_out))
    folder = tempfile.mkdtemp(prefix="ltp-train-")
    paths = {}
    for name, part in (("train", lines[:cut]), ("eval", lines[cut:])):
        paths[name] = os.path.join(folder, f"{name}.txt")
        with open(paths[name], "w", encoding="utf-8") as f:
            f.write("\n".join(part) + "\n")
    trainer = CWSTrainer()
    trainer.epoch = epochs
    trainer.algorithm = Algorithm(algorithm, margin) if algorithm != "AP" else Algorithm("AP")
    trainer.threshold = threshold
    # Unshuffled, the same training file gives a model that segments identically (its bytes still vary: the
    # trainer's hash maps are ordered at random), so a corpus made with it is reproducible.
    trainer.shuffle = False
    trainer.load_train_data(paths["train"])
    trainer.load_eval_data(paths["eval"])
    model = trainer.train()
    os.makedirs(out_dir, exist_ok=True)
    model.save(os.path.join(out_dir, "cws_model.bin"))
    with open(os.path.join(out_dir, "config.json"), "w", encoding="utf-8") as f:
        json.dump({"nerual": False, "tasks": {"cws": "cws_model.bin"}}, f)
    return out_dir


if __name__ == "__main__":  # make ltp-model: the paths arrive as arguments, never pasted into code
    import argparse

    parser = argparse.ArgumentParser(description="Train an LTP perceptron segmenter from segmented text.")
    parser.add_argument("train", help="one sentence per line, words separated by spaces")
    parser.add_argument("model", help="output folder")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--algorithm", default="PaII", choices=["AP", "Pa", "PaI", "PaII"])
    parser.add_argument("--threshold", type=float, default=0.001, help="drop features with smaller total weight "
                        "(the bundled model: 0.15)")
    cli = parser.parse_args()
    print(train_perceptron(cli.train, cli.model, cli.epochs, algorithm=cli.algorithm, threshold=cli.threshold))
