"""Cold start: the first `textmill demo` after install (numba's cache empty) against a warm one,
and `textmill warm-up` (what README command 1 runs before the demo) with the demo after it.

Every run is a fresh process with NUMBA_CACHE_DIR pointing at a new empty folder (cold) or at
the folder the previous step filled (warm). Wall and CPU seconds (user + system of the process
and its workers) per run, several repetitions; prefer CPU time on a shared machine.

    python benchmarks/cold_start.py [--repeat 3] [--workers 2]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def timed(args: list[str], cache: Path) -> tuple[float, float]:
    """(wall, CPU) seconds of `python -m textmill ARGS` with numba's cache in `cache`."""
    env = {**os.environ, "NUMBA_CACHE_DIR": str(cache), "PYTHONPATH": str(ROOT)}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "textmill", *args], env=env, check=True, stdout=subprocess.DEVNULL
    )
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2, help="demo and warm-up processes")
    args = parser.parse_args()
    rows: dict[str, list[tuple[float, float]]] = {
        k: [] for k in ("cold demo", "warm demo", "warm-up (cold)", "demo after warm-up")
    }
    workers = ["-w", str(args.workers)]
    with tempfile.TemporaryDirectory(prefix="cold-start-") as tmp:
        for rep in range(args.repeat):
            plain, warmed = Path(tmp, f"cache-{rep}"), Path(tmp, f"warmed-{rep}")
            demo = ["demo", "--no-progress", *workers, "-o"]
            rows["cold demo"].append(timed([*demo, f"{tmp}/a{rep}"], plain))
            rows["warm demo"].append(timed([*demo, f"{tmp}/b{rep}"], plain))
            rows["warm-up (cold)"].append(timed(["warm-up", *workers], warmed))
            rows["demo after warm-up"].append(timed([*demo, f"{tmp}/c{rep}"], warmed))
            print(f"repetition {rep + 1}/{args.repeat} done", file=sys.stderr)
    print(f"{'run':<22}{'wall s (median)':>17}{'CPU s (median)':>16}   CPU s per repetition")
    medians = {}
    for name, runs in rows.items():
        wall = statistics.median(r[0] for r in runs)
        cpu = statistics.median(r[1] for r in runs)
        medians[name] = (wall, cpu)
        each = " ".join(f"{r[1]:.1f}" for r in runs)
        print(f"{name:<22}{wall:>17.1f}{cpu:>16.1f}   {each}")
    warm_wall, warm_cpu = medians["warm demo"]
    for name in ("cold demo", "demo after warm-up"):
        wall, cpu = medians[name]
        print(f"{name} / warm demo: wall {wall / warm_wall:.2f}x, CPU {cpu / warm_cpu:.2f}x")
    wall = medians["warm-up (cold)"][0] + medians["demo after warm-up"][0]
    cpu = medians["warm-up (cold)"][1] + medians["demo after warm-up"][1]
    print(
        f"warm-up + demo / cold demo: wall {wall / medians['cold demo'][0]:.2f}x, "
        f"CPU {cpu / medians['cold demo'][1]:.2f}x"
    )


if __name__ == "__main__":
    main()
