"""The Sequence Blaster: how many micro-batches a step has and which sequences go in each.

FlexSP sorts the batch by length, longest first, and cuts it into m contiguous chunks that
minimise the largest chunk's token sum (the classic linear-partition DP), so long sequences share
a micro-batch with big SP groups and short ones share micro-batches of small groups. m starts at
m₀ = ⌈tokens / (N·C_tok)⌉, the fewest micro-batches that can hold the batch; the planner tries
m₀ … m₀+4 and keeps the cheapest plan.
"""

from __future__ import annotations

import math

import numpy as np

EXTRA_MICRO_BATCHES = 4


def min_micro_batches(lengths, cluster_tokens: int) -> int:
    """m₀ = ⌈Σ s / (N·C_tok)⌉ (at least one)."""
    return max(1, math.ceil(int(np.sum(lengths)) / cluster_tokens))


def descending_order(lengths) -> np.ndarray:
    """Indices longest first; ties by index, so the order is deterministic."""
    lengths = np.asarray(lengths)
    return np.lexsort((np.arange(len(lengths)), -lengths))


def linear_partition(values, m: int) -> list[int]:
    """Cut points 0 = c₀ < … < c_m = n splitting `values` (in order) into m non-empty runs
    whose largest sum is minimal; fewer runs when there are fewer than m values."""
    values = np.asarray(values, dtype=np.float64)
    n = len(values)
    m = max(1, min(m, n))
    prefix = np.concatenate(([0.0], np.cumsum(values)))
    # cost[k][j]: best largest-run sum of values[:j] in k runs
    cost = np.full(n + 1, np.inf)
    cost[1:] = prefix[1:]
    parents = []
    for _k in range(2, m + 1):
        new = np.full(n + 1, np.inf)
        parent = np.zeros(n + 1, dtype=np.int64)
        for j in range(_k, n + 1):
            i = np.arange(_k - 1, j)
            candidate = np.maximum(cost[i], prefix[j] - prefix[i])
            best = int(np.argmin(candidate))
            new[j] = candidate[best]
            parent[j] = i[best]
        parents.append(parent)
        cost = new
    cuts = [n]
    for parent in reversed(parents):
        cuts.append(int(parent[cuts[-1]]))
    cuts.append(0)
    return cuts[::-1]


def blast(lengths, m: int) -> list[np.ndarray]:
    """The batch's indices cut into m micro-batches (longest first, linear partition)."""
    order = descending_order(lengths)
    cuts = linear_partition(np.asarray(lengths)[order], m)
    return [order[a:b] for a, b in zip(cuts[:-1], cuts[1:], strict=True)]


def bound_partitions(
    lengths, max_m: int, chunk_bound, chunk_tokens: int
) -> dict[int, list[np.ndarray]]:
    """Cost-aware alternative cuts of the descending order into 1..max_m chunks.

    `chunk_bound(i, j)` gives, for every start i (array) and one end j, a lower bound on the
    time of the chunk order[i:j]; a chunk holds at most `chunk_tokens`. For each m the DP
    minimises the sum of the bounds, which isolates a sequence that needs the whole cluster
    instead of filling its micro-batch with short sequences that then run at degree N. Only the
    feasible m appear in the answer.
    """
    lengths = np.asarray(lengths)
    order = descending_order(lengths)
    n = len(order)
    prefix = np.concatenate(([0], np.cumsum(lengths[order])))
    cost = np.full(n + 1, np.inf)
    cost[0] = 0.0
    bounds = [np.full(j, np.inf) for j in range(n + 1)]
    for j in range(1, n + 1):
        i = np.arange(0, j)
        fits = prefix[j] - prefix[i] <= chunk_tokens
        bounds[j] = np.where(fits, chunk_bound(i, j), np.inf)
    parents, answer = [], {}
    for m in range(1, min(max_m, n) + 1):
        new = np.full(n + 1, np.inf)
        parent = np.zeros(n + 1, dtype=np.int64)
        for j in range(m, n + 1):
            candidate = cost[:j] + bounds[j]
            best = int(np.argmin(candidate))
            new[j], parent[j] = candidate[best], best
        parents.append(parent)
        cost = new
        if np.isfinite(cost[n]):
            cuts = [n]
            for back in reversed(parents):
                cuts.append(int(back[cuts[-1]]))
            cuts = cuts[::-1]
            answer[m] = [order[a:b] for a, b in zip(cuts[:-1], cuts[1:], strict=True)]
    return answer
