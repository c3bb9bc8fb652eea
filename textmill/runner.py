"""Running a chain of stages over one batch: the part every executor shares.

The runner, not the stage, routes dropped rows to rejects with `stage:reason`, counts docs
and bytes through each stage, and isolates failures: when a stage raises on a batch, the batch
is split until the rows that make it fail are found; those rows become errors (counted, with
the stage and exception) and the rest go on.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np
import pyarrow as pa

from textmill.document import ID, KEY, SOURCE, text_bytes
from textmill.io.writers import rejects_table
from textmill.pipeline import Decision, GlobalStage, Stage, StageHalt
from textmill.report.stats import RunCounters

StageCall = Callable[[pa.Table], tuple[pa.Table, Decision | None]]
Result = TypeVar("Result")


@dataclass
class BatchOutcome:
    kept: pa.Table
    rejects: list[pa.Table] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)


def concat_tables(tables: Sequence[pa.Table]) -> pa.Table:
    return pa.concat_tables(tables, promote_options="permissive")


def call_isolating_failures(
    call: StageCall, batch: pa.Table, stage_name: str
) -> tuple[pa.Table, Decision | None, list[dict[str, Any]]]:
    """Apply a stage; on an exception, bisect to the failing rows and report them as errors."""

    def checked(rows: pa.Table) -> tuple[pa.Table, Decision | None]:
        out, decision = call(rows)
        if out.num_rows != rows.num_rows:
            raise RuntimeError(
                f"stage returned {out.num_rows} rows for {rows.num_rows} (stages must not "
                "change the row count; filters return a Decision)"
            )
        return _keys_kept(rows, out), decision

    pieces, errors = bisect_failures(checked, batch, stage_name)
    if len(pieces) == 1:
        return *pieces[0][2], errors
    results = [result for _, _, result in pieces]
    if not results:
        return batch.slice(0, 0), None, errors
    tables = [table for table, _ in results]
    decision = None
    if any(d is not None for _, d in results):
        decisions = [d or Decision.keep_all(t.num_rows) for t, d in results]
        decision = Decision(
            np.concatenate([d.keep for d in decisions]),
            pa.concat_arrays([d.reasons.cast(pa.string()) for d in decisions]),
        )
    return concat_tables(tables), decision, errors


def bisect_failures(
    call: Callable[[pa.Table], Result], batch: pa.Table, stage_name: str, offset: int = 0
) -> tuple[list[tuple[int, pa.Table, Result]], list[dict[str, Any]]]:
    """`call` over the batch; when it raises, over each half, down to single rows: returns the
    (offset in batch, rows, result) pieces that succeeded, in order, and one error per row that
    still fails."""
    try:
        return [(offset, batch, call(batch))], []
    except StageHalt:
        raise  # not the rows' fault: splitting the batch would only repeat it
    except Exception as exc:  # noqa: BLE001 - any stage failure becomes a counted error
        if batch.num_rows <= 1:
            return [], [_stage_error(batch, stage_name, exc)] if batch.num_rows else []
    middle = batch.num_rows // 2
    first, first_errors = bisect_failures(call, batch.slice(0, middle), stage_name, offset)
    second, second_errors = bisect_failures(call, batch.slice(middle), stage_name, offset + middle)
    return first + second, first_errors + second_errors


def succeeded_rows(num_rows: int, pieces: Sequence[tuple[int, pa.Table, Any]]) -> np.ndarray:
    """Mask of the batch rows that `bisect_failures` pieces cover."""
    mask = np.zeros(num_rows, dtype=bool)
    for offset, rows, _ in pieces:
        mask[offset : offset + rows.num_rows] = True
    return mask


def _keys_kept(batch: pa.Table, out: pa.Table) -> pa.Table:
    """`out` with the `doc_key` of `batch` (stages keep row order): the runner, not a stage,
    owns the key every decision joins on, so a stage cannot lose or change it."""
    if KEY not in batch.column_names:
        return out
    if KEY in out.column_names:
        return out.set_column(out.column_names.index(KEY), KEY, batch[KEY])
    return out.append_column(KEY, batch[KEY])


def _stage_error(batch: pa.Table, stage_name: str, exc: Exception) -> dict[str, Any]:
    frame = traceback.extract_tb(exc.__traceback__)[-1] if exc.__traceback__ else None
    where = f" ({frame.filename.rsplit('/', 1)[-1]}:{frame.lineno})" if frame else ""
    return {
        "file": batch[SOURCE][0].as_py() if batch.num_rows else None,
        "record": f"id {batch[ID][0].as_py()}" if batch.num_rows else None,
        "stage": stage_name,
        "message": f"stage {stage_name} failed: {type(exc).__name__}: {exc}{where}",
    }


def run_stages(
    stages: Sequence[tuple[int, Stage, StageCall]],
    batch: pa.Table,
    counters: RunCounters,
) -> BatchOutcome:
    """Push one batch through (index, stage, call) triples, counting and collecting drops."""
    outcome = BatchOutcome(batch)
    for index, stage, call in stages:
        current = outcome.kept
        counter = counters.stage(index, stage.name)
        counter.docs_in += current.num_rows
        counter.bytes_in += text_bytes(current)
        if current.num_rows == 0:
            continue
        started = time.perf_counter()
        out, decision, errors = call_isolating_failures(call, current, stage.name)
        counter.seconds += time.perf_counter() - started
        if errors:
            counter.errored += len(errors)
            counters.errored += len(errors)
            outcome.errors.extend(errors)
        if out.num_rows:
            counter.counters.update(stage.counters(out, decision))
        if decision is not None and decision.num_dropped:
            keep = pa.array(decision.keep)
            outcome.rejects.append(rejects_table(out, keep, stage.name, _prefixed(stage, decision)))
            counter.dropped += decision.num_dropped
            counters.rejected += decision.num_dropped
            dropped_reasons = decision.reasons.filter(pa.array(~decision.keep))
            counter.reasons.update(reason_family(r) for r in dropped_reasons.to_pylist())
            out = out.filter(keep)
        counter.docs_out += out.num_rows
        counter.bytes_out += text_bytes(out)
        outcome.kept = out
    return outcome


def reason_family(reason: str | None) -> str:
    """`duplicate_of=<id>` counts as `duplicate_of`: stats count kinds, rejects keep details."""
    return (reason or "dropped").split("=", 1)[0]


def _prefixed(stage: Stage, decision: Decision) -> pa.Array:
    import pyarrow.compute as pc

    reasons = pc.fill_null(decision.reasons, "dropped")
    return pc.binary_join_element_wise(stage.name, reasons, ":")


def stage_call(stage: Stage, decisions: pa.Table | None = None) -> StageCall:
    """The callable the runner applies for a stage (a global stage applies its decisions)."""
    if isinstance(stage, GlobalStage):
        if decisions is None:
            raise ValueError(f"global stage {stage.name} has no decisions to apply")
        return lambda batch: stage.apply(batch, decisions)
    return stage.process
