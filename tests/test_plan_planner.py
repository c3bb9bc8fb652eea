"""The step planner, the simulator and the CLI: invariants, guarantees, determinism, outputs."""

import argparse
import gzip
import json

import numpy as np
import pytest

from textmill.cli import plan as cli_plan
from textmill.plan.baselines import homogeneous_plan
from textmill.plan.blaster import bound_partitions
from textmill.plan.cost import CostModel, plan_violations
from textmill.plan.milp import SolverOptions
from textmill.plan.planner import PlannerOptions, lower_bound_ms, plan_batch
from textmill.plan.profiles import load_model_profile
from textmill.plan.simulate import form_batches, parse_tokens, read_lengths

FAST = PlannerOptions(
    seed=7, solver=SolverOptions(time_limit=5.0, node_limit=30), step_budget_s=None
)


def cluster(n_gpus=16, context=32768):
    return CostModel(load_model_profile("gpt-7b"), n_gpus, context, 30.0)


def long_tail_batch(rng, n, cap):
    """Wikipedia-like: mostly short, a few long sequences."""
    lengths = (rng.pareto(1.1, n) * 300 + 64).astype(np.int64)
    return np.minimum(lengths, cap)


@pytest.mark.parametrize("seed", range(4))
def test_plans_of_random_batches_keep_every_invariant(seed):
    rng = np.random.default_rng(seed)
    cost = cluster()
    lengths = long_tail_batch(rng, 48, cost.capacity(cost.n_gpus) // 2)
    plan = plan_batch(cost, lengths, FAST).plan
    assert plan_violations(cost, plan, lengths) == []
    ids = sorted(i for mb in plan.micro_batches for g in mb.groups for i in g.sequence_ids)
    assert ids == list(range(len(lengths)))
    for mb in plan.micro_batches:
        assert sum(g.degree for g in mb.groups) == cost.n_gpus
        ranks = [(g.first_rank, g.degree) for g in mb.groups]
        assert ranks == sorted(ranks, key=lambda r: r[1]) and all(r % d == 0 for r, d in ranks)


@pytest.mark.parametrize("seed", range(4))
def test_planner_is_never_worse_than_any_homogeneous_plan(seed):
    rng = np.random.default_rng(10 + seed)
    cost = cluster()
    lengths = long_tail_batch(rng, 40, cost.capacity(cost.n_gpus) // 3)
    result = plan_batch(cost, lengths, FAST)
    for degree in cost.degrees:
        homogeneous = homogeneous_plan(cost, lengths, degree)
        if homogeneous is not None:
            assert result.plan.est_ms <= homogeneous.est_ms + 1e-6
    assert result.plan.est_ms >= sum(lower_bound_ms(cost, lengths) for _ in [0]) - 1e-6


def test_planner_beats_adaptive_on_a_long_tail_batch():
    rng = np.random.default_rng(5)
    cost = cluster()
    lengths = long_tail_batch(rng, 64, 60000)
    lengths[0] = 60000  # needs a big group: adaptive must run everything at that degree
    result = plan_batch(cost, lengths, FAST)
    assert result.plan.est_ms < 0.95 * result.adaptive.est_ms


def test_same_seed_gives_the_same_plan():
    rng = np.random.default_rng(1)
    cost = cluster()
    lengths = long_tail_batch(rng, 48, 20000)
    first = plan_batch(cost, lengths, FAST).plan.to_json()
    second = plan_batch(cost, lengths, FAST).plan.to_json()
    assert json.dumps(first) == json.dumps(second)


def test_bound_partitions_isolate_a_sequence_that_needs_the_whole_cluster():
    lengths = np.array([100, 1000, 50, 900, 200])
    calls = []

    def bound(i, j):
        calls.append(j)
        return np.where(i == 0, 10.0 * (j - i), 1.0 * (j - i))

    cuts = bound_partitions(lengths, 3, bound, chunk_tokens=10**6)
    assert set(cuts) == {1, 2, 3}
    assert cuts[2][0].tolist() == [1]  # the longest alone: its chunk's bound is steep


def test_batches_are_formed_like_the_reference():
    lengths = np.array([1, 128, 129, 1000, 2000, 300])
    batches = list(form_batches(lengths, n_gpus=64, max_context=1100, batch_size=2))
    assert [b.tolist() for b in batches] == [[128, 128], [256, 384]]  # 1000 → 1024 > 1100 − 128
    assert parse_tokens("192K") == 196608 and parse_tokens("1M") == 2**20


def test_lengths_file_reads_plain_and_gzip(tmp_path):
    plain, packed = tmp_path / "l.txt", tmp_path / "l.txt.gz"
    plain.write_text("10\n\n20\n")
    packed.write_bytes(gzip.compress(b"30\n40\n"))
    assert read_lengths(plain).tolist() == [10, 20]
    assert read_lengths(packed).tolist() == [30, 40]
    plain.write_text("10\nten\n")
    with pytest.raises(ValueError, match="line 2"):
        read_lengths(plain)


def run_cli(argv):
    parser = argparse.ArgumentParser(prog="textmill")
    cli_plan.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.handler(args)


def test_simulate_sp_writes_report_and_checkable_plans(tmp_path):
    rng = np.random.default_rng(2)
    lengths = long_tail_batch(rng, 200, 30000)
    source = tmp_path / "lengths.txt.gz"
    source.write_bytes(gzip.compress("\n".join(map(str, lengths)).encode()))
    out = tmp_path / "sim"
    argv = ["simulate-sp", "--lengths", str(source), "--gpus", "16", "--batch", "64",
            "--max-context", "32K", "--steps", "2", "--seed", "3", "--node-limit", "100",
            "--budget", "0", "--no-plot", "--out", str(out)]  # fmt: skip
    assert run_cli(argv) == 0
    report = json.loads((out / "simulate.json").read_text())
    assert report["steps"] == 2 and len(report["plan_seconds"]) == 2
    assert report["speedup_vs_adaptive"] >= 1.0 and report["speedup_vs_static"] >= 1.0
    cost = cluster(16, 32768)
    batches = list(form_batches(lengths, 16, 32768, 64, 2))
    lines = (out / "plans.jsonl").read_text().splitlines()
    for line, batch, step in zip(lines, batches, report["per_step"], strict=True):
        plan = json.loads(line)
        total = 0.0
        for mb in plan["micro_batches"]:
            assert sum(g["degree"] for g in mb["groups"]) == 16
            worst = 0.0
            for g in mb["groups"]:
                assert g["lengths"] == batch[g["sequence_ids"]].tolist()
                assert cost.group_ms(g["lengths"], g["degree"]) == pytest.approx(
                    g["est_ms"], abs=1e-3
                )
                worst = max(worst, g["est_ms"])
            total += worst
        assert total == pytest.approx(step["flexsp_ms"], abs=0.1)


def test_plan_sp_reads_stdin_and_reports_bad_input(tmp_path, monkeypatch, capsys):
    source = tmp_path / "l.txt"
    source.write_text("4096\n8192\n1000\n300\n300\n")
    assert run_cli(["plan-sp", "--lengths", str(source), "--gpus", "8", "--max-context", "8K"]) == 0
    plan = json.loads(capsys.readouterr().out)
    ids = sorted(i for mb in plan["micro_batches"] for g in mb["groups"] for i in g["sequence_ids"])
    assert ids == [0, 1, 2, 3, 4]
    source.write_text("99999999\n")
    assert run_cli(["plan-sp", "--lengths", str(source), "--gpus", "8"]) == 2
    assert "exceeds" in capsys.readouterr().err
