"""Annotation: the vocabulary (built from the corpus's character counts, or given), its glyph and pinyin tables,
and per document the token ids, pinyin, word and sentence indices."""
from __future__ import annotations

import json
import logging
from collections import Counter

import apache_beam as beam
import numpy as np
from apache_beam.io.filesystems import FileSystems

from fonts.glyphs import DEFAULT_MANIFEST, GlyphRenderer, load_manifest, verify
from pipeline.funnel import event
from pipeline.work import read_bytes, write_bytes
from transforms.annotate import annotate
from transforms.config import CorpusConfig
from transforms.pinyin import ALPHABET, SLOTS, PinyinAnnotator, default_reading
from transforms.polyphone import one_blas_thread
from transforms.checksums import sha256_bytes
from transforms.shards import npy_bytes
from transforms.vocab import Vocab, char_counts


@beam.ptransform_fn
def CountCharacters(docs):
    """One dict {character: occurrences} over all documents (integer sums per character, combiner-lifted)."""
    return (docs | "CharPairs" >> beam.FlatMap(lambda d: sorted(char_counts(d.text).items()))
            | "CharCounts" >> beam.CombinePerKey(sum) | "CountsDict" >> beam.combiners.ToDict())


def choose_vocab(counts: dict, config: CorpusConfig) -> dict:
    """The vocabulary (given file, or built from the counts) with its coverage of the corpus characters."""
    a = config.annotate
    counter = Counter(counts)
    if a.vocab_file:
        vocab, source = Vocab.from_text(read_bytes(a.vocab_file).decode("utf-8")), a.vocab_file
    else:
        vocab, source = Vocab.from_counts(counter, a.vocab_size, a.min_char_count), "built from corpus counts"
    return {"tokens": vocab.tokens, "source": source, "size": len(vocab),
            "coverage": round(vocab.coverage(counter), 6), "corpus_characters": sum(counter.values()),
            "distinct_characters": len(counter)}


def write_assets(output: str, vocab_info: dict, config: CorpusConfig) -> dict:
    """vocab.txt, glyphs.npy, pinyin_default.npy, pinyin_alphabet.json → OUTPUT; returns the manifest's entries."""
    size, specs = load_manifest(config.annotate.fonts_manifest or DEFAULT_MANIFEST)
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
        write_bytes(FileSystems.join(output, name), data)
    return {
        "assets": [{"name": n, "bytes": len(d), "sha256": sha256_bytes(d)} for n, d in sorted(files.items())],
        "vocab": {k: v for k, v in vocab_info.items() if k != "tokens"},
        "glyphs": {"shape": list(glyphs.shape), "size": size,
                   "fonts": [{"name": s.name, "style": s.style, "file": s.file, "face_index": s.face_index,
                              "licence": s.licence, "sha256": s.sha256,
                              **{k: v for k, v in cov.items() if k != "font"}} for s, cov in zip(specs, coverage)]},
    }


class Annotate(beam.DoFn):
    """Document → (document, {ids, pinyin, words, sents}); the vocabulary comes with the DoFn (no side input)."""

    def __init__(self, tokens: list[str], config):
        self.tokens, self.config = tokens, config

    def setup(self):
        one_blas_thread()  # one worker per core: BLAS threads would only contend (transforms/polyphone.py)
        self.vocab = Vocab(self.tokens)
        self.pinyin = PinyinAnnotator.from_config(self.config)  # loads g2pM's weights once per worker

    def process(self, doc):
        try:
            yield doc, annotate(doc.text, doc.words, self.vocab, self.pinyin)
        except Exception as exc:  # counted, never fatal
            logging.warning("annotation of %s failed: %s", doc.url, repr(exc))
            yield event(doc.warc_file, "failed", f"annotate.{type(exc).__name__}")
