"""Real pylint vs textmill's ruff score: keep/drop agreement at SwallowCode's 7.0 and speed.

Data: the Python files of ../shared/data/code/code_files.jsonl.gz (`lang == "python"`; 97 files
from 6 repositories, 80 of them flask). Every file is linted by both engines, as the
`lint_score` stage runs them: each file alone, SwallowCode's disabled checks, syntax gate and
pylint's statement count; scores with and without SwallowCode's comment penalty.

Split: a file is in the CALIBRATION half when crc32(id) is even, else HELD-OUT. `--calibrate`
fits the ruff weights (per-category multipliers and unseen messages per statement, non-negative
least squares on pylint's per-statement penalty) on the calibration half only and prints them
for `textmill/code/lint/ruff_rules.py::RUFF_WEIGHTS`; agreement is always reported per split.

Speed: pylint with `--workers` processes (default 2) after every worker has started and warmed
up (start-up is once per run, reported apart), timed on linting alone; the ruff score as the
stage runs it (parse, statements, AST checks, the ruff binary with one thread, comment
penalty), in this process. Files/s per core = files per CPU second (the workers' or this
process's and its ruff children's user + system time), which a shared machine does not skew;
wall-clock figures (pylint per worker) are printed too.

usage: PYTHONPATH=. python benchmarks/lint_agreement.py [--workers 2] [--calibrate]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import resource
import sys
import time
import zlib
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from textmill.code.lint.comments import comment_ratio  # noqa: E402
from textmill.code.lint.measure import checked_python, ruff_counts, score_python  # noqa: E402
from textmill.code.lint.pylint_engine import SWALLOWCODE_DISABLE, PylintPool  # noqa: E402
from textmill.code.lint.ruff_engine import ruff_score  # noqa: E402
from textmill.code.lint.ruff_rules import RUFF_WEIGHTS  # noqa: E402
from textmill.code.lint.score import (  # noqa: E402
    CATEGORIES,
    apply_comment_penalty,
    parse_python,
    pylint_score,
)

_RELATIVE = Path("shared/data/code/code_files.jsonl.gz")
DATA = next(
    (p / _RELATIVE for p in ROOT.parents if (p / _RELATIVE).is_file()), ROOT.parent / _RELATIVE
)
THRESHOLD = 7.0


def load_python_files() -> list[dict]:
    with gzip.open(DATA, "rt", encoding="utf-8") as handle:
        records = [json.loads(line) for line in handle if line.strip()]
    return [r for r in records if (r.get("lang") or "").lower() == "python"]


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a live process has used (/proc/PID/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_pylint(sources: list[str], workers: int, time_limit: float) -> tuple[list[dict], dict]:
    pool = PylintPool(workers, time_limit, SWALLOWCODE_DISABLE)
    started = time.perf_counter()
    pool.lint(["x = 1\n"] * workers)  # every worker up, pylint imported and warmed up
    startup = time.perf_counter() - started
    pids = [proc.pid for proc in pool._procs if proc is not None]
    cpu_before = sum(_cpu_seconds(pid) for pid in pids)
    started = time.perf_counter()
    results = pool.lint(sources)
    wall = time.perf_counter() - started
    alive = [proc.pid for proc in pool._procs if proc is not None]
    cpu = sum(_cpu_seconds(pid) for pid in alive) - cpu_before if alive == pids else float("nan")
    pool.close()
    return results, {"startup_s": startup, "wall_s": wall, "cpu_s": cpu}


def fit_weights(counts: dict[str, np.ndarray], statements: np.ndarray, target: np.ndarray):
    """Non-negative weights w so that 5·w_e·e + w_w·w + w_r·r + w_c·c + unseen·s ≈ pylint's
    penalty, per statement (the score is linear in penalty / statements)."""
    from scipy.optimize import nnls

    s = statements.astype(float)
    columns = [5 * counts["error"], counts["warning"], counts["refactor"], counts["convention"]]
    design = np.column_stack([c / s for c in columns] + [np.ones_like(s)])
    solution, _ = nnls(design, target / s)
    names = [*CATEGORIES, "unseen"]
    return {name: round(float(v), 4) for name, v in zip(names, solution, strict=True)}


def agreement_table(name: str, pylint: np.ndarray, ruff: np.ndarray) -> dict:
    keep_p, keep_r = pylint >= THRESHOLD, ruff >= THRESHOLD
    matrix = {
        "pylint keep, ruff keep": int(np.sum(keep_p & keep_r)),
        "pylint keep, ruff drop": int(np.sum(keep_p & ~keep_r)),
        "pylint drop, ruff keep": int(np.sum(~keep_p & keep_r)),
        "pylint drop, ruff drop": int(np.sum(~keep_p & ~keep_r)),
    }
    pearson = float(np.corrcoef(pylint, ruff)[0, 1]) if len(pylint) > 2 else float("nan")
    ranks = [np.argsort(np.argsort(v)) for v in (pylint, ruff)]
    spearman = float(np.corrcoef(*ranks)[0, 1]) if len(pylint) > 2 else float("nan")
    row = {
        "split": name,
        "files": len(pylint),
        "agreement": float(np.mean(keep_p == keep_r)) if len(pylint) else float("nan"),
        "pearson": pearson,
        "spearman": spearman,
        "mean_abs_diff": float(np.mean(np.abs(pylint - ruff))),
        **matrix,
    }
    print(
        f"  {name:<12} files {row['files']:>3}  agreement {row['agreement']:.1%}  "
        f"pearson {pearson:.3f}  spearman {spearman:.3f}  |Δscore| {row['mean_abs_diff']:.2f}"
    )
    print("               " + "  ".join(f"{k}: {v}" for k, v in matrix.items()))
    return row


def report_wall(files: int, timing: dict, workers: int) -> float:
    """pylint's files per wall second per worker."""
    return files / timing["wall_s"] / workers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--time-limit", type=float, default=60.0)
    parser.add_argument("--calibrate", action="store_true")
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args()

    files = load_python_files()
    sources = [r["content"] for r in files]
    parsed = [i for i, s in enumerate(sources) if parse_python(s) is not None]
    print(f"{len(files)} Python files in {DATA}, {len(parsed)} parse")
    texts = [sources[i] for i in parsed]
    calibration = np.array([zlib.crc32(files[i]["id"].encode()) % 2 == 0 for i in parsed])

    results, timing = run_pylint(texts, args.workers, args.time_limit)
    lints = [r["lint"] for r in results]
    failed = np.array([lint["failure"] is not None for lint in lints])
    p_counts = {c: np.array([lint[c] for lint in lints], float) for c in CATEGORIES}
    p_statements = np.array([lint["statements"] for lint in lints])
    p_fatal = np.array([lint["fatal"] for lint in lints])
    pylint_raw = pylint_score(*(p_counts[c] for c in CATEGORIES), p_statements, p_fatal)
    penalty = 5 * p_counts["error"] + sum(p_counts[c] for c in CATEGORIES[1:])

    counts, statements = ruff_counts(texts, [checked_python(t) for t in texts])
    weights = dict(RUFF_WEIGHTS)
    if args.calibrate:
        fit = calibration & ~failed & (statements > 0) & (p_fatal == 0)
        weights = fit_weights({c: v[fit] for c, v in counts.items()}, statements[fit], penalty[fit])
        print(f"fitted on {int(fit.sum())} calibration files: RUFF_WEIGHTS = {weights}")
    ruff_raw = ruff_score(counts, statements, weights)

    # speed of the whole ruff path as the stage runs it (parse, ruff, AST checks, penalty),
    # warm like pylint's workers: the comment scan's numba kernel loaded (once per process)
    comment_ratio("x = 1  # warm-up\n")
    started, cpu_started = time.perf_counter(), time.process_time() + _children_cpu()
    score_python(texts, "ruff")
    ruff_wall = time.perf_counter() - started
    ruff_cpu = time.process_time() + _children_cpu() - cpu_started
    # the comment penalty's tokenizing is the stage's cost whichever engine: the linters alone
    cpu_started = time.process_time() + _children_cpu()
    score_python(texts, "ruff", comment_penalty=False)
    ruff_lint_cpu = time.process_time() + _children_cpu() - cpu_started
    cpu_started = time.process_time()
    for text in texts:
        parse_python(text)
    parse_cpu = time.process_time() - cpu_started

    ratios = np.array([comment_ratio(t) for t in texts])
    scored = ~failed & (p_statements > 0) & ~np.isnan(ruff_raw)
    report: dict = {"files": len(files), "parsed": len(parsed), "pylint_failed": int(failed.sum())}
    for label, p_scores, r_scores in (
        ("with comment penalty (stage default)", apply_comment_penalty(pylint_raw, ratios),
         apply_comment_penalty(ruff_raw, ratios)),
        ("pylint score alone", pylint_raw, ruff_raw),
    ):  # fmt: skip
        print(f"agreement at {THRESHOLD}, {label}:")
        rows = []
        for name, mask in (("held-out", ~calibration), ("calibration", calibration), ("all", None)):
            keep = scored if mask is None else scored & mask
            rows.append(agreement_table(name, p_scores[keep], r_scores[keep]))
        report[label] = rows

    # per core: files per CPU second (robust to a shared machine), and per wall second
    pylint_per_core = len(texts) / timing["cpu_s"]
    ruff_per_core = len(texts) / ruff_cpu
    report.update(
        pylint_workers=args.workers,
        pylint_startup_s=timing["startup_s"],
        pylint_wall_s=timing["wall_s"],
        pylint_cpu_s=timing["cpu_s"],
        pylint_files_per_cpu_s=pylint_per_core,
        pylint_files_per_wall_s_per_worker=len(texts) / timing["wall_s"] / args.workers,
        ruff_wall_s=ruff_wall,
        ruff_cpu_s=ruff_cpu,
        ruff_files_per_cpu_s=ruff_per_core,
        ruff_files_per_wall_s=len(texts) / ruff_wall,
        speed_ratio_cpu=ruff_per_core / pylint_per_core,
        speed_ratio_wall=(len(texts) / ruff_wall) / report_wall(len(texts), timing, args.workers),
        ruff_cpu_s_without_comment_penalty=ruff_lint_cpu,
        # pylint's path in the stage parses every file too (the syntax gate)
        speed_ratio_cpu_linters_alone=(timing["cpu_s"] + parse_cpu) / ruff_lint_cpu,
        weights=weights,
    )
    print(
        f"pylint: {len(texts)} files in {timing['wall_s']:.1f} s wall, "
        f"{timing['cpu_s']:.1f} CPU s, {args.workers} workers "
        f"(+{timing['startup_s']:.1f} s start-up): "
        f"{pylint_per_core:.2f} files per CPU second; {int(failed.sum())} failed"
    )
    print(
        f"ruff score: {ruff_wall:.2f} s wall, {ruff_cpu:.2f} CPU s: {ruff_per_core:.0f} files per "
        f"CPU second; speed ratio per core {report['speed_ratio_cpu']:.0f}x (CPU), "
        f"{report['speed_ratio_wall']:.0f}x (wall, pylint per worker)"
    )
    print(
        f"linters alone (no comment penalty, which either engine's stage pays): ruff score "
        f"{ruff_lint_cpu:.2f} CPU s, pylint + syntax gate {timing['cpu_s'] + parse_cpu:.1f} CPU s: "
        f"{report['speed_ratio_cpu_linters_alone']:.0f}x"
    )
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
