"""The one module that knows the corpus layout: shards → documents → packed or single-sentence sequences →
padded batches. Readers, their positions and masking are in model/stream.py."""
from __future__ import annotations

import io
import json
import re
import zlib
from dataclasses import dataclass
from typing import Iterator

import numpy as np
import torch
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems

from model.masking import IGNORE, MaskingConfig, SpecialIds
from pipeline.work import read_bytes

DOCUMENT_FIELDS = ("ids", "pinyin", "words", "sents")
NPY_HEADER = re.compile(rb"\{'descr': '([<>|=][a-zA-Z][0-9]*)', 'fortran_order': False, 'shape': \(([0-9, ]*)\), \}")
TAR_BLOCK = 512


@dataclass
class CorpusAssets:
    """What training needs from a corpus folder besides the shards."""

    tokens: list[str]
    glyphs: np.ndarray  # uint8 [V, fonts, size, size]
    default_pinyin: np.ndarray  # uint8 [V, 8]
    shards: list[str]
    shard_samples: list[int]  # documents per shard, from the manifest

    @classmethod
    def load(cls, corpus: str) -> "CorpusAssets":
        """A corpus folder: local, or on any Beam filesystem (s3://, gs://: the shards are streamed from it)."""
        def read(name: str) -> bytes:
            return read_bytes(FileSystems.join(corpus, name))

        tokens = [line for line in read("vocab.txt").decode("utf-8").split("\n") if line]
        listed = json.loads(read("manifest.json"))["shards"]
        return cls(tokens, _npy(read("glyphs.npy")).copy(), _npy(read("pinyin_default.npy")).copy(),
                   [FileSystems.join(corpus, s["name"]) for s in listed], [int(s["samples"]) for s in listed])


@dataclass(frozen=True)
class DataConfig:
    max_len: int = 512
    single_sentence_prob: float = 0.1
    block_docs: int = 1000  # documents shuffled together; a resume re-reads at most one block per reader
    validation_shards: int = 1  # held out when the corpus has more than this many shards…
    validation_every: int = 10  # …otherwise every Nth document (by key hash) is held out
    masking: MaskingConfig = MaskingConfig()

    @property
    def max_predictions(self) -> int:
        """Masked positions per sequence at most (a fixed shape for the MLM head, as in the original BERT)."""
        return int(np.ceil(self.masking.mask_prob * (self.max_len - 2))) + 1


def _npy(data: bytes) -> np.ndarray:
    """An .npy member as a read-only array: the headers numpy.save writes are parsed here (numpy's own parser
    evaluates the header as a Python literal, a third of the loader's time), anything else by numpy."""
    if data[:8] == b"\x93NUMPY\x01\x00":
        end = 10 + int.from_bytes(data[8:10], "little")
        m = NPY_HEADER.match(data, 10, end)
        if m:
            shape = tuple(int(x) for x in m.group(2).split(b",") if x.strip())
            return np.frombuffer(data, dtype=m.group(1).decode(), offset=end).reshape(shape)
    return np.load(io.BytesIO(data), allow_pickle=False)


def tar_members(f, offset: int) -> Iterator[tuple[int, str, int]]:
    """(offset of the member's first header, name, data size) of each file of a tar from `offset`; the stream is
    at the member's data when it is yielded. GNU long names and ustar prefixes are read; a header that is not a
    tar header stops with ValueError."""
    pos, long_name, start = offset, None, None
    while True:
        f.seek(pos)
        header = f.read(TAR_BLOCK)
        if len(header) < TAR_BLOCK or header == bytes(TAR_BLOCK):
            return
        if header[257:262] != b"ustar":
            raise ValueError(f"not a tar header at byte {pos}")
        size = int(header[124:136].strip(b"\0 ") or b"0", 8)
        kind, start = header[156:157], pos if start is None else start
        pos += TAR_BLOCK + -(-size // TAR_BLOCK) * TAR_BLOCK
        if kind == b"L":  # GNU: this member's data is the next member's name
            long_name = f.read(size).rstrip(b"\0").decode("utf-8")
            continue
        if kind in (b"0", b"\0"):
            name = long_name or (header[345:500].rstrip(b"\0") + b"/" if header[345] else b"").decode("utf-8") + \
                header[:100].rstrip(b"\0").decode("utf-8")
            yield start, name, size
        long_name, start = None, None


def open_shard(url: str):
    """A seekable binary stream of a shard, local or remote."""
    return FileSystems.open(url, compression_type=CompressionTypes.UNCOMPRESSED)


def shard_documents(url: str, offset: int = 0, first: int = 0) -> Iterator[tuple[int, dict]]:
    """(byte offset of the document's first tar member, document) from `offset` on; the first `first` documents
    are passed over without reading their data (headers only, the data is seeked over)."""
    with open_shard(url) as f:
        key, start, files, seen = None, offset, {}, 0
        for member_offset, name, size in tar_members(f, offset):
            name_key, _, ext = name.partition(".")
            if name_key != key:
                if key is not None:
                    if seen >= first:
                        yield start, _document(key, files)
                    seen += 1
                key, start, files = name_key, member_offset, {}
            field = ext[:-4] if ext.endswith(".npy") else ""
            if seen >= first and field in DOCUMENT_FIELDS:
                files[field] = f.read(size)
        if key is not None and seen >= first:
            yield start, _document(key, files)


def _document(key: str, files: dict[str, bytes]) -> dict:
    return {"key": key, **{name: _npy(files[name]) for name in DOCUMENT_FIELDS}}


def read_documents(shards: list[str]) -> Iterator[dict]:
    """Every document of the given shards, in order."""
    for url in shards:
        for _, doc in shard_documents(url):
            yield doc


def is_validation(key: str, every: int) -> bool:
    """Document-level hold-out by a stable hash of the key."""
    return zlib.crc32(key.encode()) % every == 0


def split_shards(n_shards: int, cfg: DataConfig) -> tuple[list[int], list[int], bool]:
    """(training shard indices, validation shard indices, whether the split is by document instead of by shard)."""
    if n_shards > cfg.validation_shards:
        return list(range(n_shards - cfg.validation_shards)), list(range(n_shards - cfg.validation_shards, n_shards)), False
    return list(range(n_shards)), list(range(n_shards)), True


def reader_pieces(samples: list[int], readers: int, reader: int) -> list[tuple[int, int, int]]:
    """(position in `samples`, first document, end document) of one reader's contiguous share of all documents:
    readers differ by one document at most, whatever the number and sizes of the shards."""
    total = sum(samples)
    start, end = total * reader // readers, total * (reader + 1) // readers
    pieces, base = [], 0
    for i, n in enumerate(samples):
        lo, hi = max(start, base), min(end, base + n)
        if lo < hi:
            pieces.append((i, lo - base, hi - base))
        base += n
    return pieces


def sentences(doc: dict, word_offset: int) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """(ids, pinyin, words) per sentence of a document; word indices shifted to stay unique when packed."""
    bounds = list(doc["sents"]) + [len(doc["ids"])]
    for start, end in zip(bounds[:-1], bounds[1:]):
        if end > start:
            yield doc["ids"][start:end], doc["pinyin"][start:end], doc["words"][start:end] + word_offset


class SequenceBuilder:
    """Sentences → sequences of at most max_len tokens with [CLS] … [SEP]: packed across sentences and documents
    (documents joined by [SEP]) with probability 1 - single_sentence_prob, else one sentence alone. Over-long
    sentences are cut. What is pending between documents is `carry`, so a reader can stop and resume anywhere."""

    def __init__(self, cfg: DataConfig, special: SpecialIds, rng: np.random.Generator | None = None):
        self.cfg, self.special, self.rng = cfg, special, rng
        self.capacity = cfg.max_len - 2
        self.parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        self.used, self.single = 0, None

    @property
    def carry(self) -> dict:
        """The pending sequence as plain lists (cheap to send between processes; checkpoints load them with
        weights_only)."""
        if not self.parts:
            return {"lengths": [], "single": self.single}
        return {"lengths": [len(p[0]) for p in self.parts], "single": self.single,
                **{name: np.concatenate([p[i] for p in self.parts]).ravel().tolist()
                   for i, name in enumerate(("ids", "pinyin", "words"))}}

    def restore(self, carry: dict | None) -> None:
        carry = carry or {"lengths": [], "single": None}
        self.parts, start = [], 0
        for n in carry["lengths"]:
            self.parts.append((np.array(carry["ids"][start:start + n], dtype=np.int64),
                               np.array(carry["pinyin"][8 * start:8 * (start + n)], dtype=np.uint8).reshape(n, 8),
                               np.array(carry["words"][start:start + n], dtype=np.int64)))
            start += n
        self.used, self.single = start, carry["single"]

    def _emit(self):
        parts, self.parts, self.used, self.single = self.parts, [], 0, None
        ids = np.concatenate([[self.special.cls]] + [p[0] for p in parts] + [[self.special.sep]]).astype(np.int64)
        pinyin = np.concatenate([np.zeros((1, 8), np.uint8)] + [p[1] for p in parts] + [np.zeros((1, 8), np.uint8)])
        words = np.concatenate([[-1]] + [p[2] for p in parts] + [[-1]]).astype(np.int64)
        return ids, pinyin, words

    def _separator(self):
        return (np.array([self.special.sep]), np.zeros((1, 8), np.uint8), np.array([-1]))

    def feed(self, doc: dict, rng: np.random.Generator):
        """The sequences completed by one more document."""
        offset = max((int(p[2].max(initial=-1)) for p in self.parts), default=-1) + 1
        first = True
        for sentence in sentences(doc, offset):
            while len(sentence[0]) > 0:
                if self.single is None:
                    self.single = bool(rng.random() < self.cfg.single_sentence_prob)
                room = self.capacity - self.used
                if self.parts and (self.single or len(sentence[0]) + first > room):
                    yield self._emit()
                    continue
                if first and self.parts:  # a new document inside a packed sequence
                    self.parts.append(self._separator())
                    self.used += 1
                take = min(len(sentence[0]), self.capacity)
                self.parts.append(tuple(x[:take] for x in sentence))
                self.used += take
                sentence = tuple(x[take:] for x in sentence)
                first = False

    def flush(self):
        """The pending sequence, if any."""
        if self.parts:
            yield self._emit()

    def __call__(self, docs: Iterator[dict]):
        for doc in docs:
            yield from self.feed(doc, self.rng)
        yield from self.flush()


def collate(sequences, special: SpecialIds, max_predictions: int) -> dict[str, torch.Tensor]:
    """Masked sequences → padded batch tensors, with the masked positions gathered into a fixed
    [B, max_predictions] (position 0 and label IGNORE where a sequence has fewer)."""
    length = max(len(s[0]) for s in sequences)
    b = len(sequences)
    input_ids = torch.full((b, length), special.pad, dtype=torch.long)
    pinyin_ids = torch.zeros((b, length, 8), dtype=torch.long)
    attention_mask = torch.zeros((b, length), dtype=torch.long)
    masked_positions = torch.zeros((b, max_predictions), dtype=torch.long)
    masked_labels = torch.full((b, max_predictions), IGNORE, dtype=torch.long)
    for i, (ids, pinyin, lab, _) in enumerate(sequences):
        n = len(ids)
        input_ids[i, :n] = torch.from_numpy(ids)
        pinyin_ids[i, :n] = torch.from_numpy(pinyin.astype(np.int64))
        attention_mask[i, :n] = 1
        positions = np.nonzero(lab != IGNORE)[0]
        if len(positions) > max_predictions:
            raise ValueError(f"{len(positions)} masked positions exceed max_predictions {max_predictions}")
        masked_positions[i, :len(positions)] = torch.from_numpy(positions)
        masked_labels[i, :len(positions)] = torch.from_numpy(lab[positions])
    return {"input_ids": input_ids, "pinyin_ids": pinyin_ids, "attention_mask": attention_mask,
            "masked_positions": masked_positions, "masked_labels": masked_labels}
