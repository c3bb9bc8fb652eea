"""The batch schema: every stage receives and returns a pyarrow.Table with these columns.

Readers produce `html` instead of `text` when the input is raw markup; the `extract` stage turns
it into `text`. Everything a reader finds beyond the base columns goes into `metadata` as a
JSON object, so the output schema is the same whatever mix of formats a run reads.

Every row also carries `doc_key` (int64), the run's own name for it: shard index << 32 | the
row's ordinal among its shard's documents, unique by construction, the same on every re-run and
whatever the worker count or batch size. Global stages join their decisions on it, never on the
user's `id`, which textmill keeps as it came and never trusts to be unique.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pyarrow as pa

ID = "id"
TEXT = "text"
HTML = "html"
SOURCE = "source"
URL = "url"
METADATA = "metadata"
KEY = "doc_key"
KEY_FIELD = pa.field(KEY, pa.int64(), nullable=False)
ORDINAL_BITS = 32  # a shard holds at most 2**32 documents, a run at most 2**31 shards

BASE_FIELDS: tuple[pa.Field, ...] = (
    pa.field(ID, pa.string(), nullable=False),
    pa.field(TEXT, pa.large_string()),
    pa.field(SOURCE, pa.string()),
    pa.field(URL, pa.string()),
    pa.field(METADATA, pa.string()),
)
BASE_SCHEMA = pa.schema(BASE_FIELDS)
HTML_FIELD = pa.field(HTML, pa.large_string())

REJECT_STAGE = "reject_stage"
REJECT_REASON = "reject_reason"
REJECTS_SCHEMA = pa.schema(
    [
        pa.field(ID, pa.string()),
        pa.field(KEY, pa.int64()),
        pa.field(SOURCE, pa.string()),
        pa.field(URL, pa.string()),
        pa.field(REJECT_STAGE, pa.string()),
        pa.field(REJECT_REASON, pa.string()),
        pa.field(TEXT, pa.large_string()),
    ]
)


def make_batch(
    ids: Sequence[str],
    texts: Sequence[str | None],
    *,
    source: str | Sequence[str | None] | None = None,
    urls: Sequence[str | None] | None = None,
    metadata: Sequence[Mapping[str, Any] | None] | None = None,
    html: Sequence[str | None] | None = None,
) -> pa.Table:
    """Build a batch from Python lists; used by readers and by tests on three-row tables."""
    n = len(ids)
    sources = [source] * n if source is None or isinstance(source, str) else list(source)
    columns: dict[str, pa.Array] = {
        ID: pa.array(list(ids), pa.string()),
        TEXT: pa.array(list(texts), pa.large_string()),
        SOURCE: pa.array(sources, pa.string()),
        URL: pa.array(list(urls) if urls is not None else [None] * n, pa.string()),
        METADATA: pa.array(
            [strict_json(m) if m else None for m in metadata]
            if metadata is not None
            else [None] * n,
            pa.string(),
        ),
    }
    table = pa.table(columns, schema=BASE_SCHEMA)
    if html is not None:
        table = table.append_column(HTML_FIELD, pa.array(list(html), pa.large_string()))
    return table


def strict_json(value: Any) -> str:
    """`value` as strict JSON (the metadata column, JSONL output): NaN and infinities, which
    Python writes as bare `NaN` that no other JSON parser reads, become null; what JSON has no
    type for (bytes, dates) becomes its `str`."""
    try:
        return json.dumps(value, ensure_ascii=False, allow_nan=False, default=str)
    except ValueError:
        return json.dumps(_finite(value), ensure_ascii=False, allow_nan=False, default=str)


def _finite(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def assign_keys(table: pa.Table, shard_index: int, first_ordinal: int) -> pa.Table:
    """`table` with `doc_key` set for the documents `first_ordinal`, `first_ordinal + 1`, ... of
    shard `shard_index` (replacing any `doc_key` a reader passed through)."""
    end = first_ordinal + table.num_rows
    if not 0 <= shard_index < 1 << (63 - ORDINAL_BITS) or end > 1 << ORDINAL_BITS:
        raise ValueError(
            f"shard {shard_index} document {end:,}: over textmill's limits of "
            f"{1 << (63 - ORDINAL_BITS):,} shards and {1 << ORDINAL_BITS:,} documents a shard"
        )
    base = np.int64(shard_index) << np.int64(ORDINAL_BITS)
    keys = pa.array(base + np.arange(first_ordinal, end, dtype=np.int64), pa.int64())
    if KEY in table.column_names:
        return table.set_column(table.column_names.index(KEY), KEY_FIELD, keys)
    return table.append_column(KEY_FIELD, keys)


def shard_of_keys(keys: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """The shard index each `doc_key` names."""
    import pyarrow.compute as pc

    return pc.shift_right(keys, ORDINAL_BITS)


def without_key(table: pa.Table) -> pa.Table:
    """The rows as a user sees them: `doc_key` is the run's bookkeeping, not data."""
    return table.drop_columns([KEY]) if KEY in table.column_names else table


def empty_batch() -> pa.Table:
    return BASE_SCHEMA.empty_table()


def conform(table: pa.Table) -> pa.Table:
    """Give a table the base columns with the base types, adding missing ones as nulls."""
    for field in BASE_FIELDS:
        if field.name not in table.column_names:
            table = table.append_column(field, pa.nulls(table.num_rows, field.type))
        elif table.schema.field(field.name).type != field.type:
            index = table.column_names.index(field.name)
            table = table.set_column(index, field, table[field.name].cast(field.type))
    return table


def text_bytes(table: pa.Table) -> int:
    """UTF-8 size of the text column (what per-stage byte counters report)."""
    if TEXT not in table.column_names or table.num_rows == 0:
        return 0
    import pyarrow.compute as pc

    total = pc.sum(pc.binary_length(table[TEXT])).as_py()
    return int(total or 0)
