"""FlexSP's MILP for one micro-batch, solved with HiGHS through `scipy.optimize.milp`.

Variables: integer x[k, p] (sequences of bucket k in group slot p), binary y[p] (slot open),
continuous M (makespan). Minimise M subject to: every bucket fully assigned; x[k, p] = 0 where the
slot's degree is below the bucket's d_min; Σₖ rep_k·x[k, p] ≤ C(d_p)·y[p] (memory, and a closed
slot is empty); Σₖ x[k, p] ≥ y[p] (an open slot is not empty); β·y[p] + Σₖ τ(rep_k, d_p)·x[k, p]
≤ M; Σₚ d_p·y[p] = N. Slots: ⌊N/d⌋ per degree d ≥ d_req (the batch's largest d_min), and only
⌊(N − d_req)/d⌋ of each smaller degree (what the required group leaves free), never more than the
sequences that could use them. Identical slots are ordered (open first, then by load) to break
symmetry. Degree 1 is allowed.

The incumbent (greedy or best homogeneous plan), when it is feasible with bucket
representatives, bounds M from above, so HiGHS only searches for strictly useful plans and the
MILP is feasible by construction. `scipy.optimize.milp` takes no starting point, so this bound
plus the comparison after de-bucketing is how the incumbent is used. A time limit (and an
optional node limit, which makes runs reproducible regardless of machine speed) caps the search;
the best solution found is accepted.

De-bucketing is seeded and deterministic: each bucket's sequences, longest first (ties broken by
a seeded permutation), go to the slot that the MILP gave that bucket and that has the least true
load so far. Times are then recomputed with true lengths.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse import coo_matrix

from textmill.plan.bucketing import Buckets, choose_buckets
from textmill.plan.cost import CostModel

Groups = list[tuple[int, list[int]]]


@dataclass
class SolverOptions:
    """Search limits for one micro-batch's MILP."""

    time_limit: float = 0.5  # seconds per micro-batch (FlexSP's reference: 10 s a step)
    node_limit: int | None = None  # deterministic budget, independent of machine speed
    mip_rel_gap: float = 0.01
    start_buckets: int = 16


@dataclass
class MilpResult:
    groups: Groups | None  # (degree, indices into the micro-batch) or None: no solution found
    status: int  # scipy.optimize.milp status: 0 optimal, 1 limit reached, 2 infeasible, ...
    bucketed_makespan: float
    n_integers: int


def slot_degrees(cost: CostModel, d_min: np.ndarray) -> list[int]:
    """Candidate group slots (their degrees, ascending), pruned as the module docstring says."""
    n = cost.n_gpus
    d_req = int(d_min.max())
    slots = []
    for d in cost.degrees:
        count = n // d if d >= d_req else (n - d_req) // d
        count = min(count, int(np.sum(d_min <= d)))
        slots.extend([d] * count)
    return slots


def _bucket_groups_feasible(cost, buckets: Buckets, groups: Groups, lengths) -> float | None:
    """The incumbent's makespan with bucket representatives, or None if over memory there."""
    rep_of = np.empty(len(lengths), dtype=np.int64)
    for rep, members in zip(buckets.reps, buckets.members, strict=True):
        rep_of[members] = rep
    worst = 0.0
    for d, ids in groups:
        reps = rep_of[ids]
        if reps.sum() > cost.capacity(d) or int(cost.d_min(reps.max())) > d:
            return None
        worst = max(worst, cost.group_ms(reps, d))
    return worst


def solve_microbatch(
    cost: CostModel,
    lengths,
    options: SolverOptions | None = None,
    incumbent: Groups | None = None,
    seed: int = 0,
) -> MilpResult:
    """Solve one micro-batch; groups index into `lengths`."""
    options = options or SolverOptions()
    lengths = np.asarray(lengths, dtype=np.int64)
    buckets = choose_buckets(lengths, cost.capacity(cost.n_gpus), options.start_buckets)
    reps, counts = buckets.reps, buckets.counts
    rep_dmin = cost.d_min(reps)
    slots = slot_degrees(cost, cost.d_min(lengths))
    n_buckets, n_slots = len(reps), len(slots)
    slot_deg = np.array(slots, dtype=np.int64)

    # x variables only where the slot's degree holds the bucket
    pairs = [(k, p) for p in range(n_slots) for k in range(n_buckets) if slots[p] >= rep_dmin[k]]
    n_x = len(pairs)
    y0, m_var, n_var = n_x, n_x + n_slots, n_x + n_slots + 1
    tau = {d: cost.seq_ms(reps, d) for d in set(slots)}
    x_upper = np.array(
        [min(counts[k], cost.capacity(slots[p]) // reps[k]) for k, p in pairs], dtype=np.float64
    )
    rows, cols, vals, lower, upper = [], [], [], [], []

    def add_row(entries, lo, hi):
        r = len(lower)
        for c, v in entries:
            rows.append(r)
            cols.append(c)
            vals.append(v)
        lower.append(lo)
        upper.append(hi)

    by_bucket: list[list[int]] = [[] for _ in range(n_buckets)]
    by_slot: list[list[int]] = [[] for _ in range(n_slots)]
    for v, (k, p) in enumerate(pairs):
        by_bucket[k].append(v)
        by_slot[p].append(v)
    for k in range(n_buckets):
        add_row([(v, 1.0) for v in by_bucket[k]], counts[k], counts[k])
    beta = cost.model.beta_ms
    for p in range(n_slots):
        d = slots[p]
        add_row(
            [(v, float(reps[pairs[v][0]])) for v in by_slot[p]] + [(y0 + p, -cost.capacity(d))],
            -np.inf,
            0.0,
        )
        add_row([(v, 1.0) for v in by_slot[p]] + [(y0 + p, -1.0)], 0.0, np.inf)
        add_row(
            [(v, float(tau[d][pairs[v][0]])) for v in by_slot[p]] + [(y0 + p, beta), (m_var, -1.0)],
            -np.inf,
            0.0,
        )
        if p + 1 < n_slots and slots[p + 1] == d:  # symmetry: open first, then heavier first
            add_row([(y0 + p, 1.0), (y0 + p + 1, -1.0)], 0.0, np.inf)
            add_row(
                [(v, float(tau[d][pairs[v][0]])) for v in by_slot[p]]
                + [(v, -float(tau[d][pairs[v][0]])) for v in by_slot[p + 1]],
                0.0,
                np.inf,
            )
    add_row([(y0 + p, float(slots[p])) for p in range(n_slots)], cost.n_gpus, cost.n_gpus)

    m_upper = np.inf
    if incumbent is not None:
        bound = _bucket_groups_feasible(cost, buckets, incumbent, lengths)
        if bound is not None:
            m_upper = bound * (1 + 1e-9) + 1e-6
    objective = np.zeros(n_var)
    objective[m_var] = 1.0
    integrality = np.ones(n_var)
    integrality[m_var] = 0
    bounds = Bounds(np.zeros(n_var), np.concatenate([x_upper, np.ones(n_slots), [m_upper]]))
    matrix = coo_matrix((vals, (rows, cols)), shape=(len(lower), n_var)).tocsr()
    solver_options = {"time_limit": options.time_limit, "mip_rel_gap": options.mip_rel_gap}
    if options.node_limit is not None:
        solver_options["node_limit"] = options.node_limit
    result = milp(
        objective,
        integrality=integrality,
        bounds=bounds,
        constraints=LinearConstraint(matrix, np.array(lower), np.array(upper)),
        options=solver_options,
    )
    if result.x is None:
        return MilpResult(None, int(result.status), np.inf, n_x + n_slots)
    x = np.rint(result.x[:n_x]).astype(np.int64)
    per_slot_counts = np.zeros((n_buckets, n_slots), dtype=np.int64)
    for v, (k, p) in enumerate(pairs):
        per_slot_counts[k, p] = x[v]
    groups = debucket(cost, lengths, buckets, slot_deg, per_slot_counts, seed)
    return MilpResult(groups, int(result.status), float(result.x[m_var]), n_x + n_slots)


def debucket(cost, lengths, buckets: Buckets, slot_deg, per_slot_counts, seed: int) -> Groups:
    """Real sequences into the MILP's slots: longest first, to the least-loaded allowed slot."""
    rng = np.random.default_rng(seed)
    n_slots = len(slot_deg)
    per_degree = {int(d): cost.seq_ms(lengths, int(d)) for d in np.unique(slot_deg)}
    seq_times = np.stack([per_degree[int(d)] for d in slot_deg], axis=1)  # [sequence, slot]
    load = np.zeros(n_slots)
    members_of: list[list[int]] = [[] for _ in range(n_slots)]
    for k in range(len(buckets.reps) - 1, -1, -1):
        members = np.asarray(buckets.members[k])
        ties = rng.permutation(len(members))
        order = members[np.lexsort((ties, -lengths[members]))]
        remaining = per_slot_counts[k].copy()
        for i in order:
            open_slots = np.flatnonzero(remaining > 0)
            times = seq_times[i, open_slots]
            best = int(np.argmin(load[open_slots] + times))
            p = int(open_slots[best])
            remaining[p] -= 1
            load[p] += times[best]
            members_of[p].append(int(i))
    return [(int(slot_deg[p]), ids) for p, ids in enumerate(members_of) if ids]
