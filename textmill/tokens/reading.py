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

import fsspec
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from textmill.document import HTML, ID, METADATA, SOURCE, TEXT
from textmill.io import ReadError, ReadOptions, Shard, plan_shards, read_guarded, read_shard
from textmill.io.base import BatchBuilder, ReadBatch
from textmill.io.columnar import (
    KEPT_PREFIX,
    _is_text,
    convert_batch,
    decoded_batches,
    schema_error,
    schema_problem,
)
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


def plan_inputs(arguments: Sequence[str], out: str | None) -> tuple[list[Shard], list[str]]:
    """The shards to read and the files left out (unknown format, unreadable); `out`, the
    folder being written, is never read."""
    if not arguments:
        raise InputError("no inputs given")
    return plan_shards(input_arguments(arguments), exclude=[out] if out else [])


def read_documents(shard: Shard, options: ReadOptions) -> Iterator[DocumentBatch]:
    """The shard's documents in batches, with the records that could not be read."""
    if shard.format == "parquet":
        for path in shard.paths:  # a reader's crash ends only its file, as one counted error
            for read in read_guarded(_read_parquet_columns, path, options):
                yield read if isinstance(read, DocumentBatch) else _batch(read)
        return
    for read in read_shard(shard, options):
        yield DocumentBatch(_documents(read.docs), list(read.errors), dict(read.skipped))


def _read_parquet_columns(path: str, options: ReadOptions) -> Iterator[DocumentBatch]:
    """A Parquet file's documents reading only the columns tokenize needs (a textmill output
    has a dozen more), with textmill's own row checks (`convert_batch`): `source` and `lang`
    stay columns instead of passing through a JSON object per row."""
    builder = BatchBuilder(path, options)
    try:
        with fsspec.open(path, "rb") as stream:
            try:
                parquet = pq.ParquetFile(stream, page_checksum_verification=True)
                schema = parquet.schema_arrow
                groups = [
                    parquet.metadata.row_group(g).num_rows
                    for g in range(parquet.metadata.num_row_groups)
                ]
            except Exception as exc:  # noqa: BLE001 - whatever a hostile footer raises
                builder.error(
                    "whole file", f"not a readable Parquet file ({exc}); rows lost: unknown",
                    records=None,
                )  # fmt: skip
                yield _batch(builder.flush())
                return
            problem = schema_problem(schema, options)
            if problem:
                schema_error(builder, problem, sum(groups))
                yield _batch(builder.flush())
                return
            wanted = [options.text_field, HTML, options.id_field, SOURCE, LANG]
            columns = [name for name in dict.fromkeys(wanted) if name in schema.names]
            keep = [n for n in (SOURCE, LANG) if n in columns and _is_text(schema.field(n).type)]
            first_row = 0
            for group, rows in enumerate(groups):
                done = 0
                batches = decoded_batches(
                    lambda g=group: parquet.iter_batches(
                        batch_size=options.batch_size, row_groups=[g], columns=columns
                    )
                )
                for item in batches:
                    if isinstance(item, Exception):
                        lost = rows - done
                        builder.error(
                            f"row group {group:,}",
                            f"corrupt Parquet data ({type(item).__name__}: {item}); "
                            f"{lost:,} rows lost",
                            records=lost,
                        )
                        yield _batch(builder.flush())
                        break
                    read = convert_batch(item, path, first_row + done, builder, keep)
                    done += item.num_rows
                    yield _batch(read)
                first_row += rows
    except OSError as exc:
        builder.error("whole file", f"cannot be opened ({exc}); rows lost: unknown", records=None)
        yield _batch(builder.flush())


def _batch(read: ReadBatch) -> DocumentBatch:
    return DocumentBatch(_documents(read.docs), list(read.errors), dict(read.skipped))


def _documents(docs: pa.Table) -> pa.Table:
    """id, text, source, lang of a reader's batch: a column the reader folded into `metadata`
    (the input's own `source` and `lang`) is taken back out of it."""
    n = docs.num_rows
    text = docs[TEXT] if TEXT in docs.column_names else pa.nulls(n, pa.large_string())
    if KEPT_PREFIX + SOURCE in docs.column_names or KEPT_PREFIX + LANG in docs.column_names:
        return _from_kept(docs, text)
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


def _from_kept(docs: pa.Table, text: pa.ChunkedArray) -> pa.Table:
    """A batch whose `source` / `lang` came as columns: the input's own source where it has
    one, else the file."""
    n = docs.num_rows
    source = docs[SOURCE].cast(pa.string())
    if KEPT_PREFIX + SOURCE in docs.column_names:
        source = pc.coalesce(docs[KEPT_PREFIX + SOURCE].cast(pa.string()), source)
    lang = (
        docs[KEPT_PREFIX + LANG].cast(pa.string())
        if KEPT_PREFIX + LANG in docs.column_names
        else pa.nulls(n, pa.string())
    )
    return pa.table(
        {ID: docs[ID].cast(pa.string()), TEXT: text.cast(pa.large_string()), SOURCE: source,
         LANG: lang},
        schema=DOCUMENTS_SCHEMA,
    )  # fmt: skip
