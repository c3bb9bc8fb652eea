"""Diversity of the kept text (as MetaSynth reports it): distinct-n, zlib compression ratio and
vocabulary growth, on a fixed-size sample of the output so that runs of any size compare and the
report stays fast. The sample is the first row group of up to `MAX_FILES` evenly spaced output
files, then a seeded choice of `MAX_DOCS` rows, cut at `MAX_WORDS` words."""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from textmill.document import TEXT

MAX_FILES = 32
MAX_DOCS = 2000
MAX_WORDS = 200_000
GROWTH_POINTS = 20


def sample_texts(files: Sequence[Path], seed: int = 0) -> list[str]:
    if not files:
        return []
    chosen = [
        files[i] for i in np.linspace(0, len(files) - 1, min(MAX_FILES, len(files))).astype(int)
    ]
    tables = []
    for path in dict.fromkeys(chosen):
        parquet = pq.ParquetFile(path)
        if parquet.metadata.num_row_groups and TEXT in parquet.schema_arrow.names:
            tables.append(parquet.read_row_group(0, columns=[TEXT]))
    if not tables:
        return []
    texts = pa.concat_tables(tables)[TEXT].drop_null().to_pylist()
    if len(texts) > MAX_DOCS:
        rows = np.sort(np.random.default_rng(seed).choice(len(texts), MAX_DOCS, replace=False))
        texts = [texts[i] for i in rows]
    return texts


def diversity(texts: list[str]) -> dict[str, Any]:
    """distinct-1/2 (unique n-grams / n-grams over lower-cased whitespace words), the zlib
    compression ratio (raw bytes / compressed bytes: higher means more repetitive) and the
    number of distinct words after every 1/GROWTH_POINTS of the words."""
    words: list[str] = []
    for text in texts:
        words.extend(text.lower().split())
        if len(words) >= MAX_WORDS:
            break
    words = words[:MAX_WORDS]
    if not words:
        return {"docs": len(texts), "words": 0}
    raw = "\n".join(texts).encode("utf-8")
    seen: set[str] = set()
    growth = []
    step = max(1, len(words) // GROWTH_POINTS)
    ends = list(range(step, len(words) + 1, step))  # after every `step` words, and the last
    if ends[-1] != len(words):
        ends.append(len(words))
    start = 0
    for end in ends:  # a slice at a time: the same sets as word by word, without a Python loop
        seen.update(words[start:end])
        growth.append([end, len(seen)])
        start = end
    return {
        "docs": len(texts),
        "words": len(words),
        "distinct_1": round(len(seen) / len(words), 4),
        "distinct_2": round(
            len(set(zip(words, words[1:], strict=False))) / max(len(words) - 1, 1), 4
        ),
        "compression_ratio": round(len(raw) / max(len(zlib.compress(raw, 6)), 1), 3),
        "vocabulary_growth": growth,
    }
