"""Per-document annotation arrays for the shards (ids, pinyin, words, sentences), and a command to look at
segmentation and pinyin: `python -m transforms.annotate [--segmenter NAME] [--model PATH] [--pinyin g2pm|pypinyin] < lines.txt`."""
from __future__ import annotations

import argparse
import json
import sys

import numpy as np

from transforms.chars import sentence_starts
from transforms.config import AnnotateConfig
from transforms.pinyin import PINYIN_BACKENDS, SLOTS, PinyinAnnotator
from transforms.polyphone import one_blas_thread
from transforms.segment import SEGMENTERS, load_segmenter, segment, words_of
from transforms.vocab import Vocab


def tokens_pinyin(text: str, word_lengths: list[int], spans: np.ndarray, pinyin: PinyinAnnotator) -> np.ndarray:
    """uint8[T, 8]: each token's reading in context (its word's), zeros for a token that is not one character."""
    char_pinyin = pinyin.encoded(words_of(text, word_lengths))
    token_pinyin = np.zeros((len(spans), SLOTS), dtype=np.uint8)
    single = (spans[:, 1] - spans[:, 0]) == 1
    token_pinyin[single] = char_pinyin[spans[single, 0]]
    return token_pinyin


def annotate(text: str, word_lengths: list[int], vocab: Vocab, pinyin: PinyinAnnotator) -> dict[str, np.ndarray]:
    """ids int32[T], pinyin uint8[T, 8], words int32[T] (word index per token), sents int32[S] (first token of each
    sentence). A token that is not one Han character gets all-zero pinyin."""
    ids, spans = vocab.tokenize(text)
    starts = spans[:, 0]
    word_of_char = np.repeat(np.arange(len(word_lengths), dtype=np.int32), word_lengths)
    # Renumber the words that hold tokens 0, 1, 2… (newline and space words hold none); tokens are in text order.
    token_word = word_of_char[starts]
    words = np.concatenate([[0], np.cumsum(token_word[1:] != token_word[:-1])]) if len(starts) else token_word
    token_pinyin = tokens_pinyin(text, word_lengths, spans, pinyin)
    sents = np.searchsorted(starts, np.array(sentence_starts(text), dtype=np.int64))  # sorted: drop repeats
    first = np.ones(len(sents), dtype=bool)
    first[1:] = sents[1:] != sents[:-1]
    sents = sents[first & (sents < len(ids))]
    return {"ids": ids.astype(np.int32), "pinyin": token_pinyin, "words": words.astype(np.int32),
            "sents": sents.astype(np.int32)}


def main(argv: list[str] | None = None) -> None:
    defaults = AnnotateConfig()  # the corpus job's: what this prints is what its shards hold
    parser = argparse.ArgumentParser(description="segment and read stdin lines as the corpus job does; one JSON "
                                                 "object per line")
    parser.add_argument("--segmenter", default=defaults.segmenter, choices=SEGMENTERS)
    parser.add_argument("--model", default=defaults.segmenter_model, help="model path (or hub id for ltp); "
                        "default: the bundled model for crf and ltp-perceptron")
    parser.add_argument("--pinyin", default=defaults.pinyin, choices=PINYIN_BACKENDS)
    args = parser.parse_args(argv)
    one_blas_thread()  # as the corpus job's workers
    segmenter = load_segmenter(args.segmenter, args.model)
    pinyin = PinyinAnnotator(args.pinyin)  # the job's context and confidence floor are its defaults
    for line in sys.stdin:
        text = line.rstrip("\n")
        words = words_of(text, segment(text, segmenter))
        out = {"text": text, "words": words, "pinyin": pinyin.readings(words)}
        sys.stdout.write(json.dumps(out, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
