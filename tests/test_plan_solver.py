"""Bucketing DP, Sequence Blaster DP and the micro-batch MILP against exhaustive search."""

import itertools

import numpy as np
import pytest

from textmill.plan.blaster import blast, linear_partition
from textmill.plan.bucketing import bucket_lengths, choose_buckets
from textmill.plan.cost import CostModel, is_power_of_two
from textmill.plan.greedy import greedy_microbatch, improve, makespan
from textmill.plan.milp import SolverOptions, slot_degrees, solve_microbatch
from textmill.plan.profiles import load_model_profile


def small_cluster(n_gpus=8):
    """GPT-7B on N ≤ 8 GPUs at an 8K context: C_tok ≈ 4,000, so d_min spans 1..4."""
    memory_gib = {4: 42.0, 8: 30.0}[n_gpus]  # ZeRO-3 shards model states over fewer GPUs at 4
    return CostModel(load_model_profile("gpt-7b"), n_gpus, 8192, memory_gib)


def exhaustive_padding(lengths, n_buckets):
    values = np.unique(lengths)
    best = np.inf
    for k in range(1, min(n_buckets, len(values)) + 1):
        for cuts in itertools.combinations(range(1, len(values)), k - 1):
            edges = [0, *cuts, len(values)]
            pad = 0
            for a, b in zip(edges[:-1], edges[1:], strict=True):
                inside = lengths[(lengths >= values[a]) & (lengths <= values[b - 1])]
                pad += int((values[b - 1] - inside).sum())
            best = min(best, pad)
    return best


@pytest.mark.parametrize("seed", range(6))
def test_bucketing_dp_finds_the_least_padding(seed):
    rng = np.random.default_rng(seed)
    lengths = rng.integers(1, 40, size=8) * 100
    for n_buckets in (1, 2, 3, 4):
        buckets = bucket_lengths(lengths, n_buckets)
        assert len(buckets.reps) <= n_buckets
        assert sorted(np.concatenate(buckets.members).tolist()) == list(range(8))
        for rep, members in zip(buckets.reps, buckets.members, strict=True):
            assert lengths[members].max() == rep
        padding = buckets.padded_tokens() - int(lengths.sum())
        assert padding == exhaustive_padding(lengths, n_buckets)


def test_buckets_grow_until_padding_uses_at_most_half_the_slack():
    lengths = np.arange(1, 101) * 37
    buckets = choose_buckets(lengths, int(lengths.sum()) + 200, start=2)
    assert buckets.padded_tokens() <= (lengths.sum() + lengths.sum() + 200) / 2
    assert len(buckets.reps) > 2


@pytest.mark.parametrize("seed", range(6))
def test_linear_partition_minimises_the_largest_chunk(seed):
    rng = np.random.default_rng(seed)
    values = np.sort(rng.integers(1, 1000, size=8))[::-1]
    for m in (1, 2, 3, 5):
        cuts = linear_partition(values, m)
        assert cuts[0] == 0 and cuts[-1] == 8 and len(cuts) == m + 1
        got = max(values[a:b].sum() for a, b in zip(cuts[:-1], cuts[1:], strict=True))
        best = min(
            max(values[a:b].sum() for a, b in zip((0, *c), (*c, 8), strict=True))
            for c in itertools.combinations(range(1, 8), m - 1)
        )
        assert got == best


def test_blast_puts_the_longest_sequences_first_and_keeps_every_index():
    lengths = np.array([5, 900, 30, 700, 30, 10])
    chunks = blast(lengths, 2)
    assert sorted(np.concatenate(chunks).tolist()) == list(range(6))
    assert chunks[0].tolist() == [1] and chunks[1].tolist() == [3, 2, 4, 5, 0]


def set_partitions(items):
    if not items:
        yield []
        return
    first, rest = items[0], items[1:]
    for partition in set_partitions(rest):
        yield [[first], *partition]
        for k in range(len(partition)):
            yield [*partition[:k], [first, *partition[k]], *partition[k + 1 :]]


def exhaustive_makespan(cost, lengths):
    """Every split into groups and every power-of-two degree per group with Σd = N."""
    best = np.inf
    for blocks in set_partitions(list(range(len(lengths)))):
        options = []
        for block in blocks:
            tokens = int(lengths[block].sum())
            options.append([d for d in cost.degrees if tokens <= cost.capacity(d)])
        for degrees in itertools.product(*options):
            if sum(degrees) != cost.n_gpus:
                continue
            worst = max(cost.group_ms(lengths[b], d) for b, d in zip(blocks, degrees, strict=True))
            best = min(best, worst)
    return best


@pytest.mark.parametrize("seed", range(8))
def test_milp_matches_exhaustive_search_on_small_clusters(seed):
    rng = np.random.default_rng(100 + seed)
    n_gpus = [4, 8][seed % 2]
    cost = small_cluster(n_gpus)
    n_seqs = int(rng.integers(2, 8))
    lengths = rng.choice([256, 512, 1024, 2048, 3000, 5000, 9000], size=n_seqs)
    optimum = exhaustive_makespan(cost, lengths)
    options = SolverOptions(time_limit=20.0, mip_rel_gap=0.0)
    result = solve_microbatch(cost, lengths, options, seed=seed)
    assert result.status == 0
    assert makespan(cost, result.groups, lengths) == pytest.approx(optimum, rel=1e-6)
    assert result.bucketed_makespan == pytest.approx(optimum, rel=1e-6)
    assert sum(d for d, _ in result.groups) == n_gpus
    greedy_groups, greedy_ms = greedy_microbatch(cost, lengths)
    assert greedy_ms >= optimum - 1e-6
    polished = improve(cost, greedy_groups, lengths)
    assert makespan(cost, polished, lengths) <= greedy_ms + 1e-6


def test_milp_uses_degree_one_for_short_sequences():
    cost = small_cluster(8)
    lengths = np.full(8, 2000)
    result = solve_microbatch(cost, lengths, SolverOptions(mip_rel_gap=0.0))
    assert sorted(d for d, _ in result.groups) == [1] * 8


def test_slots_are_pruned_by_the_required_degree():
    cost = small_cluster(8)
    slots = slot_degrees(cost, np.array([4, 1, 1, 1, 1]))
    assert slots.count(4) == 2 and slots.count(8) == 1
    assert slots.count(1) == 4 and slots.count(2) == 2  # what a group of 4 leaves free
    assert all(is_power_of_two(d) for d in slots)


def test_incumbent_bound_keeps_the_milp_feasible_and_no_worse():
    cost = small_cluster(8)
    lengths = np.array([9000, 3000, 3000, 512, 256, 1024])
    groups, greedy_ms = greedy_microbatch(cost, lengths)
    result = solve_microbatch(cost, lengths, SolverOptions(mip_rel_gap=0.0), incumbent=groups)
    assert result.groups is not None
    assert makespan(cost, result.groups, lengths) <= greedy_ms + 1e-6
