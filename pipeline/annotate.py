"""Global annotation: character counts → vocabulary (or a given vocab.txt) → token ids, pinyin, word and sentence
indices per document; vocabulary, glyph and pinyin tables written beside the shards."""
from __future__ import annotations

import json
import logging
from collections import Counter

import apache_beam as beam
import numpy as np
from apache_beam.io.filesystems import FileSystems

from fonts.glyphs import DEFAULT_MANIFEST, GlyphRenderer, load_manifest, verify
from pipeline.funnel import event, split
from pipeline.write import join, write_atomically
from transforms.annotate import annotate
from transforms.config import CorpusConfig
from transforms.pinyin import ALPHABET, SLOTS, PinyinAnnotator, default_reading
from transforms.shards import npy_bytes, sha256_bytes
from transforms.vocab import Vocab, char_counts


def read_text(path: str) -> str:
    with FileSystems.open(path) as f:
        return f.read().decode("utf-8")


def choose_vocab(counts: dict, config: CorpusConfig) -> dict:
    """The vocabulary (given file, or built from the counts) with its coverage of the corpus characters."""
    a = config.annotate
    counter = Counter(counts)
    if a.vocab_file:
        vocab, source = Vocab.from_text(read_text(a.vocab_file)), a.vocab_file
    else:
        vocab, source = Vocab.from_counts(counter, a.vocab_size, a.min_char_count), "built from corpus counts"
    return {"tokens": vocab.tokens, "source": source, "size": len(vocab),
            "coverage": round(vocab.coverage(counter), 6), "corpus_characters": sum(counter.values()),
            "distinct_characters": len(counter)}


class Annotate(beam.DoFn):
    """Document → (document, {ids, pinyin, words, sents}); the vocabulary arrives as a side input."""

    def setup(self):
        self.pinyin = PinyinAnnotator()
        self._source, self._vocab = None, None

    def process(self, doc, vocab_info):
        if self._source is not vocab_info:  # build the lookup table once per side-input value
            self._source, self._vocab = vocab_info, Vocab(vocab_info["tokens"])
        try:
            yield doc, annotate(doc.text, doc.words, self._vocab, self.pinyin)
        except Exception as exc:  # counted, never fatal
            logging.warning("annotation of %s failed: %r", doc.url, exc)
            yield event(doc.warc_file, "failed", f"annotate.{type(exc).__name__}")


class WriteAssets(beam.DoFn):
    """vocab.txt, glyphs.npy, pinyin_default.npy, pinyin_alphabet.json → OUTPUT; emits the manifest's entries."""

    def __init__(self, output: str, config: CorpusConfig):
        self.output, self.config = output, config

    def process(self, vocab_info):
        size, specs = load_manifest(self.config.annotate.fonts_manifest or DEFAULT_MANIFEST)
        verify(specs)
        tokens = vocab_info["tokens"]
        glyphs, coverage = GlyphRenderer(specs, size).render(tokens)
        files = {
            "vocab.txt": Vocab(tokens).to_text().encode("utf-8"),
            "glyphs.npy": npy_bytes(glyphs),
            "pinyin_default.npy": npy_bytes(np.stack([default_reading(t) for t in tokens])),
            "pinyin_alphabet.json": json.dumps({"slots": SLOTS, "symbols": ALPHABET}, ensure_ascii=False).encode(),
        }
        for name, data in files.items():
            write_atomically(join(self.output, name), data)
        yield {
            "assets": [{"name": n, "bytes": len(d), "sha256": sha256_bytes(d)} for n, d in sorted(files.items())],
            "vocab": {k: v for k, v in vocab_info.items() if k != "tokens"},
            "glyphs": {"shape": list(glyphs.shape), "size": size,
                       "fonts": [{"name": s.name, "style": s.style, "file": s.file, "face_index": s.face_index,
                                  "licence": s.licence, "sha256": s.sha256,
                                  **{k: v for k, v in cov.items() if k != "font"}} for s, cov in zip(specs, coverage)]},
        }


def annotate_corpus(docs, output: str, config: CorpusConfig):
    """(annotated (doc, arrays) pairs, assets' manifest section (one element), funnel events of failures)."""
    # Integer sums per character (combiner-lifted), then one dict: no mutable accumulator, which Beam's Dask
    # runner was seen to reuse across recomputations (counts grew on every re-evaluation).
    counts = (docs | "CharPairs" >> beam.FlatMap(lambda d: sorted(char_counts(d.text).items()))
              | "CharCounts" >> beam.CombinePerKey(sum) | "CountsDict" >> beam.combiners.ToDict())
    vocab = counts | "ChooseVocab" >> beam.Map(choose_vocab, config)
    assets = vocab | "WriteAssets" >> beam.ParDo(WriteAssets(output, config))
    annotated, funnel = split(docs | "Annotate" >> beam.ParDo(Annotate(), vocab_info=beam.pvalue.AsSingleton(vocab)),
                              "Annotate")
    return annotated, assets, funnel
