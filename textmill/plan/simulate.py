"""Replay a length distribution through the FlexSP planner and its baselines, step by step.

Batches are formed as FlexSP's reference does (flexsp.md): lengths in file order, each rounded up
to a multiple of 2N, sequences longer than max_context − 2N dropped, consecutive batches of the
global batch size. Each step is planned three ways — static degree (default: the smallest degree
that holds max_context), adaptive (best homogeneous degree), FlexSP — and the report gives
estimated step times, speed-ups, planning seconds, and whether planning fits inside the previous
step's estimated GPU time (so it can run overlapped, on the CPU, one step ahead).
"""

from __future__ import annotations

import gzip
import io
import json
import re
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from textmill.plan.baselines import static_plan
from textmill.plan.cost import CostModel, Plan
from textmill.plan.planner import PlannerOptions, plan_batch


class LengthsError(ValueError):
    """An unreadable lengths file, with the line that broke it."""


def parse_tokens(text: str | int) -> int:
    """'192K' → 196608, '1M' → 1048576, '4096' → 4096 (K and M are binary, as in FlexSP)."""
    if isinstance(text, int):
        return text
    match = re.fullmatch(r"\s*(\d+)\s*([kKmM]?)\s*", str(text))
    if not match:
        raise ValueError(f"not a token count: {text!r} (e.g. 4096, 192K, 1M)")
    scale = {"": 1, "k": 1024, "m": 1024 * 1024}[match.group(2).lower()]
    return int(match.group(1)) * scale


def read_lengths(path: str | Path) -> np.ndarray:
    """One integer a line, optionally gzip; '-' reads standard input. Blank lines are skipped."""
    if str(path) == "-":
        stream: io.TextIOBase = sys.stdin
    else:
        raw = Path(path).read_bytes()
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
        stream = io.StringIO(raw.decode("utf-8"))
    values = []
    for number, line in enumerate(stream, 1):
        line = line.strip()
        if not line:
            continue
        try:
            value = int(line)
        except ValueError:
            raise LengthsError(f"{path}, line {number:,}: not an integer ({line[:40]!r})") from None
        if value < 0:
            raise LengthsError(f"{path}, line {number:,}: negative length {value}")
        values.append(value)
    return np.array(values, dtype=np.int64)


def form_batches(
    lengths, n_gpus: int, max_context: int, batch_size: int, steps: int | None = None
) -> Iterator[np.ndarray]:
    """The reference's batches: round up to 2N, drop > max_context − 2N, full batches in order."""
    step = 2 * n_gpus
    lengths = np.asarray(lengths, dtype=np.int64)
    lengths = lengths[lengths > 0]
    rounded = -(-lengths // step) * step
    kept = rounded[rounded <= max_context - step]
    n_batches = len(kept) // batch_size
    if steps is not None:
        n_batches = min(n_batches, steps)
    for b in range(n_batches):
        yield kept[b * batch_size : (b + 1) * batch_size]


def default_static_degree(cost: CostModel) -> int:
    """The smallest degree that holds the longest allowed sequence (32 at 192K, 64 at 384K)."""
    return min(int(cost.d_min(cost.max_context - 2 * cost.n_gpus)), cost.n_gpus)


@dataclass
class StepRecord:
    step: int
    n_sequences: int
    tokens: int
    max_length: int
    static_ms: float
    adaptive_ms: float
    adaptive_method: str
    flexsp_ms: float
    flexsp_method: str
    micro_batches: int
    milps_solved: int
    plan_seconds: float
    overlaps_previous_step: bool | None


def degree_usage(plans: list[Plan]) -> dict[int, float]:
    """Share of GPU-time (degree × est_ms) spent in groups of each degree."""
    usage: dict[int, float] = {}
    for plan in plans:
        for mb in plan.micro_batches:
            for g in mb.groups:
                usage[g.degree] = usage.get(g.degree, 0.0) + g.degree * g.est_ms
    total = sum(usage.values()) or 1.0
    return {d: round(v / total, 4) for d, v in sorted(usage.items())}


def simulate(
    cost: CostModel,
    batches: Iterator[np.ndarray],
    options: PlannerOptions | None = None,
    static_degree: int | None = None,
    on_step: Callable[[StepRecord, Plan], None] | None = None,
) -> tuple[dict, list[Plan]]:
    """Plan every batch; return the report (see module docstring) and the FlexSP plans."""
    options = options or PlannerOptions()
    static_degree = static_degree or default_static_degree(cost)
    records: list[StepRecord] = []
    plans: list[Plan] = []
    for step, lengths in enumerate(batches):
        static = static_plan(cost, lengths, static_degree)
        result = plan_batch(cost, lengths, options)
        previous = records[-1].flexsp_ms if records else None
        overlaps = None if previous is None else result.plan_seconds * 1e3 <= previous
        record = StepRecord(
            step=step,
            n_sequences=len(lengths),
            tokens=int(lengths.sum()),
            max_length=int(lengths.max()) if len(lengths) else 0,
            static_ms=round(static.est_ms, 3),
            adaptive_ms=round(result.adaptive.est_ms, 3),
            adaptive_method=result.adaptive.method,
            flexsp_ms=round(result.plan.est_ms, 3),
            flexsp_method=result.plan.method,
            micro_batches=len(result.plan.micro_batches),
            milps_solved=result.milps_solved,
            plan_seconds=round(result.plan_seconds, 4),
            overlaps_previous_step=overlaps,
        )
        records.append(record)
        plans.append(result.plan)
        if on_step is not None:
            on_step(record, result.plan)
    total = {
        k: sum(getattr(r, k) for r in records) for k in ("static_ms", "adaptive_ms", "flexsp_ms")
    }
    flexsp_total = total["flexsp_ms"] or 1.0
    report = {
        "model": cost.model.name,
        "cluster": cost.cluster.name,
        "gpus": cost.n_gpus,
        "memory_gib": cost.memory_gib,
        "max_context": cost.max_context,
        "tokens_per_gpu": cost.tokens_per_gpu,
        "static_degree": static_degree,
        "seed": options.seed,
        "time_limit_s": options.solver.time_limit,
        "steps": len(records),
        "speedup_vs_static": round(total["static_ms"] / flexsp_total, 4),
        "speedup_vs_adaptive": round(total["adaptive_ms"] / flexsp_total, 4),
        "speedup_vs_static_per_step": [round(r.static_ms / r.flexsp_ms, 4) for r in records],
        "speedup_vs_adaptive_per_step": [round(r.adaptive_ms / r.flexsp_ms, 4) for r in records],
        "plan_seconds": [r.plan_seconds for r in records],
        "plan_seconds_max": max((r.plan_seconds for r in records), default=0.0),
        "degree_usage": {str(d): v for d, v in degree_usage(plans).items()},
        "per_step": [r.__dict__ for r in records],
    }
    return report, plans


def write_outputs(report: dict, plans: list[Plan], out_dir: Path, plot: bool = True) -> list[Path]:
    """DIR/simulate.json, DIR/plans.jsonl and, with matplotlib, DIR/simulate.png."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = [out_dir / "simulate.json", out_dir / "plans.jsonl"]
    written[0].write_text(json.dumps(report, indent=2) + "\n")
    with written[1].open("w") as handle:
        for plan in plans:
            handle.write(json.dumps(plan.to_json(), separators=(",", ":")) + "\n")
    if plot and (png := plot_report(report, out_dir / "simulate.png")) is not None:
        written.append(png)
    return written


def plot_report(report: dict, path: Path) -> Path | None:
    """Speed-up per batch and GPU-time share per group degree; None without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    steps = range(report["steps"])
    left.plot(steps, report["speedup_vs_static_per_step"], marker="o", label="vs static")
    left.plot(steps, report["speedup_vs_adaptive_per_step"], marker="s", label="vs adaptive")
    left.axhline(1.0, color="grey", linewidth=0.8)
    left.set_xlabel("step")
    left.set_ylabel("estimated speed-up of FlexSP")
    left.legend()
    usage = report["degree_usage"]
    right.bar([str(d) for d in usage], list(usage.values()))
    right.set_xlabel("SP group degree")
    right.set_ylabel("share of GPU-time")
    fig.suptitle(
        f"{report['model']}, {report['gpus']} GPUs, context {report['max_context']:,}: "
        f"{report['speedup_vs_static']:.2f}× static, {report['speedup_vs_adaptive']:.2f}× adaptive"
    )
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
