"""Readers and writers. `read_shard` dispatches on the shard's format; each format is one
module with one `read_*(path, options)` generator."""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Iterator

from textmill.document import assign_keys
from textmill.io.base import ReadBatch, ReadError, ReadOptions
from textmill.io.files import InputError, Shard, detect_format, plan_shards

READERS = {
    "jsonl": "textmill.io.jsonl:read_jsonl",
    "parquet": "textmill.io.parquet:read_parquet",
    "arrow": "textmill.io.arrow:read_arrow",
    "warc": "textmill.io.warc:read_warc",
    "text": "textmill.io.textfiles:read_text_file",
    "html": "textmill.io.textfiles:read_html_file",
}


def reader_for(fmt: str):
    module_name, function = READERS[fmt].split(":")
    return getattr(importlib.import_module(module_name), function)


def read_shard(shard: Shard, options: ReadOptions) -> Iterator[ReadBatch]:
    reader = reader_for(shard.format)
    for path in shard.paths:
        yield from reader(path, options)


def with_keys(reads: Iterable[ReadBatch], shard: Shard) -> Iterator[ReadBatch]:
    """The shard's batches with every document's `doc_key` (its ordinal in the shard): assigned
    here, where batches leave the readers, so no reader has to get it right."""
    ordinal = 0
    for read in reads:
        read.docs = assign_keys(read.docs, shard.index, ordinal)
        ordinal += read.docs.num_rows
        yield read


__all__ = [
    "InputError",
    "ReadBatch",
    "ReadError",
    "ReadOptions",
    "Shard",
    "detect_format",
    "plan_shards",
    "read_shard",
    "with_keys",
]
