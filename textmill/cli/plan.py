"""`textmill plan-sp` and `textmill simulate-sp`: FlexSP sequence-parallel planning commands.

Wired into `textmill.cli` through COMMAND_MODULES; `register(commands)` adds both subparsers.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from textmill.cli.args import number, whole
from textmill.plan.cost import DEFAULT_MEMORY_GIB, CostModel, PlanError
from textmill.plan.profiles import (
    DEFAULT_CLUSTER,
    ProfileError,
    load_cluster_profile,
    load_model_profile,
    shipped_profiles,
)

if TYPE_CHECKING:
    from textmill.plan.planner import PlannerOptions

# the planner, its MILP (scipy.optimize) and the simulator are imported by the commands that
# use them: every `textmill` command builds this parser, and they cost ~0.9 CPU-s to import


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--lengths",
        required=True,
        nargs="+",
        help="token lengths, one integer a line (gzip ok; - = stdin), or a `textmill tokenize` "
        "folder (its documents' lengths; packed: its pieces'); with --tokenizer, a "
        "textmill output directory or Parquet/JSONL files whose texts are tokenized",
    )
    parser.add_argument(
        "--tokenizer",
        default=None,
        help="a Hugging Face tokenizer.json: take lengths by tokenizing the --lengths corpus",
    )
    parser.add_argument(
        "--model",
        default="gpt-7b",
        help=f"model profile: a shipped name ({', '.join(shipped_profiles())}) or a JSON file",
    )
    parser.add_argument(
        "--cluster", default=DEFAULT_CLUSTER, help="bandwidth profile: shipped name or JSON file"
    )
    parser.add_argument("--gpus", type=int, default=64, help="GPUs, a power of two (default 64)")
    parser.add_argument(
        "--memory-gib",
        type=number(above=0),
        default=DEFAULT_MEMORY_GIB,
        help="per-GPU memory budget in GiB (default %(default)s, FlexSP's offline figure)",
    )
    parser.add_argument(
        "--max-context",
        default="192K",
        help="longest sequence the model takes, e.g. 192K (sets the parameter count)",
    )
    parser.add_argument("--seed", type=whole(0), default=0, help="seed for de-bucketing ties")
    parser.add_argument(
        "--time-limit",
        type=number(above=0),
        default=0.5,
        help="MILP seconds per micro-batch (default 0.5)",
    )
    parser.add_argument(
        "--node-limit",
        type=whole(1),
        default=None,
        help="MILP nodes per micro-batch (reproducible)",
    )
    parser.add_argument(
        "--budget",
        type=number(at_least=0),
        default=8.0,
        help="seconds of MILP solving per step before the rest keeps greedy plans (0: none)",
    )
    parser.add_argument("--no-milp", action="store_true", help="greedy layouts only")


def register(commands) -> None:
    """Add `plan-sp` and `simulate-sp` to argparse's subparsers object."""
    plan = commands.add_parser(
        "plan-sp",
        help="plan sequence-parallel groups (FlexSP) for one batch or a stream of batches",
        description="Lengths in, plan JSON out: micro-batches → groups (degree, first_rank, "
        "sequence_ids, lengths, est_ms). With --batch B, consecutive batches of B lengths, one "
        "plan a line (JSONL).",
    )
    _add_common(plan)
    plan.add_argument("--batch", type=whole(1), default=None, help="plan consecutive batches of B")
    plan.add_argument("--out", type=Path, default=None, help="output file (default: stdout)")
    plan.set_defaults(handler=cmd_plan_sp)

    sim = commands.add_parser(
        "simulate-sp",
        help="replay a length distribution through FlexSP and the static/adaptive baselines",
        description="Batches as FlexSP's reference forms them; writes OUT/simulate.json, "
        "OUT/plans.jsonl and OUT/simulate.png (with matplotlib).",
    )
    _add_common(sim)
    sim.add_argument("--batch", type=whole(1), default=512, help="global batch size (default 512)")
    sim.add_argument("--steps", type=whole(1), default=10, help="batches to replay (default 10)")
    sim.add_argument(
        "--static-degree",
        type=whole(1),
        default=None,
        help="static baseline degree (default: auto)",
    )
    sim.add_argument("--no-plot", action="store_true", help="skip the PNG")
    sim.add_argument("--out", type=Path, required=True, help="output folder")
    sim.set_defaults(handler=cmd_simulate_sp)

    from textmill.plan import profile_gpu

    profile = commands.add_parser(
        "profile-gpu",
        help="fit a model profile (cost coefficients, activation memory) on this machine's GPU",
        description=profile_gpu.__doc__.split("\n\n")[0],
    )
    profile_gpu.add_arguments(profile)


def _setup(args: argparse.Namespace) -> tuple[CostModel, PlannerOptions, np.ndarray]:
    from textmill.plan.milp import SolverOptions
    from textmill.plan.planner import PlannerOptions
    from textmill.plan.simulate import parse_tokens

    cost = CostModel(
        load_model_profile(args.model),
        n_gpus=args.gpus,
        max_context=parse_tokens(args.max_context),
        memory_gib=args.memory_gib,
        cluster=load_cluster_profile(args.cluster),
    )
    options = PlannerOptions(
        seed=args.seed,
        solver=SolverOptions(time_limit=args.time_limit, node_limit=args.node_limit),
        use_milp=not args.no_milp,
        step_budget_s=args.budget or None,
    )
    return cost, options, _lengths(args)


def _lengths(args: argparse.Namespace) -> np.ndarray:
    from textmill.plan.simulate import LengthsError, read_lengths

    if args.tokenizer:
        from textmill.plan.lengths import token_lengths

        return token_lengths(args.lengths, args.tokenizer)
    if len(args.lengths) != 1:
        raise LengthsError("give one lengths file (or --tokenizer with a corpus)")
    from textmill.plan.lengths import is_tok_folder, tok_lengths

    if is_tok_folder(args.lengths[0]):
        return tok_lengths(args.lengths[0])
    return read_lengths(args.lengths[0])


def _fail(exc: Exception) -> int:
    print(f"textmill: error: {exc}", file=sys.stderr)
    return 2


def cmd_plan_sp(args: argparse.Namespace) -> int:
    from textmill.plan.planner import plan_batch
    from textmill.plan.simulate import LengthsError

    try:
        cost, options, lengths = _setup(args)
        size = args.batch or max(len(lengths), 1)
        lines = []
        for start in range(0, len(lengths), size):
            result = plan_batch(cost, lengths[start : start + size], options)
            record = result.plan.to_json()
            record["adaptive_est_ms"] = round(result.adaptive.est_ms, 3)
            record["plan_seconds"] = round(result.plan_seconds, 4)
            if args.batch:
                record["first_sequence"] = start
            lines.append(json.dumps(record, separators=(",", ":") if args.batch else None))
    except (ProfileError, PlanError, LengthsError, ValueError, OSError, RuntimeError) as exc:
        return _fail(exc)
    text = "\n".join(lines) + "\n"
    if args.out:
        args.out.write_text(text)
    else:
        sys.stdout.write(text)
    return 0


def cmd_simulate_sp(args: argparse.Namespace) -> int:
    from textmill.plan.simulate import LengthsError, form_batches, simulate, write_outputs

    try:
        cost, options, lengths = _setup(args)
        batches = form_batches(lengths, cost.n_gpus, cost.max_context, args.batch, args.steps)

        def progress(record, _plan) -> None:
            print(
                f"step {record.step}: static {record.static_ms:,.0f} ms, adaptive "
                f"{record.adaptive_ms:,.0f} ms, flexsp {record.flexsp_ms:,.0f} ms "
                f"(planned in {record.plan_seconds:.2f} s)",
                file=sys.stderr,
            )

        report, plans = simulate(cost, batches, options, args.static_degree, progress)
    except (ProfileError, PlanError, LengthsError, ValueError, OSError, RuntimeError) as exc:
        return _fail(exc)
    if not plans:
        source = " ".join(args.lengths)
        return _fail(ValueError(f"{source}: not one full batch of {args.batch} sequences"))
    written = write_outputs(report, plans, args.out, plot=not args.no_plot)
    print(
        f"{report['steps']} steps: {report['speedup_vs_static']:.3f}× over static "
        f"(degree {report['static_degree']}), {report['speedup_vs_adaptive']:.3f}× over adaptive; "
        f"planning ≤ {report['plan_seconds_max']:.2f} s a step. Wrote "
        + ", ".join(str(p) for p in written)
    )
    return 0
