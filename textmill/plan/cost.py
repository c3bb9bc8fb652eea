"""FlexSP's cost and memory model, and the plan it scores (flexsp.md, "Cost model").

Times are in ms, memory in MiB, lengths in tokens. A sequence of length s in an SP group of degree
d costs t(s, d) = (α₁s² + α₂s)/d + [8·L·h·s·2 B / 2²⁰ / d] / v_d (Ulysses all-to-all, none at
d = 1); a group pays β once per micro-batch, so its time is β + Σ t(sᵢ, d). A micro-batch takes
as long as its slowest group; a step is the sum over its micro-batches. Memory: ZeRO-3 model
states (16 B per parameter / N) plus act·tokens/d must fit the per-GPU budget E, which gives the
per-GPU token capacity C_tok and each sequence's minimum degree d_min(s).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from textmill.plan.profiles import ClusterProfile, ModelProfile, load_cluster_profile

MIB = 2**20
# Offline comparisons in FlexSP use a 30 GB per-GPU budget (their training runs used 28 GB).
DEFAULT_MEMORY_GIB = 30.0


class PlanError(ValueError):
    """A batch that cannot be planned (e.g. a sequence longer than the cluster can hold)."""


def is_power_of_two(n: int) -> bool:
    return n > 0 and n & (n - 1) == 0


@dataclass(frozen=True)
class CostModel:
    """The cost/memory model for one model profile on N GPUs of one cluster."""

    model: ModelProfile
    n_gpus: int
    max_context: int
    memory_gib: float = DEFAULT_MEMORY_GIB
    cluster: ClusterProfile = field(default_factory=load_cluster_profile)

    def __post_init__(self) -> None:
        if not is_power_of_two(self.n_gpus):
            raise PlanError(f"--gpus must be a power of two, got {self.n_gpus}")
        if self.tokens_per_gpu < 1:
            raise PlanError(
                f"model states ({self.model_states_mib:.0f} MiB per GPU) leave no room for "
                f"activations in a {self.memory_gib} GiB budget"
            )

    @property
    def degrees(self) -> list[int]:
        """Every power-of-two degree 1..N."""
        return [1 << k for k in range(self.n_gpus.bit_length())]

    @property
    def model_states_mib(self) -> float:
        """16 bytes per parameter (fp16 weights+grads, fp32 Adam states), sharded by ZeRO-3."""
        shard = self.n_gpus if self.model.zero_stage >= 3 else 1
        return 16.0 * self.model.params(self.max_context) / shard / MIB

    @property
    def tokens_per_gpu(self) -> int:
        """C_tok = ⌊(E − model states) / act⌋ (≈ 6,000 at E = 28 GB, N = 64, GPT-7B)."""
        free = self.memory_gib * 1024.0 - self.model_states_mib
        return int(free // self.model.act_mib_per_token)

    def capacity(self, degree: int) -> int:
        """Tokens a group of this degree holds in one micro-batch."""
        return degree * self.tokens_per_gpu

    def d_min(self, lengths: np.ndarray | int) -> np.ndarray:
        """Smallest power of two ≥ ⌈s / C_tok⌉; N+1..: a sequence that fits nowhere gives > N."""
        need = np.ceil(np.asarray(lengths, dtype=np.float64) / self.tokens_per_gpu)
        need = np.maximum(need, 1.0)
        return (2 ** np.ceil(np.log2(need))).astype(np.int64)

    def seq_ms(self, lengths: np.ndarray | float, degree: int) -> np.ndarray:
        """t(s, d): compute plus Ulysses all-to-all for each length at one degree."""
        s = np.asarray(lengths, dtype=np.float64)
        m = self.model
        compute = (m.alpha1_ms_per_tok2 * s * s + m.alpha2_ms_per_tok * s) / degree
        if degree == 1:
            return compute
        volume_mib = 8.0 * m.layers * m.hidden * s * 2.0 / MIB / degree
        return compute + volume_mib / self.cluster.bandwidth(degree)

    def group_ms(self, lengths: np.ndarray | list[int], degree: int) -> float:
        """β + Σ t(sᵢ, d) for one group; an empty group costs nothing."""
        if len(lengths) == 0:
            return 0.0
        return self.model.beta_ms + float(self.seq_ms(np.asarray(lengths), degree).sum())

    def check_lengths(self, lengths: np.ndarray) -> None:
        """Raise if some sequence cannot fit even on all N GPUs."""
        if len(lengths) and int(np.max(lengths)) > self.capacity(self.n_gpus):
            raise PlanError(
                f"a sequence of {int(np.max(lengths))} tokens exceeds what {self.n_gpus} GPUs "
                f"hold ({self.capacity(self.n_gpus)} tokens at {self.memory_gib} GiB each)"
            )


@dataclass
class Group:
    """One SP group of one micro-batch: `degree` GPUs from `first_rank`, packed sequences."""

    degree: int
    sequence_ids: list[int]
    lengths: list[int]
    est_ms: float = 0.0
    first_rank: int = 0

    def to_json(self) -> dict:
        return {
            "degree": self.degree,
            "first_rank": self.first_rank,
            "sequence_ids": [int(i) for i in self.sequence_ids],
            "lengths": [int(s) for s in self.lengths],
            "est_ms": round(self.est_ms, 3),
        }


@dataclass
class MicroBatch:
    groups: list[Group]

    @property
    def est_ms(self) -> float:
        return max((g.est_ms for g in self.groups), default=0.0)

    def to_json(self) -> dict:
        return {"est_ms": round(self.est_ms, 3), "groups": [g.to_json() for g in self.groups]}


@dataclass
class Plan:
    """A step's plan: micro-batches run one after another; groups in one run side by side."""

    micro_batches: list[MicroBatch]
    method: str = "flexsp"

    @property
    def est_ms(self) -> float:
        return sum(mb.est_ms for mb in self.micro_batches)

    def to_json(self) -> dict:
        return {
            "method": self.method,
            "est_ms": round(self.est_ms, 3),
            "micro_batches": [mb.to_json() for mb in self.micro_batches],
        }


def make_microbatch(cost: CostModel, groups: list[tuple[int, list[int]]], lengths) -> MicroBatch:
    """Score groups given as (degree, sequence ids) with true lengths, and place them.

    Placement rule (flexsp.md): ascending degree on contiguous ranks. With power-of-two degrees
    summing to N, the ranks before a group of degree d sum to a multiple of d, so every group
    starts aligned to its size and groups of ≤ 8 GPUs never straddle a node.
    """
    lengths = np.asarray(lengths)
    built = []
    for degree, ids in groups:
        if not ids:
            continue
        ids_sorted = sorted(int(i) for i in ids)
        group_lengths = [int(lengths[i]) for i in ids_sorted]
        built.append(Group(degree, ids_sorted, group_lengths, cost.group_ms(group_lengths, degree)))
    built.sort(key=lambda g: (g.degree, g.sequence_ids[0]))
    rank = 0
    for group in built:
        group.first_rank = rank
        rank += group.degree
    return MicroBatch(built)


def plan_violations(
    cost: CostModel, plan: Plan, lengths, *, full_cluster: bool = True
) -> list[str]:
    """Everything wrong with a plan against its batch; empty when the plan is valid.

    Checks: every sequence exactly once, power-of-two degrees, Σd = N per micro-batch (≤ N when
    `full_cluster` is False, as a static baseline may idle GPUs in its last micro-batch),
    d ≥ d_min, memory with true lengths, aligned non-overlapping placement, est_ms consistent.
    """
    lengths = np.asarray(lengths)
    problems = []
    seen = np.zeros(len(lengths), dtype=np.int64)
    for b, mb in enumerate(plan.micro_batches):
        total = sum(g.degree for g in mb.groups)
        if total > cost.n_gpus or (full_cluster and total != cost.n_gpus):
            problems.append(f"micro-batch {b}: degrees sum to {total}, not {cost.n_gpus}")
        used = np.zeros(cost.n_gpus, dtype=np.int64)
        for g in mb.groups:
            if not is_power_of_two(g.degree):
                problems.append(f"micro-batch {b}: degree {g.degree} is not a power of two")
                continue
            if g.first_rank % g.degree or g.first_rank + g.degree > cost.n_gpus:
                problems.append(f"micro-batch {b}: group at rank {g.first_rank} is not aligned")
            else:
                used[g.first_rank : g.first_rank + g.degree] += 1
            true = [int(lengths[i]) for i in g.sequence_ids]
            if true != list(g.lengths):
                problems.append(f"micro-batch {b}: group lengths do not match the batch")
            np.add.at(seen, np.asarray(g.sequence_ids, dtype=np.int64), 1)
            if sum(true) > cost.capacity(g.degree):
                problems.append(f"micro-batch {b}: group of degree {g.degree} over memory")
            if true and int(cost.d_min(max(true))) > g.degree:
                problems.append(f"micro-batch {b}: degree {g.degree} below d_min")
            if abs(cost.group_ms(true, g.degree) - g.est_ms) > 1e-6 * max(1.0, g.est_ms):
                problems.append(f"micro-batch {b}: est_ms does not match the cost model")
        if np.any(used > 1):
            problems.append(f"micro-batch {b}: groups overlap on some ranks")
    if np.any(seen != 1):
        problems.append(f"{int(np.sum(seen != 1))} sequences not planned exactly once")
    return problems
