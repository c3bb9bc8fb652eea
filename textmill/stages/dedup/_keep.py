"""Which document of a duplicate cluster stays: the one rule that the local reduce and the
distributed (Ray) reduce both apply, so both keep the same ids.

`members` holds one row per clustered document: `cluster` (any int64 label shared by the
cluster), `id`, and `quality_score` when ranking by quality.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from textmill.document import ID

CLUSTER = "cluster"
QUALITY = "quality_score"
CLUSTER_ID = "dup_cluster_id"
CLUSTER_SIZE = "dup_cluster_size"
DROP_ONLY_SCHEMA = pa.schema([pa.field(ID, pa.string()), pa.field("reason", pa.string())])
ANNOTATED_SCHEMA = pa.schema(
    [
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


def keep_smallest_id(members: pa.Table) -> pa.Table:
    """exact_dedup: the smallest id stays; the others become `duplicate_of=<it>` (kept rows are
    not listed, so the decision table is only as large as what is dropped)."""
    table, start = first_of_clusters(members.select([CLUSTER, ID]), [(ID, "ascending")])
    ids = table[ID].combine_chunks()
    dropped = np.flatnonzero(start != np.arange(len(start)))
    kept = ids.take(pa.array(start[dropped]))
    return pa.table(
        {
            ID: ids.take(pa.array(dropped)).cast(pa.string()),
            "reason": pc.binary_join_element_wise("duplicate_of", kept, "=").cast(pa.string()),
        },
        schema=DROP_ONLY_SCHEMA,
    )


def keep_best_annotated(members: pa.Table, by_quality: bool = False) -> pa.Table:
    """minhash_dedup: the highest `quality_score` (when asked; null ranks last), then the
    smallest id, stays; every member gets `dup_cluster_id` (the kept id) and `dup_cluster_size`."""
    if by_quality:
        quality = pc.fill_null(members[QUALITY].cast(pa.float64()), np.nan)
        rank = -np.nan_to_num(quality.to_numpy(zero_copy_only=False), nan=-np.inf)
    else:
        rank = np.zeros(members.num_rows)
    members = members.select([CLUSTER, ID]).append_column("rank", pa.array(rank))
    table, start = first_of_clusters(members, [("rank", "ascending"), (ID, "ascending")])
    ids = table[ID].combine_chunks()
    kept = ids.take(pa.array(start))
    is_first = start == np.arange(len(start))
    sizes = np.diff(np.append(np.flatnonzero(is_first), len(start)))
    return pa.table(
        {
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
