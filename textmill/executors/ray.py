"""The Ray executor: the local executor's plan, files and accounting, with the map work run as
Ray Data datasets and the global stages reduced by Ray tasks over object-store shuffles.

Each segment (the stages between two global stages) is one dataset (`_ray_data`): pending
shards are read into Arrow batches, each run of consecutive stages asking for the same
resources is one `map_batches` (default 1 CPU; `num_gpus: 1` for an embedding stage, a custom
resource to pin a stage to some nodes), and a last `map_batches` writes part files. The per-batch
work is the local executor's own (`run_stages`, failure bisection, report hooks), so both keep
the same documents with the same reasons and counts. A shard is still the unit of resume: once
the writers' reports show every row it read written, a Ray task merges its parts into the local
executor's files (`data/<shard>.parquet`, rejects, errors, signatures) and writes its done
marker last; parts of unfinished shards are discarded when the run is resumed. Ray retries the
map tasks of a dead worker or node (`max_retries`).

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
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from textmill.executors._ray_data import (
    Resources,
    SegmentJob,
    ShardCloser,
    ShardTracker,
    build_dataset,
    discard_parts,
    ray_args,
)
from textmill.executors._ray_dedup import cluster_rule, distributed_reduce
from textmill.executors._ray_paragraph import paragraph_reduce, reduces_paragraphs
from textmill.executors._ray_wait import get_all
from textmill.executors.local import (
    LocalExecutor,
    RunSettings,
    Segment,
    SettingsError,
    Specs,
    pending_shards,
)
from textmill.executors.output import Layout, RunError
from textmill.io import Shard
from textmill.io.writers import ParquetShardWriter, write_json_atomically
from textmill.pipeline import GlobalStage, build_stage, stage_class

# Small-machine defaults: the object store holds only shuffle pieces of signatures, and Ray
# spills to disk beyond it; 256 MiB leaves the memory to the workers.
OBJECT_STORE_BYTES = 256 * 1024**2


class RayExecutor(LocalExecutor):
    """Runs a pipeline on Ray: a local Ray when `address` is None, else an existing cluster
    (`"auto"`, `"ray://host:10001"`, or `"host:6379"`).

    `stage_resources` maps a stage name or index to the Ray resources each of its map tasks
    asks for (`num_cpus`, `num_gpus`, `memory`, custom resource names); stages not named ask
    for `cpus_per_task` CPUs."""

    def __init__(
        self,
        specs: Specs,
        settings: RunSettings | None = None,
        *,
        address: str | None = None,
        cpus_per_task: float = 1.0,
        stage_resources: Mapping[str | int, Mapping[str, float]] | None = None,
        object_store_bytes: int = OBJECT_STORE_BYTES,
        partitions: int = 0,
        max_retries: int = 3,
        dashboard: bool = False,
    ):
        super().__init__(specs, settings)
        if not cpus_per_task > 0:
            raise SettingsError(f"cpus_per_task must be > 0 (got {cpus_per_task!r})")
        self.address = address
        self.cpus_per_task = cpus_per_task
        self.resources = stage_resource_list(self.specs, stage_resources or {}, cpus_per_task)
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

    def _session(self) -> contextlib.AbstractContextManager[None]:
        """Ray starts only once OUT is checked and locked: a refused run costs no Ray."""
        return ray_session(
            self.address,
            num_cpus=self.settings.workers or None,
            object_store_bytes=self.object_store_bytes,
            dashboard=self.dashboard,
        )

    # -- the two steps that differ from the local executor

    def _run_segment(self, layout: Layout, segment: Segment, shards: list[Shard]) -> None:
        import ray

        pending = pending_shards(layout, segment, shards)
        if not pending:
            return
        job = SegmentJob(
            self._frozen_specs,
            self.settings,
            str(layout.out),
            segment,
            segment.index == len(self.segments) - 1,
            tuple(pending),
            self._extra_stages,
        )
        discard_parts(job)
        self._check_resources()
        _configure_ray_data(self.settings.progress)
        dataset = build_dataset(job, self.resources, self.max_retries)
        tracker = ShardTracker(len(pending))
        closer = ShardCloser(job, self.max_retries)
        label = "read+process" if segment.index == 0 else f"segment {segment.index}"
        started, docs = time.perf_counter(), 0

        def progress(wait: bool) -> None:
            nonlocal docs
            for summary in closer.collect(wait):
                docs += summary["read"] if segment.index == 0 else 0
                rate = docs / max(time.perf_counter() - started, 1e-9)
                self._say(
                    f"{label}: {len(closer.closed)}/{len(pending)} shards"
                    + (f", {docs:,} docs read, {rate:,.0f} docs/s" if docs else "")
                )

        try:
            for stats in dataset.iter_batches(batch_size=None, batch_format="pyarrow"):
                for row in stats.to_pylist():
                    if tracker.add(row):
                        closer.close(row["shard"], tracker.ledgers(row["shard"]))
                progress(wait=False)
            progress(wait=True)
        except (ray.exceptions.RayError, RuntimeError) as error:
            if isinstance(error, RunError):
                raise
            with contextlib.suppress(ray.exceptions.RayError):
                progress(wait=True)  # shards already complete keep their files
            unfinished = [s.name for i, s in enumerate(pending) if i not in closer.closed]
            raise RunError(
                f"shard(s) {', '.join(unfinished)} failed on Ray: {_cause(error)}; finished "
                "shards are kept, re-run to resume"
            ) from error
        unfinished = [s.name for i, s in enumerate(pending) if not tracker.complete(i)]
        if unfinished:
            raise RunError(f"shard(s) {', '.join(unfinished)}: rows lost between Ray blocks")

    def _check_resources(self) -> None:
        """A stage asking for what the cluster does not have would wait for ever: say so."""
        import ray

        have = ray.cluster_resources()
        for (name, _), wanted in zip(self.specs, self.resources, strict=True):
            args = ray_args(wanted)
            asked = {"CPU": args["num_cpus"], "GPU": args.get("num_gpus", 0)}
            asked |= args.get("resources", {})
            for key, amount in asked.items():
                if amount > have.get(key, 0):
                    raise RunError(
                        f"stage {name} asks for {key}={amount:g} but the Ray cluster has "
                        f"{have.get(key, 0):g} (resources: {dict(wanted)})"
                    )

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
            get_all(
                ray.remote(_reduce_on_worker).remote(
                    stage,
                    [str(f) for f in signature_files],
                    str(layout.reduce_dir(stage_index)),
                    str(target),
                ),
                f"{stage.name} reduce",
            )
        if not target.exists():
            raise RunError(f"{stage.name}: reduce produced no decision table")
        write_json_atomically(
            {"seconds": time.perf_counter() - started, "partitions": partitions},
            target.with_suffix(".json"),
        )


# ---------------------------------------------------------------- worker side


def _reduce_on_worker(stage: GlobalStage, files: list[str], workdir: str, target: str) -> None:
    Path(workdir).mkdir(parents=True, exist_ok=True)
    decisions = stage.reduce([Path(f) for f in files], Path(workdir))
    writer = ParquetShardWriter(Path(target))
    writer.write(decisions)
    writer.close()


def stage_resource_list(
    specs: Specs, by_stage: Mapping[str | int, Mapping[str, float]], cpus: float
) -> list[Resources]:
    """Each stage's resources: by index, else by name, else `cpus` CPUs."""
    known = {name for name, _ in specs} | set(range(len(specs)))
    unknown = [key for key in by_stage if key not in known]
    if unknown:
        raise RunError(f"stage_resources names no stage of the pipeline: {unknown}")
    resources = []
    for index, (name, _) in enumerate(specs):
        wanted = dict(by_stage.get(index, by_stage.get(name, {})))
        wanted.setdefault("num_cpus", cpus)
        resources.append(wanted)
    return resources


def _configure_ray_data(progress: bool) -> None:
    """Ray Data's own progress bars and INFO lines would interleave with textmill's. Its
    per-operator resource reservation is off: with the stages fused into one operator per
    segment it only holds tasks back (eight 1-second tasks on 2 CPUs took 5.5 s with it, 4.1 s
    without)."""
    import ray

    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False
    context.print_on_execution_start = False
    context.op_resource_reservation_enabled = False
    logging.getLogger("ray.data").setLevel(logging.INFO if progress else logging.WARNING)
    logging.getLogger("ray.data._internal.progress").setLevel(logging.ERROR)
    logging.getLogger("ray.data._internal.execution.streaming_executor").setLevel(logging.WARNING)


def _cause(error: Exception) -> str:
    cause = getattr(error, "cause", None)
    if cause is not None:
        while cause.__cause__ is not None:  # Ray Data wraps a stage's error in UserCodeException
            cause = cause.__cause__
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
