"""The decontamination index: every benchmark item's hashed word n-grams, stored compactly.

Two sorted numpy arrays hold the (n-gram hash, item) pairs, each pair once; per item the
benchmark it belongs to, its key and how many distinct n-grams it has (the denominator of the
coverage rule). Lookups go through an open-addressing hash set of the distinct hashes (numba,
one probe per corpus n-gram, almost all of them misses) and only hits touch the sorted arrays.
`textmill decon index` saves it as one `.npz` file (no pickles) that the stage loads; the
stage can also build it from the benchmark files when it starts.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numba as nb
import numpy as np
import pyarrow as pa

from textmill.stages.safety.benchmarks import (
    Benchmark,
    BenchmarkError,
    BenchmarkSpec,
    read_benchmark,
)
from textmill.text.columns import decode
from textmill.text.hashing import table_capacity, table_contains, table_find_or_insert
from textmill.text.ngrams import ngram_hashes, normalized_words

INDEX_FORMAT = "textmill-decon-index/1"


@dataclass(frozen=True)
class Normalization:
    """What both sides of a comparison must agree on."""

    ngram: int = 13
    lowercase: bool = True
    strip_accents: bool = True

    def describe(self) -> dict[str, Any]:
        return {
            "ngram": self.ngram,
            "lowercase": self.lowercase,
            "strip_accents": self.strip_accents,
        }


@dataclass
class DeconIndex:
    """Sorted (hash, item) pairs plus per-item and per-benchmark tables."""

    norm: Normalization
    hashes: np.ndarray  # uint64, sorted
    items: np.ndarray  # int32, item of each pair
    item_benchmark: np.ndarray  # int16
    item_ngrams: np.ndarray  # int32, distinct n-grams per item
    item_keys: list[str]
    benchmarks: list[dict[str, Any]]  # name, path, lang, items, short_items, sha256
    _table: np.ndarray | None = field(default=None, repr=False)
    _idf: tuple[np.ndarray, np.ndarray] | None = field(default=None, repr=False)

    @property
    def names(self) -> list[str]:
        return [b["name"] for b in self.benchmarks]

    def hash_set(self) -> np.ndarray:
        """The open-addressing set of distinct hashes (built on first use)."""
        if self._table is None:
            distinct = np.unique(self.hashes)
            self._table = _build_set(distinct, table_capacity(len(distinct)))
        return self._table

    def contains(self, hashes: np.ndarray) -> np.ndarray:
        return _contains(self.hash_set(), hashes)

    def pairs_of(self, hashes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(query index, pair index) of every (query hash, index pair) with equal hashes."""
        left = np.searchsorted(self.hashes, hashes, side="left")
        right = np.searchsorted(self.hashes, hashes, side="right")
        counts = right - left
        query = np.repeat(np.arange(len(hashes)), counts)
        within = np.arange(len(query)) - np.repeat(np.cumsum(counts) - counts, counts)
        return query, np.repeat(left, counts) + within

    def idf_weights(self) -> tuple[np.ndarray, np.ndarray]:
        """Per pair, log(1 + items / items holding its n-gram), and per item their sum: n-grams
        shared by many items (boilerplate such as "which of the following") weigh little."""
        if self._idf is None:
            _, df = np.unique(self.hashes, return_counts=True)
            per_hash = np.log1p(max(1, len(self.item_keys)) / df)  # smoothed: never 0
            weights = np.repeat(per_hash, df)  # pairs are sorted by hash
            totals = np.bincount(self.items, weights=weights, minlength=len(self.item_keys))
            self._idf = (weights, totals)
        return self._idf

    # -- files

    def save(self, path: str | Path) -> Path:
        from textmill.io.writers import publish, temporary_path

        path = Path(path)
        meta = {
            "format": INDEX_FORMAT,
            "normalization": self.norm.describe(),
            "benchmarks": self.benchmarks,
            "item_keys": self.item_keys,
        }
        temporary = temporary_path(path)
        with open(temporary, "wb") as out:
            np.savez(
                out,
                hashes=self.hashes,
                items=self.items,
                item_benchmark=self.item_benchmark,
                item_ngrams=self.item_ngrams,
                meta=np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8),
            )
        publish(temporary, path)
        return path

    @classmethod
    def load(cls, path: str | Path) -> DeconIndex:
        try:
            with np.load(path, allow_pickle=False) as data:
                meta = json.loads(data["meta"].tobytes().decode("utf-8"))
                if meta.get("format") != INDEX_FORMAT:
                    raise ValueError(f"format {meta.get('format')!r}, not {INDEX_FORMAT}")
                return cls(
                    Normalization(**meta["normalization"]),
                    data["hashes"],
                    data["items"],
                    data["item_benchmark"],
                    data["item_ngrams"],
                    meta["item_keys"],
                    meta["benchmarks"],
                )
        except FileNotFoundError:
            raise BenchmarkError(f"{path}: decontamination index not found") from None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise BenchmarkError(
                f"{path}: not a decontamination index written by `textmill decon index` ({exc})"
            ) from None


@nb.njit(cache=True)
def _build_set(distinct, capacity):
    keys = np.zeros(capacity, dtype=np.uint64)
    for h in distinct:
        table_find_or_insert(keys, h)
    return keys


@nb.njit(cache=True)
def _contains(keys, hashes):
    out = np.empty(len(hashes), dtype=np.bool_)
    for i in range(len(hashes)):
        out[i] = table_contains(keys, hashes[i])
    return out


def _file_digest(path: str) -> str:
    try:
        digest = hashlib.sha256()
        with open(path, "rb") as data:
            while chunk := data.read(1 << 20):
                digest.update(chunk)
        return digest.hexdigest()
    except OSError:
        return ""


def build_index(
    specs: Sequence[BenchmarkSpec], norm: Normalization, benchmarks: Sequence[Benchmark] = ()
) -> DeconIndex:
    """Read every benchmark (or take them read) and hash all n-grams of every item."""
    read = list(benchmarks) or [read_benchmark(spec) for spec in specs]
    names = [b.name for b in read]
    if len(set(names)) != len(names):
        repeated = sorted({n for n in names if names.count(n) > 1})
        raise BenchmarkError(
            f"benchmark name {repeated[0]!r} given twice; name them apart with {{name: ...}}"
        )
    all_hashes, all_items, item_benchmark, item_keys, tables = [], [], [], [], []
    first_item = 0
    for number, bench in enumerate(read):
        chars = decode(pa.array(bench.texts, pa.large_string()))
        words = normalized_words(chars, bench.lang, norm.lowercase, norm.strip_accents)
        grams = ngram_hashes(words, norm.ngram)
        counts = np.diff(grams.row_offsets)
        items = np.repeat(np.arange(len(bench.texts), dtype=np.int32), counts) + first_item
        all_hashes.append(grams.hashes)
        all_items.append(items)
        item_benchmark.append(np.full(len(bench.texts), number, dtype=np.int16))
        item_keys += bench.keys
        tables.append(
            {
                "name": bench.name,
                "path": bench.path,
                "lang": bench.lang,
                "items": len(bench.texts),
                "short_items": int(np.count_nonzero(counts == 0)),
                "sha256": _file_digest(bench.path),
            }
        )
        first_item += len(bench.texts)
    hashes = np.concatenate(all_hashes) if all_hashes else np.zeros(0, np.uint64)
    items = np.concatenate(all_items) if all_items else np.zeros(0, np.int32)
    order = np.argsort(hashes, kind="stable")  # items ascend already: ties stay in item order
    hashes, items = hashes[order], items[order]
    distinct = np.ones(len(hashes), dtype=bool)  # each (hash, item) pair once
    distinct[1:] = (hashes[1:] != hashes[:-1]) | (items[1:] != items[:-1])
    hashes, items = hashes[distinct], items[distinct]
    return DeconIndex(
        norm,
        hashes,
        items,
        np.concatenate(item_benchmark) if item_benchmark else np.zeros(0, np.int16),
        np.bincount(items, minlength=first_item).astype(np.int32),
        item_keys,
        tables,
    )
