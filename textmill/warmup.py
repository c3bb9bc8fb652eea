"""Compile the numba kernels a pipeline uses into numba's on-disk cache before its first run.

numba compiles a kernel the first time it meets new argument types and, with `cache=True`,
keeps the machine code on disk (in `__pycache__` next to the sources, or under
NUMBA_CACHE_DIR; numba itself falls back to ~/.cache/numba when the package folder is not
writable). A fresh install starts with an empty cache, so its first run paid the compilation:
~30 CPU-s for the fineweb preset against ~6 CPU-s for the run itself (BENCHMARKS.md).

`warm_up` runs the pipeline's stages on the first documents of the bundled sample crawl: the
stages up to `extract`/`langid` and the one after them once (they make the text and language
columns the others read, and compile the shared word splitter), then every later stage on that
batch in its own forked process, several at a time. The
kernels compile with exactly the argument types a run passes them, and a process that reaches
a kernel another one has already cached loads it instead of compiling it again.
"""

from __future__ import annotations

import multiprocessing
import os
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from textmill.document import assign_keys, conform
from textmill.io import ReadOptions, plan_shards, read_shard, with_keys
from textmill.pipeline import GlobalStage, Stage, build_stages

# Stages that make the columns later stages read (the text, the language): run once, first.
PREFIX_STAGES = ("extract", "langid")
SAMPLE_DOCS = 64

Specs = Sequence[tuple[str, dict[str, Any]]]


@dataclass(frozen=True)
class WarmUp:
    """What a warm-up did: seconds per stage (in its own process) and in all."""

    stage_seconds: dict[str, float]
    seconds: float
    processes: int


_STAGES: list[Stage] = []  # set in the parent before forking: the children inherit them
_BATCH: pa.Table | None = None


def sample_batch(path: str | Path, docs: int = SAMPLE_DOCS) -> pa.Table:
    """The first `docs` documents of `path`, as the executor hands them to the first stage."""
    shard = plan_shards([str(path)])[0][0]
    for read in with_keys(read_shard(shard, ReadOptions(batch_size=docs)), shard):
        if read.docs.num_rows:
            return conform(read.docs)
    raise ValueError(f"{path}: no documents to warm up on")


def warm_up(specs: Specs, sample: str | Path, workers: int = 0, docs: int = SAMPLE_DOCS) -> WarmUp:
    """Compile (or load from numba's cache) every kernel the stages of `specs` call on the
    first `docs` documents of `sample`, in up to `workers` processes (0: one per core)."""
    global _BATCH
    started = time.perf_counter()
    stages = build_stages(specs)
    for stage in stages:
        stage.setup()
    names = [stage.name for stage in stages]
    split = max((i + 1 for i, name in enumerate(names) if name in PREFIX_STAGES), default=0)
    seconds: dict[str, float] = {}
    batch = sample_batch(sample, docs)
    # the first stage after them too: it compiles the kernels most stages share (the word
    # splitter), which the forked processes then inherit instead of all compiling them at once
    split = min(split + 1, len(stages))
    for stage in stages[:split]:
        began = time.perf_counter()
        batch = _run_stage(stage, batch)
        seconds[stage.name] = time.perf_counter() - began
    rest = list(range(split, len(stages)))
    processes = max(1, min(workers or os.cpu_count() or 1, len(rest)))
    _STAGES[:] = stages
    _BATCH = batch
    try:
        if processes == 1:
            times = [_compile_stage(i) for i in rest]
        else:
            context = multiprocessing.get_context("fork")
            with ProcessPoolExecutor(processes, mp_context=context) as pool:
                times = list(pool.map(_compile_stage, rest))
    finally:
        _STAGES.clear()
        _BATCH = None
    for i, took in zip(rest, times, strict=True):
        seconds[f"{i}:{names[i]}" if names.count(names[i]) > 1 else names[i]] = took
    return WarmUp(seconds, time.perf_counter() - started, processes)


def _compile_stage(index: int) -> float:
    began = time.perf_counter()
    assert _BATCH is not None
    _run_stage(_STAGES[index], _BATCH)
    return time.perf_counter() - began


def _run_stage(stage: Stage, batch: pa.Table) -> pa.Table:
    """The stage's work on one batch, as an executor does it (a global stage: signatures,
    reduce, apply, over the batch and a copy of it from a second shard); returns the rows it
    keeps."""
    if not batch.num_rows:
        return batch
    if isinstance(stage, GlobalStage):  # each document twice, so that it finds duplicates
        batch = pa.concat_tables([batch, assign_keys(batch, 1, 0)])
        with tempfile.TemporaryDirectory(prefix="textmill-warm-up-") as tmp:
            path = Path(tmp) / "signatures.parquet"
            pq.write_table(stage.signatures(batch), path)
            decisions = stage.reduce([path], Path(tmp) / "reduce")
            out, decision = stage.apply(batch, decisions)
    else:
        out, decision = stage.process(batch)
    return out if decision is None else out.filter(pa.array(decision.keep))
