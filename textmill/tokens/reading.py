"""The documents tokenize reads: any input textmill reads, through textmill's own readers.

An argument that is a textmill run's output folder stands for its `data/` folder (what the run
kept), never its rejects or errors; a folder holding textmill outputs is read without them, as
`textmill run` reads one (`plan_shards`). Every batch comes out as a small table of `id`, `text`,
`source` and `lang`: `source` is the document's own `source` column when the input has one (a
textmill output does), else its file; `lang` the `lang` column, when there is one.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.compute as pc

from textmill.document import ID, METADATA, SOURCE, TEXT
from textmill.io import ReadError, ReadOptions, Shard, plan_shards, read_shard
from textmill.io.files import InputError, is_run_output

LANG = "lang"
DOCUMENTS_SCHEMA = pa.schema(
    [
        pa.field(ID, pa.string()),
        pa.field(TEXT, pa.large_string()),
        pa.field(SOURCE, pa.string()),
        pa.field(LANG, pa.string()),
    ]
)


@dataclass
class DocumentBatch:
    docs: pa.Table  # DOCUMENTS_SCHEMA
    errors: list[ReadError] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)  # records a reader skipped (warc:request)


def input_arguments(arguments: Sequence[str]) -> list[str]:
    """The arguments, a textmill run's output folder replaced by its data/ folder."""
    resolved = []
    for argument in arguments:
        if "://" not in argument and os.path.isdir(argument) and is_run_output(argument):
            data = os.path.join(argument, "data")
            if not os.path.isdir(data):
                raise InputError(f"{argument} is a textmill output without a data/ folder")
            resolved.append(data)
        else:
            resolved.append(argument)
    return resolved


def plan_inputs(arguments: Sequence[str], out: str) -> tuple[list[Shard], list[str]]:
    """The shards to tokenize and the files left out (unknown format, unreadable)."""
    if not arguments:
        raise InputError("no inputs given")
    return plan_shards(input_arguments(arguments), exclude=[out])


def read_documents(shard: Shard, options: ReadOptions) -> Iterator[DocumentBatch]:
    """The shard's documents in batches, with the records that could not be read."""
    for read in read_shard(shard, options):
        yield DocumentBatch(_documents(read.docs), list(read.errors), dict(read.skipped))


def _documents(docs: pa.Table) -> pa.Table:
    """id, text, source, lang of a reader's batch: a column the reader folded into `metadata`
    (the input's own `source` and `lang`) is taken back out of it."""
    n = docs.num_rows
    text = docs[TEXT] if TEXT in docs.column_names else pa.nulls(n, pa.large_string())
    sources = docs[SOURCE].to_pylist() if n else []
    langs: list[str | None] = [None] * n
    if METADATA in docs.column_names and n:
        metadata = docs[METADATA]
        hits = pc.or_(
            pc.match_substring(metadata, f'"{SOURCE}"'), pc.match_substring(metadata, f'"{LANG}"')
        )
        rows = pc.indices_nonzero(pc.fill_null(hits, False)).to_pylist()
        values = metadata.take(rows).to_pylist() if rows else []
        for row, value in zip(rows, values, strict=True):
            try:
                record = json.loads(value)
            except ValueError:
                continue
            if not isinstance(record, dict):
                continue
            if isinstance(record.get(SOURCE), str):
                sources[row] = record[SOURCE]
            if isinstance(record.get(LANG), str):
                langs[row] = record[LANG]
    return pa.table(
        {
            ID: docs[ID].cast(pa.string()),
            TEXT: text.cast(pa.large_string()),
            SOURCE: pa.array(sources, pa.string()),
            LANG: pa.array(langs, pa.string()),
        },
        schema=DOCUMENTS_SCHEMA,
    )
