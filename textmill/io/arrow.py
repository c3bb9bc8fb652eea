"""Arrow IPC (`.arrow`): the stream format Hugging Face `save_to_disk` writes, and the file
format. A file-format file is its magic, a stream and a footer, so both are read as a stream:
one code path, and a file whose footer was cut off still gives every batch before the cut."""

from __future__ import annotations

from collections.abc import Iterator

import pyarrow as pa

from textmill.io.base import BatchBuilder, ReadBatch, ReadOptions
from textmill.io.columnar import convert_batch, decoded_batches, schema_error, schema_problem
from textmill.io.files import open_input
from textmill.io.hf_folders import hf_split

FILE_MAGIC = b"ARROW1\0\0"  # the file format's magic and padding, before its stream
SPLIT = "split"


def read_arrow(path: str, options: ReadOptions) -> Iterator[ReadBatch]:
    builder = BatchBuilder(path, options)
    try:
        stream, counter = open_input(path)
    except OSError as exc:
        builder.error("whole file", f"cannot be opened ({exc}); rows lost: unknown", records=None)
        yield builder.flush()
        return
    builder.counter = counter
    try:
        if stream.read(len(FILE_MAGIC)) != FILE_MAGIC:
            stream = _rewound(stream, path)
        yield from _read_stream(stream, path, builder)
    finally:
        stream.close()


def _rewound(stream, path: str):
    """The stream from its first byte again (a compressed input cannot seek: reopen it)."""
    if stream.seekable():
        stream.seek(0)
        return stream
    stream.close()
    return open_input(path)[0]


def _read_stream(stream, path: str, builder: BatchBuilder) -> Iterator[ReadBatch]:
    try:
        reader = pa.ipc.open_stream(stream)
        schema = reader.schema
        problem = schema_problem(schema, builder.options)  # field names may not be UTF-8
    except Exception as exc:  # noqa: BLE001 - whatever a hostile header raises
        builder.error(
            "whole file",
            f"not a readable Arrow IPC file ({type(exc).__name__}: {exc}); rows lost: unknown",
            records=None,
        )
        yield builder.flush()
        return
    if problem:
        rows = _count_rows(reader)
        if rows != 0:
            schema_error(builder, problem, rows)
            yield builder.flush()
        return
    split = hf_split(path) if SPLIT not in schema.names else None
    row = 0
    for item in decoded_batches(lambda: reader):
        if isinstance(item, Exception):
            builder.error(
                f"row {row:,} onward",
                f"corrupt or truncated Arrow data ({type(item).__name__}: {item}); "
                "the rest of the file is lost, how many rows is unknown",
                records=None,
            )
            yield builder.flush()
            return
        if split is not None:
            item = item.append_column(SPLIT, pa.array([split] * item.num_rows, pa.string()))
        for start in range(0, item.num_rows, builder.options.batch_size):
            piece = item.slice(start, builder.options.batch_size)
            read = convert_batch(piece, path, row, builder)
            read.progress_bytes = builder.counter.take_progress() if builder.counter else 0
            row += piece.num_rows
            yield read


def _count_rows(reader: pa.ipc.RecordBatchStreamReader) -> int | None:
    """Rows in the rest of the stream, decoded but not converted; None if it breaks off."""
    rows = 0
    for item in decoded_batches(lambda: reader):
        if isinstance(item, Exception):
            return None
        rows += item.num_rows
    return rows
