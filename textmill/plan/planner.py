"""Plan one training step: micro-batches → SP groups → sequences (FlexSP, arXiv 2412.01523).

For m = m₀ … m₀+4 micro-batches the Sequence Blaster cuts the batch; each micro-batch gets the
greedy layout plan (fast, always feasible when the chunk fits), a lower bound, and — where the
bound says the greedy may be beaten and the step's time budget allows — the bucketed MILP warmed by
the greedy plan, whose de-bucketed result is then polished by single-sequence moves. The cheapest
m wins. Finally the plan is compared with the best homogeneous plan (adaptive baseline, completed
so Σd = N): the planner never returns a plan estimated slower than it.

Usage::

    cost = CostModel(load_model_profile("gpt-7b"), n_gpus=64, max_context=196608)
    result = plan_batch(cost, lengths, PlannerOptions(seed=0))
    json.dumps(result.plan.to_json())
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from textmill.plan.baselines import adaptive_plan, complete_homogeneous
from textmill.plan.blaster import (
    EXTRA_MICRO_BATCHES,
    blast,
    bound_partitions,
    descending_order,
    min_micro_batches,
)
from textmill.plan.cost import CostModel, Plan, make_microbatch
from textmill.plan.greedy import greedy_microbatch, improve, makespan
from textmill.plan.milp import SolverOptions, solve_microbatch


@dataclass
class PlannerOptions:
    seed: int = 0
    solver: SolverOptions = field(default_factory=SolverOptions)
    extra_micro_batches: int = EXTRA_MICRO_BATCHES
    use_milp: bool = True
    # Wall-clock budget for one step (None: no budget, fully reproducible with a node limit):
    # a MILP starts only if it can finish inside it; the rest keep their greedy plans.
    step_budget_s: float | None = 8.0


@dataclass
class PlanResult:
    plan: Plan
    adaptive: Plan
    micro_batch_counts_tried: list[int]
    milps_solved: int
    plan_seconds: float


def _fastest_and_cheapest(cost: CostModel, lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per sequence: least time over allowed degrees, and least GPU-time d·t(s, d)."""
    d_min = cost.d_min(lengths)
    table = np.stack([cost.seq_ms(lengths, d) for d in cost.degrees], axis=1)
    degrees = np.array(cost.degrees)
    allowed = degrees[None, :] >= d_min[:, None]
    fastest = np.where(allowed, table, np.inf).min(axis=1)
    cheapest = np.where(allowed, table * degrees[None, :], np.inf).min(axis=1)
    return fastest, cheapest


def lower_bound_ms(cost: CostModel, lengths) -> float:
    """No plan of this micro-batch is faster: its longest job, or its GPU-time spread over N."""
    lengths = np.asarray(lengths, dtype=np.int64)
    if len(lengths) == 0:
        return 0.0
    fastest, cheapest = _fastest_and_cheapest(cost, lengths)
    return cost.model.beta_ms + max(float(fastest.max()), float(cheapest.sum()) / cost.n_gpus)


def _chunkings(cost: CostModel, lengths: np.ndarray, counts: list[int]) -> list[list[np.ndarray]]:
    """The Blaster's cut for every m in `counts`, plus the bound-minimising cuts that differ."""
    order = descending_order(lengths)
    fastest, cheapest = _fastest_and_cheapest(cost, lengths[order])
    cheap_prefix = np.concatenate(([0.0], np.cumsum(cheapest)))
    beta, n = cost.model.beta_ms, cost.n_gpus

    def chunk_bound(i: np.ndarray, j: int) -> np.ndarray:
        # descending order: the chunk's first sequence is its longest, fastest is monotone
        return beta + np.maximum(fastest[i], (cheap_prefix[j] - cheap_prefix[i]) / n)

    alternatives = bound_partitions(lengths, max(counts), chunk_bound, cost.capacity(n))
    chunkings, seen = [], set()
    for m in counts:
        for chunks in (blast(lengths, m), alternatives.get(m)):
            if chunks is None:
                continue
            key = tuple(len(c) for c in chunks)
            if key not in seen:
                seen.add(key)
                chunkings.append(chunks)
    return chunkings


def plan_batch(cost: CostModel, lengths, options: PlannerOptions | None = None) -> PlanResult:
    """The FlexSP plan for one batch of sequence lengths (sequence ids = positions)."""
    options = options or PlannerOptions()
    started = time.perf_counter()
    lengths = np.asarray(lengths, dtype=np.int64)
    cost.check_lengths(lengths)
    adaptive = adaptive_plan(cost, lengths)
    fallback = complete_homogeneous(cost, adaptive, lengths)
    fallback.method = f"fallback-{adaptive.method}"
    if len(lengths) == 0:
        return PlanResult(Plan([], "flexsp"), adaptive, [], 0, time.perf_counter() - started)

    m0 = min_micro_batches(lengths, cost.capacity(cost.n_gpus))
    counts = list(range(m0, min(m0 + options.extra_micro_batches, len(lengths)) + 1))
    candidates = []  # (m, chunks, per-chunk greedy groups, per-chunk greedy ms, per-chunk bound)
    for chunks in _chunkings(cost, lengths, counts):
        m = len(chunks)
        greedy = [greedy_microbatch(cost, lengths[c]) for c in chunks]
        bounds = [lower_bound_ms(cost, lengths[c]) for c in chunks]
        candidates.append((m, chunks, [g for g, _ in greedy], [t for _, t in greedy], bounds))

    best_total = min(sum(c[3]) for c in candidates)
    best = min(candidates, key=lambda c: (sum(c[3]), c[0]))
    milps = 0
    gap = options.solver.mip_rel_gap
    for m, chunks, groups, times, bounds in sorted(candidates, key=lambda c: (sum(c[3]), c[0])):
        if not options.use_milp or sum(bounds) >= best_total * (1 - 1e-9):
            continue
        groups, times = list(groups), list(times)
        for c, chunk in enumerate(chunks):
            elapsed = time.perf_counter() - started
            over = options.step_budget_s is not None and (
                elapsed + options.solver.time_limit > options.step_budget_s
            )
            if over or times[c] <= bounds[c] * (1 + gap):
                continue
            seed = int(
                np.random.SeedSequence([options.seed, m, len(chunk), c]).generate_state(1)[0]
            )
            result = solve_microbatch(cost, lengths[chunk], options.solver, groups[c], seed)
            milps += 1
            if result.groups is None:
                continue
            polished = improve(cost, result.groups, lengths[chunk])
            ms = makespan(cost, polished, lengths[chunk])
            if ms < times[c] - 1e-9:
                groups[c], times[c] = polished, ms
        if sum(times) < best_total - 1e-9:
            best_total = sum(times)
            best = (m, chunks, groups, times, bounds)

    if not np.isfinite(best_total):
        return PlanResult(fallback, adaptive, counts, milps, time.perf_counter() - started)
    m, chunks, groups, _, _ = best
    micro_batches = []
    for chunk, chunk_groups in zip(chunks, groups, strict=True):
        global_groups = [(d, [int(chunk[i]) for i in ids]) for d, ids in chunk_groups]
        micro_batches.append(make_microbatch(cost, global_groups, lengths))
    plan = Plan(micro_batches, "flexsp")
    if fallback.est_ms < plan.est_ms:
        plan = fallback
    return PlanResult(plan, adaptive, counts, milps, time.perf_counter() - started)
