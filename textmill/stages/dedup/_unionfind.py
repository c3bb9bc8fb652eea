"""Union-find over document indices, and candidate edges from one band's hashes.

The root of a set is always its smallest index, so the forest does not depend on the order in
which edges arrive; which document a cluster keeps is decided later, by id.
"""

from __future__ import annotations

import numba as nb
import numpy as np


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
