"""Parquet: documents in row groups, read one row group at a time in batches, so memory stays
bounded and a row group that cannot be decoded costs its own rows, counted, not the file."""

from __future__ import annotations

from collections.abc import Iterator

import fsspec
import pyarrow.parquet as pq

from textmill.io.base import BatchBuilder, ReadBatch, ReadOptions
from textmill.io.columnar import convert_batch, decoded_batches, schema_error, schema_problem


def read_parquet(path: str, options: ReadOptions) -> Iterator[ReadBatch]:
    """Parquet needs random access, so it is opened seekable."""
    builder = BatchBuilder(path, options)
    try:
        stream = fsspec.open(path, "rb").open()
    except OSError as exc:
        builder.error("whole file", f"cannot be opened ({exc}); rows lost: unknown", records=None)
        yield builder.flush()
        return
    try:
        yield from _read_open(stream, path, builder)
    finally:
        stream.close()


def _read_open(stream, path: str, builder: BatchBuilder) -> Iterator[ReadBatch]:
    try:
        file_bytes = stream.seek(0, 2)
        stream.seek(0)
        parquet = pq.ParquetFile(stream, page_checksum_verification=True)
        metadata = parquet.metadata
        problem = schema_problem(parquet.schema_arrow, builder.options)  # names may not be UTF-8
        group_rows = [metadata.row_group(g).num_rows for g in range(metadata.num_row_groups)]
    except Exception as exc:  # noqa: BLE001 - whatever a hostile footer raises
        builder.error(
            "whole file",
            f"not a readable Parquet file ({exc}); without its footer the number of rows "
            "lost is unknown",
            records=None,
        )
        yield builder.flush()
        return
    total_rows = sum(group_rows)
    if total_rows == 0:
        return
    if problem:
        schema_error(builder, problem, total_rows)
        yield builder.flush()
        return
    first_row = 0
    for group, rows in enumerate(group_rows):
        progress = file_bytes * rows // total_rows
        yield from _read_row_group(parquet, group, rows, first_row, progress, path, builder)
        first_row += rows


def _read_row_group(
    parquet: pq.ParquetFile,
    group: int,
    group_rows: int,
    first_row: int,
    progress: int,
    path: str,
    builder: BatchBuilder,
) -> Iterator[ReadBatch]:
    """The row group's batches; if decoding fails, the rows not yet read are one error.
    Progress is the group's share of the file by rows: a column chunk's own sizes are not
    read, as pyarrow aborts the process on some corrupt column metadata."""
    done = 0
    options = builder.options
    for item in decoded_batches(
        lambda: parquet.iter_batches(batch_size=options.batch_size, row_groups=[group])
    ):
        if isinstance(item, Exception):
            lost = group_rows - done if group_rows > done else None
            builder.error(
                f"row group {group:,} (rows {first_row + done:,}-{first_row + group_rows - 1:,})",
                f"corrupt Parquet data ({type(item).__name__}: {item}); "
                f"{'an unknown number of' if lost is None else f'{lost:,}'} rows lost",
                records=lost,
            )
            read = builder.flush()
        else:
            read = convert_batch(item, path, first_row + done, builder)
            done += item.num_rows
        read.progress_bytes, progress = progress, 0
        yield read
