"""One segment of a pipeline as a Ray Data dataset: shards in, Arrow blocks through the stages,
part files out, and each shard closed (by a Ray task) once all its rows are written.

    from_items(pending shards)                      one block per shard
      .map_batches(read)                            Arrow batches tagged shard, batch, seq
      .map_batches(stages i..j, num_cpus=…, …)      one per run of stages with equal resources
      .map_batches(write)                           part files; a small table of stats
      → driver: a shard whose rows are all written gets a Ray task that merges its parts into
        its final files and writes its done marker

Nothing is removed from a block on the way: a dropped row becomes a reject row (its rejects
columns under `_tm_r_*`), a row that made a stage fail becomes an error row, and every map call
attaches its counters and report state (the ledger) to one of the rows it returns. So rows are
conserved per shard: the reader's last row says how many it emitted, the writer reports how
many it wrote, and a shard is complete when the two agree, however Ray Data cut or retried
its blocks. Counters are the sum of the ledgers, hence the same as the local executor's.

The per-batch work is the local executor's (`stage_chain`, `run_stages`, `account_kept`,
`finish_shard`): only where it runs and how its results travel differ.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import shutil
import warnings
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from textmill.document import KEY, REJECT_STAGE, REJECTS_SCHEMA, without_key
from textmill.executors.local import (
    Layout,
    RunSettings,
    Segment,
    Task,
    _input_batches,
    _stages_for,
    account_kept,
    emitter_of,
    finish_shard,
    shard_decisions,
    stage_chain,
)
from textmill.io import Shard
from textmill.io.writers import ParquetShardWriter
from textmill.pipeline import STAGES, Stage
from textmill.report.collect import ReportCollector, merge_states
from textmill.report.stats import RunCounters
from textmill.runner import run_stages

PREFIX = "_tm_"
SHARD, BATCH, SEQ, KIND = "_tm_shard", "_tm_batch", "_tm_seq", "_tm_kind"
ERROR, LEDGER, EXPECT = "_tm_error", "_tm_ledger", "_tm_expect"
REJECTED = "_tm_r_"  # + a rejects column name
DOC, REJECT, FAILED, END = 0, 1, 2, 3  # row kinds
STAGE_SEQ = 1 << 32  # seq of rejects and errors: (first stage of the map call + 1) << 32 | n
PART_COMPRESSION = "lz4"  # parts are read once, by the task that merges them

Resources = Mapping[str, float]
DEFAULT_RESOURCES: dict[str, float] = {"num_cpus": 1.0}


def ray_args(resources: Resources) -> dict[str, Any]:
    """`{num_cpus, num_gpus, memory, <custom>: n}` as `map_batches` keyword arguments."""
    args: dict[str, Any] = {"num_cpus": float(resources.get("num_cpus", 1.0))}
    for key in ("num_gpus", "memory"):
        if resources.get(key):
            args[key] = float(resources[key])
    custom = {
        k: float(v) for k, v in resources.items() if k not in ("num_cpus", "num_gpus", "memory")
    }
    if custom:
        args["resources"] = custom
    return args


@dataclass(frozen=True)
class SegmentJob:
    """What every map call of one segment needs; pickled into the Ray tasks."""

    specs: tuple[tuple[str, str], ...]
    settings: RunSettings
    out: str
    segment: Segment
    is_last: bool
    shards: tuple[Shard, ...]
    extra_stages: dict[str, type] = field(default_factory=dict, hash=False)

    def stages(self) -> list[Stage]:
        for name, cls in self.extra_stages.items():  # stages defined outside textmill
            STAGES.setdefault(name, cls)
        return _stages_for(self.specs)

    def task(self, index: int) -> Task:
        return Task(
            self.specs, self.settings, self.out, self.segment, self.shards[index], self.is_last
        )

    def parts(self, index: int) -> Path:
        return Layout(Path(self.out)).parts(self.shards[index].name, self.segment.index)


def stage_groups(
    indices: Sequence[int], resources: Sequence[Resources]
) -> list[tuple[tuple[int, ...], Resources]]:
    """Consecutive stages asking for the same resources run in one map call."""
    groups: list[tuple[list[int], Resources]] = []
    for i in indices:
        if groups and dict(groups[-1][1]) == dict(resources[i]):
            groups[-1][0].append(i)
        else:
            groups.append(([i], resources[i]))
    return [(tuple(members), wanted) for members, wanted in groups]


def build_dataset(job: SegmentJob, resources: Sequence[Resources], max_retries: int):
    """The segment's dataset: each output row says what one block wrote for one shard."""
    import ray

    groups = stage_groups(job.segment.stages, resources)
    write_resources = (
        resources[job.segment.emits]
        if job.segment.emits is not None
        else (groups[-1][1] if groups else DEFAULT_RESOURCES)
    )
    # max_retries as a remote argument (deprecated in Ray 2.60, no named parameter yet): a
    # ray_remote_args_fn would stop Ray Data from fusing the map calls into one task.
    warnings.filterwarnings("ignore", "`ray_remote_args` is deprecated", DeprecationWarning)
    common = {"batch_format": "pyarrow", "max_retries": max_retries}
    items = [{"shard": i} for i in range(len(job.shards))]
    dataset = ray.data.from_items(items, override_num_blocks=len(items))
    first = groups[0][1] if groups else write_resources
    dataset = dataset.map_batches(
        functools.partial(read_shards, job), batch_size=1, **common, **ray_args(first)
    )
    for k, (members, wanted) in enumerate(groups):
        dataset = dataset.map_batches(
            functools.partial(run_group, job, members, k == 0),
            batch_size=None,
            **common,
            **ray_args(wanted),
        )
    return dataset.map_batches(
        functools.partial(write_parts, job, not groups),
        batch_size=None,
        **common,
        **ray_args(write_resources),
    )


# ---------------------------------------------------------------- read


def read_shards(job: SegmentJob, items: pa.Table) -> Iterator[pa.Table]:
    for index in items["shard"].to_pylist():
        yield from _read_shard(job, index)


def _read_shard(job: SegmentJob, index: int) -> Iterator[pa.Table]:
    """The shard's input batches as the local executor reads them, tagged; then an END row
    carrying the reader's counters and the row count, so that the driver can tell when every
    row of the shard has been written."""
    counters, errors = RunCounters(), []
    emitted = batch = seen = 0
    for docs in _input_batches(job.task(index), counters, errors):
        table = _concat(
            [_tagged(docs, index, batch, DOC), _error_rows(errors[seen:], index, batch, 0)]
        )
        seen = len(errors)
        emitted += table.num_rows
        batch += 1
        yield table
    end = _tagged(pa.table({EXPECT: pa.array([None], pa.int64())}), index, batch, END, 1 << 62)
    tail = _concat([_error_rows(errors[seen:], index, batch, 0), end])
    expect = np.full(tail.num_rows, -1, np.int64)
    expect[-1] = emitted + tail.num_rows
    tail = tail.set_column(tail.schema.get_field_index(EXPECT), EXPECT, pa.array(expect))
    yield with_ledger(tail, counters, None)


# ---------------------------------------------------------------- stages


def run_group(job: SegmentJob, members: tuple[int, ...], first: bool, block: pa.Table) -> pa.Table:
    """Stages `members` over the block's live rows, batch by batch as read; other rows pass."""
    stages = job.stages()
    segment = job.segment
    out = []
    for index, rows in by_shard(block):
        shard = job.shards[index]
        collector = ReportCollector(
            _task_key(job, index, rows, members[0]), segment.index, job.is_last
        )
        decisions = (
            shard_decisions_cached(Layout(Path(job.out)), segment.applies, shard)
            if segment.applies in members
            else None
        )
        chain = stage_chain(stages, members, segment.applies, decisions, collector)
        counters = RunCounters()
        live = pc.equal(rows[KIND], DOC)
        pieces = [rows.filter(pc.invert(live))]
        for batch, tagged in by_batch(rows.filter(live)):
            docs = documents(tagged)
            if first:
                collector.observe_input(docs)
            outcome = run_stages(chain, docs, counters)
            # rows keep the seq they were read with, wherever Ray Data cut the batch
            read_keys, read_seq = docs[KEY].to_numpy(), np.asarray(tagged[SEQ])
            pieces.append(
                _tagged(
                    outcome.kept, index, batch, DOC, _read_seq(read_keys, read_seq, outcome.kept)
                )
            )
            stage = 0
            for rejects in outcome.rejects:
                name = rejects[REJECT_STAGE][0].as_py()
                stage = next((k for k in members[stage:] if stages[k].name == name), members[0])
                seq = (stage + 1) * STAGE_SEQ + _read_seq(read_keys, read_seq, rejects)
                pieces.append(_tagged(_prefixed(rejects), index, batch, REJECT, seq))
                stage = members.index(stage)
            offset = (members[0] + 1) * STAGE_SEQ
            pieces.append(_error_rows(outcome.errors, index, batch, offset))
        out.append(with_ledger(_concat(pieces), counters, collector.state()))
    return _concat(out)


def shard_decisions_cached(layout: Layout, stage: int, shard: Shard) -> pa.Table:
    """A shard's decisions, read once per worker for all the blocks of the shard; keyed by the
    decision file's identity too, since a worker outlives runs (a re-run into the same output
    directory writes new decisions)."""
    state = layout.decisions(stage).stat()
    return _decisions(layout, stage, shard, state.st_mtime_ns, state.st_size)


@functools.lru_cache(maxsize=4)
def _decisions(layout: Layout, stage: int, shard: Shard, *_identity: int) -> pa.Table:
    return shard_decisions(layout, stage, shard)


# ---------------------------------------------------------------- write


def write_parts(job: SegmentJob, first: bool, block: pa.Table) -> pa.Table:
    """Each shard's rows of the block as part files (kept data, rejects, signatures, errors),
    the kept rows accounted as the local executor does; returns one stats row per shard."""
    stages = job.stages()
    emitter = emitter_of(stages, job.segment)
    stats = []
    for index, rows in by_shard(block):
        collector = ReportCollector(_task_key(job, index, rows, -1), job.segment.index, job.is_last)
        counters = RunCounters()
        kinds = rows[KIND]
        data, signatures, errors = [], [], []
        for batch, kept in by_batch(rows.filter(pc.equal(kinds, DOC))):
            docs = documents(kept)
            if first:
                collector.observe_input(docs)
            signed_docs, signed, failed, signed_rows = account_kept(
                docs, counters, collector, emitter, job.is_last
            )
            if signed_rows is not None:  # rows the emitting stage failed on: errors, not data
                kept = kept.filter(pa.array(signed_rows))
                offset = (job.segment.emits + 1) * STAGE_SEQ
                errors.append(_error_rows(failed, index, batch, offset))
            data.append(_order(without_key(signed_docs) if job.is_last else signed_docs, kept))
            if signed is not None:  # not one row per document (paragraph hashes): own seq
                signatures.append(_tagged(signed, index, batch, DOC).drop_columns([SHARD, KIND]))
        rejects = rows.filter(pc.equal(kinds, REJECT))
        rejects = _order(_unprefixed(rejects), rejects)
        errors.append(rows.filter(pc.equal(kinds, FAILED)))
        errors = _concat(errors).select([BATCH, SEQ, ERROR])
        part = _part_name(rows)
        folder = job.parts(index)
        for kind, tables in (
            ("data", data),
            ("sig", signatures),
            ("rej", [rejects]),
            ("err", [errors]),
        ):
            tables = [t for t in tables if t.num_rows]
            if tables:
                _write_part(_concat(tables), folder / f"{kind}-{part}.parquet")
        carried = rows[LEDGER].drop_null().to_pylist() if LEDGER in rows.column_names else []
        ledgers = [entry for text in carried for entry in text.split("\n")]
        ledgers.append(_ledger(counters, collector.state()))
        ends = rows.filter(pc.equal(kinds, END))
        expected = ends[EXPECT].to_pylist() if ends.num_rows else []
        stats.append(
            {
                "shard": index,
                "part": part,
                "rows": rows.num_rows,
                "expected": expected[0] if expected else -1,
                "ledger": "\n".join(ledgers),
            }
        )
    return pa.Table.from_pylist(stats, schema=STATS_SCHEMA)


STATS_SCHEMA = pa.schema(
    [
        ("shard", pa.int32()),
        ("part", pa.string()),
        ("rows", pa.int64()),
        ("expected", pa.int64()),
        ("ledger", pa.large_string()),
    ]
)


def _write_part(table: pa.Table, path: Path) -> None:
    """Atomically: a retried task rewrites the same part under the same name."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    pq.write_table(table, temporary, compression=PART_COMPRESSION)
    os.replace(temporary, path)


def _part_name(rows: pa.Table) -> str:
    """Deterministic (a retried task rewrites the same file) and distinct between blocks."""
    digest = hashlib.sha256()
    for column in (KIND, BATCH, SEQ):
        if column in rows.column_names:
            digest.update(np.asarray(rows[column].fill_null(-1)).tobytes())
    for column in ("id", f"{REJECTED}id", ERROR):
        if column in rows.column_names:
            digest.update("\x00".join(map(str, rows[column].to_pylist())).encode())
    return digest.hexdigest()[:20]


# ---------------------------------------------------------------- closing shards


class ShardTracker:
    """What the writers reported, per shard; a shard is complete when its written rows add up
    to the count its reader emitted."""

    def __init__(self, shards: int):
        self.parts: list[dict[str, tuple[int, str]]] = [{} for _ in range(shards)]
        self.expected: list[int | None] = [None] * shards

    def add(self, row: Mapping[str, Any]) -> bool:
        """Record one stats row; True when its shard just became complete."""
        index = row["shard"]
        self.parts[index][row["part"]] = (row["rows"], row["ledger"])  # a retry replaces
        if row["expected"] >= 0:
            self.expected[index] = row["expected"]
        return self.complete(index)

    def complete(self, index: int) -> bool:
        written = sum(rows for rows, _ in self.parts[index].values())
        return self.expected[index] is not None and written == self.expected[index]

    def ledgers(self, index: int) -> list[dict[str, Any]]:
        return [
            json.loads(entry)
            for _, (_, ledger) in sorted(self.parts[index].items())
            for entry in ledger.split("\n")
        ]


class ShardCloser:
    """Closes complete shards with `finalize_shard` in Ray tasks on any node, so that the
    driver never reads the data.

    A closing task asks for one CPU like the map tasks, so it runs in one of their (warm)
    worker processes between two map tasks. With no CPU reserved, Ray started extra workers
    for it, and its idle-worker limit then replaced warm map workers with cold ones: 41–45 s
    instead of 28 s for the fineweb benchmark on 2 cores."""

    def __init__(self, job: SegmentJob, max_retries: int):
        import ray

        self._ray = ray
        self._finalize = ray.remote(num_cpus=1, max_retries=max_retries)(finalize_shard)
        self._job = ray.put(job)
        self._running: dict[Any, int] = {}
        self.closed: set[int] = set()

    def close(self, index: int, ledgers: list[dict[str, Any]]) -> None:
        self._running[self._finalize.remote(self._job, index, ledgers)] = index

    def collect(self, wait: bool) -> list[dict[str, Any]]:
        """Summaries of the shards closed since the last call; with `wait`, of all of them."""
        refs = list(self._running)
        if not refs:
            return []
        done, _ = self._ray.wait(refs, num_returns=len(refs), timeout=None if wait else 0)
        summaries = []
        for ref in done:
            summaries.append(self._ray.get(ref))
            self.closed.add(self._running.pop(ref))
        return summaries


def discard_parts(job: SegmentJob) -> None:
    """Parts of shards that did not finish in an earlier attempt are written again."""
    for index in range(len(job.shards)):
        shutil.rmtree(job.parts(index), ignore_errors=True)


def finalize_shard(job: SegmentJob, index: int, ledgers: list[dict[str, Any]]) -> dict[str, Any]:
    """Merge a complete shard's parts into the local executor's files, in the order the local
    executor writes them, then close it with `finish_shard` (done marker last)."""
    layout = Layout(Path(job.out))
    task = job.task(index)
    name, segment = task.shard.name, job.segment
    folder = job.parts(index)
    counters = RunCounters()
    for entry in ledgers:
        counters.add(RunCounters.from_json(entry["counters"]))
    states = [entry["report"] for entry in ledgers if entry["report"] is not None]
    target = layout.data(name) if job.is_last else layout.intermediate(name, segment.index)
    data_path = _merge(sorted(folder.glob("data-*.parquet")), target)
    _merge(sorted(folder.glob("rej-*.parquet")), layout.rejects(name, segment.index))
    if segment.emits is not None:
        _merge(sorted(folder.glob("sig-*.parquet")), layout.signatures(name, segment.emits))
    errors: list[dict[str, Any]] = []
    error_parts = [pq.read_table(p) for p in sorted(folder.glob("err-*.parquet"))]
    if error_parts:
        table = _concat(error_parts).sort_by([(BATCH, "ascending"), (SEQ, "ascending")])
        errors = [json.loads(text) for text in table[ERROR].to_pylist()]
    summary = finish_shard(layout, task, data_path, errors, counters, merge_states(states))
    shutil.rmtree(folder, ignore_errors=True)
    return summary


def _merge(parts: list[Path], target: Path) -> Path | None:
    """Parts sorted by (batch, seq) and written a read batch at a time, as `run_task` does."""
    if not parts:
        return None
    table = _concat([pq.read_table(p) for p in parts])
    table = table.sort_by([(BATCH, "ascending"), (SEQ, "ascending")])
    writer = ParquetShardWriter(target)
    try:
        for _, rows in by_batch(table):
            writer.write(rows.drop_columns([BATCH, SEQ]))
        return writer.close()
    except BaseException:
        writer.abort()
        raise


# ---------------------------------------------------------------- rows


def by_shard(block: pa.Table) -> Iterator[tuple[int, pa.Table]]:
    yield from _runs(block, SHARD)


def by_batch(rows: pa.Table) -> Iterator[tuple[int, pa.Table]]:
    """Contiguous runs of one read batch (rows of a batch stay together in a block)."""
    yield from _runs(rows, BATCH)


def _runs(table: pa.Table, column: str) -> Iterator[tuple[int, pa.Table]]:
    if table.num_rows == 0:
        return
    values = np.asarray(table[column].fill_null(-1))
    starts = np.flatnonzero(np.r_[True, values[1:] != values[:-1]])
    ends = np.r_[starts[1:], len(values)]
    if len(np.unique(values)) == len(starts):
        for start, end in zip(starts, ends, strict=True):
            yield int(values[start]), table.slice(start, end - start)
        return
    for value in np.unique(values):  # interleaved (never produced here, but cheap to allow)
        yield int(value), table.filter(pa.array(values == value))


def documents(rows: pa.Table) -> pa.Table:
    """The document columns only (what the stages see)."""
    return rows.select([c for c in rows.column_names if not c.startswith(PREFIX)])


def _tagged(
    table: pa.Table, shard: int, batch: int, kind: int, seq: int | np.ndarray = 0
) -> pa.Table:
    """Rows tagged with their shard, read batch, kind and seq (a start, or one per row)."""
    n = table.num_rows
    seqs = np.arange(seq, seq + n, dtype=np.int64) if np.isscalar(seq) else seq
    return (
        table.append_column(SHARD, pa.array(np.full(n, shard, np.int32)))
        .append_column(BATCH, pa.array(np.full(n, batch, np.int64)))
        .append_column(SEQ, pa.array(seqs, pa.int64()))
        .append_column(KIND, pa.array(np.full(n, kind, np.int8)))
    )


def _error_rows(errors: Sequence[Any], shard: int, batch: int, offset: int) -> pa.Table:
    texts = [
        json.dumps(e if isinstance(e, dict) else e.__dict__, ensure_ascii=False) for e in errors
    ]
    return _tagged(
        pa.table({ERROR: pa.array(texts, pa.large_string())}), shard, batch, FAILED, offset
    )


def _read_seq(read_keys: np.ndarray, read_seq: np.ndarray, rows: pa.Table) -> np.ndarray:
    """The read seq of `rows`, a subset of the rows read (found by `doc_key`, unique)."""
    keys = rows[KEY].to_numpy()
    order = np.argsort(read_keys, kind="stable")
    at = np.searchsorted(read_keys, keys, sorter=order)
    return read_seq[order[np.minimum(at, len(order) - 1)]]


def _prefixed(rejects: pa.Table) -> pa.Table:
    return rejects.rename_columns([REJECTED + c for c in rejects.column_names])


def _unprefixed(rows: pa.Table) -> pa.Table:
    columns = [REJECTED + f.name for f in REJECTS_SCHEMA]
    if rows.num_rows == 0 or not all(c in rows.column_names for c in columns):
        return REJECTS_SCHEMA.empty_table()
    return pa.Table.from_arrays(
        [rows[c].cast(f.type) for c, f in zip(columns, REJECTS_SCHEMA, strict=True)],
        schema=REJECTS_SCHEMA,
    )


def _order(table: pa.Table, source: pa.Table) -> pa.Table:
    """`table` (rows of `source`, same order) with the sort keys of its rows."""
    if table.num_rows == 0:
        return table
    return table.append_column(BATCH, source[BATCH]).append_column(SEQ, source[SEQ])


def _ledger(counters: RunCounters, report: dict[str, Any] | None) -> str:
    return json.dumps({"counters": counters.to_json(), "report": report}, ensure_ascii=False)


def with_ledger(table: pa.Table, counters: RunCounters, report: dict[str, Any] | None) -> pa.Table:
    """Attach a map call's counters and report state to the first row of what it returns."""
    entry = _ledger(counters, report)
    if LEDGER in table.column_names:
        values = table[LEDGER].to_pylist()
        values[0] = entry if values[0] is None else f"{values[0]}\n{entry}"
        return table.set_column(
            table.schema.get_field_index(LEDGER), LEDGER, pa.array(values, pa.large_string())
        )
    values = [entry] + [None] * (table.num_rows - 1)
    return table.append_column(LEDGER, pa.array(values, pa.large_string()))


def _task_key(job: SegmentJob, index: int, rows: pa.Table, stage: int) -> str:
    """Seeds the report's samples: stable for a shard's rows, whatever the block."""
    first = int(pc.min(rows[BATCH]).as_py() or 0) if BATCH in rows.column_names else 0
    return f"{job.shards[index].name}/s{job.segment.index}/{stage}/{first}"


def _concat(tables: Sequence[pa.Table]) -> pa.Table:
    tables = [t for t in tables if t.num_columns]
    return pa.concat_tables(tables, promote_options="permissive") if tables else pa.table({})
