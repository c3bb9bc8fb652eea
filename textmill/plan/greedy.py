"""Fast heuristic plans for one micro-batch: the MILP's incumbent and its fallback.

A *layout* is a multiset of power-of-two degrees summing to N: k groups of a large degree D (for
the long sequences) and the rest of the GPUs in groups of one small degree e. Sequences are
assigned longest first to the group where they finish earliest (LPT) among those with room and
d ≥ d_min. Every layout in a small family is tried and the best kept; the family includes every
homogeneous layout, so the greedy is never worse than the best homogeneous LPT plan. After the
MILP, `improve` moves single sequences off the slowest group while that shortens it.
"""

from __future__ import annotations

import numba
import numpy as np

from textmill.plan.cost import CostModel

Groups = list[tuple[int, list[int]]]


@numba.njit(cache=True)
def _lpt(order, lengths, d_min, times, degrees, capacity, beta):  # pragma: no cover - numba
    """Assign `order` to groups; times[i, g] = t(s_i, degree_g). Returns (assign, makespan)."""
    n_groups = len(degrees)
    load = np.zeros(n_groups)
    room = capacity.copy()
    used = np.zeros(n_groups, dtype=np.int64)
    assign = np.full(len(lengths), -1, dtype=np.int64)
    for i in order:
        best, best_finish = -1, np.inf
        for g in range(n_groups):
            if degrees[g] < d_min[i] or room[g] < lengths[i]:
                continue
            finish = load[g] + times[i, g]
            if finish < best_finish:
                best, best_finish = g, finish
        if best < 0:
            return assign, np.inf
        assign[i] = best
        load[best] = best_finish
        room[best] -= lengths[i]
        used[best] += 1
    for g in range(n_groups):
        if used[g] == 0:
            return assign, np.inf
    return assign, beta + load.max()


def _layouts(cost: CostModel, d_req: int, n_seqs: int) -> list[list[int]]:
    n = cost.n_gpus
    seen, layouts = set(), []
    for big in cost.degrees:
        if big < d_req:
            continue
        for k in sorted({1, 2, n // big}):
            if k * big > n:
                continue
            rest = n - k * big
            smalls = [e for e in cost.degrees if e < big] if rest else [big]
            for e in smalls:
                if rest % e:
                    continue
                layout = [big] * k + [e] * (rest // e if rest else 0)
                if len(layout) > n_seqs:
                    continue
                key = tuple(sorted(layout))
                if key not in seen:
                    seen.add(key)
                    layouts.append(sorted(layout))
    return layouts


def greedy_microbatch(cost: CostModel, lengths) -> tuple[Groups, float]:
    """The best LPT plan over the layout family, as (degree, indices) groups and its makespan."""
    lengths = np.asarray(lengths, dtype=np.int64)
    d_min = cost.d_min(lengths)
    d_req = int(d_min.max())
    order = np.lexsort((np.arange(len(lengths)), -lengths))
    per_degree = {d: cost.seq_ms(lengths, d) for d in cost.degrees}
    best: tuple[Groups, float] = ([], np.inf)
    for layout in _layouts(cost, d_req, len(lengths)):
        degrees = np.array(layout, dtype=np.int64)
        times = np.stack([per_degree[int(d)] for d in degrees], axis=1)
        capacity = degrees * cost.tokens_per_gpu
        assign, makespan = _lpt(order, lengths, d_min, times, degrees, capacity, cost.model.beta_ms)
        if makespan < best[1] - 1e-9:
            groups = [(int(d), np.flatnonzero(assign == g).tolist()) for g, d in enumerate(layout)]
            best = (groups, float(makespan))
    return best


def makespan(cost: CostModel, groups: Groups, lengths) -> float:
    lengths = np.asarray(lengths)
    return max((cost.group_ms(lengths[ids], d) for d, ids in groups), default=0.0)


def improve(cost: CostModel, groups: Groups, lengths, max_moves: int = 100) -> Groups:
    """Move one sequence at a time off the slowest group while the makespan shrinks."""
    lengths = np.asarray(lengths, dtype=np.int64)
    groups = [(d, list(ids)) for d, ids in groups]
    if len(groups) < 2:
        return groups
    d_min = cost.d_min(lengths)
    degrees = np.array([d for d, _ in groups], dtype=np.int64)
    per_degree = {int(d): cost.seq_ms(lengths, int(d)) for d in np.unique(degrees)}
    seq_times = np.stack([per_degree[int(d)] for d in degrees], axis=1)  # [sequence, group]
    times = np.array([cost.group_ms(lengths[ids], d) for d, ids in groups])
    tokens = np.array([int(lengths[ids].sum()) for _, ids in groups], dtype=np.int64)
    capacity = degrees * cost.tokens_per_gpu
    for _ in range(max_moves):
        src = int(np.argmax(times))
        ids_src = groups[src][1]
        if len(ids_src) < 2:
            break
        current = times[src]
        best = None
        for i in ids_src:
            src_after = current - seq_times[i, src]
            dst_after = times + seq_times[i]
            valid = (degrees >= d_min[i]) & (tokens + lengths[i] <= capacity)
            valid[src] = False
            worst = np.where(valid, np.maximum(src_after, dst_after), np.inf)
            g = int(np.argmin(worst))
            if worst[g] < current - 1e-6 and (best is None or worst[g] < best[0] - 1e-9):
                best = (float(worst[g]), i, g)
        if best is None:
            break
        _, i, g = best
        ids_src.remove(i)
        groups[g][1].append(i)
        times[src] -= seq_times[i, src]
        times[g] += seq_times[i, g]
        tokens[src] -= lengths[i]
        tokens[g] += lengths[i]
    return groups
