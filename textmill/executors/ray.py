"""The Ray executor: the local executor's plan, files and accounting, with Ray scheduling the
work across a cluster.

Why Ray tasks over shards rather than Ray Data `map_batches`: a shard is the unit of resume
and of accounting (its done marker holds its counters, written last), and its outputs have
stable names (`data/<shard>.parquet`). Ray Data re-blocks rows freely, so a shard's rows would
end in many blocks and files, and a killed job could not say which shards are finished. One Ray
task per (segment, shard) runs the very function the local executor runs (`run_task`), so both
write the same files, skip the same finished shards and add up the same counters; Ray does the
placement, the back-pressure and the retries when a worker or a node dies (`max_retries`).

Global stages that cluster (exact and MinHash dedup) reduce as Ray tasks over object-store
shuffles (`_ray_dedup`): no driver-side collection of signatures and no single-task
clustering. paragraph_dedup shuffles its paragraph hashes the same way (`_ray_paragraph`).
Any other global stage reduces in one Ray task with its own `reduce`.

Inputs and the output directory must be visible to every node (a shared file system, or fsspec
URLs for inputs), as for any multi-node batch job.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from textmill.executors._ray_dedup import cluster_rule, distributed_reduce
from textmill.executors._ray_paragraph import paragraph_reduce, reduces_paragraphs
from textmill.executors.local import (
    Layout,
    LocalExecutor,
    RunError,
    RunSettings,
    Segment,
    Specs,
    Task,
    run_task,
)
from textmill.io import Shard
from textmill.io.writers import ParquetShardWriter, write_json_atomically
from textmill.pipeline import STAGES, GlobalStage, build_stage, stage_class

# Small-machine defaults: the object store holds only shuffle pieces of signatures, and Ray
# spills to disk beyond it; 256 MiB leaves the memory to the workers.
OBJECT_STORE_BYTES = 256 * 1024**2


class RayExecutor(LocalExecutor):
    """Runs a pipeline on Ray: a local Ray when `address` is None, else an existing cluster
    (`"auto"`, `"ray://host:10001"`, or `"host:6379"`)."""

    def __init__(
        self,
        specs: Specs,
        settings: RunSettings | None = None,
        *,
        address: str | None = None,
        cpus_per_task: float = 1.0,
        object_store_bytes: int = OBJECT_STORE_BYTES,
        partitions: int = 0,
        max_retries: int = 3,
        dashboard: bool = False,
    ):
        super().__init__(specs, settings)
        self.address = address
        self.cpus_per_task = cpus_per_task
        self.object_store_bytes = object_store_bytes
        self.partitions = partitions
        self.max_retries = max_retries
        self.dashboard = dashboard
        # Stages defined outside textmill (a user's module or script) travel with the task.
        self._extra_stages = {
            name: stage_class(name)
            for name, _ in self.specs
            if not stage_class(name).__module__.startswith("textmill.")
        }

    def run(self, inputs: Sequence[str], out: str | Path) -> dict[str, Any]:
        with ray_session(
            self.address,
            num_cpus=self.settings.workers or None,
            object_store_bytes=self.object_store_bytes,
            dashboard=self.dashboard,
        ):
            return super().run(inputs, out)

    # -- the two steps that differ from the local executor

    def _run_segment(self, layout: Layout, segment: Segment, shards: list[Shard]) -> None:
        import ray

        is_last = segment.index == len(self.segments) - 1
        pending = [s for s in shards if not layout.done(s.name, segment.index).exists()]
        if not pending:
            return
        remote = ray.remote(_run_task_on_worker).options(
            num_cpus=self.cpus_per_task, max_retries=self.max_retries
        )
        refs = {
            remote.remote(
                Task(self._frozen_specs, self.settings, str(layout.out), segment, s, is_last),
                self._extra_stages,
            ): s
            for s in pending
        }
        label = "read+process" if segment.index == 0 else f"segment {segment.index}"
        started, finished, docs = time.perf_counter(), 0, 0
        waiting = list(refs)
        try:
            while waiting:
                done, waiting = ray.wait(waiting, num_returns=1, timeout=5.0)
                for ref in done:
                    try:
                        summary = ray.get(ref)
                    except ray.exceptions.RayError as error:
                        raise RunError(
                            f"shard {refs[ref].name} ({', '.join(refs[ref].paths)}) failed on "
                            f"Ray: {_cause(error)}; finished shards are kept, re-run to resume"
                        ) from error
                    finished += 1
                    docs += summary["read"] if segment.index == 0 else 0
                if done:
                    rate = docs / max(time.perf_counter() - started, 1e-9)
                    self._say(
                        f"{label}: {finished}/{len(refs)} shards"
                        + (f", {docs:,} docs read, {rate:,.0f} docs/s" if docs else "")
                    )
        except BaseException:
            for ref in waiting:
                ray.cancel(ref, force=True)
            raise

    def _reduce(self, layout: Layout, stage_index: int, shards: list[Shard]) -> None:
        import ray

        target = layout.decisions(stage_index)
        if target.exists():
            return
        name, options = self.specs[stage_index]
        stage = build_stage(name, options)
        assert isinstance(stage, GlobalStage)
        signature_files = sorted(layout.signatures_dir(stage_index).glob("*.parquet"))
        started = time.perf_counter()
        rule = cluster_rule(stage)
        partitions = self.partitions or max(1, int(ray.cluster_resources().get("CPU", 1)))
        if rule is not None:
            self._say(
                f"{stage.name}: distributed reduce of {len(signature_files)} signature files "
                f"in {partitions} partitions"
            )
            distributed_reduce(stage, rule, signature_files, target, partitions)
        elif reduces_paragraphs(stage):
            self._say(f"{stage.name}: distributed reduce of {len(signature_files)} signature files")
            partitions = paragraph_reduce(stage, signature_files, target, partitions)
        else:
            partitions = 1
            self._say(f"{stage.name}: reduce in one Ray task (stage has no cluster rule)")
            ray.get(
                ray.remote(_reduce_on_worker).remote(
                    stage,
                    [str(f) for f in signature_files],
                    str(layout.reduce_dir(stage_index)),
                    str(target),
                )
            )
        if not target.exists():
            raise RunError(f"{stage.name}: reduce produced no decision table")
        write_json_atomically(
            {"seconds": time.perf_counter() - started, "partitions": partitions},
            target.with_suffix(".json"),
        )


# ---------------------------------------------------------------- worker side


def _run_task_on_worker(task: Task, extra_stages: dict[str, type]) -> dict[str, Any]:
    for name, cls in extra_stages.items():
        STAGES.setdefault(name, cls)
    return run_task(task)


def _reduce_on_worker(stage: GlobalStage, files: list[str], workdir: str, target: str) -> None:
    Path(workdir).mkdir(parents=True, exist_ok=True)
    decisions = stage.reduce([Path(f) for f in files], Path(workdir))
    writer = ParquetShardWriter(Path(target))
    writer.write(decisions)
    writer.close()


def _cause(error: Exception) -> str:
    cause = getattr(error, "cause", None)
    if cause is not None:
        return f"{type(cause).__name__}: {cause}"
    return str(error).strip().splitlines()[-1] if str(error).strip() else type(error).__name__


# ---------------------------------------------------------------- session


@contextlib.contextmanager
def ray_session(
    address: str | None = None,
    *,
    num_cpus: int | None = None,
    object_store_bytes: int = OBJECT_STORE_BYTES,
    dashboard: bool = False,
) -> Iterator[None]:
    """Connect to Ray (or start a local one) for the duration of a run.

    An already initialised Ray (a notebook's, a test's) is used as it is and left running; one
    started here is shut down here, which stops its raylet, GCS and workers.
    """
    try:
        import ray
    except ImportError as error:
        raise RunError("the Ray executor needs Ray: pip install 'textmill[ray]'") from error
    if ray.is_initialized():
        yield
        return
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    common: dict[str, Any] = {
        "log_to_driver": False,
        "logging_level": logging.WARNING,
        "configure_logging": True,
        # Workers import textmill from the driver's environment; no packaging step.
        "runtime_env": {"env_vars": {"PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}}
        if address is None
        else None,
    }
    if address is None:
        ray.init(
            num_cpus=num_cpus or os.cpu_count() or 1,
            object_store_memory=object_store_bytes,
            include_dashboard=dashboard,
            **common,
        )
    else:
        ray.init(address=address, **common)
    try:
        yield
    finally:
        ray.shutdown()
