"""FlexSP cost/memory model and profiles: the published figures come out of the formulas."""

import json

import numpy as np
import pytest

from textmill.plan.baselines import adaptive_plan, best_fit_decreasing, static_plan
from textmill.plan.cost import CostModel, PlanError, make_microbatch, plan_violations
from textmill.plan.profiles import (
    ProfileError,
    load_cluster_profile,
    load_model_profile,
    model_profile_to_dict,
    shipped_profiles,
)


def gpt7b(n_gpus=64, context=196608, memory_gib=30.0):
    return CostModel(load_model_profile("gpt-7b"), n_gpus, context, memory_gib)


def test_shipped_profiles_hold_the_published_table():
    assert {"gpt-7b", "gpt-13b", "gpt-30b", "flexsp-8gpu-2ib"} <= set(shipped_profiles())
    p13 = load_model_profile("gpt-13b")
    assert (p13.layers, p13.hidden, p13.beta_ms, p13.act_mib_per_token) == (40, 5120, 1132.56, 4.22)
    bw = load_cluster_profile("flexsp-8gpu-2ib").bandwidth_gbps_by_degree
    assert bw == {2: 119.54, 4: 104.07, 8: 96.5, 16: 10.33, 32: 5.94, 64: 4.87}


def test_user_profile_file_loads_like_a_shipped_one(tmp_path):
    raw = model_profile_to_dict(load_model_profile("gpt-7b"))
    raw["name"], raw["beta_ms"] = "mine", 100.0
    path = tmp_path / "mine.json"
    path.write_text(json.dumps(raw))
    mine = load_model_profile(path)
    assert mine.name == "mine" and mine.beta_ms == 100.0 and mine.alpha2_ms_per_tok == 0.18396
    with pytest.raises(ProfileError, match="shipped"):
        load_model_profile("no-such-model")


def test_tokens_per_gpu_matches_flexsp_figures():
    assert gpt7b(memory_gib=28.0).tokens_per_gpu == 5993  # "≈ 6,000 tokens per GPU at 28 GB"
    assert gpt7b().tokens_per_gpu == 6450
    assert gpt7b(context=393216).tokens_per_gpu == 6408


def test_4k_sequence_costs_match_the_worked_example():
    cost = gpt7b()
    comp8, comp16 = (5.128e-6 * 4096**2 + 0.18396 * 4096) / np.array([8, 16])
    assert float(cost.seq_ms(4096, 8)) == pytest.approx(comp8 + 1024 / 96.5)
    assert round(comp8) == 105 and round(float(cost.seq_ms(4096, 8)) - comp8) == 11
    assert round(comp16) == 52 and round(float(cost.seq_ms(4096, 16)) - comp16) == 50
    assert float(cost.seq_ms(4096, 1)) == pytest.approx(comp8 * 8)  # no all-to-all at d = 1


def test_d_min_is_the_next_power_of_two_of_the_memory_need():
    cost = gpt7b()
    assert cost.d_min(np.array([1, 6450, 6451, 3 * 6450, 196480])).tolist() == [1, 1, 2, 4, 32]
    assert cost.group_ms([], 4) == 0.0


def test_static_degree_needs_to_hold_the_longest_sequence():
    cost = gpt7b(n_gpus=8, context=8192)
    with pytest.raises(PlanError):
        cost.check_lengths(np.array([10**7]))
    with pytest.raises(ValueError, match="cannot hold"):
        static_plan(cost, np.array([cost.tokens_per_gpu * 3]), 2)


def test_placement_is_ascending_and_aligned():
    cost = gpt7b(n_gpus=16)
    lengths = np.arange(1, 9) * 100
    mb = make_microbatch(cost, [(8, [0]), (1, [1]), (2, [2]), (1, [3]), (4, [4, 5, 6, 7])], lengths)
    assert [(g.degree, g.first_rank) for g in mb.groups] == [(1, 0), (1, 1), (2, 2), (4, 4), (8, 8)]
    assert all(g.first_rank % g.degree == 0 for g in mb.groups)


def test_best_fit_decreasing_fills_the_fullest_bin_that_fits():
    bins = best_fit_decreasing(np.array([6, 5, 4, 3, 2]), 10)
    assert sorted(map(sorted, bins)) == [[0, 2], [1, 3, 4]]


def test_baselines_are_valid_and_adaptive_beats_static():
    rng = np.random.default_rng(3)
    cost = gpt7b(n_gpus=16, context=65536)
    lengths = (rng.pareto(1.2, 64) * 400 + 128).astype(np.int64).clip(max=60000)
    static = static_plan(cost, lengths, 16)
    adaptive = adaptive_plan(cost, lengths)
    assert plan_violations(cost, static, lengths, full_cluster=False) == []
    assert plan_violations(cost, adaptive, lengths, full_cluster=False) == []
    assert adaptive.est_ms <= static.est_ms
