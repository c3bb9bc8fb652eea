"""Texts from any input textmill reads (JSONL, Parquet, text files, WARC), for training."""

from __future__ import annotations

from collections.abc import Iterable

import pyarrow.compute as pc

from textmill.document import TEXT
from textmill.io import InputError, ReadOptions, plan_shards, read_shard


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
            non_blank = pc.greater(pc.utf8_length(pc.utf8_trim_whitespace(column)), 0)
            texts.extend(pc.filter(column, pc.fill_null(non_blank, False)).to_pylist())
            if limit is not None and len(texts) >= limit:
                return texts[:limit]
    return texts
