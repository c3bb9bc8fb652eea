"""Columnar inputs (Parquet, Arrow IPC) to documents: which column types can be text, and the
whole-batch conversion both readers share.

A file whose schema cannot give documents is one error that counts all its rows; a row that
cannot (null text, bytes that are not UTF-8, too large) is that row's error. Both are found
with whole-column checks, and Python touches only the rows that fail them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence

import pyarrow as pa
import pyarrow.compute as pc

from textmill.document import (
    HTML,
    ID,
    METADATA,
    SOURCE,
    TEXT,
    URL,
    conform,
    empty_batch,
    strict_json,
)
from textmill.io.base import BatchBuilder, ReadBatch, ReadOptions


def _value_type(data_type: pa.DataType) -> pa.DataType:
    return data_type.value_type if pa.types.is_dictionary(data_type) else data_type


def _is_text(data_type: pa.DataType) -> bool:
    t = _value_type(data_type)
    return pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t)


def _is_bytes(data_type: pa.DataType) -> bool:
    t = _value_type(data_type)
    return pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_binary_view(t)


def _is_label(data_type: pa.DataType) -> bool:
    """Types an id or url column may have: text, or integers (cast to their decimal string)."""
    return _is_text(data_type) or pa.types.is_integer(_value_type(data_type))


def schema_problem(schema: pa.Schema, options: ReadOptions) -> str | None:
    """Why no row of a file with this schema can become a document, or None.

    Text may be any string type, dictionary of strings, or bytes (decoded as UTF-8 row by row);
    numbers, lists and structs are not text, and casting them would invent documents.
    """
    names = schema.names
    text_field = options.text_field
    if text_field not in names and HTML not in names:
        return f"missing column '{text_field}' (and no '{HTML}')"
    for name in dict.fromkeys((text_field, HTML, options.id_field, options.url_field)):
        if names.count(name) > 1:
            return f"column '{name}' appears {names.count(name)} times"
    for name in dict.fromkeys((text_field, HTML)):
        if name in names:
            data_type = schema.field(name).type
            if not (_is_text(data_type) or _is_bytes(data_type) or pa.types.is_null(data_type)):
                return f"column '{name}' is {data_type}, not a string type"
    for name in dict.fromkeys((options.id_field, options.url_field)):
        if name in names:
            data_type = schema.field(name).type
            if not (_is_label(data_type) or pa.types.is_null(data_type)):
                return f"column '{name}' is {data_type}, not a string or integer type"
    return None


def schema_error(builder: BatchBuilder, problem: str, rows: int | None) -> None:
    """One error for a whole file whose schema gives no documents, counting all its rows."""
    counted = "an unknown number of rows" if rows is None else f"all {rows:,} rows"
    builder.error("whole file", f"{problem}; {counted} counted as errored", records=rows)


def _decoded(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """A dictionary column as its plain values (casts from a dictionary go through this)."""
    if pa.types.is_dictionary(column.type):
        return pc.cast(column, column.type.value_type)
    return column


def _as_large_string(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """Text columns as large_string; bytes are reinterpreted here and validated with the rest."""
    column = _decoded(column)
    if _is_bytes(column.type):
        column = pc.cast(column, pa.large_binary())
        return pa.chunked_array(
            [c.view(pa.large_string()) for c in column.chunks], pa.large_string()
        )
    return pc.cast(column, pa.large_string())


def _invalid_rows(table: pa.Table) -> dict[int, str]:
    """Rows holding bytes that are not UTF-8 in a string column (a Parquet file can store
    them, and pyarrow reads them unchecked), with the column. The whole-table check is fast;
    only a batch that fails it is searched row by row."""
    try:
        table.validate(full=True)
        return {}
    except pa.ArrowInvalid:
        pass
    bad: dict[int, str] = {}
    for name in table.column_names:
        column = table[name]
        try:
            column.validate(full=True)
            continue
        except pa.ArrowInvalid:
            pass
        for row in range(table.num_rows):
            if row in bad:
                continue
            try:
                column.slice(row, 1).validate(full=True)
            except pa.ArrowInvalid:
                bad[row] = name
    return bad


KEPT_PREFIX = "kept_"  # a column `to_documents` keeps (its `keep`) is named KEPT_PREFIX + name


def to_documents(
    table: pa.Table,
    path: str,
    first_row: int,
    options: ReadOptions,
    builder: BatchBuilder,
    keep: Sequence[str] = (),
) -> pa.Table:
    """Rename the configured columns to the base columns and pack the rest into `metadata`;
    rows that cannot be documents become errors in `builder` and are left out. Columns in
    `keep` stay columns of their own (tokenize reads a textmill output's `source` and `lang`
    so, without a JSON object per row)."""
    text_field = options.text_field
    for name in dict.fromkeys((text_field, HTML)):
        if name in table.column_names:
            index = table.column_names.index(name)
            table = table.set_column(index, name, _as_large_string(table[name]))
    problems = {
        row: f"column '{name}' is not valid UTF-8" for row, name in _invalid_rows(table).items()
    }
    no_text = pc.is_null(table[text_field]) if text_field in table.column_names else None
    if HTML in table.column_names:
        html_null = pc.is_null(table[HTML])
        no_text = html_null if no_text is None else pc.and_(no_text, html_null)
    for row in pc.indices_nonzero(no_text).to_pylist():
        problems.setdefault(row, f"'{text_field}' is null (and no '{HTML}')")
    for name in dict.fromkeys((text_field, HTML)):
        if name in table.column_names:
            sizes = pc.binary_length(table[name])
            too_large = pc.fill_null(pc.greater(sizes, options.max_document_bytes), False)
            for row in pc.indices_nonzero(too_large).to_pylist():
                problems.setdefault(row, builder.oversize_message(sizes[row].as_py()))
    rows = pa.array(range(first_row, first_row + table.num_rows), pa.int64())
    if problems:
        for row in sorted(problems):
            builder.error(f"row {first_row + row:,}", problems[row])
        keep = [row not in problems for row in range(table.num_rows)]
        table, rows = table.filter(keep), rows.filter(keep)
    return _base_columns(table, path, rows, options, keep)


def _base_columns(
    table: pa.Table, path: str, rows: pa.Array, options: ReadOptions, keep: Sequence[str] = ()
) -> pa.Table:
    n = table.num_rows
    columns: dict[str, pa.Array | pa.ChunkedArray] = {}
    derived = None
    if options.id_field not in table.column_names or table[options.id_field].null_count:
        derived = pc.binary_join_element_wise(path, pc.cast(rows, pa.string()), ":")
    if options.id_field in table.column_names:
        ids = pc.cast(_decoded(table[options.id_field]), pa.string())
        columns[ID] = pc.coalesce(ids, derived) if derived is not None else ids
    else:
        columns[ID] = derived
    if options.text_field in table.column_names:
        columns[TEXT] = table[options.text_field]
    if HTML in table.column_names:
        columns[HTML] = table[HTML]
    columns[SOURCE] = pa.array([path] * n, pa.string())
    if options.url_field in table.column_names:
        columns[URL] = pc.cast(_decoded(table[options.url_field]), pa.string())
    used = {options.id_field, options.text_field, HTML, options.url_field}
    kept = {KEPT_PREFIX + name: table[name] for name in keep if name in table.column_names}
    used.update(keep)
    extra = [name for name in table.column_names if name not in used]
    if extra == [METADATA] and _is_text(table.schema.field(METADATA).type):
        columns[METADATA] = pc.cast(_decoded(table[METADATA]), pa.string())
    elif extra:
        records = table.select(extra).to_pylist()
        columns[METADATA] = pa.array([strict_json(r) for r in records], pa.string())
    return conform(pa.table({**columns, **kept}))


def convert_batch(
    record_batch: pa.RecordBatch,
    path: str,
    first_row: int,
    builder: BatchBuilder,
    keep: Sequence[str] = (),
) -> ReadBatch:
    """Documents and errors for one record batch. A batch the conversion itself fails on (a
    column type `to_pylist` cannot turn into JSON, say) is one error counting its rows."""
    table = pa.Table.from_batches([record_batch])
    mark = len(builder.errors)
    try:
        docs = to_documents(table, path, first_row, builder.options, builder, keep)
    except Exception as exc:  # noqa: BLE001 - one hostile batch must not end the run
        del builder.errors[mark:]
        last = first_row + table.num_rows - 1
        builder.error(
            f"rows {first_row:,}-{last:,}",
            f"could not be converted ({type(exc).__name__}: {exc}); "
            f"{table.num_rows:,} rows counted as errored",
            records=table.num_rows,
        )
        docs = empty_batch()
    return ReadBatch(docs, builder.flush().errors)


def decoded_batches(
    open_batches: Callable[[], Iterable[pa.RecordBatch]],
) -> Iterator[pa.RecordBatch | Exception]:
    """The record batches a decoder gives, then the exception that stopped it, if one did:
    whatever pyarrow raises on hostile bytes is a fact about the data, reported by the caller
    with the rows it lost. Only decoding is guarded here, never textmill's own code."""
    try:
        batches = iter(open_batches())
    except Exception as exc:  # noqa: BLE001
        yield exc
        return
    while True:
        try:
            record_batch = next(batches)
        except StopIteration:
            return
        except Exception as exc:  # noqa: BLE001
            yield exc
            return
        yield record_batch
