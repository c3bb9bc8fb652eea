"""Tokenizing input shards in parallel worker processes (`textmill tokenize --workers N`).

Each worker runs the very `tokenize_shard` of the single-process path, so every shard still
gets its own work files and done marker (a killed tokenize resumes per shard) and `finish`
reads them in input order: the output's bytes do not depend on the worker count nor on which
shard finished first. Workers are forked: they inherit the loaded tokenizer and the job, and
only shard numbers and shard counts cross the pipe. Each worker's encoder gets its share of the
cores (RAYON_NUM_THREADS, which `tokenizers`, the tiktoken and the sentencepiece paths obey;
with one thread TOKENIZERS_PARALLELISM is off, so `tokenizers` starts no thread pool at all),
set before the worker's first encode, so N workers do not each start a thread per core.

Ctrl-C reaches the whole process group: workers ignore it and the driver answers, terminating
them as a kill would, so the folder is left as a killed single-process tokenize leaves it
(finished shards kept, half-written files removed by the next run); a killed driver takes its
workers with it.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import sys
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from textmill.executors.output import RunError

PR_SET_PDEATHSIG = 1  # prctl(2)
# the worker's job, inherited through fork: (tokenize one shard, the shards)
_JOB: tuple[Callable[[Any], Any], Sequence[Any]] | None = None


def available_cores() -> int:
    """The cores this process may use (a `taskset` pin counts), at least one."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1


def worker_count(workers: int, pending: int) -> int:
    """Processes to start: `workers` (0: one per core), never more than the shards to do."""
    return max(1, min(workers or available_cores(), pending))


def _die_with(driver: int) -> None:
    """A worker must not outlive a killed driver (`kill -9`): it would go on writing into TOK
    beside the resumed run. Linux's parent-death signal ends it; elsewhere it finishes its
    shard and waits."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != driver:  # the driver died before the signal was set
        os._exit(1)


def _start_worker(
    job: Callable[[Any], Any], shards: Sequence[Any], threads: int, driver: int
) -> None:
    global _JOB
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _die_with(driver)
    os.environ["RAYON_NUM_THREADS"] = str(threads)
    # several threads only where `tokenizers` guards the fork itself: with the variable unset it
    # turns its threads off in a child whose parent used them (their pool did not survive the
    # fork); TOKENIZERS_PARALLELISM=true in the parent would deadlock the worker instead
    if threads == 1 or "TOKENIZERS_PARALLELISM" in os.environ:
        os.environ["TOKENIZERS_PARALLELISM"] = "false"
    _JOB = (job, shards)


def _tokenize_one(index: int) -> Any:
    assert _JOB is not None, "not a tokenize worker"
    job, shards = _JOB
    return job(shards[index])


def tokenize_in_workers(
    job: Callable[[Any], Any],
    shards: Sequence[Any],
    workers: int,
    done: Callable[[int, Any], None],
) -> None:
    """Run `job(shard)` for every shard in `workers` forked processes; `done(index, result)`
    is called in the driver as each one finishes (in any order). A shard's exception is
    raised here; the shards already running finish (their work is kept for the resume)."""
    threads = max(1, available_cores() // workers)
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(
        workers,
        mp_context=context,
        initializer=_start_worker,
        initargs=(job, shards, threads, os.getpid()),
    ) as pool:
        futures = {pool.submit(_tokenize_one, index): index for index in range(len(shards))}
        pending = set(futures)
        try:
            while pending:
                finished, pending = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
                for future in sorted(finished, key=futures.__getitem__):
                    done(futures[future], future.result())
        except BrokenProcessPool as exc:
            raise RunError(
                "a tokenize worker died (killed, or out of memory?); re-run the same command "
                "to resume: the shards it finished are kept"
            ) from exc
        except BaseException as exc:
            for future in pending:
                future.cancel()
            if isinstance(exc, KeyboardInterrupt):  # stop now, as a kill would: resumable
                for process in list(pool._processes.values()):  # noqa: SLF001
                    process.terminate()
            raise
