"""Masked training batches from logical readers whose positions a checkpoint keeps.

A logical reader owns a contiguous, balanced share of the training documents (model.data.reader_pieces over the
shards in an epoch's order), reads it block by block (block_docs documents shuffled together) and goes on to its
next epoch by itself, so the stream never ends. Its position after each batch is a small dict: epoch, piece,
block, the block's byte offset in its shard, the sequences already made from the block, and the sequence pending
at the block's start. A resume seeks to the block and replays at most one block, whatever the step.

A rank owns the readers g with g % world == rank and takes one batch from each in turn. With the same world size
and workers the resumed stream equals the uninterrupted one; with other counts every reader still continues from its
own position (no document skipped or repeated), only the interleaving of readers into steps differs.
"""
from __future__ import annotations

from typing import Iterator

import numpy as np
from torch.utils.data import IterableDataset, get_worker_info

from model.data import (CorpusAssets, DataConfig, SequenceBuilder, collate, is_validation, read_documents,
                        reader_pieces, shard_documents, split_shards)
from model.masking import SpecialIds, mask_sequence


def fresh_position() -> dict:
    return {"epoch": 0, "piece": 0, "block": 0, "offset": None, "skip": 0, "carry": None}


def check_readers(assets: CorpusAssets, cfg: DataConfig, readers: int) -> None:
    """Stop early, with the figures, when the training documents cannot give every reader some."""
    train, _, _ = split_shards(len(assets.shards), cfg)
    documents = sum(assets.shard_samples[i] for i in train)
    if documents < readers:
        raise SystemExit(f"the corpus has {documents} training documents for {readers} readers (ranks × workers); "
                         "use fewer ranks or --workers, or a larger corpus")


class Reader:
    """One logical reader's endless sequence of (masked sequence, position after it)."""

    def __init__(self, assets: CorpusAssets, cfg: DataConfig, seed: int, reader: int, readers: int,
                 position: dict | None = None):
        self.assets, self.cfg, self.seed, self.reader, self.readers = assets, cfg, seed, reader, readers
        self.position = dict(position or fresh_position())
        self.special = SpecialIds.from_tokens(assets.tokens)
        self.docs_read = 0  # documents decoded by this reader (a resume's cost, for tests and benchmarks)

    def _pieces(self, epoch: int) -> list[tuple[int, int, int]]:
        train, _, _ = split_shards(len(self.assets.shards), self.cfg)
        order = [train[i] for i in np.random.default_rng([self.seed, epoch]).permutation(len(train))]
        return [(order[i], lo, hi) for i, lo, hi in reader_pieces([self.assets.shard_samples[s] for s in order],
                                                                   self.readers, self.reader)]

    def _blocks(self, shard: int, lo: int, hi: int, block: int, offset: int | None):
        """(block number, byte offset of its first document, its documents) from `block` on."""
        block_docs = self.cfg.block_docs
        docs = shard_documents(self.assets.shards[shard], offset or 0, 0 if offset is not None else lo + block * block_docs)
        remaining = hi - lo - block * block_docs
        while remaining > 0:
            taken, start = [], None
            for doc_offset, doc in docs:
                start = doc_offset if start is None else start
                taken.append(doc)
                if len(taken) == min(block_docs, remaining):
                    break
            if not taken:
                raise ValueError(f"{self.assets.shards[shard]} holds fewer documents than its manifest says")
            self.docs_read += len(taken)
            yield block, start, taken
            remaining -= len(taken)
            block += 1

    def __iter__(self) -> Iterator[tuple[tuple, dict]]:
        p = self.position
        builder = SequenceBuilder(self.cfg, self.special)
        builder.restore(p["carry"])
        epoch, piece, block, offset, skip = p["epoch"], p["piece"], p["block"], p["offset"], p["skip"]
        _, _, by_document = split_shards(len(self.assets.shards), self.cfg)
        vocab_size = len(self.assets.tokens)
        while True:
            pieces, made_in_epoch = self._pieces(epoch), 0
            for piece_index in range(piece, len(pieces)):
                shard, lo, hi = pieces[piece_index]
                for block_index, start, docs in self._blocks(shard, lo, hi, block, offset):
                    carry = builder.carry
                    rng = np.random.default_rng([self.seed, epoch, self.reader, piece_index, block_index])
                    if by_document:
                        docs = [d for d in docs if not is_validation(d["key"], self.cfg.validation_every)]
                    made = 0
                    for i in rng.permutation(len(docs)):
                        for ids, pinyin, words in builder.feed(docs[i], rng):
                            masked = mask_sequence(ids, pinyin, words, self.special, vocab_size,
                                                   self.assets.default_pinyin, self.cfg.masking, rng)
                            made += 1
                            made_in_epoch += 1
                            if made <= skip:  # replayed to this block's position after a resume
                                continue
                            yield masked, {"epoch": epoch, "piece": piece_index, "block": block_index,
                                           "offset": start, "skip": made, "carry": carry}
                    skip = 0
                block, offset = 0, None
            if not made_in_epoch and piece == 0:
                raise ValueError(f"reader {self.reader} of {self.readers} has no training document")
            epoch, piece = epoch + 1, 0


class PretrainingStream(IterableDataset):
    """Endless batches for one rank: one batch from each of its readers in turn (split over data-loader workers).
    Each batch carries `reader` and `position` (that reader's position after it) for the checkpoint."""

    def __init__(self, assets: CorpusAssets, cfg: DataConfig, batch_size: int, seed: int, readers: list[int],
                 total_readers: int, positions: dict | None = None):
        self.assets, self.cfg, self.batch_size, self.seed = assets, cfg, batch_size, seed
        self.readers, self.total_readers, self.positions = readers, total_readers, positions or {}
        self.special = SpecialIds.from_tokens(assets.tokens)
        self.active: list[Reader] = []

    def __iter__(self):
        info = get_worker_info()
        worker, workers = (info.id, info.num_workers) if info else (0, 1)
        self.active = [Reader(self.assets, self.cfg, self.seed, g, self.total_readers, self.positions.get(g))
                       for g in self.readers[worker::workers]]
        streams = [iter(r) for r in self.active]
        while True:
            for reader, stream in zip(self.active, streams):
                batch, position = [], None
                for masked, position in stream:
                    batch.append(masked)
                    if len(batch) == self.batch_size:
                        break
                yield {**collate(batch, self.special, self.cfg.max_predictions), "reader": reader.reader,
                       "position": position}


def validation_batches(assets: CorpusAssets, cfg: DataConfig, batch_size: int, seed: int, rank: int, world: int,
                       max_batches: int):
    """The same held-out batches every time: the validation shards (or documents), split over ranks by document."""
    _, val, by_document = split_shards(len(assets.shards), cfg)
    special = SpecialIds.from_tokens(assets.tokens)
    rng = np.random.default_rng([seed, 7])
    builder = SequenceBuilder(cfg, special, rng)
    docs = (d for i, d in enumerate(read_documents([assets.shards[s] for s in val])) if i % world == rank)
    if by_document:
        docs = (d for d in docs if is_validation(d["key"], cfg.validation_every))
    batch, made = [], 0
    for ids, pinyin, words in builder(docs):
        batch.append(mask_sequence(ids, pinyin, words, special, len(assets.tokens), assets.default_pinyin,
                                   cfg.masking, rng))
        if len(batch) == batch_size:
            yield collate(batch, special, cfg.max_predictions)
            batch, made = [], made + 1
            if made == max_batches:
                return
    if batch:
        yield collate(batch, special, cfg.max_predictions)
