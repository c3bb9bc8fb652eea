"""Where the CPU goes in a Ray run: per-process CPU time over whole fineweb runs with 2 Ray
workers, against the local executor with 2 workers on the same data.

Shows what Ray's own processes (driver, Ray Data's actors, raylet, GCS, agents) cost next to
the map workers, and whether worker processes are replaced during a run (CPU counted only for
processes alive at the end: a run whose total falls well below the wall time × workers lost
workers on the way).

Data: ../shared/data/web/web_docs.jsonl.gz in 8 JSONL shards, as benchmarks/ray_scaling.py
deals it. Each executor warms up on two real shards first, then runs `--runs` times.

    .venv/bin/python benchmarks/ray_overhead.py [--runs 2]
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

from ray_scaling import DATA, make_shards

from textmill.api import Pipeline
from textmill.executors.local import LocalExecutor, RunSettings
from textmill.executors.ray import RayExecutor, ray_session

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_by_process() -> dict[int, tuple[str, float]]:
    """pid → (command line, CPU seconds of it and its waited-for children)."""
    found = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            command = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ")
        except OSError:
            continue
        seconds = sum(int(f) for f in fields[11:15]) / TICKS
        found[int(entry)] = (command.decode(errors="replace")[:80].strip(), seconds)
    return found


def measured(label: str, run) -> None:
    before = cpu_by_process()
    started = time.perf_counter()
    stats = run()
    wall = time.perf_counter() - started
    after = cpu_by_process()
    used = sorted(
        (
            (seconds - before.get(pid, ("", 0.0))[1], command)
            for pid, (command, seconds) in after.items()
        ),
        reverse=True,
    )
    total = sum(seconds for seconds, _ in used)
    print(
        f"{label}: wall {wall:.1f} s, CPU of processes alive at the end {total:.1f} s, "
        f"kept {stats['kept']}"
    )
    for seconds, command in used[:8]:
        if seconds >= 0.2:
            print(f"  {seconds:6.1f} s  {command}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=2)
    args = parser.parse_args()
    if not DATA.exists():
        print(f"{DATA} is absent: nothing to benchmark (the shared data is not mounted).")
        return 0
    specs = [(s.name, s.options) for s in Pipeline.from_preset("fineweb").specs]
    settings = RunSettings(workers=2, progress=False, overwrite=True)
    with tempfile.TemporaryDirectory(prefix="textmill-ray-overhead-") as tmp:
        root = Path(tmp)
        make_shards(root / "in", 8, 1)
        (root / "warm-in").mkdir()
        for shard in sorted((root / "in").iterdir())[:2]:
            shutil.copy(shard, root / "warm-in" / shard.name)

        def run(executor, out: str):
            shutil.rmtree(root / out, ignore_errors=True)
            return executor.run([str(root / "in")], root / out)

        local = LocalExecutor(specs, settings)
        local.run([str(root / "warm-in")], root / "warm-local")
        for k in range(args.runs):
            measured(f"local executor, 2 workers, run {k + 1}", lambda: run(local, "local"))
        with ray_session(num_cpus=2):
            ray = RayExecutor(specs, settings)
            ray.run([str(root / "warm-in")], root / "warm-ray")
            for k in range(args.runs):
                measured(f"Ray executor, 2 workers, run {k + 1}", lambda: run(ray, "ray"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
