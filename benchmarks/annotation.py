"""Annotation quality and speed: word F1 on SIGHAN-2005 PKU, polyphone accuracy on CPP dev, throughput per core,
glyph rendering time. `python benchmarks/annotation.py` (needs ../shared/data; segmentation on other domains and
against pkuseg: benchmarks/segmentation_domains.py)."""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
from benchmarks.segmentation_domains import spaced, word_scores  # noqa: E402
from transforms.annotate import annotate  # noqa: E402
from transforms.config import AnnotateConfig  # noqa: E402
from transforms.chars import HAN_RE  # noqa: E402
from transforms.pinyin import PinyinAnnotator  # noqa: E402
from transforms.polyphone import one_blas_thread  # noqa: E402
from transforms.segment import BUNDLED_MODEL, load_segmenter, segment, words_of  # noqa: E402
from transforms.vocab import Vocab, char_counts  # noqa: E402

DATA = os.path.join(os.path.dirname(ROOT), "shared", "data")


def word_f1(segmenter) -> dict:
    """Precision, recall and F1 of word spans against the PKU gold (one sentence per line)."""
    gold_lines = spaced("pku_test_gold.utf8")
    texts = ["".join(g) for g in gold_lines]
    started = time.process_time()
    predicted = [words_of(t, segment(t, segmenter)) for t in texts]
    elapsed = time.process_time() - started
    precision, recall, f1 = word_scores(gold_lines, predicted)
    return {"precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4),
            "chars_per_s": round(sum(map(len, texts)) / elapsed)}


def polyphone_accuracy(segmenter, backend: str) -> dict:
    """Accuracy of the marked polyphonic character's reading over our words, on the even lines of CPP dev (the half
    the combiner's settings were chosen on) and the odd lines (never looked at while choosing)."""
    sents = open(os.path.join(DATA, "pinyin", "cpp_dev.sent"), encoding="utf-8").read().splitlines()
    gold = [g.replace("u:", "v") for g in open(os.path.join(DATA, "pinyin", "cpp_dev.lb"), encoding="utf-8").read().splitlines()]
    annotator = PinyinAnnotator(backend)
    right = []
    for marked, label in zip(sents, gold):
        index = marked.index("▁")
        text = marked.replace("▁", "")
        right.append(annotator.readings(words_of(text, segment(text, segmenter)))[index] == label)
    return {"pinyin": backend, "sentences": len(sents), "all": round(sum(right) / len(right), 4),
            "tuning_half": round(sum(right[0::2]) / len(right[0::2]), 4),
            "untouched_half": round(sum(right[1::2]) / len(right[1::2]), 4)}


def throughput(paths: dict[str, tuple], texts: list[str], rounds: int = 5) -> dict[str, dict]:
    """Segment + pinyin + ids per core on real prose, in Han characters per CPU second, for each path (name →
    (segmenter, pinyin backend)): a first pass with an empty pinyin cache, then `rounds` rounds in which every path
    runs one pass with the cache a long-running worker has, in turn, so that a shared VM's slow spells fall on all
    paths alike. Per path: the median and the best warm pass, and the median over rounds of its speed relative to
    the first path in the same round."""
    vocab = Vocab.from_counts(char_counts("".join(texts)), 23236)
    han = sum(len(HAN_RE.findall(t)) for t in texts)
    annotators = {name: PinyinAnnotator(backend) for name, (_, backend) in paths.items()}

    def one_pass(name: str) -> int:
        segmenter, annotator = paths[name][0], annotators[name]
        started = time.process_time()
        for t in texts:
            annotate(t, segment(t, segmenter), vocab, annotator)
        return round(han / (time.process_time() - started))

    cold = {name: one_pass(name) for name in paths}
    warm: dict[str, list[int]] = {name: [] for name in paths}
    for _ in range(rounds):
        for name in paths:
            warm[name].append(one_pass(name))
    first = next(iter(paths))
    out = {}
    for name, (_, backend) in paths.items():
        ratios = sorted(w / f for w, f in zip(warm[name], warm[first]))
        out[name] = {"pinyin": backend, "documents": len(texts), "han_characters": han,
                     "cold_han_chars_per_s": cold[name], "warm_median": sorted(warm[name])[rounds // 2],
                     "warm_best": max(warm[name]), "warm_passes": warm[name],
                     f"median_ratio_to_{first}": round(ratios[rounds // 2], 3)}
    return out


def decoders(sentences: list[str], passes: int = 3) -> dict:
    """Segmenters alone, characters per CPU second (median of `passes`): LTP's perceptron through ltp_extension's
    `batch_predict` (one thread) against our C kernel giving the same words, the kernel's word lengths as `segment`
    uses them, and the bundled CRF's word lengths (crf_kernel.c)."""
    from ltp_extension.perceptron import CWSModel

    from transforms.cws_kernel import CwsKernel
    from transforms.segment import model_file

    reference, kernel = CWSModel.load(model_file(BUNDLED_MODEL)), CwsKernel(model_file(BUNDLED_MODEL))
    crf = load_segmenter("crf")
    chars = sum(map(len, sentences))
    runs = {"ltp_extension": lambda: reference.batch_predict(sentences, False),
            "cws_kernel": lambda: kernel.batch_predict(sentences),
            "cws_kernel_lengths": lambda: kernel.lengths_many(sentences),
            "crf_kernel_lengths": lambda: crf.lengths_many(sentences)}
    out: dict = {"characters": chars, "same_words": runs["cws_kernel"]() == runs["ltp_extension"]()}
    for name, run in runs.items():
        rates = []
        for _ in range(passes):
            started = time.process_time()
            run()
            rates.append(round(chars / (time.process_time() - started)))
        out[f"{name}_chars_per_s"] = sorted(rates)[passes // 2]
    return out


def documents(sentences: list[str], per_doc: int = 20) -> list[str]:
    """Consecutive sentences joined into documents (paragraph per sentence), as the corpus job writes them."""
    return ["\n".join(sentences[i:i + per_doc]) for i in range(0, len(sentences), per_doc)]


def glyph_time(n: int) -> dict:
    from fonts.glyphs import GlyphRenderer, load_manifest

    chars = [chr(c) for c in range(0x4E00, 0x4E00 + n)]
    size, specs = load_manifest()
    started = time.time()
    glyphs, _ = GlyphRenderer(specs, size).render(chars)
    return {"vocab": n, "seconds": round(time.time() - started, 1), "shape": list(glyphs.shape)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--only", choices=["throughput"], default=None, help="skip the accuracy measures and glyphs")
    parser.add_argument("--sentences", type=int, default=None, help="People's Daily sentences for the throughput")
    parser.add_argument("--rounds", type=int, default=5, help="warm passes of each path, taken in turn")
    args = parser.parse_args()
    os.sched_setaffinity(0, {0})
    one_blas_thread()  # as the corpus job's workers do (numpy's BLAS counted its threads before the pinning)
    default = AnnotateConfig()
    segmenters = {f"{default.segmenter} (default)": load_segmenter(default.segmenter, default.segmenter_model),
                  "ltp-perceptron (bundled)": load_segmenter("ltp-perceptron"), "jieba": load_segmenter("jieba")}
    first = next(iter(segmenters))
    prose = [line.strip() for line in open(os.path.join(DATA, "prose", "peopledaily1998_sentences.txt"), encoding="utf-8")
             if line.strip()][:args.sentences]
    for name, seg in segmenters.items() if not args.only else ():
        print(json.dumps({"segmenter": name, "pku_word": word_f1(seg)}, ensure_ascii=False), flush=True)
    for backend in ("pypinyin", "g2pm") if not args.only else ():
        print(json.dumps({"segmenter": first, "cpp_polyphone": polyphone_accuracy(segmenters[first], backend)}),
              flush=True)
    print(json.dumps({"segmenter_decoders_peopledaily": decoders(prose)}), flush=True)
    docs = documents(prose)
    paths = {name: (segmenters[name], backend)
             for name, backend in (("jieba", "pypinyin"), ("ltp-perceptron (bundled)", "g2pm"), (first, "g2pm"))}
    for name, figures in throughput(paths, docs, args.rounds).items():
        print(json.dumps({"throughput_peopledaily": {"segmenter": name, **figures}}), flush=True)
    if not args.only:
        print(json.dumps({"glyphs": glyph_time(21128)}), flush=True)


if __name__ == "__main__":
    main()
