"""Ray executor: fineweb throughput on 1 and 2 Ray workers, overhead against the local executor,
and a simulated two-node cluster (loopback) with MinHash dedup giving the local run's kept ids.

Data: ../shared/data/web/web_docs.jsonl.gz (2,515 real web documents, mostly HTML), dealt
round-robin into equal JSONL shards in a temporary directory so that two workers get equal work.

The four configurations (local and Ray, 1 and 2 workers) run in `--rounds` interleaved rounds,
in alternating order (ABBA), and the speed-ups are taken within each round: this machine's
speed drifts by tens of percent over minutes (identical runs took 26 to 41 s within an
hour), which best-of-N over back-to-back runs of one configuration cannot cancel.

Every configuration is warm when timed, as a long-running job or cluster is: the local executor
runs one shard in the driver first (its forked workers inherit the loaded models); each Ray
session (one per configuration and round) first runs one real shard per worker, so that every
worker process has imported textmill and set up the stages. Ray's start-up and warm-up are
printed, not counted; `--cold` skips the warm-up (it then counts in the run).

    .venv/bin/python benchmarks/ray_scaling.py [--shards 8] [--copies 1] [--rounds 3]
                                               [--no-multinode] [--cold]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
import tempfile
import time
from pathlib import Path
from statistics import median

import pyarrow.parquet as pq

from textmill.api import Pipeline
from textmill.executors.local import LocalExecutor, RunSettings
from textmill.executors.ray import RayExecutor, ray_session

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "web" / "web_docs.jsonl.gz"


def make_shards(folder: Path, shards: int, copies: int) -> int:
    """Deal the documents round-robin into `shards` files; copies get distinct ids."""
    folder.mkdir(parents=True, exist_ok=True)
    with gzip.open(DATA, "rt", encoding="utf-8", newline="\n") as source:
        lines = [line for line in source.read().split("\n") if line.strip()]
    dealt: list[list[str]] = [[] for _ in range(shards)]
    count = 0
    for copy in range(copies):
        for line in lines:
            record = json.loads(line)
            if "html" not in record and "text" not in record:
                continue
            record["id"] = f"{record['id']}#{copy}"
            dealt[count % shards].append(json.dumps(record, ensure_ascii=False))
            count += 1
    for k, records in enumerate(dealt):
        (folder / f"web-{k:03d}.jsonl").write_text("\n".join(records) + "\n", encoding="utf-8")
    return count


def kept_ids(out: Path) -> list[str]:
    return sorted(pq.read_table(out / "data", columns=["id"])["id"].to_pylist())


def timed(run, out: Path) -> tuple[float, dict]:
    """One run into a fresh `out` (else the run would resume a finished job)."""
    shutil.rmtree(out, ignore_errors=True)
    started = time.perf_counter()
    stats = run()
    return time.perf_counter() - started, stats


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shards", type=int, default=8)
    parser.add_argument("--copies", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds")
    parser.add_argument("--no-multinode", action="store_true")
    parser.add_argument("--cold", action="store_true", help="no Ray warm-up run before timing")
    args = parser.parse_args()
    if not DATA.exists():
        print(f"{DATA} is absent: nothing to benchmark (the shared data is not mounted).")
        return 0
    specs = [(s.name, s.options) for s in Pipeline.from_preset("fineweb").specs]
    with tempfile.TemporaryDirectory(prefix="textmill-ray-bench-") as tmp:
        root = Path(tmp)
        docs = make_shards(root / "in", args.shards, args.copies)
        inputs = [str(root / "in")]
        print(f"fineweb pipeline, {docs:,} documents in {args.shards} shards, {args.rounds} rounds")
        print(f"load average before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores\n")

        def settings(workers: int) -> RunSettings:
            return RunSettings(workers=workers, progress=False, overwrite=True)

        def local(workers: int) -> tuple[float, dict]:
            executor = LocalExecutor(specs, settings(workers))
            return timed(lambda: executor.run(inputs, root / "out"), root / "out")

        def on_ray(workers: int) -> tuple[float, dict]:
            started = time.perf_counter()
            with ray_session(num_cpus=workers):
                startup = time.perf_counter() - started
                executor = RayExecutor(specs, settings(workers))
                warm = 0.0
                if not args.cold:  # one real shard per worker: every worker process warms up
                    warm_in = root / "warm-in"
                    shutil.rmtree(warm_in, ignore_errors=True)
                    warm_in.mkdir()
                    for shard in sorted((root / "in").iterdir())[:workers]:
                        shutil.copy(shard, warm_in / shard.name)
                    warm, _ = timed(
                        lambda: executor.run([str(warm_in)], root / "warm"), root / "warm"
                    )
                seconds, stats = timed(lambda: executor.run(inputs, root / "out"), root / "out")
            print(f"    (ray start-up {startup:.1f} s, warm-up {warm:.1f} s: not counted)")
            return seconds, stats

        # Warm the driver (numba caches, models), which the local executor's workers inherit.
        LocalExecutor(specs, settings(1)).run([str(root / "in" / "web-000.jsonl")], root / "warm")
        configurations = {
            "local1": lambda: local(1),
            "local2": lambda: local(2),
            "ray1": lambda: on_ray(1),
            "ray2": lambda: on_ray(2),
        }
        times: dict[str, list[float]] = {name: [] for name in configurations}
        reference = None
        for round_ in range(args.rounds):
            order = list(configurations) if round_ % 2 == 0 else list(configurations)[::-1]
            print(f"round {round_ + 1}: {' → '.join(order)}")
            for name in order:
                seconds, stats = configurations[name]()
                times[name].append(seconds)
                ids = kept_ids(root / "out")
                reference = reference or ids
                assert ids == reference, f"{name} kept other ids than the first run"
                print(
                    f"  {name:<7} {seconds:6.1f} s  {stats['read'] / seconds:6.1f} docs/s  "
                    f"kept {stats['kept']:,}  reconciled {stats['reconciled']}",
                    flush=True,
                )
        report(times)
        print("kept ids: identical in every run (local and Ray, 1 and 2 workers)")
        print(f"load average after: {os.getloadavg()[0]:.1f} (other work skews the ratios)")
        if not args.no_multinode:
            multinode(specs, inputs, root)
    return 0


def report(times: dict[str, list[float]]) -> None:
    """Per configuration: median and best; ratios per round, then their median."""
    print("\nconfiguration  median s  best s  runs (s)")
    for name, runs in times.items():
        print(
            f"  {name:<11} {median(runs):8.1f} {min(runs):7.1f}  "
            + ", ".join(f"{t:.1f}" for t in runs)
        )

    def ratios(a: str, b: str) -> list[float]:
        return [x / y for x, y in zip(times[a], times[b], strict=True)]

    for label, values in (
        ("speed-up 1 → 2 Ray workers", ratios("ray1", "ray2")),
        ("speed-up 1 → 2 local workers", ratios("local1", "local2")),
    ):
        each = ", ".join(f"{v:.2f}×" for v in values)
        print(f"{label}: median {median(values):.2f}×  (per round: {each})")
    for label, values in (
        ("Ray vs local, 1 worker", ratios("ray1", "local1")),
        ("Ray vs local, 2 workers", ratios("ray2", "local2")),
    ):
        each = ", ".join(f"{v - 1:+.1%}" for v in values)
        print(f"{label}: median {median(values) - 1:+.1%}  (per round: {each})")


def multinode(specs, inputs, root: Path) -> None:
    """Two raylets on loopback (one CPU each), fineweb (which ends with exact and MinHash
    dedup), against the local executor."""
    import ray
    from ray.cluster_utils import Cluster

    assert "minhash_dedup" in [name for name, _ in specs], "the fineweb preset lost MinHash"
    settings = RunSettings(workers=2, progress=False, overwrite=True)
    print("\nsimulated 2-node cluster (ray.cluster_utils.Cluster, 1 CPU per node)")
    seconds, local = timed(
        lambda: LocalExecutor(specs, settings).run(inputs, root / "m-local"), root / "m-local"
    )
    print(f"  local executor, 2 workers   {seconds:6.1f} s")
    cluster = Cluster(
        initialize_head=True,
        head_node_args={"num_cpus": 1, "object_store_memory": 128 * 1024**2},
    )
    cluster.add_node(num_cpus=1, object_store_memory=128 * 1024**2)
    try:
        ray.init(address=cluster.address, log_to_driver=False)
        cluster.wait_for_nodes()
        nodes = [n for n in ray.nodes() if n["Alive"]]
        seconds, distributed = timed(
            lambda: RayExecutor(specs, settings).run(inputs, root / "m-ray"), root / "m-ray"
        )
        print(f"  Ray executor on {len(nodes)} nodes  {seconds:6.1f} s (cold: no warm-up)")
    finally:
        ray.shutdown()
        cluster.shutdown()
    same = kept_ids(root / "m-ray") == kept_ids(root / "m-local")
    minhash_index = next(i for i, (name, _) in enumerate(specs) if name == "minhash_dedup")
    print(
        f"minhash dropped {distributed['stages'][minhash_index]['dropped']:,} "
        f"(local {local['stages'][minhash_index]['dropped']:,}); kept ids equal to local: {same}"
    )
    assert same, "multi-node Ray kept other ids than local"


if __name__ == "__main__":
    raise SystemExit(main())
