"""`textmill warm-up`: compile the numba kernels into numba's cache (see textmill/warmup.py)."""

from __future__ import annotations

import argparse


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "warm-up",
        help="compile the numba kernels into numba's cache, so the first run does not",
        description="Run every stage of a preset (default: fineweb, what `textmill demo` runs) "
        "on the first documents of the bundled sample crawl, later stages in parallel "
        "processes, so that numba compiles their kernels now (~30 CPU-s) and the first real "
        "run loads them from its cache. The cache is numba's: __pycache__ next to the sources, "
        "or NUMBA_CACHE_DIR.",
    )
    parser.add_argument("--preset", default="fineweb", help="preset to warm up (fineweb)")
    parser.add_argument(
        "-w", "--workers", type=int, default=0, help="processes (default: one per core)"
    )
    parser.set_defaults(handler=cmd_warm_up)


def cmd_warm_up(args: argparse.Namespace) -> int:
    from textmill.api import Pipeline
    from textmill.config import PipelineConfigError

    if args.workers < 0:
        raise PipelineConfigError(f"--workers must be >= 0 (got {args.workers})")
    result = Pipeline.from_preset(args.preset).warm_up(workers=args.workers)
    slowest = sorted(result.stage_seconds.items(), key=lambda item: -item[1])[:3]
    print(
        f"textmill warm-up: {args.preset} compiled in {result.seconds:.1f} s with "
        f"{result.processes} processes (slowest: "
        + ", ".join(f"{name} {seconds:.1f} s" for name, seconds in slowest)
        + ")"
    )
    return 0
