"""FineWeb-2's rehydration: how many copies of each kept document the final mix should hold.

MinHash keeps one document per duplicate cluster and records the cluster's size. Content that
many sites repeat is often good (upsample it a little), but the largest clusters are spam and
boilerplate (do not). The `rehydrate` stage writes the repeat count as `rehydrate_copies`;
`materialize(out_dir)` turns a finished run into rows repeated that many times. Copies are not
made inside the pipeline because a stage never changes the row count: every input document
must end in exactly one place, which keeps the run's counts reconciling.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from pydantic import Field, field_validator, model_validator

from textmill.document import ID, KEY
from textmill.executors.output import Layout
from textmill.io.files import RUN_MANIFEST, is_run_output
from textmill.io.writers import ParquetShardWriter
from textmill.pipeline import Mapper, StageOptions, register
from textmill.stages.dedup.minhash import CLUSTER_SIZE

COPIES = "rehydrate_copies"
COPY_SUFFIX = "#copy"
# FineWeb-2's simple table, as {smallest cluster size: copies}: N=1 → 1, N=2–3 → N, N=4 → 3,
# N=5–99 → 5, N=100–999 → 8, N ≥ 1000 → 1.
FINEWEB2_TABLE: dict[int, int] = {1: 1, 2: 2, 3: 3, 4: 3, 5: 5, 100: 8, 1000: 1}
MAX_COPIES = 10  # FineWeb-2's data-driven method: the size with the lowest removal rate
SMOOTHING_WINDOW = 5  # and its moving average over neighbouring cluster sizes


def _check_table(table: Mapping[int, int]) -> dict[int, int]:
    if not table:
        raise ValueError("a rehydration table needs at least one entry")
    if any(size < 1 for size in table) or any(copies < 1 for copies in table.values()):
        raise ValueError("cluster sizes and copies must be at least 1")
    return {int(size): int(copies) for size, copies in sorted(table.items())}


def read_rehydration_table(path: str | Path) -> dict[int, int]:
    """A table written by `write_rehydration_table`: JSON {"cluster size": copies}."""
    data = json.loads(Path(path).read_text("utf-8"))
    return _check_table({int(size): int(copies) for size, copies in data.items()})


def write_rehydration_table(table: Mapping[int, int], path: str | Path) -> Path:
    path = Path(path)
    path.write_text(json.dumps({str(k): v for k, v in _check_table(table).items()}, indent=1))
    return path


def copies_for(sizes: np.ndarray, table: Mapping[int, int]) -> np.ndarray:
    """Copies per cluster size: the entry of the largest table size not above it (1 below all)."""
    table = _check_table(table)
    keys = np.array(list(table), dtype=np.int64)
    values = np.array(list(table.values()), dtype=np.int32)
    slot = np.searchsorted(keys, sizes, side="right") - 1
    return np.where(slot >= 0, values[np.maximum(slot, 0)], 1).astype(np.int32)


def rehydration_table(
    docs_by_size: Mapping[int, int],
    removed_by_size: Mapping[int, int],
    *,
    max_copies: int = MAX_COPIES,
    window: int = SMOOTHING_WINDOW,
) -> dict[int, int]:
    """FineWeb-2's data-driven table from how often later filtering removed documents of each
    cluster size: a size whose removal rate is at or above the global rate gets 1 copy, the
    size with the lowest rate `max_copies`, others linearly in between; the copies are then
    smoothed by a `window`-wide moving average over consecutive observed sizes (narrower at
    the ends) and rounded.

    docs_by_size: documents that reached the filters, per cluster size; removed_by_size: how
    many of them the filters removed.
    """
    sizes = np.array(sorted(s for s, n in docs_by_size.items() if n > 0), dtype=np.int64)
    if len(sizes) == 0:
        return {1: 1}
    docs = np.array([docs_by_size[s] for s in sizes], dtype=np.float64)
    removed = np.array([removed_by_size.get(int(s), 0) for s in sizes], dtype=np.float64)
    rates = removed / docs
    global_rate = removed.sum() / docs.sum()
    lowest = rates.min()
    copies = np.ones(len(sizes))
    if global_rate > lowest:
        scale = np.clip((global_rate - rates) / (global_rate - lowest), 0.0, 1.0)
        copies = 1.0 + (max_copies - 1) * scale
    half = window // 2
    smoothed = np.array(
        [copies[max(0, i - half) : i + half + 1].mean() for i in range(len(copies))]
    )
    rounded = np.clip(np.floor(smoothed + 0.5), 1, max_copies).astype(int)
    return {int(s): int(c) for s, c in zip(sizes, rounded, strict=True)}


def removal_counts_from_run(
    out_dir: str | Path, dedup_stage: str = "minhash_dedup"
) -> tuple[dict[int, int], dict[int, int]]:
    """(documents per cluster size, of which removed) for the stages after `dedup_stage` in a
    finished local run: kept documents carry `dup_cluster_size`; a document a later stage
    rejected gets its size from the dedup stage's decisions (absent there: size 1), found by
    `doc_key`, which rejects and decisions both carry (ids may repeat)."""
    out = Path(out_dir)
    stats = json.loads((out / "stats.json").read_text("utf-8"))
    names = [next(iter(step)) for step in stats["pipeline"]]
    if dedup_stage not in names:
        raise ValueError(f"{out}: the run has no {dedup_stage} stage (stages: {names})")
    index = names.index(dedup_stage)
    later = set(names[index + 1 :]) - {dedup_stage}
    kept_sizes = [
        pq.read_table(path, columns=[CLUSTER_SIZE])[CLUSTER_SIZE].to_numpy(zero_copy_only=False)
        for path in Layout(out).written("data")
    ]
    removed_keys = [
        table.filter(pc.is_in(table["reject_stage"], pa.array(sorted(later), pa.string())))[KEY]
        for table in (
            pq.read_table(path, columns=[KEY, "reject_stage"])
            for path in Layout(out).written("rejects")
        )
    ]
    decisions_path = out / ".textmill" / f"g{index}" / "decisions.parquet"
    decisions = pq.read_table(decisions_path, columns=[KEY, "reason", CLUSTER_SIZE])
    clustered = decisions.filter(pc.is_null(decisions["reason"]))
    removed_keys_array = pa.chunked_array(removed_keys, pa.int64())
    positions = pc.index_in(removed_keys_array, value_set=clustered[KEY])
    removed_sizes = pc.fill_null(pc.take(clustered[CLUSTER_SIZE], positions), 1).to_numpy()
    kept = np.concatenate([*kept_sizes, np.zeros(0, np.int64)]).astype(np.int64)
    removed = np.asarray(removed_sizes, dtype=np.int64)
    all_sizes = np.concatenate([kept, removed])
    docs_by_size = dict(zip(*np.unique(all_sizes, return_counts=True), strict=True))
    removed_by_size = dict(zip(*np.unique(removed, return_counts=True), strict=True))
    return (
        {int(k): int(v) for k, v in docs_by_size.items()},
        {int(k): int(v) for k, v in removed_by_size.items()},
    )


@register("rehydrate")
class Rehydrate(Mapper):
    """Writes `rehydrate_copies`, how many times the final mix should repeat each document,
    from `dup_cluster_size` (put minhash_dedup before it).

    Default: FineWeb-2's simple table (N=1 → 1, 2–3 → N, 4 → 3, 5–99 → 5, 100–999 → 8,
    ≥1000 → 1). `table` ({smallest cluster size: copies}) or `table_path` (JSON from
    `textmill.stages.rehydrate.write_rehydration_table`, e.g. the data-driven table of
    `rehydration_table(*removal_counts_from_run(out))`) replace it. The rows themselves are
    repeated after the run by `textmill.stages.rehydrate.materialize(out_dir)`.
    """

    class Options(StageOptions):
        table: dict[int, int] | None = None
        table_path: str | None = None
        missing_size: int = Field(1, ge=1)  # cluster size of a document without one

        @field_validator("table")
        @classmethod
        def _valid_table(cls, table):
            return None if table is None else _check_table(table)

        @model_validator(mode="after")
        def _one_table(self):
            if self.table is not None and self.table_path is not None:
                raise ValueError("give either table or table_path, not both")
            return self

    def setup(self) -> None:
        o = self.options
        if o.table_path is not None:
            self._table = read_rehydration_table(o.table_path)
        else:
            self._table = o.table if o.table is not None else FINEWEB2_TABLE

    def map(self, batch: pa.Table) -> pa.Table:
        if not hasattr(self, "_table"):
            self.setup()
        if CLUSTER_SIZE not in batch.column_names:
            raise ValueError(f"rehydrate needs {CLUSTER_SIZE}: put minhash_dedup before it")
        sizes = pc.fill_null(batch[CLUSTER_SIZE], self.options.missing_size).to_numpy()
        column = pa.array(copies_for(np.asarray(sizes, dtype=np.int64), self._table), pa.int32())
        if COPIES in batch.column_names:
            return batch.set_column(batch.column_names.index(COPIES), COPIES, column)
        return batch.append_column(COPIES, column)


def materialize(
    out_dir: str | Path, target: str | Path | None = None, batch_rows: int = 65_536
) -> int:
    """Write every row of OUT/data/*.parquet `rehydrate_copies` times into `target` (default
    OUT/rehydrated/, same file names); copy k ≥ 1 gets the id `<id>#copy<k>`. Returns the rows
    written. The run's own output and counts stay as they were."""
    out = Path(out_dir)
    if not is_run_output(out):
        raise ValueError(f"{out} is not a textmill output folder (no {RUN_MANIFEST})")
    target = Path(target) if target is not None else out / "rehydrated"
    files = Layout(out).written("data")
    if not files:
        raise ValueError(f"{out}: no data/*.parquet, not the output of a finished run")
    written = 0
    for path in files:
        file = pq.ParquetFile(path)
        if COPIES not in file.schema_arrow.names:
            raise ValueError(f"{path}: no {COPIES} column; run the rehydrate stage first")
        writer = ParquetShardWriter(target / path.name)
        try:
            for record_batch in file.iter_batches(batch_size=batch_rows):
                rows = pa.Table.from_batches([record_batch])
                copies = pc.fill_null(rows[COPIES], 1).to_numpy().astype(np.int64)
                copies = np.maximum(copies, 1)
                repeated = rows.take(pa.array(np.repeat(np.arange(rows.num_rows), copies)))
                copy_number = np.arange(len(repeated)) - np.repeat(
                    np.cumsum(copies) - copies, copies
                )
                suffixed = pc.binary_join_element_wise(
                    repeated[ID], COPY_SUFFIX, pa.array(copy_number).cast(pa.string()), ""
                )
                ids = pc.if_else(pa.array(copy_number == 0), repeated[ID], suffixed)
                repeated = repeated.set_column(repeated.column_names.index(ID), ID, ids)
                writer.write(repeated)
                written += repeated.num_rows
            writer.close()
        except BaseException:
            writer.abort()
            raise
    return written
