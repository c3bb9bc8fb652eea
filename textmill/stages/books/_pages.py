"""Pages, lines and metadata of book documents, shared by the book clean-up stages.

A book document is pages joined by "\f" (the readers' contract); a document without "\f" is one
page. Book stages work per document in Python: a volume is one row of hundreds of pages, and
their decisions (which line repeats across pages, which hyphen is real) need the whole volume.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from textmill.document import METADATA, TEXT

PAGE_BREAK = "\f"


def split_pages(text: str) -> list[str]:
    return text.split(PAGE_BREAK)


def join_pages(pages: list[str]) -> str:
    return PAGE_BREAK.join(pages)


def texts(batch: pa.Table) -> list[str | None]:
    return batch[TEXT].to_pylist()


def set_text(batch: pa.Table, values: list[str | None]) -> pa.Table:
    field = batch.schema.field(TEXT)
    return batch.set_column(batch.column_names.index(TEXT), field, pa.array(values, field.type))


def set_column(batch: pa.Table, name: str, values: pa.Array) -> pa.Table:
    """Adds or replaces one column (a stage run twice replaces its own columns)."""
    if name in batch.column_names:
        batch = batch.drop_columns([name])
    return batch.append_column(name, values)


def metadata_records(batch: pa.Table) -> list[dict[str, Any]]:
    """Each row's metadata object: the reader's fields, with those of a nested `metadata`
    object (a JSONL record that carried `metadata: {...}`) filled in where the top level lacks
    them. Unparsable or absent metadata is an empty dict."""
    if METADATA not in batch.column_names:
        return [{} for _ in range(batch.num_rows)]
    records = []
    for value in batch[METADATA].to_pylist():
        try:
            record = json.loads(value) if value else {}
        except ValueError:
            record = {}
        if not isinstance(record, dict):
            record = {}
        nested = record.get("metadata")
        if isinstance(nested, dict):
            record = {**nested, **{k: v for k, v in record.items() if k != "metadata"}}
        records.append(record)
    return records


def page_table(text: pa.ChunkedArray | pa.Array) -> tuple[pa.Array, np.ndarray]:
    """Every page of every row as one flat string array, and the row offsets into it (row i's
    pages are pages[offsets[i]:offsets[i+1]]): page-level kernels then run on whole columns."""
    if isinstance(text, pa.ChunkedArray):
        text = text.combine_chunks()
    pages = pc.split_pattern(pc.fill_null(text, ""), PAGE_BREAK)
    offsets = pages.offsets.to_numpy() - pages.offsets[0].as_py()
    return pages.flatten(), offsets


def as_list_column(values: pa.Array, offsets: np.ndarray) -> pa.Array:
    return pa.ListArray.from_arrays(pa.array(offsets, pa.int32()), values)
