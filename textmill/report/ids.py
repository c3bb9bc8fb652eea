"""Input ids that occur more than once: textmill never trusts ids to be unique (every decision
joins on `doc_key`), but a user who joins its output on `id` should know when they repeat.

Counted at the end of a run over the `id` column of OUT/data and OUT/rejects, where every
document read ends but those a stage failed on (OUT/errors names them). Exact: Arrow groups the
ids themselves, in passes of at most `rows_per_pass` rows split by a hash of the id, so memory
stays bounded on any corpus.
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

EXAMPLES = 5
ROWS_PER_PASS = 20_000_000  # ~1-2 GiB of ids and their groups at a time


def repeated_ids(
    out: str | Path, examples: int = EXAMPLES, rows_per_pass: int = ROWS_PER_PASS
) -> dict[str, Any]:
    """{"ids": distinct ids seen more than once, "documents": documents carrying them,
    "examples": [{"id", "documents"}, ...] most repeated first}."""
    out = Path(out)
    files = [p for sub in ("data", "rejects") for p in sorted((out / sub).glob("*.parquet"))]
    total = sum(pq.ParquetFile(p).metadata.num_rows for p in files)
    passes = max(1, math.ceil(total / rows_per_pass))
    ids = documents = 0
    found: list[pa.Table] = []
    for part in range(passes):
        column = pa.chunked_array(list(_ids_of_pass(files, part, passes)), pa.string())
        counts = pa.table({ID: column}).group_by(ID).aggregate([(ID, "count")])
        many = counts.filter(pc.greater(counts[f"{ID}_count"], 1))
        ids += many.num_rows
        documents += int(pc.sum(many[f"{ID}_count"]).as_py() or 0)
        found.append(_most_repeated(many, examples))
    top = _most_repeated(pa.concat_tables(found), examples)
    return {
        "ids": ids,
        "documents": documents,
        "examples": [{"id": row[ID], "documents": row[f"{ID}_count"]} for row in top.to_pylist()],
    }


def _ids_of_pass(files: Sequence[Path], part: int, passes: int) -> Iterator[pa.Array]:
    for path in files:
        for batch in pq.ParquetFile(path).iter_batches(batch_size=1_000_000, columns=[ID]):
            column = batch.column(0).cast(pa.string())
            if passes > 1:
                column = column.filter(pa.array(_id_hashes(column) % passes == part))
            yield column


def _id_hashes(column: pa.Array) -> np.ndarray:
    from textmill.text import decode
    from textmill.text.hashing import spans_hashes

    chars = decode(column)
    hashes, _ = spans_hashes(chars, chars.offsets[:-1], chars.offsets[1:])
    return hashes


def _most_repeated(counts: pa.Table, limit: int) -> pa.Table:
    order = [(f"{ID}_count", "descending"), (ID, "ascending")]
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
