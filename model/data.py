"""The one module that knows the corpus layout: shards → documents → packed or single-sentence sequences →
dynamically masked batches. Deterministic given a seed; shards (or, with too few shards, samples) are split
across nodes and data-loader workers."""
from __future__ import annotations

import io
import json
import zlib
from dataclasses import dataclass
from typing import Iterator

import numpy as np
import torch
import webdataset as wds
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems
from torch.utils.data import IterableDataset, get_worker_info
from webdataset.gopen import gopen_schemes

from model.masking import IGNORE, MaskingConfig, SpecialIds, mask_sequence
from pipeline.work import read_bytes


@dataclass
class CorpusAssets:
    """What training needs from a corpus folder besides the shards."""

    tokens: list[str]
    glyphs: np.ndarray  # uint8 [V, fonts, size, size]
    default_pinyin: np.ndarray  # uint8 [V, 8]
    shards: list[str]

    @classmethod
    def load(cls, corpus: str) -> "CorpusAssets":
        """A corpus folder: local, or on any Beam filesystem (s3://, gs://: the shards are streamed from it)."""
        def read(name: str) -> bytes:
            return read_bytes(FileSystems.join(corpus, name))

        tokens = [line for line in read("vocab.txt").decode("utf-8").split("\n") if line]
        shards = [FileSystems.join(corpus, s["name"]) for s in json.loads(read("manifest.json"))["shards"]]
        return cls(tokens, _npy(read("glyphs.npy")), _npy(read("pinyin_default.npy")), shards)


def _open_with_beam(url: str, mode: str = "rb", bufsize: int = 8192, **kw):
    """WebDataset opener for object-store shards: Beam's filesystems, with the job's credentials and endpoints."""
    return FileSystems.open(url, compression_type=CompressionTypes.UNCOMPRESSED)


for _scheme in ("s3", "gs"):  # instead of WebDataset's gsutil subprocess (and its missing s3 handler)
    gopen_schemes[_scheme] = _open_with_beam


@dataclass(frozen=True)
class DataConfig:
    max_len: int = 512
    single_sentence_prob: float = 0.1
    shuffle_buffer: int = 1000
    validation_shards: int = 1  # held out when the corpus has more than this many shards…
    validation_every: int = 10  # …otherwise every Nth document (by key hash) is held out
    masking: MaskingConfig = MaskingConfig()


def _npy(data: bytes) -> np.ndarray:
    return np.load(io.BytesIO(data), allow_pickle=False)


def read_documents(shards: list[str]) -> Iterator[dict]:
    """Documents of the given shards, in order, via WebDataset's tar reader: key, ids, pinyin, words, sents."""
    dataset = wds.WebDataset(shards, shardshuffle=False, nodesplitter=None, workersplitter=None, empty_check=False)
    for sample in dataset:
        yield {"key": sample["__key__"], "ids": _npy(sample["ids.npy"]), "pinyin": _npy(sample["pinyin.npy"]),
               "words": _npy(sample["words.npy"]), "sents": _npy(sample["sents.npy"])}


def is_validation(key: str, every: int) -> bool:
    """Document-level hold-out by a stable hash of the key."""
    return zlib.crc32(key.encode()) % every == 0


def split_shards(shards: list[str], cfg: DataConfig) -> tuple[list[str], list[str], bool]:
    """(training shards, validation shards, whether the split is by document instead of by shard)."""
    if len(shards) > cfg.validation_shards:
        return shards[:-cfg.validation_shards], shards[-cfg.validation_shards:], False
    return shards, shards, True


def sentences(doc: dict, word_offset: int) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """(ids, pinyin, words) per sentence of a document; word indices shifted to stay unique when packed."""
    bounds = list(doc["sents"]) + [len(doc["ids"])]
    for start, end in zip(bounds[:-1], bounds[1:]):
        if end > start:
            yield doc["ids"][start:end], doc["pinyin"][start:end], doc["words"][start:end] + word_offset


class SequenceBuilder:
    """Sentences → sequences of at most max_len tokens with [CLS] … [SEP]: packed across sentences and documents
    with probability 1 - single_sentence_prob, else one sentence alone. Over-long sentences are cut."""

    def __init__(self, cfg: DataConfig, special: SpecialIds, rng: np.random.Generator):
        self.cfg, self.special, self.rng = cfg, special, rng
        self.capacity = cfg.max_len - 2

    def _emit(self, parts):
        ids = np.concatenate([[self.special.cls]] + [p[0] for p in parts] + [[self.special.sep]]).astype(np.int64)
        pinyin = np.concatenate([np.zeros((1, 8), np.uint8)] + [p[1] for p in parts] + [np.zeros((1, 8), np.uint8)])
        words = np.concatenate([[-1]] + [p[2] for p in parts] + [[-1]]).astype(np.int64)
        return ids, pinyin, words

    def __call__(self, docs: Iterator[dict]):
        parts, used, single, offset = [], 0, self.rng.random() < self.cfg.single_sentence_prob, 0
        for doc in docs:
            for sentence in sentences(doc, offset):
                while len(sentence[0]) > 0:
                    room = self.capacity - used
                    if parts and (single or len(sentence[0]) > room):
                        yield self._emit(parts)
                        parts, used, single = [], 0, self.rng.random() < self.cfg.single_sentence_prob
                        continue
                    take = min(len(sentence[0]), self.capacity)
                    parts.append(tuple(x[:take] for x in sentence))
                    used += take
                    sentence = tuple(x[take:] for x in sentence)
            offset += int(doc["words"].max(initial=-1)) + 1
        if parts:
            yield self._emit(parts)


def collate(sequences, special: SpecialIds) -> dict[str, torch.Tensor]:
    """Masked sequences → padded batch tensors."""
    length = max(len(s[0]) for s in sequences)
    b = len(sequences)
    input_ids = torch.full((b, length), special.pad, dtype=torch.long)
    pinyin_ids = torch.zeros((b, length, 8), dtype=torch.long)
    labels = torch.full((b, length), IGNORE, dtype=torch.long)
    attention_mask = torch.zeros((b, length), dtype=torch.long)
    whole_word = torch.zeros(b, dtype=torch.bool)
    for i, (ids, pinyin, lab, wwm) in enumerate(sequences):
        n = len(ids)
        input_ids[i, :n] = torch.from_numpy(ids)
        pinyin_ids[i, :n] = torch.from_numpy(pinyin.astype(np.int64))
        labels[i, :n] = torch.from_numpy(lab)
        attention_mask[i, :n] = 1
        whole_word[i] = wwm
    return {"input_ids": input_ids, "pinyin_ids": pinyin_ids, "attention_mask": attention_mask, "labels": labels,
            "whole_word": whole_word}


class PretrainingStream(IterableDataset):
    """Masked batches for one rank of one epoch. Deterministic given (seed, epoch, rank, world, workers)."""

    def __init__(self, assets: CorpusAssets, cfg: DataConfig, batch_size: int, seed: int, epoch: int = 0,
                 rank: int = 0, world: int = 1, validation: bool = False):
        self.assets, self.cfg, self.batch_size = assets, cfg, batch_size
        self.seed, self.epoch, self.rank, self.world, self.validation = seed, epoch, rank, world, validation
        self.special = SpecialIds.from_tokens(assets.tokens)

    def _documents(self, worker: int, workers: int) -> Iterator[dict]:
        train, val, by_document = split_shards(self.assets.shards, self.cfg)
        shards = list(val if self.validation else train)
        if not self.validation:
            shards = [shards[i] for i in np.random.default_rng([self.seed, self.epoch]).permutation(len(shards))]
        parts = self.world * workers
        part = self.rank * workers + worker
        split_by_shard = len(shards) >= parts
        if split_by_shard:
            shards = shards[part::parts]
        docs = read_documents(shards)
        if by_document:
            every = self.cfg.validation_every
            docs = (d for d in docs if is_validation(d["key"], every) == self.validation)
        if not split_by_shard:  # too few shards for every reader: take every parts-th document instead
            docs = (d for i, d in enumerate(docs) if i % parts == part)
        if self.validation:
            yield from docs
            return
        yield from self._shuffled(docs, np.random.default_rng([self.seed, self.epoch, part, 1]))

    def _shuffled(self, docs: Iterator[dict], rng: np.random.Generator) -> Iterator[dict]:
        buffer: list[dict] = []
        for doc in docs:
            buffer.append(doc)
            if len(buffer) >= self.cfg.shuffle_buffer:
                yield buffer.pop(int(rng.integers(len(buffer))))
        while buffer:
            yield buffer.pop(int(rng.integers(len(buffer))))

    def __iter__(self):
        info = get_worker_info()
        worker, workers = (info.id, info.num_workers) if info else (0, 1)
        rng = np.random.default_rng([self.seed, self.epoch, self.rank, worker, 2])
        builder = SequenceBuilder(self.cfg, self.special, rng)
        batch = []
        vocab_size = len(self.assets.tokens)
        for ids, pinyin, words in builder(self._documents(worker, workers)):
            batch.append(mask_sequence(ids, pinyin, words, self.special, vocab_size, self.assets.default_pinyin,
                                       self.cfg.masking, rng))
            if len(batch) == self.batch_size:
                yield collate(batch, self.special)
                batch = []
        if batch:
            yield collate(batch, self.special)
