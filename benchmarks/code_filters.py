"""Speed of the code filters and of the whole `code` preset, in files/s per core, on the 2,462
real source files of ../shared/data/code (11 repositories), side by side with a per-file
Python version of the same StarCoder line heuristics (the way BigCode's filtering scripts
run them: one `str` at a time), whose keep/drop decisions are compared.

Each filter is timed on one core in CPU seconds (`time.process_time`, so that a shared
machine's waiting does not count), after a warm-up batch (numba kernels, grammars loaded),
best of `--repeats`. The whole preset runs through `Pipeline.run` with one worker, timed as
CPU seconds of the driver and its worker together, and as wall-clock; the folder-of-
repositories reader is timed on the same files written out as 11 checkouts.

What a user pays: `textmill run --preset code` as a command (a fresh interpreter: start-up,
imports, reading, the stages, writing, report and dataset card), timed as the CPU seconds of
that process and its children (the ruff binary) from `wait4`, best and median of `--repeats`
after one untimed run (the first run after an install compiles numba's kernels and builds the
Unicode tables, which `textmill warmup` does ahead). Bytecode is written and used, as for an
installed package (PYTHONDONTWRITEBYTECODE is dropped for the command).

usage: .venv/bin/python benchmarks/code_filters.py [--input PATH] [--repeats N]
"""

from __future__ import annotations

import os

for _name in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_name] = "1"

import argparse  # noqa: E402
import gzip  # noqa: E402
import json  # noqa: E402
import resource  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections import Counter  # noqa: E402
from pathlib import Path  # noqa: E402

import pyarrow as pa  # noqa: E402

HERE = Path(__file__).resolve().parent
# ../shared/data beside the checkout (a worktree sits one level deeper: the nearest one up)
SHARED = next((p / "shared" for p in HERE.parents if (p / "shared" / "data").is_dir()), HERE)
DATA = SHARED / "data" / "code" / "code_files.jsonl.gz"
FILTERS = ("code_heuristics", "code_syntax")
BATCH = 1000


def pin_to_one_core() -> int | None:
    if not hasattr(os, "sched_setaffinity"):
        return None
    core = sorted(os.sched_getaffinity(0))[0]
    os.sched_setaffinity(0, {core})
    return core


def read_table(path: Path) -> pa.Table:
    """The files as the code reader gives them (`--input-kind code`)."""
    from textmill.io import ReadOptions, plan_shards, read_shard
    from textmill.runner import concat_tables

    shards, _ = plan_shards([str(path)], input_kind="code")
    options = ReadOptions(input_kind="code", batch_size=100_000)
    return concat_tables([read.docs for shard in shards for read in read_shard(shard, options)])


def batches(table: pa.Table) -> list[pa.Table]:
    return [table.slice(start, BATCH) for start in range(0, table.num_rows, BATCH)]


def time_filter(name: str, table: pa.Table, repeats: int) -> tuple[float, dict[str, int]]:
    from textmill.pipeline import build_stage

    stage = build_stage(name)
    stage.setup()
    stage.process(table.slice(0, 200))  # warm-up: kernels compiled or loaded, grammars loaded
    best, reasons = float("inf"), Counter()
    for _ in range(repeats):
        reasons = Counter()
        started = time.process_time()
        for batch in batches(table):
            _, decision = stage.process(batch)
            reasons.update(decision.dropped_reasons())
        best = min(best, time.process_time() - started)
    return best, dict(reasons)


def time_dedup(table: pa.Table, repeats: int) -> dict[str, float]:
    """exact_dedup and minhash_dedup (code shingles) as an executor runs them: signatures per
    batch, one reduce, apply per batch; CPU seconds, best of `repeats`."""
    import pyarrow.parquet as pq

    from textmill.config import load_preset
    from textmill.document import assign_keys
    from textmill.pipeline import build_stage

    options = {spec.name: spec.options for spec in load_preset("code")}
    keyed = [assign_keys(b, k, 0) for k, b in enumerate(batches(table))]
    seconds = {}
    for name in ("exact_dedup", "minhash_dedup"):
        stage = build_stage(name, options[name])
        stage.signatures(keyed[0].slice(0, 50))  # warm-up
        best = float("inf")
        for _ in range(repeats):
            with tempfile.TemporaryDirectory() as work:
                started = time.process_time()
                files = []
                for k, batch in enumerate(keyed):
                    files.append(Path(work) / f"s{k}.parquet")
                    pq.write_table(stage.signatures(batch), files[-1])
                decisions = stage.reduce(files, Path(work) / "reduce")
                for batch in keyed:
                    stage.apply(batch, decisions)
                best = min(best, time.process_time() - started)
        seconds[name] = best
    return seconds


def cpu_seconds() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def time_preset(
    inputs: list[str], input_kind: str, stages: list[str] | None = None
) -> tuple[float, float, dict]:
    """The `code` preset (or `stages`) through Pipeline.run with one worker."""
    from textmill import Pipeline

    pipeline = Pipeline(stages) if stages else Pipeline.from_preset("code")
    with tempfile.TemporaryDirectory() as out:
        cpu, wall = cpu_seconds(), time.perf_counter()
        stats = pipeline.run(
            inputs, Path(out) / "run", workers=1, progress=False, input_kind=input_kind
        )
        return cpu_seconds() - cpu, time.perf_counter() - wall, stats


def time_cli(inputs: list[str], input_kind: str, repeats: int) -> tuple[list[float], list[float]]:
    """CPU and wall seconds of `textmill run --preset code` as a command, one per repeat (after
    one untimed run)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(HERE.parent), env.get("PYTHONPATH")]))
    cpu, wall = [], []
    for attempt in range(repeats + 1):
        with tempfile.TemporaryDirectory() as out:
            command = [
                sys.executable, "-m", "textmill", "run", "--preset", "code", "--input-kind",
                input_kind, "-w", "1", "--no-progress", *inputs, "-o", str(Path(out) / "run"),
            ]  # fmt: skip
            started = time.perf_counter()
            process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL)
            _, status, usage = os.wait4(process.pid, 0)
            if os.waitstatus_to_exitcode(status) != 0:
                raise RuntimeError(f"{' '.join(command)} failed ({status})")
            if attempt:  # the first run warms the numba and table caches
                wall.append(time.perf_counter() - started)
                cpu.append(usage.ru_utime + usage.ru_stime)
    return cpu, wall


def write_checkouts(path: Path, folder: Path) -> int:
    """The records as checkouts `folder/owner__name/` (with a `.git/config` naming the remote)."""
    count = 0
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        for line in handle:
            record = json.loads(line)
            repo = folder / record["repo"].replace("/", "__")
            if not (repo / ".git").exists():
                (repo / ".git").mkdir(parents=True)
                remote = f'[remote "origin"]\n\turl = https://github.com/{record["repo"]}.git\n'
                (repo / ".git" / "config").write_text(remote)
            target = repo / record["path"]
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(record["content"], encoding="utf-8")
            count += 1
    return count


def python_line_rules(texts: list[str]) -> tuple[float, list[bool]]:
    """Per-file Python, BigCode-script style: max line > 1,000, mean line > 100, alphanumeric
    share < 0.25 (no exemptions)."""
    started = time.process_time()
    keep = []
    for text in texts:
        lines = text.splitlines() or [""]
        lengths = [len(line) for line in lines]
        alnum = sum(c.isalpha() or c.isdecimal() for c in text) / max(1, len(text))
        keep.append(max(lengths) <= 1000 and sum(lengths) / len(lengths) <= 100 and alnum >= 0.25)
    return time.process_time() - started, keep


def textmill_line_rules(table: pa.Table) -> tuple[float, list[bool]]:
    """The same three rules through code_heuristics' measure (the columnar kernels)."""
    from textmill.pipeline import build_stage

    stage = build_stage("code_heuristics")
    stage.measure(table.slice(0, 100))
    started = time.process_time()
    keep: list[bool] = []
    for batch in batches(table):
        m = stage.measure(batch)
        longest = m["max_line_length"].to_numpy()
        mean = m["mean_line_length"].to_numpy()
        alnum = m["alphanumeric_fraction"].to_numpy()
        keep.extend(((longest <= 1000) & (mean <= 100) & (alnum >= 0.25)).tolist())
    return time.process_time() - started, keep


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--input", type=Path, default=DATA)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    if not args.input.exists():
        print(f"{args.input} not found: this benchmark needs ../shared/data/code; skipped")
        return 0
    core = pin_to_one_core()
    table = read_table(args.input)
    n = table.num_rows
    print(
        f"{n:,} files from {args.input} (one core: {core}; CPU seconds, best of {args.repeats}; "
        f"load average {os.getloadavg()[0]:.1f})"
    )
    print(f"languages: {dict(Counter(table['lang'].to_pylist()).most_common(8))}")
    print()
    print(f"{'step':<34}{'CPU s':>8}{'files/s/core':>14}  dropped")
    total = 0.0
    for name in FILTERS:
        seconds, reasons = time_filter(name, table, args.repeats)
        total += seconds
        print(f"{name:<34}{seconds:>8.3f}{n / seconds:>14,.0f}  {reasons}")
    for name, seconds in time_dedup(table, args.repeats).items():
        total += seconds
        print(f"{name + ' (map+reduce+apply)':<34}{seconds:>8.3f}{n / seconds:>14,.0f}")
    print(f"{'stages together':<34}{total:>8.3f}{n / total:>14,.0f}")

    python_s, python_keep = python_line_rules(table["text"].to_pylist())
    columnar_s, columnar_keep = textmill_line_rules(table)
    same = sum(a == b for a, b in zip(python_keep, columnar_keep, strict=True))
    print()
    print("line rules (max 1,000 / mean 100 / alnum 0.25), textmill vs per-file Python:")
    print(
        f"  textmill {n / columnar_s:,.0f} files/s, Python {n / python_s:,.0f} files/s "
        f"({python_s / columnar_s:.1f}x); same decision on {same:,}/{n:,} files"
    )

    print()
    cpu, wall, stats = time_preset([str(args.input)], "code")
    print(
        f"preset code, JSONL (--input-kind code), 1 worker: {stats['read']:,} read, "
        f"{stats['kept']:,} kept, {stats['rejected']:,} rejected, {stats['errored']:,} errored; "
        f"{cpu:.2f} CPU s ({stats['read'] / cpu:,.0f} files/s/core), {wall:.2f} s wall"
    )
    cpu, wall, stats = time_preset([str(args.input)], "code", ["exact_dedup"])
    print(
        f"  of which start-up, reading, writing, report (a run of exact_dedup alone): "
        f"{cpu:.2f} CPU s, {wall:.2f} s wall"
    )
    with tempfile.TemporaryDirectory() as folder:
        written = write_checkouts(args.input, Path(folder))
        cpu, wall, stats = time_preset([folder], "auto")
        print(
            f"preset code, {written:,} files as 11 checkouts (auto-detected), 1 worker: "
            f"{stats['read']:,} read, {stats['kept']:,} kept; {cpu:.2f} CPU s "
            f"({stats['read'] / cpu:,.0f} files/s/core), {wall:.2f} s wall"
        )
    cpu_runs, wall_runs = time_cli([str(args.input)], "code", args.repeats)
    best, median = min(cpu_runs), statistics.median(cpu_runs)
    print(
        f"textmill run --preset code --input-kind code -w 1, as a command (process + children, "
        f"start-up included), {len(cpu_runs)} runs: best {best:.2f} CPU s ({n / best:,.0f} "
        f"files/s/core), median {median:.2f} CPU s ({n / median:,.0f} files/s/core); wall "
        f"{min(wall_runs):.2f}-{max(wall_runs):.2f} s; load average {os.getloadavg()[0]:.1f}"
    )
    print("target (issue 15): the whole code preset without pylint >= 500 files/s per core")
    return 0


if __name__ == "__main__":
    sys.exit(main())
