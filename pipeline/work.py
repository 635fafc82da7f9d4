"""The job's intermediate files: what makes it restartable and side-input free.

    OUTPUT/_work/ingest-<hash of the per-input config>/<input id>.docs.jsonl.gz   scored documents of one input
    OUTPUT/_work/ingest-<…>/<input id>.funnel.json                             its funnel; written last = complete
    OUTPUT/_work/global-<hash of the config and inputs>/…                      dedup buckets, counts, funnels

Every file is written under a temporary name and renamed, with deterministic bytes, so a retried bundle or a
relaunched job rewrites the same content. The per-input hash leaves the thresholds out: retuning them reuses
every extracted input ("tag, then mix").
"""
from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import tempfile

from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems

from transforms.config import CorpusConfig
from transforms.segment import describe_segmenter
from transforms.types import Document

INGEST_SECTIONS = ("read", "sniff", "decode", "extract", "clean", "quality")


def _digest(data: dict) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True, separators=(",", ":")).encode()).hexdigest()[:16]


def ingest_dir(output: str, config: CorpusConfig) -> str:
    """Folder of per-input intermediates; its name changes with every setting that changes them."""
    c = config.to_dict()
    relevant = {k: c[k] for k in INGEST_SECTIONS}
    relevant["segmenter"] = describe_segmenter(config.annotate.segmenter, config.annotate.segmenter_model)
    return FileSystems.join(output, "_work", f"ingest-{_digest(relevant)}")


def global_dir(output: str, config: CorpusConfig, inputs: list[str]) -> str:
    """Folder of the global phase's files; its name changes with the config and with the set of inputs."""
    return FileSystems.join(output, "_work", f"global-{_digest({'config': config.digest(), 'inputs': sorted(inputs)})}")


def all_exist(folder: str, names) -> bool:
    """Whether every named file is in the folder (files are written atomically: existing means complete)."""
    return all(FileSystems.exists(FileSystems.join(folder, name)) for name in names)


def input_source(meta) -> dict:
    """An input as the job identifies it, from Beam's FileMetadata: {path, size, modified (seconds)}."""
    return {"path": meta.path, "size": meta.size_in_bytes, "modified": float(meta.last_updated_in_seconds or 0.0)}


def input_id(source: dict) -> str:
    """A file-name-safe id for an input: its path, size and modification time (an input rewritten under the same
    path is a new input, never matched with the intermediates of the old one); never built from the path's
    characters."""
    key = f"{source['path']}\x00{source['size']}\x00{source.get('modified', 0):.6f}"
    return hashlib.blake2b(key.encode("utf-8"), digest_size=10).hexdigest()


def input_paths(folder: str, source: dict) -> tuple[str, str]:
    """(documents file, funnel file) of one input ({path, size, modified}, as list_inputs gives it)."""
    base = FileSystems.join(folder, input_id(source))
    return base + ".docs.jsonl.gz", base + ".funnel.json"


def write_bytes(path: str, data: bytes) -> None:
    """Atomically, also against a concurrent writer: locally a uniquely named temporary file, then os.replace;
    on object stores one PUT (an object appears whole or not at all; there is no rename to race)."""
    if "://" in path:
        with FileSystems.create(path, compression_type=CompressionTypes.UNCOMPRESSED) as f:
            f.write(data)
        return
    folder = os.path.dirname(path) or "."
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=os.path.basename(path) + ".", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def read_bytes(path: str) -> bytes:
    """The file's bytes as stored (no decompression guessed from the name)."""
    with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as f:
        return f.read()


def write_json(path: str, obj) -> None:
    write_bytes(path, json.dumps(obj, ensure_ascii=False, sort_keys=True, indent=1).encode("utf-8"))


def read_json(path: str):
    return json.loads(read_bytes(path))


def doc_to_json(doc: Document) -> dict:
    return {"key": doc.key, "url": doc.url, "text": doc.text, "meta": doc.meta, "words": doc.words}


def doc_from_json(data: dict) -> Document:
    return Document(data["key"], data["url"], data["text"], data["meta"], data["words"])


def gzip_lines(lines) -> bytes:
    """Lines (str) as gzip text, one per line (gzip mtime 0: the same lines give the same bytes)."""
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0) as gz:
        for line in lines:
            gz.write(line.encode("utf-8") + b"\n")
    return buf.getvalue()


def read_gzip_lines(path: str) -> list[str]:
    """The lines gzip_lines wrote."""
    with gzip.GzipFile(fileobj=io.BytesIO(read_bytes(path))) as gz:
        return [line.decode("utf-8").rstrip("\n") for line in gz]


def docs_bytes(docs) -> bytes:
    """Documents as gzip JSON lines."""
    return gzip_lines(json.dumps(doc_to_json(doc), ensure_ascii=False, sort_keys=True) for doc in docs)


def read_docs(path: str) -> list[Document]:
    return [doc_from_json(json.loads(line)) for line in read_gzip_lines(path)]


def completed(folder: str, source: dict) -> bool:
    """An input is complete when its funnel file exists (written after its documents)."""
    return FileSystems.exists(input_paths(folder, source)[1])


def clear(pattern: str) -> None:
    """Delete the files matching a pattern (e.g. stale shards of an earlier run)."""
    old = [m.path for r in FileSystems.match([pattern]) for m in r.metadata_list]
    if old:
        FileSystems.delete(old)
