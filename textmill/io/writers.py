"""Output files: zstd Parquet shards and JSONL error logs, each written to a temporary name and
renamed into place, so a reader (or a resumed run) never sees half a file."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from textmill.document import (
    ID,
    KEY,
    REJECT_REASON,
    REJECT_STAGE,
    REJECTS_SCHEMA,
    SOURCE,
    TEXT,
    URL,
    strict_json,
)
from textmill.io.base import ReadError

PARQUET_COMPRESSION = "zstd"
ROW_GROUP_ROWS = 10_000


TEMPORARY_NAME = re.compile(r"\.(?P<final>.+)\.\d+\.tmp")


def temporary_path(final_path: Path) -> Path:
    return final_path.with_name(f".{final_path.name}.{os.getpid()}.tmp")


def final_name_of(temporary_name: str) -> str | None:
    """The file a temporary name (`temporary_path`) was going to become, else None."""
    match = TEMPORARY_NAME.fullmatch(temporary_name)
    return match["final"] if match else None


def publish(temporary: Path, final_path: Path) -> None:
    """Atomically move a finished file into place."""
    os.replace(temporary, final_path)


def _conform_to(table: pa.Table, schema: pa.Schema) -> pa.Table:
    columns = []
    for field in schema:
        if field.name in table.column_names:
            columns.append(table[field.name].cast(field.type))
        else:
            columns.append(pa.nulls(table.num_rows, field.type))
    return pa.Table.from_arrays(columns, schema=schema)


class ParquetShardWriter:
    """Streams batches into one Parquet file; the schema is the first batch's (later batches
    are cast to it) so that a shard is one file readers can load without schema merging."""

    def __init__(self, final_path: Path):
        self.final_path = final_path
        self.temporary = temporary_path(final_path)
        self.writer: pq.ParquetWriter | None = None
        self.schema: pa.Schema | None = None
        self.rows = 0

    def write(self, table: pa.Table) -> None:
        if table.num_rows == 0 and self.writer is not None:
            return
        if self.writer is None:
            self.schema = _with_null_types_widened(table.schema)
            self.final_path.parent.mkdir(parents=True, exist_ok=True)
            self.writer = pq.ParquetWriter(
                self.temporary, self.schema, compression=PARQUET_COMPRESSION
            )
        assert self.schema is not None
        table = _conform_to(table, self.schema)
        self.writer.write_table(table, row_group_size=ROW_GROUP_ROWS)
        self.rows += table.num_rows

    def close(self) -> Path | None:
        """Publish the file; a shard that received no batch at all writes nothing."""
        if self.writer is None:
            return None
        self.writer.close()
        publish(self.temporary, self.final_path)
        return self.final_path

    def abort(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.temporary.unlink(missing_ok=True)


def _with_null_types_widened(schema: pa.Schema) -> pa.Schema:
    """A column that is all-null in the first batch must not fix its type as `null`."""
    return pa.schema([f.with_type(pa.string()) if pa.types.is_null(f.type) else f for f in schema])


def rejects_table(batch: pa.Table, keep: pa.Array, stage: str, reasons: pa.Array) -> pa.Table:
    """The dropped rows of a batch in the fixed rejects schema."""
    dropped = pc.invert(keep)
    rows = batch.filter(dropped)
    n = rows.num_rows
    columns = {
        ID: rows[ID],
        KEY: rows[KEY] if KEY in rows.column_names else pa.nulls(n, pa.int64()),
        SOURCE: rows[SOURCE],
        URL: rows[URL],
        REJECT_STAGE: pa.array([stage] * n, pa.string()),
        REJECT_REASON: pc.filter(reasons, dropped),
        TEXT: rows[TEXT] if TEXT in rows.column_names else pa.nulls(n, pa.large_string()),
    }
    return _conform_to(pa.table(columns), REJECTS_SCHEMA)


def write_errors(errors: Iterable[ReadError | dict], final_path: Path) -> int:
    """One JSON object per error: file, record, message, excerpt (and stage for stage errors)."""
    rows = [e if isinstance(e, dict) else e.__dict__ for e in errors]
    if not rows:
        return 0
    final_path.parent.mkdir(parents=True, exist_ok=True)
    temporary = temporary_path(final_path)
    with open(temporary, "w", encoding="utf-8") as out:
        for row in rows:
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
    publish(temporary, final_path)
    return len(rows)


def write_jsonl(table: pa.Table, final_path: Path) -> None:
    """Optional JSONL copy of kept documents (gzip when the name ends in .gz)."""
    import gzip

    final_path.parent.mkdir(parents=True, exist_ok=True)
    temporary = temporary_path(final_path)
    opener = gzip.open if final_path.suffix == ".gz" else open
    with opener(temporary, "wt", encoding="utf-8") as out:
        for row in table.to_pylist():
            out.write(strict_json(row) + "\n")
    publish(temporary, final_path)


def write_json_atomically(payload: dict, final_path: Path) -> None:
    write_text_atomically(json.dumps(payload, indent=2, ensure_ascii=False) + "\n", final_path)


def write_text_atomically(text: str, final_path: Path) -> None:
    """A small text file (JSON, YAML), its folder created, never seen half-written."""
    final_path.parent.mkdir(parents=True, exist_ok=True)
    temporary = temporary_path(final_path)
    temporary.write_text(text, "utf-8")
    publish(temporary, final_path)
