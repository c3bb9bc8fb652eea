"""Union-find over document indices, candidate groups from one band's hashes, and the check
that turns a candidate pair into a link.

The root of a set is always its smallest index, so the forest does not depend on the order in
which edges arrive; which document a cluster keeps is decided later, by id.

Linking rule, shared by the local and the distributed MinHash reduce: within a group of documents
with an equal band hash (members in ascending index order), each member is compared with the
`window` members before it; a pair is linked when their signatures agree on at least
`min_matches` hashes. Clusters are the connected components of the linked pairs. A pair whose
ends are already connected is not compared, which changes no component and makes a group of
exact copies cost one comparison per member.
"""

from __future__ import annotations

import numba as nb
import numpy as np
import pyarrow as pa


@nb.njit(cache=True, inline="always")
def _find(parent, x):
    while parent[x] != x:
        parent[x] = parent[parent[x]]  # path halving
        x = parent[x]
    return x


@nb.njit(cache=True)
def union_edges(parent: np.ndarray, edges: np.ndarray) -> None:
    """Merge the sets of both ends of every edge (rows of an [m, 2] array), in place."""
    for k in range(edges.shape[0]):
        a = _find(parent, edges[k, 0])
        b = _find(parent, edges[k, 1])
        if a < b:
            parent[b] = a
        elif b < a:
            parent[a] = b


@nb.njit(cache=True)
def roots(parent: np.ndarray) -> np.ndarray:
    """The root (smallest member) of every element's set."""
    out = np.empty_like(parent)
    for x in range(len(parent)):
        out[x] = _find(parent, x)
    return out


@nb.njit(cache=True)
def _agreements(signatures, x, y):
    same = 0
    for p in range(signatures.shape[1]):
        if signatures[x, p] == signatures[y, p]:
            same += 1
    return same


@nb.njit(cache=True)
def link_groups(parent, members, starts, signatures, min_matches, window):
    """Union linked pairs of every group (members[starts[g]:starts[g + 1]]), in place.

    `members` index `parent` and the rows of `signatures` (uint16 [n, hashes]); with
    min_matches 0 every compared pair links (no signatures needed). Returns the [m, 2] edges
    (earlier, later member) that joined two sets: a spanning forest of the linked pairs.
    """
    out = np.empty((len(members), 2), dtype=np.int64)
    n = 0
    for g in range(len(starts) - 1):
        first = starts[g]
        for k in range(first + 1, starts[g + 1]):
            x = members[k]
            for j in range(k - 1, max(first, k - window) - 1, -1):
                y = members[j]
                a = _find(parent, x)
                b = _find(parent, y)
                if a == b:
                    continue
                if min_matches > 0 and _agreements(signatures, x, y) < min_matches:
                    continue
                parent[max(a, b)] = min(a, b)
                out[n, 0] = y
                out[n, 1] = x
                n += 1
    return out[:n]


def check_vectors(column: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """A check column (fixed-size binary of uint16 values, no nulls) as uint16 [rows, width]."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    width = column.type.byte_width
    raw = np.frombuffer(column.buffers()[1], np.uint8)
    raw = raw[column.offset * width : (column.offset + len(column)) * width]
    return raw.view(np.uint16).reshape(len(column), width // 2)


def groups_of_paths(edges: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Path edges of disjoint groups (as `band_edges` makes them) → (members, group starts).

    A group is a run of chained edges (each edge's first end is the previous edge's second).
    """
    if not len(edges):
        return np.empty(0, np.int64), np.zeros(1, np.int64)
    lo, hi = edges[:, 0], edges[:, 1]
    new = np.ones(len(edges), dtype=bool)
    new[1:] = lo[1:] != hi[:-1]
    heads = np.flatnonzero(new)
    members = np.empty(len(edges) + len(heads), dtype=np.int64)
    # each group: its first edge's lo, then every edge's hi
    place = np.arange(len(edges)) + np.cumsum(new)
    members[place] = hi
    members[place[heads] - 1] = lo[heads]
    starts = np.append(place[heads] - 1, len(members))
    return members, starts


def band_edges(hashes: np.ndarray, has_signature: np.ndarray) -> np.ndarray:
    """[m, 2] int64 pairs of document indices whose band hash is equal (sorted neighbours).

    A group of k equal hashes gives the k - 1 edges of a path, enough to connect it.
    """
    indices = np.flatnonzero(has_signature)
    values = hashes[indices]
    order = np.argsort(values, kind="stable")
    values = values[order]
    indices = indices[order]
    same = values[1:] == values[:-1]
    return np.stack([indices[:-1][same], indices[1:][same]], axis=1).astype(np.int64)
