"""Parquet: documents in row groups; read a row group at a time so memory stays bounded."""

from __future__ import annotations

import json
from collections.abc import Iterator

import fsspec
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from textmill.document import HTML, ID, METADATA, SOURCE, TEXT, URL, conform
from textmill.io.base import BatchBuilder, ReadBatch, ReadOptions


def read_parquet(path: str, options: ReadOptions) -> Iterator[ReadBatch]:
    """Parquet needs random access, so it is opened seekable; progress is reported per row
    group as the share of the file's compressed bytes that group holds."""
    stream = fsspec.open(path, "rb").open()
    builder = BatchBuilder(path, options)
    try:
        parquet = pq.ParquetFile(stream)
        names = parquet.schema_arrow.names
    except (pa.ArrowException, OSError) as exc:
        builder.error("whole file", f"not a readable Parquet file ({exc})")
        yield builder.flush()
        return
    if options.text_field not in names and HTML not in names:
        builder.error("whole file", f"missing column '{options.text_field}' (and no 'html')")
        yield builder.flush()
        return
    row = 0
    metadata = parquet.metadata
    try:
        for group in range(metadata.num_row_groups):
            group_meta = metadata.row_group(group)
            group_bytes = sum(
                group_meta.column(c).total_compressed_size for c in range(group_meta.num_columns)
            )
            batches = parquet.iter_batches(batch_size=options.batch_size, row_groups=[group])
            for index, record_batch in enumerate(batches):
                table = pa.Table.from_batches([record_batch])
                docs = _to_documents(table, path, row, options, builder)
                errors = builder.flush().errors
                yield ReadBatch(docs, errors, {}, group_bytes if index == 0 else 0)
                row += table.num_rows
    except (pa.ArrowException, OSError) as exc:
        builder.error(f"row {row:,} onward", f"corrupt Parquet data ({exc})")
        yield builder.flush()
    finally:
        stream.close()


def _to_documents(
    table: pa.Table, path: str, first_row: int, options: ReadOptions, errors: BatchBuilder
) -> pa.Table:
    """Rename the configured fields to the base columns; pack the rest into `metadata`."""
    n = table.num_rows
    rows = pa.array(range(first_row, first_row + n))
    columns: dict[str, pa.Array] = {}
    if options.id_field in table.column_names:
        ids = pc.cast(table[options.id_field], pa.string())
        fallback = pc.binary_join_element_wise(path, pc.cast(rows, pa.string()), ":")
        columns[ID] = pc.coalesce(ids, fallback)
    else:
        columns[ID] = pc.binary_join_element_wise(path, pc.cast(rows, pa.string()), ":")
    if options.text_field in table.column_names:
        columns[TEXT] = table[options.text_field]
    if HTML in table.column_names:
        columns[HTML] = pc.cast(table[HTML], pa.large_string())
    columns[SOURCE] = pa.array([path] * n, pa.string())
    if options.url_field in table.column_names:
        columns[URL] = pc.cast(table[options.url_field], pa.string())
    used = {options.id_field, options.text_field, HTML, options.url_field, SOURCE}
    extra = [name for name in table.column_names if name not in used]
    if METADATA in table.column_names and extra == [METADATA]:
        columns[METADATA] = pc.cast(table[METADATA], pa.string())
    elif extra:
        records = table.select(extra).to_pylist()
        columns[METADATA] = pa.array(
            [json.dumps(r, ensure_ascii=False, default=str) for r in records], pa.string()
        )
    docs = conform(pa.table(columns))
    sizes = pc.binary_length(docs[TEXT]) if TEXT in docs.column_names else None
    if sizes is not None:
        too_large = pc.fill_null(pc.greater(sizes, options.max_document_bytes), False)
        if pc.any(too_large).as_py():
            for index in pc.indices_nonzero(too_large).to_pylist():
                size = sizes[index].as_py()
                errors.error(f"row {first_row + index:,}", errors.oversize_message(size))
            docs = docs.filter(pc.invert(too_large))
    return docs
