"""Which document of a duplicate cluster stays: the one rule that the local reduce and the
distributed (Ray) reduce both apply, so both keep the same documents.

`members` holds one row per clustered document: `cluster` (any int64 label shared by the
cluster), `doc_key`, `id`, and `quality_score` when ranking by quality. The smallest id stays;
copies that share it (ids repeat across inputs) are told apart by `doc_key`, so the first read
of them stays. Decisions are keyed by `doc_key` and carry the id for reading.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from textmill.document import ID, KEY

CLUSTER = "cluster"
QUALITY = "quality_score"
CLUSTER_ID = "dup_cluster_id"
CLUSTER_SIZE = "dup_cluster_size"
BY_ID = [(ID, "ascending"), (KEY, "ascending")]  # the tie-break of every keep rule
DROP_ONLY_SCHEMA = pa.schema(
    [pa.field(KEY, pa.int64()), pa.field(ID, pa.string()), pa.field("reason", pa.string())]
)
ANNOTATED_SCHEMA = pa.schema(
    [
        pa.field(KEY, pa.int64()),
        pa.field(ID, pa.string()),
        pa.field("reason", pa.string()),
        pa.field(CLUSTER_ID, pa.string()),
        pa.field(CLUSTER_SIZE, pa.int64()),
    ]
)


def first_of_clusters(
    members: pa.Table, order: list[tuple[str, str]]
) -> tuple[pa.Table, np.ndarray]:
    """Members sorted by cluster then `order`, and each row's index of its cluster's first row."""
    table = members.sort_by([(CLUSTER, "ascending"), *order])
    cluster = table[CLUSTER].to_numpy()
    first = np.ones(len(cluster), dtype=bool)
    first[1:] = cluster[1:] != cluster[:-1]
    return table, np.maximum.accumulate(np.where(first, np.arange(len(first)), 0))


def drop_all_but_first(
    members: pa.Table, order: list[tuple[str, str]], reason: str, schema: pa.Schema
) -> pa.Table:
    """The decision rows of every member but its cluster's first by `order`: `<reason>=<id of
    the first>` (kept rows are not listed, so the table is only as large as what is dropped)."""
    table, start = first_of_clusters(members, order)
    dropped = pa.array(np.flatnonzero(start != np.arange(len(start))))
    ids = table[ID].combine_chunks()
    kept = ids.take(pa.array(start)).take(dropped)
    return pa.table(
        {
            KEY: table[KEY].take(dropped),
            ID: ids.take(dropped).cast(pa.string()),
            "reason": pc.binary_join_element_wise(reason, kept, "=").cast(pa.string()),
        },
        schema=schema,
    )


def keep_smallest_id(members: pa.Table) -> pa.Table:
    """exact_dedup: the smallest id (then `doc_key`) stays; the others become
    `duplicate_of=<its id>`."""
    return drop_all_but_first(
        members.select([CLUSTER, KEY, ID]), BY_ID, "duplicate_of", DROP_ONLY_SCHEMA
    )


def keep_best_annotated(members: pa.Table, by_quality: bool = False) -> pa.Table:
    """minhash_dedup: the highest `quality_score` (when asked; null ranks last), then the
    smallest id and `doc_key`, stays; every member gets `dup_cluster_id` (the kept document's
    id) and `dup_cluster_size`."""
    if by_quality:
        quality = pc.fill_null(members[QUALITY].cast(pa.float64()), np.nan)
        rank = -np.nan_to_num(quality.to_numpy(zero_copy_only=False), nan=-np.inf)
    else:
        rank = np.zeros(members.num_rows)
    members = members.select([CLUSTER, KEY, ID]).append_column("rank", pa.array(rank))
    table, start = first_of_clusters(members, [("rank", "ascending"), *BY_ID])
    ids = table[ID].combine_chunks()
    kept = ids.take(pa.array(start))
    is_first = start == np.arange(len(start))
    sizes = np.diff(np.append(np.flatnonzero(is_first), len(start)))
    return pa.table(
        {
            KEY: table[KEY],
            ID: ids,
            "reason": pc.if_else(
                pa.array(is_first),
                pa.nulls(len(start), pa.string()),
                pc.binary_join_element_wise("duplicate_of", kept, "="),
            ),
            CLUSTER_ID: kept,
            CLUSTER_SIZE: pa.array(np.repeat(sizes, sizes), pa.int64()),
        },
        schema=ANNOTATED_SCHEMA,
    )
