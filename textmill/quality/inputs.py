"""Texts (and labels) from any input textmill reads (JSONL, Parquet, text files, WARC), for
training."""

from __future__ import annotations

import json
from collections.abc import Iterable

import pyarrow as pa
import pyarrow.compute as pc

from textmill.document import ID, METADATA, SOURCE, TEXT
from textmill.io import InputError, ReadOptions, plan_shards, read_shard


def _non_blank(column: pa.ChunkedArray | pa.Array) -> pa.Array:
    return pc.fill_null(pc.greater(pc.utf8_length(pc.utf8_trim_whitespace(column)), 0), False)


def read_texts(
    inputs: Iterable[str], *, text_field: str = "text", limit: int | None = None
) -> list[str]:
    """Non-blank texts in input order (files sorted by path), at most `limit` of them."""
    inputs = [str(path) for path in inputs]
    shards, unknown = plan_shards(inputs)
    if not shards:
        raise InputError(f"no readable input in {', '.join(inputs)} (unknown: {unknown})")
    texts: list[str] = []
    for shard in shards:
        for batch in read_shard(shard, ReadOptions(text_field=text_field)):
            if TEXT not in batch.docs.column_names or batch.docs.num_rows == 0:
                continue
            column = batch.docs[TEXT]
            texts.extend(pc.filter(column, _non_blank(column)).to_pylist())
            if limit is not None and len(texts) >= limit:
                return texts[:limit]
    return texts


def _labels_of(docs: pa.Table, label_field: str) -> list[object]:
    """Each row's value of `label_field`: a column when the reader made one, else the field of
    the row's `metadata` JSON (where readers keep every field beyond the base columns)."""
    if label_field in docs.column_names:
        return docs[label_field].to_pylist()
    if METADATA not in docs.column_names:
        return [None] * docs.num_rows
    return [
        None if raw is None else json.loads(raw).get(label_field)
        for raw in docs[METADATA].to_pylist()
    ]


def read_labelled(
    inputs: Iterable[str], *, label_field: str, text_field: str = "text"
) -> tuple[list[str], list[object]]:
    """(texts, labels) of every record with a non-blank text, in input order. A record the
    reader cannot read (broken JSON, a null text), or one without the label (or with a null,
    list or object there) is an InputError naming its source and record: a training set with
    silently missing labels trains a different classifier."""
    inputs = [str(path) for path in inputs]
    shards, unknown = plan_shards(inputs)
    if not shards:
        raise InputError(f"no readable input in {', '.join(inputs)} (unknown: {unknown})")
    texts: list[str] = []
    labels: list[object] = []
    for shard in shards:
        for batch in read_shard(shard, ReadOptions(text_field=text_field)):
            if batch.errors:  # a record lost to the reader is a label lost to the training set
                raise InputError(batch.errors[0].describe())
            docs = batch.docs
            if TEXT not in docs.column_names or docs.num_rows == 0:
                continue
            docs = docs.filter(_non_blank(docs[TEXT]))
            values = _labels_of(docs, label_field)
            for row, value in enumerate(values):
                if value is None or isinstance(value, (list, dict)):
                    what = "has no" if value is None else "has a list or object as its"
                    raise InputError(
                        f"{docs[SOURCE][row].as_py()}, record {docs[ID][row].as_py()}: "
                        f"{what} label field {label_field!r}"
                    )
            texts.extend(docs[TEXT].to_pylist())
            labels.extend(values)
    return texts, labels
