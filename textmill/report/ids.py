"""Input ids that occur more than once: textmill never trusts ids to be unique (every decision
joins on `doc_key`), but a user who joins its output on `id` should know when they repeat.

Counted at the end of a run over the `id` column of OUT/data and OUT/rejects, where every
document read ends but those a stage failed on (OUT/errors names them). Exact: the ids
themselves are sorted and compared, in parts of about `rows_per_pass` rows split by a hash of
the id (spilled under OUT/.textmill/work, read once), so memory stays bounded on any corpus.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from textmill.document import ID
from textmill.executors.output import Layout

EXAMPLES = 5
ROWS_PER_PASS = 20_000_000  # ~1-2 GiB of ids at a time
COUNT = "documents"


def repeated_ids(
    out: str | Path, examples: int = EXAMPLES, rows_per_pass: int = ROWS_PER_PASS
) -> dict[str, Any]:
    """{"ids": distinct ids seen more than once, "documents": documents carrying them,
    "examples": [{"id", "documents"}, ...] most repeated first}, over the run's own files."""
    layout = Layout(Path(out))
    files = [*layout.written("data"), *layout.written("rejects")]
    return count_repeated_ids(files, layout.state / "work" / "ids", examples, rows_per_pass)


def count_repeated_ids(
    files: Sequence[Path],
    workdir: Path,
    examples: int = EXAMPLES,
    rows_per_pass: int = ROWS_PER_PASS,
) -> dict[str, Any]:
    """`repeated_ids` over the `id` column of any Parquet files."""
    total = sum(pq.ParquetFile(p).metadata.num_rows for p in files)
    passes = max(1, math.ceil(total / rows_per_pass))
    ids = documents = 0
    found: list[pa.Table] = []
    for column in _id_partitions(files, passes, workdir):
        many = _repeated(column)
        ids += many.num_rows
        documents += int(pc.sum(many[COUNT]).as_py() or 0)
        found.append(_most_repeated(many, examples))
    top = _most_repeated(pa.concat_tables(found), examples)
    return {
        "ids": ids,
        "documents": documents,
        "examples": [{"id": row[ID], "documents": row[COUNT]} for row in top.to_pylist()],
    }


def _id_batches(files: Sequence[Path]) -> Iterator[pa.Array]:
    for path in files:
        for batch in pq.ParquetFile(path).iter_batches(batch_size=1_000_000, columns=[ID]):
            yield batch.column(0).cast(pa.string())


def _id_partitions(files: Sequence[Path], passes: int, workdir: Path) -> Iterator[pa.Array]:
    """All ids at once, or (passes > 1) spilled by a hash of the id to `passes` files in one
    read, then one file at a time: every copy of an id lands in the same part."""
    if passes == 1:
        yield pa.chunked_array(list(_id_batches(files)), pa.string()).combine_chunks()
        return
    workdir.mkdir(parents=True, exist_ok=True)
    writers: dict[int, pq.ParquetWriter] = {}
    try:
        for column in _id_batches(files):
            part = (_id_hashes(column) % np.uint64(passes)).astype(np.int64)
            order = np.argsort(part, kind="stable")
            bounds = np.searchsorted(part[order], np.arange(passes + 1))
            column = column.take(pa.array(order))
            for p in np.flatnonzero(np.diff(bounds)):
                if p not in writers:
                    schema = pa.schema([pa.field(ID, pa.string())])
                    writers[p] = pq.ParquetWriter(workdir / f"part-{p:05d}.parquet", schema)
                piece = column.slice(bounds[p], bounds[p + 1] - bounds[p])
                writers[p].write_table(pa.table({ID: piece}))
    finally:
        for writer in writers.values():
            writer.close()
    for p in sorted(writers):
        path = workdir / f"part-{p:05d}.parquet"
        yield pq.read_table(path)[ID].combine_chunks()
        path.unlink()


def _repeated(column: pa.Array) -> pa.Table:
    """(id, count) of the ids in `column` that occur more than once: sorted, then runs of
    equal neighbours (a sort beats Arrow's hash group-by here, and holds no hash table)."""
    column = column.drop_null()
    if len(column) < 2:
        return pa.table({ID: pa.array([], pa.string()), COUNT: pa.array([], pa.int64())})
    ordered = column.take(pc.array_sort_indices(column))
    same = pc.equal(ordered.slice(1), ordered.slice(0, len(ordered) - 1))
    starts = np.flatnonzero(np.r_[True, ~same.to_numpy(zero_copy_only=False)])
    counts = np.diff(np.r_[starts, len(ordered)])
    many = counts > 1
    return pa.table({ID: ordered.take(pa.array(starts[many])), COUNT: counts[many]})


def _id_hashes(column: pa.Array) -> np.ndarray:
    from textmill.text import decode
    from textmill.text.hashing import spans_hashes

    chars = decode(column)
    hashes, _ = spans_hashes(chars, chars.offsets[:-1], chars.offsets[1:])
    return hashes


def _most_repeated(counts: pa.Table, limit: int) -> pa.Table:
    order = [(COUNT, "descending"), (ID, "ascending")]
    return counts.sort_by(order).slice(0, limit)


def repeated_ids_note(stats: dict[str, Any]) -> str | None:
    """The sentence the report and the dataset card show when input ids repeat (plain text:
    each format escapes it, since the ids come from the data)."""
    repeated = stats.get("repeated_ids") or {}
    if not repeated.get("ids"):
        return None
    shown = ", ".join(f"{e['id']} ({e['documents']:,}×)" for e in repeated.get("examples", []))
    return (
        f"Input ids repeat: {repeated['ids']:,} ids occur more than once, on "
        f"{repeated['documents']:,} documents (e.g. {shown}). No document was lost or merged "
        "for it (textmill decides on its own per-document key, `doc_key` in the rejects), but "
        "`id` does not identify a document of this dataset: join on it with care."
    )
