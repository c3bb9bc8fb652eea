"""Texts (and labels) from any input textmill reads (JSONL, Parquet, text files, WARC), for
training."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field

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


@dataclass
class Labelled:
    """A training set: texts, each one's label (a value, or a list for multi-label data), and
    the records left out for having no label (counted, the first one named)."""

    texts: list[str] = field(default_factory=list)
    labels: list[object] = field(default_factory=list)
    langs: list[object] = field(default_factory=list)  # each record's `lang` field, if any
    unlabelled: int = 0
    first_unlabelled: str | None = None  # "source, record id"

    def note(self, label_field: str) -> str | None:
        """One line for the user about the records left out, or None."""
        if not self.unlabelled:
            return None
        return (
            f"{self.unlabelled:,} records without a label in {label_field!r} left out "
            f"(first: {self.first_unlabelled})"
        )


def read_labelled(inputs: Iterable[str], *, label_field: str, text_field: str = "text") -> Labelled:
    """Every record with a non-blank text and a label, in input order. A record the reader
    cannot read (broken JSON, a null text) or whose label is an object is an InputError naming
    its source and record; one without the label (absent, null, an empty list) is counted and
    left out: partly labelled sets are common (annotators skip), and the count says how many."""
    inputs = [str(path) for path in inputs]
    shards, unknown = plan_shards(inputs)
    if not shards:
        raise InputError(f"no readable input in {', '.join(inputs)} (unknown: {unknown})")
    out = Labelled()
    for shard in shards:
        for batch in read_shard(shard, ReadOptions(text_field=text_field)):
            if batch.errors:  # a record lost to the reader is a label lost to the training set
                raise InputError(batch.errors[0].describe())
            docs = batch.docs
            if TEXT not in docs.column_names or docs.num_rows == 0:
                continue
            docs = docs.filter(_non_blank(docs[TEXT]))
            values = _labels_of(docs, label_field)
            langs = _labels_of(docs, "lang")
            texts = docs[TEXT].to_pylist()
            for row, value in enumerate(values):
                if isinstance(value, dict):
                    raise InputError(
                        f"{docs[SOURCE][row].as_py()}, record {docs[ID][row].as_py()}: "
                        f"has an object as its label field {label_field!r}"
                    )
                if value is None or value == [] or (isinstance(value, list) and None in value):
                    out.unlabelled += 1
                    if out.first_unlabelled is None:
                        out.first_unlabelled = (
                            f"{docs[SOURCE][row].as_py()}, record {docs[ID][row].as_py()}"
                        )
                    continue
                out.texts.append(texts[row])
                out.labels.append(value)
                out.langs.append(langs[row])
    return out
