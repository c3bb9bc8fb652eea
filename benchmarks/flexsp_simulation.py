"""FlexSP planning on real Wikipedia lengths: speed-up over static/adaptive, planning time, and
plan quality vs the MILP time limit (issue 8's measurements).

    .venv/bin/python benchmarks/flexsp_simulation.py --steps 30 --time-limits 0 0.25 0.5 1

GPT-7B profile, 64 GPUs, global batch 512, 30 GB budget, max context 192K and 384K, batches as
FlexSP's reference forms them. Time limit 0 means greedy layouts only (no MILP). Targets: ≥ 1.8×
over static at 192K, ≥ 1.6× at 384K, never worse than adaptive, planning ≤ 10 s per step.
Exits 0 with a message when the shared data set is absent.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from textmill.plan.cost import CostModel
from textmill.plan.milp import SolverOptions
from textmill.plan.planner import PlannerOptions
from textmill.plan.profiles import load_model_profile
from textmill.plan.simulate import form_batches, read_lengths, simulate

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "flexsp"
LENGTHS = DATA / "wikipedia_token_lengths.txt.gz"
TARGETS = {196608: 1.8, 393216: 1.6}
REFERENCE = {196608: (1.79, 1.37), 393216: (1.58, 1.30)}  # CPU re-implementation, flexsp.md


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--time-limits", type=float, nargs="+", default=[0.0, 0.5])
    parser.add_argument("--budget", type=float, default=8.0, help="MILP seconds per step")
    parser.add_argument("--contexts", nargs="+", type=int, default=[196608, 393216])
    args = parser.parse_args()
    if not LENGTHS.is_file():
        print(f"{LENGTHS} not found: nothing to benchmark")
        return 0
    lengths = read_lengths(LENGTHS)
    model = load_model_profile("gpt-7b")
    print(f"GPT-7B, 64 GPUs, batch 512, 30 GB, first {args.steps} batches, seed {args.seed}")
    header = (
        "context  limit_s  vs_static  vs_adaptive  worst_step_vs_adaptive  plan_s_mean  plan_s_max"
    )
    print(header)
    for context in args.contexts:
        cost = CostModel(model, 64, context, 30.0)
        for limit in args.time_limits:
            options = PlannerOptions(
                seed=args.seed,
                solver=SolverOptions(time_limit=max(limit, 0.01)),
                use_milp=limit > 0,
                step_budget_s=args.budget,
            )
            started = time.perf_counter()
            batches = form_batches(lengths, 64, context, 512, args.steps)
            report, _ = simulate(cost, batches, options)
            seconds = report["plan_seconds"]
            print(
                f"{context // 1024:>5}K  {limit:>7.2f}  {report['speedup_vs_static']:>9.3f}  "
                f"{report['speedup_vs_adaptive']:>11.3f}  "
                f"{min(report['speedup_vs_adaptive_per_step']):>22.3f}  "
                f"{sum(seconds) / len(seconds):>11.2f}  {max(seconds):>10.2f}"
                f"   ({time.perf_counter() - started:.0f} s)",
                flush=True,
            )
        ref_static, ref_adaptive = REFERENCE.get(context, (None, None))
        if ref_static:
            print(
                f"         target ≥ {TARGETS[context]}× static; reference CPU re-implementation "
                f"{ref_static}× / {ref_adaptive}× in 46–90 s a step"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
