"""How much of each group goes in, and which documents: whole documents, seeded, repeats only
when upsampling (rehydrate copies, or more than one epoch, capped by `max_epochs`).

Shares (the requested fraction of the mixture's tokens, per group):
- weights: normalised to sum to 1; a `"*"` weight is shared by the groups it stands for in
  proportion to their tokens;
- temperature T: p_g ∝ n_g^(1/T) (mT5, Xue et al. 2021; T=1 is the data's own proportions);
- unimax: the budget split uniformly over the groups, each capped at `max_epochs` passes over
  its data, what a capped group leaves shared again by the others (Chung et al. 2023, Alg. 1);
- natural: p_g ∝ n_g.
Without a budget the mixture is the largest one the data allows at those shares within the
epoch cap (max_epochs 1: no document repeated beyond its rehydrate copies).
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from textmill.document import ID
from textmill.mix.spec import REST, MixError, MixSpec
from textmill.stages.rehydrate import COPY_SUFFIX

RELATIVE_SLACK = 1e-9  # float round-off allowed on the epoch cap
FILL_STEPS = 8  # documents chosen by size to fill the last gap of a partial pass


@dataclass(frozen=True)
class GroupSize:
    documents: int
    pool: int  # tokens with every document's rehydrate copies: one epoch of the group
    unique: int  # tokens with each document once


@dataclass
class GroupPlan:
    name: str
    size: GroupSize
    share: float  # requested fraction of the mixture's tokens
    target: float  # requested tokens
    realized: int = 0
    selected_documents: int = 0  # documents in the mixture, repeats counted
    distinct_documents: int = 0  # documents in the mixture at least once
    max_repeats: int = 0  # the most copies of one document

    @property
    def epochs(self) -> float:
        return self.realized / self.size.pool if self.size.pool else 0.0

    @property
    def error(self) -> float:
        """Realized against requested tokens, relative (0 when nothing was asked)."""
        return (self.realized - self.target) / self.target if self.target else 0.0


def requested_shares(sizes: dict[str, GroupSize], spec: MixSpec) -> tuple[dict[str, float], list]:
    """The share of each group, and notes for the manifest (normalised weights, left-out groups)."""
    notes: list[str] = []
    pools = {name: float(size.pool) for name, size in sizes.items()}
    method = spec.method
    if method == "temperature":
        assert spec.temperature is not None
        raw = {
            name: pool ** (1.0 / spec.temperature) if pool > 0 else 0.0
            for name, pool in pools.items()
        }
    elif method == "weights":
        raw = _weights(sizes, spec.group_weights() or {}, notes)
    else:  # natural; unimax computes its tokens directly (plan_targets)
        raw = dict(pools)
    total = sum(raw.values())
    if total <= 0:
        raise MixError("the groups hold no tokens: nothing to mix")
    return {name: value / total for name, value in raw.items()}, notes


def _weights(sizes: dict[str, GroupSize], weights: dict[str, float], notes: list[str]) -> dict:
    named = {name for name in weights if name != REST}
    unknown = sorted(named - set(sizes))
    if unknown:
        raise MixError(
            f"weights: group {unknown[0]!r} has no documents (groups in the data: "
            f"{', '.join(sorted(sizes)) or 'none'})"
        )
    total = sum(weights.values())
    if not math.isclose(total, 1.0, rel_tol=0, abs_tol=1e-6):
        notes.append(f"weights sum to {total:g}: normalised to sum to 1")
    raw = {name: weights.get(name, 0.0) for name in sizes}
    rest = [name for name in sizes if name not in named]
    if REST in weights:
        rest_pool = sum(sizes[name].pool for name in rest)
        if not rest:
            raise MixError(f"weights: {REST!r} stands for no group (every group is named)")
        if rest_pool == 0 and weights[REST] > 0:
            raise MixError(f"weights: the groups of {REST!r} ({', '.join(rest)}) hold no tokens")
        for name in rest:
            raw[name] = weights[REST] * sizes[name].pool / rest_pool if rest_pool else 0.0
    elif rest:
        left = sum(sizes[name].documents for name in rest)
        notes.append(
            f"groups not in weights, left out: {', '.join(sorted(rest))} ({left:,} documents); "
            f"add a {REST!r} weight to take them"
        )
    for name, value in raw.items():
        if value > 0 and sizes[name].pool == 0:
            raise MixError(f"weights: group {name!r} is empty (0 tokens in its documents)")
    return raw


def plan_targets(sizes: dict[str, GroupSize], spec: MixSpec) -> tuple[list[GroupPlan], list]:
    """Requested tokens per group; refuses a budget the data cannot give within the epoch cap."""
    if spec.method == "unimax":
        return _unimax(sizes, spec), []
    shares, notes = requested_shares(sizes, spec)
    cap = spec.max_epochs
    largest = min(
        (cap * sizes[name].pool / share for name, share in shares.items() if share > 0),
        default=0.0,
    )
    budget = float(spec.budget) if spec.budget is not None else math.floor(largest)
    if budget > largest * (1 + RELATIVE_SLACK):
        short = max(
            (n for n, s in shares.items() if s > 0),
            key=lambda n: budget * shares[n] / sizes[n].pool,
        )
        need = budget * shares[short]
        epochs = need / sizes[short].pool
        raise MixError(
            f"budget {spec.budget:,} tokens is larger than the data allows: group {short!r} "
            f"needs {need:,.0f} tokens ({shares[short]:.2%}) but holds {sizes[short].pool:,} "
            f"(max_epochs {cap:g}); lower the budget to at most {math.floor(largest):,} or "
            f"raise max_epochs to {math.ceil(epochs * 100) / 100:,.2f} to upsample"
        )
    plans = [GroupPlan(name, sizes[name], share, budget * share) for name, share in shares.items()]
    return plans, notes


def _unimax(sizes: dict[str, GroupSize], spec: MixSpec) -> list[GroupPlan]:
    """UniMax (Chung et al. 2023, Algorithm 1): visit groups from the smallest; each gets the
    remaining budget split evenly over the groups left, at most `max_epochs` of its data."""
    if spec.budget is None:
        raise MixError("unimax needs a budget (total tokens): its per-group share follows from it")
    remaining = float(spec.budget)
    order = sorted((name for name in sizes if sizes[name].pool > 0), key=lambda n: sizes[n].pool)
    targets: dict[str, float] = {name: 0.0 for name in sizes}
    for position, name in enumerate(order):
        even = remaining / (len(order) - position)
        targets[name] = min(even, spec.max_epochs * sizes[name].pool)
        remaining -= targets[name]
    if remaining > spec.budget * RELATIVE_SLACK:
        allowed = sum(spec.max_epochs * size.pool for size in sizes.values())
        raise MixError(
            f"budget {spec.budget:,} tokens is larger than the data allows under unimax: every "
            f"group capped at max_epochs {spec.max_epochs:g} gives {allowed:,.0f}; lower the "
            "budget or raise max_epochs"
        )
    return [
        GroupPlan(name, sizes[name], targets[name] / spec.budget, targets[name]) for name in sizes
    ]


def select_documents(
    sizes: np.ndarray, copies: np.ndarray, target: float, rng: np.random.Generator
) -> np.ndarray:
    """How many times each document goes in, for `target` tokens: whole passes over the pool
    (each document `copies` times), then a seeded random part of one more pass: the longest
    prefix of a seeded permutation that fits what is left, and a few more documents of that
    permutation chosen to fill the gap (so that a target of a few hundred documents still
    lands within a fraction of a percent)."""
    counts = np.zeros(len(sizes), np.int64)
    pool = int((sizes * copies).sum())
    if target <= 0 or pool == 0:
        return counts
    passes = int(target // pool)
    counts += passes * copies
    remainder = target - passes * pool
    if remainder <= 0:
        return counts
    units = np.repeat(np.arange(len(sizes), dtype=np.int64), copies)
    order = units[rng.permutation(len(units))]
    cumulative = np.cumsum(sizes[order])
    cut = int(np.searchsorted(cumulative, remainder, side="right"))  # the prefix at or below
    taken, rest = order[:cut], order[cut:]
    gap = remainder - (cumulative[cut - 1] if cut else 0)
    extra = []
    for _ in range(FILL_STEPS):  # fill what is left with the next documents that fit it best
        if gap < 0.5 or not len(rest):
            break
        pick = int(np.argmin(np.abs(gap - sizes[rest])))
        if abs(gap - sizes[rest[pick]]) >= gap:
            break
        extra.append(rest[pick])
        gap -= sizes[rest[pick]]
        rest = np.delete(rest, pick)
    counts += np.bincount(np.concatenate([taken, np.array(extra, np.int64)]), minlength=len(sizes))
    return counts


def group_rng(seed: int, group: str) -> np.random.Generator:
    """A generator per group, from the seed and the group's name (stable across runs and
    whatever the other groups are)."""
    return np.random.default_rng([seed, zlib.crc32(group.encode("utf-8"))])


def check_tolerance(plans: list[GroupPlan], tolerance: float) -> None:
    """Realized tokens must be within `tolerance` of the requested ones, per group; say why not."""
    for plan in plans:
        if plan.target and abs(plan.error) > tolerance:
            mean = plan.size.unique / plan.size.documents if plan.size.documents else 0
            raise MixError(
                f"group {plan.name!r}: whole documents give {plan.realized:,} tokens for the "
                f"{plan.target:,.0f} requested ({plan.error:+.2%}, over the {tolerance:.2%} "
                f"tolerance): its {plan.size.documents:,} documents average {mean:,.0f} tokens, "
                "too coarse for so small a target; raise the budget or the tolerance"
            )


def repeat_rows(table: pa.Table, taken: np.ndarray) -> pa.Table:
    """Each row `taken` times; the k-th extra copy gets the id `<id>#copy<k>`."""
    rows = np.repeat(np.arange(table.num_rows), taken)
    repeated = table.take(pa.array(rows))
    copy_number = np.arange(len(rows)) - np.repeat(np.cumsum(taken) - taken, taken)
    suffixed = pc.binary_join_element_wise(
        repeated[ID], COPY_SUFFIX, pa.array(copy_number).cast(pa.string()), ""
    )
    ids = pc.if_else(pa.array(copy_number == 0), repeated[ID], suffixed)
    return repeated.set_column(repeated.column_names.index(ID), ID, ids)
