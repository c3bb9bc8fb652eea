"""Spilling signature rows to hash partitions, so a global reduce holds one partition at a
time: the bounded-memory path shared by paragraph and URL dedup."""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

PARTITION_PREFIX = "partition-"


def partition_bits(total_rows: int, rows_per_partition: int) -> int:
    """How many top hash bits split `total_rows` into partitions of at most about
    `rows_per_partition` rows (0: one partition, no spill)."""
    return max(0, math.ceil(math.log2(max(1, total_rows / rows_per_partition))))


def spill_by_hash(
    files: Sequence[Path], hash_column: str, bits: int, workdir: Path
) -> Iterator[pa.Table]:
    """Split signature rows into 2**bits Parquet files by the top bits of a uint64 column, then
    yield each partition's rows in turn: only one partition is in memory at a time."""
    workdir.mkdir(parents=True, exist_ok=True)
    for stale in workdir.glob(f"{PARTITION_PREFIX}*.parquet"):
        stale.unlink()
    shift = np.uint64(64 - bits)
    writers: dict[int, pq.ParquetWriter] = {}
    paths: dict[int, Path] = {}
    try:
        for path in files:
            for record_batch in pq.ParquetFile(path).iter_batches(batch_size=1_000_000):
                table = pa.Table.from_batches([record_batch])
                part = (table[hash_column].to_numpy() >> shift).astype(np.int64)
                order = np.argsort(part, kind="stable")
                table = table.take(pa.array(order))
                part = part[order]
                bounds = np.flatnonzero(np.diff(part)) + 1
                for start, stop in zip(
                    np.concatenate([[0], bounds]),
                    np.concatenate([bounds, [len(part)]]),
                    strict=True,
                ):
                    key = int(part[start])
                    if key not in writers:
                        paths[key] = workdir / f"{PARTITION_PREFIX}{key:05d}.parquet"
                        writers[key] = pq.ParquetWriter(paths[key], table.schema)
                    writers[key].write_table(table.slice(start, stop - start))
    finally:
        for writer in writers.values():
            writer.close()
    for key in sorted(paths):
        yield pq.read_table(paths[key])
        paths[key].unlink()


def signature_partitions(
    files: Sequence[Path], hash_column: str, rows_per_partition: int, workdir: Path
) -> Iterator[pa.Table]:
    """Every signature row, one hash partition at a time (a single table when they fit)."""
    total = sum(pq.ParquetFile(f).metadata.num_rows for f in files)
    bits = partition_bits(total, rows_per_partition)
    if bits == 0:
        yield pa.concat_tables(pq.read_table(f) for f in files)
    else:
        yield from spill_by_hash(files, hash_column, bits, Path(workdir))
