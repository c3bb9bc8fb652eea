"""Distributed reduce of a clustering global stage (exact, MinHash dedup) on Ray tasks.

Documents are numbered by their place in the signature files (file k, row i → offsets[k] + i),
as the local MinHash reduce numbers them. Then, with every step a Ray task and every hand-over
an object-store shuffle into P hash partitions (nothing is gathered on the driver):

1. keys: each signature file sends (key, node) for every key column to the partition of the key;
2. groups: each partition sorts its keys; equal keys become path edges (one key column: the
   groups are the clusters already, and their labels are emitted directly); with a check
   column (MinHash's stored minima travel with every key), equal keys are only candidates and
   the local reduce's linking rule (`link_groups`) picks the edges;
3. connected components by alternating large-star / small-star (Kiveris et al., 2014,
   "Connected Components in MapReduce and Beyond"), one shuffle per half-round, until the edge
   set stops changing; then every node's label is the smallest node of its component;
4. attach: labels go back to the file that holds their rows, which adds doc key and id (and any
   carried column) and sends members to the partition of their cluster;
5. choose: each partition applies the stage's keep rule to its whole clusters.

The rule (which columns are keys, which one stays) comes from `ClusterRule`, so the result is
the local reduce's to the row: same clusters, same kept document, same reasons.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import xxhash

from textmill.document import ID
from textmill.document import KEY as DOC_KEY
from textmill.executors._ray_wait import get_all
from textmill.io.writers import ParquetShardWriter
from textmill.pipeline import ClusterRule, GlobalStage
from textmill.stages.dedup._keep import CLUSTER
from textmill.stages.dedup._unionfind import check_vectors, groups_of_paths, link_groups

NODE = "node"
KEY = "key"
CHECK = "check"
MAX_ROUNDS = 200
_MIX = np.uint64(0x9E3779B97F4A7C15)


def cluster_rule(stage: GlobalStage) -> ClusterRule | None:
    """The stage's clustering rule, if it has one (others reduce in one Ray task)."""
    return stage.cluster_rule()


# ---------------------------------------------------------------- partitioning


def key_partitions(keys: pa.Array, partitions: int) -> np.ndarray:
    """Partition of each (non-null) key: a mix of its first 8 bytes, or of its xxh64."""
    if pa.types.is_integer(keys.type):
        words = keys.cast(pa.uint64()).to_numpy(zero_copy_only=False)
    elif pa.types.is_fixed_size_binary(keys.type) and keys.type.byte_width >= 8:
        width = keys.type.byte_width
        raw = np.frombuffer(keys.buffers()[1], dtype=np.uint8)
        raw = raw[keys.offset * width : (keys.offset + len(keys)) * width].reshape(-1, width)
        words = np.ascontiguousarray(raw[:, :8]).view(np.uint64).ravel()
    else:
        words = np.array(
            [xxhash.xxh64_intdigest(repr(v).encode()) for v in keys.to_pylist()], dtype=np.uint64
        )
    return node_partitions(words, partitions)


def node_partitions(values: np.ndarray, partitions: int) -> np.ndarray:
    mixed = values.astype(np.uint64) * _MIX
    return ((mixed >> np.uint64(32)) % np.uint64(partitions)).astype(np.int64)


def split(table: pa.Table, parts: np.ndarray, count: int) -> list[pa.Table]:
    """Rows of `table` in `count` tables, row i going to table parts[i]."""
    order = np.argsort(parts, kind="stable")
    bounds = np.searchsorted(parts[order], np.arange(count + 1))
    table = table.take(pa.array(order))
    return [table.slice(bounds[p], bounds[p + 1] - bounds[p]) for p in range(count)]


def split_pairs(a: np.ndarray, b: np.ndarray, parts: np.ndarray, count: int) -> list[np.ndarray]:
    """[m, 2] pair arrays, pair i going to part parts[i]."""
    order = np.argsort(parts, kind="stable")
    bounds = np.searchsorted(parts[order], np.arange(count + 1))
    pairs = np.stack([a[order], b[order]], axis=1)
    return [pairs[bounds[p] : bounds[p + 1]] for p in range(count)]


def _pairs(parts: Sequence[np.ndarray]) -> np.ndarray:
    parts = [p for p in parts if len(p)]
    return np.unique(np.concatenate(parts), axis=0) if parts else np.empty((0, 2), np.int64)


# ---------------------------------------------------------------- steps (pure functions)


def keys_map(path: str, offset: int, rule: ClusterRule, partitions: int) -> list[list[pa.Table]]:
    """One signature file → per partition, per key column, a (key, node[, check]) table."""
    checks = [rule.check] if rule.check else []
    table = pq.read_table(path, columns=[*rule.keys, *checks]).combine_chunks()
    nodes = np.arange(offset, offset + table.num_rows, dtype=np.int64)
    out: list[list[pa.Table]] = [[] for _ in range(partitions)]
    for column in rule.keys:
        keys = table[column].combine_chunks()
        valid = pc.is_valid(keys).to_numpy(zero_copy_only=False)
        mask = pa.array(valid)
        pairs = pa.table({KEY: keys.filter(mask), NODE: nodes[valid]})
        if rule.check:
            pairs = pairs.append_column(CHECK, table[rule.check].filter(mask))
        for p, part in enumerate(
            split(pairs, key_partitions(pairs[KEY].chunk(0), partitions), partitions)
        ):
            out[p].append(part)
    return out


def group(pieces: Sequence[list[pa.Table]], rule: ClusterRule) -> tuple[np.ndarray, np.ndarray]:
    """Equal keys within one key column: path edges (hi, lo) between consecutive nodes; with a
    check column, the edges that `link_groups` draws from those groups instead."""
    his, los, candidates = [], [], []
    for column in range(len(rule.keys)):
        table = pa.concat_tables([piece[column] for piece in pieces])
        if table.num_rows < 2:
            continue
        table = table.sort_by([(KEY, "ascending"), (NODE, "ascending")])
        keys = table[KEY].combine_chunks()
        same = pc.equal(keys.slice(1), keys.slice(0, len(keys) - 1))
        same = pc.fill_null(same, False).to_numpy(zero_copy_only=False)
        nodes = table[NODE].to_numpy()
        if rule.check:
            at = np.flatnonzero(same)
            if len(at):
                members, starts = groups_of_paths(np.stack([at, at + 1], axis=1))
                checks = table[CHECK].take(pa.array(members)).combine_chunks()
                candidates.append((nodes[members], starts, checks))
            continue
        his.append(nodes[1:][same])
        los.append(nodes[:-1][same])
    if candidates:
        return _linked(candidates, rule)
    if not his:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    return np.concatenate(his), np.concatenate(los)


def _linked(candidates: list, rule: ClusterRule) -> tuple[np.ndarray, np.ndarray]:
    """Candidate groups of every key column → linked edges (hi, lo), numbered as the local
    reduce numbers them (nodes in ascending order), so the same pairs are compared."""
    if not sum(len(c[0]) for c in candidates):
        return np.empty(0, np.int64), np.empty(0, np.int64)
    nodes, first, inverse = np.unique(
        np.concatenate([c[0] for c in candidates]), return_index=True, return_inverse=True
    )
    checks = check_vectors(pa.chunked_array([c[2] for c in candidates]).take(pa.array(first)))
    parent = np.arange(len(nodes), dtype=np.int64)
    edges, start = [], 0
    for members, starts, _ in candidates:
        local = inverse[start : start + len(members)]
        start += len(members)
        edges.append(link_groups(parent, local, starts, checks, rule.min_matches, rule.window))
    edges = nodes[np.concatenate(edges)]
    return edges[:, 1], edges[:, 0]


def labels_of_groups(hi: np.ndarray, lo: np.ndarray) -> np.ndarray:
    """Path edges of disjoint groups (one key column) → (node, smallest node of its group)."""
    if not len(hi):
        return np.empty((0, 2), np.int64)
    # Edges come sorted by group then node, so a group is a run of chained edges.
    starts = np.ones(len(hi), dtype=bool)
    starts[1:] = lo[1:] != hi[:-1]
    root = lo[np.maximum.accumulate(np.where(starts, np.arange(len(hi)), 0))]
    nodes = np.concatenate([hi, lo[starts]])
    roots = np.concatenate([root, lo[starts]])
    return np.unique(np.stack([nodes, roots], axis=1), axis=0)


def run_starts(values: np.ndarray) -> np.ndarray:
    """Where each run of equal values starts (none in an empty array: a partition may get
    no edge at all)."""
    if not len(values):
        return np.empty(0, np.intp)
    return np.flatnonzero(np.r_[True, values[1:] != values[:-1]])


def large_star(directed: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Symmetric directed edges (src, dst) grouped by src → canonical (hi, lo) edges
    connecting every larger neighbour of u to m(u) = min(u, neighbours); and (u, m(u))."""
    src, dst = directed[:, 0], directed[:, 1]  # sorted by (src, dst) by np.unique
    starts = run_starts(src)
    smallest = np.minimum(src[starts], np.minimum.reduceat(dst, starts))
    m = np.repeat(smallest, np.diff(np.r_[starts, len(src)]))
    larger = dst > src
    return dst[larger], m[larger], np.stack([src[starts], smallest], axis=1)


def small_star(canonical: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Canonical edges grouped by hi → every smaller neighbour of u, and u, connected to the
    smallest of them (self-loops dropped)."""
    hi, lo = canonical[:, 0], canonical[:, 1]
    starts = run_starts(hi)
    m = np.repeat(np.minimum.reduceat(lo, starts), np.diff(np.r_[starts, len(hi)]))
    others = lo != m
    return np.r_[hi[starts], lo[others]], np.r_[m[starts], m[others]]


def symmetric_split(hi: np.ndarray, lo: np.ndarray, partitions: int) -> list[np.ndarray]:
    """Both directions of each edge, to the partition of its source."""
    src, dst = np.r_[hi, lo], np.r_[lo, hi]
    return split_pairs(src, dst, node_partitions(src, partitions), partitions)


def edge_set_fingerprint(directed: np.ndarray) -> tuple[int, int]:
    """(count, order-free 64-bit sum) of a deduplicated edge set, to detect a fixed point."""
    if not len(directed):
        return 0, 0
    mixed = (directed[:, 0].astype(np.uint64) * _MIX) ^ (
        directed[:, 1].astype(np.uint64) * np.uint64(0xC2B2AE3D27D4EB4F)
    )
    return len(directed), int(np.sum(mixed, dtype=np.uint64))


def split_by_file(labels: np.ndarray, offsets: np.ndarray) -> list[np.ndarray]:
    """(node, root) rows → one array per signature file (offsets has files + 1 entries)."""
    files = np.searchsorted(offsets, labels[:, 0], side="right") - 1
    return split_pairs(labels[:, 0], labels[:, 1], files, len(offsets) - 1)


def attach(
    path: str, offset: int, labels: Sequence[np.ndarray], rule: ClusterRule, partitions: int
) -> list[pa.Table]:
    """Labels of one file's rows → (cluster, doc key, id, *carry) members per cluster partition."""
    pairs = _pairs(labels)
    if not len(pairs):
        empty = pa.table(
            {
                CLUSTER: pa.array([], pa.int64()),
                DOC_KEY: pa.array([], pa.int64()),
                ID: pa.array([], pa.string()),
            }
        )
        return [empty] * partitions
    rows = pq.read_table(path, columns=[DOC_KEY, ID, *rule.carry]).take(
        pa.array(pairs[:, 0] - offset)
    )
    members = rows.add_column(0, CLUSTER, pa.array(pairs[:, 1]))
    return split(members, node_partitions(pairs[:, 1], partitions), partitions)


def choose(pieces: Sequence[pa.Table], rule: ClusterRule) -> pa.Table:
    members = pa.concat_tables([p for p in pieces if p.num_rows] or [pieces[0]])
    if members.num_rows == 0:
        return rule.schema.empty_table()
    return rule.choose(members)


def write_decisions(target: str, schema: pa.Schema, *parts: pa.Table) -> int:
    """The partitions' decisions as the one file the apply segment reads (streamed)."""
    writer = ParquetShardWriter(Path(target))
    writer.write(schema.empty_table())
    rows = 0
    for part in parts:
        if part.num_rows:
            writer.write(part)
            rows += part.num_rows
    writer.close()
    return rows


# ---------------------------------------------------------------- orchestration on Ray


def distributed_reduce(
    stage: GlobalStage,
    rule: ClusterRule,
    signature_files: Sequence[Path],
    target: Path,
    partitions: int,
) -> int:
    """Run steps 1-5 as Ray tasks; write `target`; return the number of decision rows."""
    import ray

    files = [str(f) for f in sorted(signature_files)]
    counts = [pq.ParquetFile(f).metadata.num_rows for f in files]
    offsets = np.concatenate([[0], np.cumsum(counts, dtype=np.int64)])
    p = max(1, partitions)
    remote = ray.remote(num_cpus=1)
    if not files or offsets[-1] == 0:
        get_all(remote(write_decisions).remote(str(target), rule.schema), "dedup reduce")
        return 0

    def many(function, count):
        return remote(function).options(num_returns=count) if count > 1 else remote(function)

    def as_list(refs, count):
        return refs if count > 1 else [refs]

    keyed = [
        as_list(
            many(_keys_map_flat, p).remote(f, int(offsets[k]), rule, p),
            p,
        )
        for k, f in enumerate(files)
    ]
    n_files = len(files)
    if len(rule.keys) == 1:
        by_file = [
            as_list(
                many(_group_labels, n_files).remote(
                    offsets, rule, *[keyed[k][q] for k in range(n_files)]
                ),
                n_files,
            )
            for q in range(p)
        ]
    else:
        sym = [
            as_list(
                many(_group_symmetric, p).remote(p, rule, *[keyed[k][q] for k in range(n_files)]),
                p,
            )
            for q in range(p)
        ]
        by_file = _components(sym, p, offsets, many, as_list)
    members = [
        as_list(
            many(_attach_flat, p).remote(
                f, int(offsets[k]), rule, p, *[by_file[q][k] for q in range(p)]
            ),
            p,
        )
        for k, f in enumerate(files)
    ]
    decisions = [
        remote(_choose_flat).remote(rule, *[members[k][q] for k in range(n_files)])
        for q in range(p)
    ]
    return get_all(
        remote(write_decisions).remote(str(target), rule.schema, *decisions), "dedup decisions"
    )


def _components(sym, p, offsets, many, as_list):
    """Alternate large-star and small-star until the edge set is a fixed point (stars)."""
    import ray

    remote = ray.remote(num_cpus=1)
    previous = None
    for _ in range(MAX_ROUNDS):
        # sym[q][r]: edges with source in partition r, sent by task q
        inputs = [[sym[q][r] for q in range(len(sym))] for r in range(p)]
        fingerprints = get_all(
            [remote(_fingerprint).remote(*refs) for refs in inputs], "connected components"
        )
        total = (sum(c for c, _ in fingerprints), sum(s for _, s in fingerprints) % 2**64)
        if total == previous or total[0] == 0:
            return [
                as_list(
                    many(_labels_by_file, len(offsets) - 1).remote(offsets, *refs), len(offsets) - 1
                )
                for refs in inputs
            ]
        previous = total
        canonical = [as_list(many(_large_star_flat, p).remote(p, *refs), p) for refs in inputs]
        sym = [
            as_list(many(_small_star_flat, p).remote(p, *[canonical[q][r] for q in range(p)]), p)
            for r in range(p)
        ]
    raise RuntimeError(f"connected components did not converge in {MAX_ROUNDS} rounds")


# Task bodies: positional refs in, a list out (Ray returns one object per list element).


def _ret(parts):
    return parts if len(parts) > 1 else parts[0]


def _keys_map_flat(path, offset, rule, partitions):
    return _ret(keys_map(path, offset, rule, partitions))


def _group_labels(offsets, rule, *pieces):
    labels = labels_of_groups(*group(pieces, rule))
    return _ret(split_by_file(labels, offsets))


def _group_symmetric(partitions, rule, *pieces):
    hi, lo = group(pieces, rule)
    return _ret(symmetric_split(hi, lo, partitions))


def _fingerprint(*parts):
    return edge_set_fingerprint(_pairs(parts))


def _large_star_flat(partitions, *parts):
    hi, lo, _ = large_star(_pairs(parts))
    return _ret(split_pairs(hi, lo, node_partitions(hi, partitions), partitions))


def _small_star_flat(partitions, *parts):
    hi, lo = small_star(_pairs(parts))
    return _ret(symmetric_split(hi, lo, partitions))


def _labels_by_file(offsets, *parts):
    directed = _pairs(parts)
    if not len(directed):
        return _ret(split_by_file(np.empty((0, 2), np.int64), offsets))
    _, _, labels = large_star(directed)
    return _ret(split_by_file(labels, offsets))


def _attach_flat(path, offset, rule, partitions, *labels):
    return _ret(attach(path, offset, labels, rule, partitions))


def _choose_flat(rule, *pieces):
    return choose(pieces, rule)
