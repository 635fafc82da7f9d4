"""Partitioned intermediate files: items written into n files by the hash of a key, and files read back spread
over the workers. Every file's items are sorted and its bytes deterministic, so a retried bundle rewrites the
same file; the listing of the written files is sorted by path."""
from __future__ import annotations

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems

from pipeline.work import gzip_lines, read_gzip_lines, write_bytes
from pipeline.write import shard_of


class _WritePart(beam.DoFn):
    """(part, items) → folder/<name>-<part><suffix>, items sorted by sort_key; emits {"path", **describe(items)}."""

    def __init__(self, folder: str, name: str, suffix: str, encode, sort_key, describe):
        self.folder, self.name, self.suffix = folder, name, suffix
        self.encode, self.sort_key, self.describe = encode, sort_key, describe

    def process(self, element):
        part, items = element
        items = sorted(items, key=self.sort_key)
        path = FileSystems.join(self.folder, f"{self.name}-{part:05d}{self.suffix}")
        write_bytes(path, self.encode(items))
        yield {"path": path, **self.describe(items)}


@beam.ptransform_fn
def WriteParts(items, folder: str, name: str, suffix: str, n_parts: int, part_key, encode, sort_key, describe):
    """Items into n_parts files by the hash of part_key(item); returns one list of the files' entries."""
    return (items | "KeyPart" >> beam.Map(lambda item: (shard_of(part_key(item), n_parts), item))
            | "GroupPart" >> beam.GroupByKey()
            | "Write" >> beam.ParDo(_WritePart(folder, name, suffix, encode, sort_key, describe))
            | "List" >> beam.combiners.ToList() | "Sort" >> beam.Map(lambda e: sorted(e, key=lambda x: x["path"])))


def _first_field(line: str) -> str:
    return line.split("\t", 1)[0]


def _line_count(lines: list[str]) -> dict:
    return {"lines": len(lines)}


@beam.ptransform_fn
def WriteRows(rows, folder: str, name: str, n_parts: int):
    """Rows (tuples) as tab-separated gzip text, into n_parts files by their first field."""
    return (rows | "Join" >> beam.Map(lambda row: "\t".join(map(str, row)))
            | "Parts" >> WriteParts(folder, name, ".tsv.gz", n_parts, _first_field, gzip_lines, None, _line_count))


def read_rows(path: str) -> list[list[str]]:
    """The tab-separated rows of one file."""
    return [line.split("\t") for line in read_gzip_lines(path)]


def read_files(pipeline, label: str, paths: list[str], reader=read_rows):
    """What reader gives for each of the files, spread over workers."""
    return (pipeline | f"{label}Files" >> beam.Create(paths) | f"{label}Shuffle" >> beam.Reshuffle()
            | f"{label}Read" >> beam.FlatMap(reader))
