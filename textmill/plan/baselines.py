"""The baselines FlexSP is measured against (flexsp.md, "Baselines").

*Static*: one SP degree for every step (Megatron-LM / DeepSpeed-Ulysses style); sequences are
packed into groups by best-fit decreasing on memory, and the packed groups are run N/d at a time,
slowest first, so each micro-batch holds groups of similar time. *Adaptive*: the best
homogeneous degree chosen per batch. A homogeneous plan may leave GPUs idle in its last
micro-batch; `complete_homogeneous` fills them so the plan can stand in for a FlexSP plan.
"""

from __future__ import annotations

import numpy as np

from textmill.plan.cost import CostModel, MicroBatch, Plan, make_microbatch


def best_fit_decreasing(lengths: np.ndarray, capacity: int) -> list[list[int]]:
    """Indices packed into bins of `capacity` tokens: longest first, into the fullest bin
    that still fits."""
    order = np.lexsort((np.arange(len(lengths)), -np.asarray(lengths)))
    remaining = np.empty(0, dtype=np.int64)
    bins: list[list[int]] = []
    for i in order:
        s = int(lengths[i])
        fits = np.flatnonzero(remaining >= s)
        if len(fits):
            b = int(fits[np.argmin(remaining[fits])])
            remaining[b] -= s
            bins[b].append(int(i))
        else:
            remaining = np.append(remaining, capacity - s)
            bins.append([int(i)])
    return bins


def homogeneous_plan(cost: CostModel, lengths, degree: int, method: str = "") -> Plan | None:
    """Every group at `degree`; None when some sequence needs a larger degree."""
    lengths = np.asarray(lengths, dtype=np.int64)
    if len(lengths) and int(cost.d_min(lengths).max()) > degree:
        return None
    bins = best_fit_decreasing(lengths, cost.capacity(degree))
    times = [cost.group_ms(lengths[b], degree) for b in bins]
    order = sorted(range(len(bins)), key=lambda b: (-times[b], bins[b][0]))
    per_mb = cost.n_gpus // degree
    micro_batches = []
    for start in range(0, len(order), per_mb):
        chosen = order[start : start + per_mb]
        micro_batches.append(make_microbatch(cost, [(degree, bins[b]) for b in chosen], lengths))
    return Plan(micro_batches, method or f"homogeneous-{degree}")


def static_plan(cost: CostModel, lengths, degree: int) -> Plan:
    """The static baseline; raises if the fixed degree cannot hold the batch's longest sequence."""
    plan = homogeneous_plan(cost, lengths, degree, f"static-{degree}")
    if plan is None:
        need = int(cost.d_min(np.max(lengths)))
        raise ValueError(f"static degree {degree} cannot hold a sequence that needs {need}")
    return plan


def adaptive_plan(cost: CostModel, lengths) -> Plan:
    """The best homogeneous degree for this batch (ties: the smaller degree)."""
    best = None
    for degree in cost.degrees:
        plan = homogeneous_plan(cost, lengths, degree)
        if plan is not None and (best is None or plan.est_ms < best.est_ms - 1e-9):
            best = plan
    assert best is not None, "degree N always fits after CostModel.check_lengths"
    best.method = f"adaptive-{best.micro_batches[0].groups[0].degree}"
    return best


def complete_microbatch(cost: CostModel, mb: MicroBatch, lengths) -> MicroBatch:
    """Give a micro-batch's idle GPUs work so that its degrees sum to N.

    While GPUs are idle: split the slowest multi-sequence group in two of the same degree
    (longest-first, never slower than before); when every group holds one sequence, double the
    degree of the group whose time grows least (or shrinks most).
    """
    groups = [(g.degree, list(g.sequence_ids)) for g in mb.groups]
    lengths = np.asarray(lengths)
    while sum(d for d, _ in groups) < cost.n_gpus:
        idle = cost.n_gpus - sum(d for d, _ in groups)
        times = [cost.group_ms(lengths[ids], d) for d, ids in groups]
        splittable = [k for k, (d, ids) in enumerate(groups) if len(ids) > 1 and d <= idle]
        if splittable:
            k = max(splittable, key=lambda k: (times[k], -k))
            d, ids = groups[k]
            halves: list[list[int]] = [[], []]
            loads = [0.0, 0.0]
            for i in sorted(ids, key=lambda i: (-lengths[i], i)):
                h = 0 if loads[0] <= loads[1] else 1
                halves[h].append(i)
                loads[h] += float(cost.seq_ms(lengths[i], d))
            groups[k] = (d, halves[0])
            groups.append((d, halves[1]))
            continue
        growable = [k for k, (d, _) in enumerate(groups) if d <= idle]
        k = min(
            growable,
            key=lambda k: (cost.group_ms(lengths[groups[k][1]], 2 * groups[k][0]) - times[k], k),
        )
        groups[k] = (2 * groups[k][0], groups[k][1])
    return make_microbatch(cost, groups, lengths)


def complete_homogeneous(cost: CostModel, plan: Plan, lengths) -> Plan:
    """A homogeneous plan with Σd = N in every micro-batch (see `complete_microbatch`)."""
    mbs = [complete_microbatch(cost, mb, lengths) for mb in plan.micro_batches]
    return Plan(mbs, plan.method)
