"""Distributed reduce of paragraph_dedup on Ray tasks, with two object-store shuffles.

1. split: each signature file sends its (doc key, id, paragraph, hash) rows to the partition
   of the paragraph hash, so every occurrence of a hash meets in one partition;
2. repeats: each partition applies `repeated_occurrences`, the local reduce's own rule, and
   sends the (doc key, id, paragraph) it removes to the partition of the document's key, so
   every removed paragraph of a document meets in one partition;
3. decide: each of those partitions groups them per document (`decisions_by_document`);
4. one task streams the partitions' decision rows into the one file the apply segment reads.

No task sees more than one hash partition of the signatures and the driver only holds object
references, so the decisions are the local reduce's to the row (in another row order, which
apply does not depend on).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from textmill.document import KEY
from textmill.executors._ray_dedup import node_partitions, split, write_decisions
from textmill.executors._ray_wait import get_all
from textmill.pipeline import GlobalStage
from textmill.stages.dedup.paragraph import (
    DECISIONS_SCHEMA,
    HASH,
    SIGNATURES_SCHEMA,
    ParagraphDedup,
    decisions_by_document,
    repeated_occurrences,
)


def reduces_paragraphs(stage: GlobalStage) -> bool:
    """Whether the stage reduces with paragraph_dedup's rule (a subclass with its own
    `reduce` keeps reducing in one task)."""
    return isinstance(stage, ParagraphDedup) and type(stage).reduce is ParagraphDedup.reduce


def partition_count(total_rows: int, partitions: int, rows_per_partition: int) -> int:
    """At least `partitions`, and enough that none holds much over `rows_per_partition` rows
    (the local reduce's memory bound)."""
    return max(1, partitions, math.ceil(total_rows / rows_per_partition))


# ---------------------------------------------------------------- steps (pure functions)


def split_by_hash(path: str, partitions: int) -> list[pa.Table]:
    """One signature file → its rows per paragraph-hash partition."""
    rows = pq.read_table(path, columns=SIGNATURES_SCHEMA.names)
    return split(rows, node_partitions(rows[HASH].to_numpy(), partitions), partitions)


def repeats_by_document(
    pieces: Sequence[pa.Table], keep_first: bool, partitions: int
) -> list[pa.Table]:
    """One hash partition → the (doc key, id, paragraph) it removes, per document partition."""
    removed = repeated_occurrences(pa.concat_tables(pieces), keep_first)
    return split(removed, node_partitions(removed[KEY].to_numpy(), partitions), partitions)


def decide(pieces: Sequence[pa.Table]) -> pa.Table:
    """One document partition → its decision rows."""
    return decisions_by_document(pa.concat_tables(pieces))


# ---------------------------------------------------------------- orchestration on Ray


def paragraph_reduce(
    stage: ParagraphDedup, signature_files: Sequence[Path], target: Path, partitions: int
) -> int:
    """Run steps 1-4 as Ray tasks and write `target`; return the number of partitions used."""
    import ray

    files = [str(f) for f in sorted(signature_files)]
    total = sum(pq.ParquetFile(f).metadata.num_rows for f in files)
    p = partition_count(total, partitions, stage.options.rows_per_partition)
    remote = ray.remote(num_cpus=1)
    if total == 0:
        get_all(remote(write_decisions).remote(str(target), DECISIONS_SCHEMA), "paragraph reduce")
        return p

    def fan_out(function):
        """A task returning a list of p tables as p objects."""
        return remote(function).options(num_returns=p) if p > 1 else remote(function)

    def refs(returned):
        return returned if p > 1 else [returned]

    by_hash = [refs(fan_out(_split_by_hash).remote(f, p)) for f in files]
    by_document = [
        refs(fan_out(_repeats_by_document).remote(stage.options.keep_first, p, *parts))
        for parts in zip(*by_hash, strict=True)
    ]
    decisions = [remote(_decide).remote(*parts) for parts in zip(*by_document, strict=True)]
    get_all(
        remote(write_decisions).remote(str(target), DECISIONS_SCHEMA, *decisions),
        "paragraph decisions",
    )
    return p


# Task bodies: positional refs in; a list of p tables comes out as p objects (one when p = 1).


def _objects(parts: list[pa.Table]) -> list[pa.Table] | pa.Table:
    return parts if len(parts) > 1 else parts[0]


def _split_by_hash(path: str, partitions: int):
    return _objects(split_by_hash(path, partitions))


def _repeats_by_document(keep_first: bool, partitions: int, *pieces: pa.Table):
    return _objects(repeats_by_document(pieces, keep_first, partitions))


def _decide(*pieces: pa.Table) -> pa.Table:
    return decide(pieces)
