"""Per-row work under a wall-clock budget that really stops native code.

A signal alarm cannot do it: Python runs its handler only between bytecodes, so a parser stuck
inside C (resiliparse's text extraction is quadratic in nesting depth, lxml's tree walks are C)
never sees it. So the rows run in a forked child that streams one result per row back through a
pipe; when a row's result is not back within the budget the child is killed, that row is marked
timed out and a fresh child goes on with the next row. One fork per batch costs ~20 ms of CPU
(measured: ~5,000 copy-on-write page faults with the gc frozen; the rows are inherited, not
pickled, only the results are), a few per cent of a batch's extraction. A child that dies on a
row (segfault, out of memory) fails only that row.

A per-row stage declares a budget by taking `RowBudgetOptions` and mapping its rows with
`map_rows_within_budget`; `extract` does.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import multiprocessing
import os
import signal
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from pydantic import Field

from textmill.pipeline import StageOptions

PR_SET_PDEATHSIG = 1  # linux/prctl.h
Row = TypeVar("Row")
Result = TypeVar("Result")


class RowBudgetOptions(StageOptions):
    """Options of a stage whose per-row work can be slow on hostile input."""

    # Seconds one row may take before it is stopped (the stage drops it as `time_budget`); None
    # runs rows in-process without a limit (no fork). A stage sets its own measured default.
    time_budget_s: float | None = Field(default=None, gt=0)


@dataclass(frozen=True)
class RowFailed:
    """A row whose work raised (message says what) or ran out of time (`timed_out`)."""

    message: str
    timed_out: bool = False


@dataclass(frozen=True)
class RowOutcome(Generic[Result]):
    value: Result | None = None
    failure: RowFailed | None = None


def _run_row(work: Callable[[Row], Result], row: Row) -> RowOutcome[Result]:
    try:
        return RowOutcome(value=work(row))
    except Exception as error:  # noqa: BLE001 - one row's failure is that row's outcome
        return RowOutcome(failure=RowFailed(f"{type(error).__name__}: {error}"))


def map_rows_within_budget(
    work: Callable[[Row], Result], rows: Sequence[Row], budget_s: float | None
) -> list[RowOutcome[Result]]:
    """`work` over every row, in order; a row that raises, crashes its process or takes longer
    than `budget_s` gets a failure instead of a value, and the other rows go on."""
    if budget_s is None or not hasattr(os, "fork") or not rows:
        return [_run_row(work, row) for row in rows]
    outcomes: list[RowOutcome[Result]] = []
    while len(outcomes) < len(rows):
        outcomes.extend(_rows_in_child(work, rows, len(outcomes), budget_s))
    return outcomes


def _rows_in_child(
    work: Callable[[Row], Result], rows: Sequence[Row], start: int, budget_s: float
) -> list[RowOutcome[Result]]:
    """Outcomes of rows[start:] from one forked child, up to and including the first row that
    times out or kills the child."""
    reader, writer = multiprocessing.Pipe(duplex=False)
    gc.freeze()  # the child's collector must not touch (and so copy) every inherited object
    parent = os.getpid()
    pid = os.fork()
    if pid == 0:  # the child: never returns into the parent's code
        try:
            _die_with(parent)
            reader.close()
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            for row in rows[start:]:
                writer.send(_run_row(work, row))
        finally:
            os._exit(0)
    gc.unfreeze()
    writer.close()
    outcomes: list[RowOutcome[Result]] = []
    try:
        for _ in rows[start:]:
            if not reader.poll(budget_s):
                outcomes.append(
                    RowOutcome(failure=RowFailed(f"over the {budget_s:g} s budget", True))
                )
                break
            try:
                outcomes.append(reader.recv())
            except EOFError:  # the child died on this row
                outcomes.append(RowOutcome(failure=RowFailed(_death(pid))))
                pid = 0
                break
    finally:
        reader.close()
        if pid:
            _kill(pid)
    return outcomes


def _die_with(parent: int) -> None:
    """A worker killed mid-row (SIGKILL, a Ray task cancelled) must not leave its child running
    a hostile page with nobody left to stop it: on Linux the kernel kills the child too."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # the parent died before the line above
        os._exit(0)


def _kill(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)


def _death(pid: int) -> str:
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        return f"worker process killed by {signal.Signals(os.WTERMSIG(status)).name}"
    return f"worker process exited with status {os.waitstatus_to_exitcode(status)}"
