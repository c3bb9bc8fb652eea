"""`textmill order`: a corpus written easy -> hard (a curriculum) by any numeric column.

The sort is DuckDB's, over the Parquet files as they are, within a memory budget (it spills
to OUT/.textmill/work), never a Python sort of rows; the result streams out as Arrow batches
into OUT/data/part-NNNNN.parquet, whose sorted file names keep the order for every reader, so
`textmill tokenize OUT` (without --shuffle-seed) writes the tokens in this order. Ties keep the
input order (file, then row). With `stages=K` the documents are cut into K stages at the
column's K-quantiles (equal scores always share a stage, so stages are equal up to ties) and
shuffled inside each (seeded: an md5 of the seed and the document's file and row, so the same
command gives the same bytes); a `order_stage` column (1..K) says which. The stage bounds come
from the key column alone, so the one sort that carries whole documents is a plain ORDER BY,
which DuckDB spills to disk (a window or a join over whole documents would not stay within
the budget). Documents with a null score come last, in input order (no stage), and are counted.

`--by length` with no `length` column orders by the text's length in characters; any other
name must be a numeric column: `lm_loss` (stage lm_score), `readability_grade` (stage
readability), `quality_score`, ...

OUT is a textmill output like a run's (its data/ is what tokenize, mix and run read), with
`order.json`: the column, the direction, per stage its documents and score range. A failed
order removes the files it wrote.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from textmill import __version__
from textmill.executors.output import (
    Layout,
    RunError,
    check_output_folder,
    output_lock,
    remove_owned,
)
from textmill.io import InputError, plan_shards
from textmill.io.files import is_run_output
from textmill.io.writers import ParquetShardWriter, write_json_atomically
from textmill.tokens.reading import input_arguments

ORDER_REPORT = "order.json"
ORDER_STAGE = "order_stage"
LENGTH = "length"
DEFAULT_MEMORY = "2GB"
ROWS_PER_FILE = 250_000
BATCH_ROWS = 8192  # rows DuckDB hands over at a time (its result buffer counts in the budget)
MEMORY_PER_THREAD = 256 << 20  # DuckDB sort threads the budget affords (each holds its runs)
_FILE, _ROW = "__textmill_file", "file_row_number"


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def order(
    inputs: Sequence[str | Path] | str | Path,
    out: str | Path,
    *,
    by: str,
    stages: int | None = None,
    descending: bool = False,
    seed: int = 0,
    memory: str = DEFAULT_MEMORY,
    threads: int | None = None,
    rows_per_file: int = ROWS_PER_FILE,
    overwrite: bool = False,
    command: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Write the documents of `inputs` (Parquet files, folders, textmill outputs) to `out`
    ordered by column `by`; returns what OUT/order.json holds."""
    try:
        import duckdb
    except ImportError as error:
        raise ImportError("textmill order needs duckdb: pip install 'textmill[order]'") from error
    if isinstance(inputs, (str, Path)):
        inputs = [inputs]
    if stages is not None and stages < 1:
        raise InputError(f"--stages {stages}: at least 1")
    if seed < 0:
        raise InputError(f"--seed {seed}: a seed is 0 or more")
    if _memory_bytes(memory) is None:
        raise InputError(f"--memory {memory}: a size such as 256MB or 2GB")
    out = Path(out)
    check_output_folder(out)
    if is_run_output(out) and not overwrite:
        raise RunError(f"{out} already holds textmill output; pass --overwrite (overwrite=True)")
    files = _parquet_files([str(p) for p in inputs], out)
    layout = Layout(out)
    with output_lock(layout):
        if is_run_output(out):
            remove_owned(layout, json.loads(layout.manifest.read_text("utf-8")), finished=True)
        spill = layout.state / "work" / "duckdb"
        spill.mkdir(parents=True, exist_ok=True)
        connection = duckdb.connect(config={"memory_limit": memory, "temp_directory": str(spill),
                                            "preserve_insertion_order": True})  # fmt: skip
        connection.execute(f"SET threads = {int(threads or default_threads(memory))}")
        try:
            report = _write(connection, files, out, by, stages, descending, seed, rows_per_file)
        except duckdb.Error as error:
            raise InputError(f"order: {error}".splitlines()[0]) from None
        finally:
            connection.close()
            shutil.rmtree(spill, ignore_errors=True)
            with contextlib.suppress(OSError):
                spill.parent.rmdir()
        report.update(
            inputs=[str(p) for p in inputs], command=list(command) if command else None,
            memory=memory, version=__version__,
        )  # fmt: skip
        write_json_atomically(report, out / ORDER_REPORT)
        shards = [Path(name).stem for name in report["files"]]
        run = {"command": "order", "version": __version__, "shards": shards, "segments": 1,
               "files": [ORDER_REPORT]}  # fmt: skip
        write_json_atomically(run, layout.manifest)
    return report


def _memory_bytes(memory: str) -> float | None:
    """A DuckDB memory limit (256MB, 2GB, 1.5GiB) in bytes; None when it is no size."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMGT]?i?B)\s*", memory, re.IGNORECASE)
    if not match:
        return None
    unit = match.group(2).upper().replace("I", "")
    scale = {"B": 1, "KB": 1 << 10, "MB": 1 << 20, "GB": 1 << 30, "TB": 1 << 40}[unit]
    return float(match.group(1)) * scale


def default_threads(memory: str) -> int:
    """One DuckDB thread per MEMORY_PER_THREAD of the budget, at least 1, at most the cores:
    each sorting thread holds its own runs, and too many for the budget run out of memory."""
    budget = _memory_bytes(memory)
    if budget is None:
        return 1
    return max(1, min(os.cpu_count() or 1, int(budget // MEMORY_PER_THREAD)))


def _parquet_files(arguments: list[str], out: Path) -> list[str]:
    """The Parquet files under the arguments (a textmill output: its data/), in path order."""
    shards, unknown = plan_shards(input_arguments(arguments), exclude=[str(out)])
    files = []
    for shard in shards:
        if shard.format != "parquet":
            raise InputError(
                f"{shard.paths[0]}: order reads Parquet (a textmill run's output or Parquet "
                f"files), not {shard.format}; run `textmill run` on it first"
            )
        files.extend(shard.paths)
    if not files:
        raise InputError(f"no Parquet input in {', '.join(arguments)} (unreadable: {unknown})")
    resolved = out.resolve()
    for path in files:
        if resolved in Path(path).resolve().parents:
            raise InputError(f"{path} lies inside the output folder {out}; write elsewhere")
    return files


def _key(connection: Any, source: str, by: str) -> tuple[str, list[str]]:
    """The SQL expression to order by (the numeric column, or the text length for `length`)
    and the input's columns."""
    columns = {
        row[0]: row[1] for row in connection.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()
    }
    names = list(columns)
    if by not in columns:
        if by == LENGTH and "text" in columns:
            return "length(text)", names
        own = (_FILE, _ROW)  # the reader's columns, no input column
        numeric = sorted(n for n, kind in columns.items() if _is_numeric(kind) and n not in own)
        raise InputError(f"--by {by}: no such column (numeric columns: {', '.join(numeric)})")
    if not _is_numeric(columns[by]):
        raise InputError(f"--by {by}: column is {columns[by]}, not a number")
    return _quote(by), names


def _is_numeric(kind: str) -> bool:
    kind = kind.upper()
    return kind in {"BOOLEAN"} or any(
        kind.startswith(t) for t in ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT",
                                     "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT", "FLOAT",
                                     "DOUBLE", "DECIMAL", "REAL")
    )  # fmt: skip


def _write(
    connection: Any,
    files: list[str],
    out: Path,
    by: str,
    stages: int | None,
    descending: bool,
    seed: int,
    rows_per_file: int,
) -> dict[str, Any]:
    paths = "[" + ", ".join(_literal(p) for p in files) + "]"
    source = (
        f"read_parquet({paths}, filename={_literal(_FILE)}, file_row_number=true, "
        "union_by_name=true)"
    )
    key, columns = _key(connection, source, by)
    direction = "DESC" if descending else "ASC"
    position = f"list_position({paths}, {_FILE})"
    # an earlier order's stage column is stale once the rows are ordered again
    rows = f"(SELECT * EXCLUDE ({ORDER_STAGE}) FROM {source})" if ORDER_STAGE in columns else source
    scored = f"SELECT *, {key} AS __key, {position} AS __file_index FROM {rows}"
    helpers = ", ".join([_FILE, _ROW, "__file_index", "__shuffle"])
    if stages:
        # stage bounds from the key column alone; then one plain sort carries the documents
        # (DuckDB spills it to disk within the budget; a window or a join over whole documents
        # would not)
        stage = _stage_expression(connection, source, key, stages, descending)
        shuffle = f"md5({_literal(str(seed))} || '/' || __file_index || '/' || {_ROW})"
        query = f"""
            SELECT * EXCLUDE (__key, {helpers}) FROM (
                SELECT *, {stage} AS {ORDER_STAGE},
                    CASE WHEN __key IS NULL THEN NULL ELSE {shuffle} END AS __shuffle
                FROM ({scored})
            ) ORDER BY {ORDER_STAGE} NULLS LAST, __shuffle, __file_index, {_ROW}
        """
    else:
        query = f"""
            SELECT * EXCLUDE (__key, {helpers}) FROM (SELECT *, NULL AS __shuffle FROM ({scored}))
            ORDER BY __key {direction} NULLS LAST, __file_index, {_ROW}
        """
    written: list[str] = []
    writer: ParquetShardWriter | None = None
    total = 0
    try:
        reader = connection.sql(query).to_arrow_reader(min(rows_per_file, BATCH_ROWS))
        for batch in reader:
            start = 0
            while start < batch.num_rows:
                if writer is None or writer.rows >= rows_per_file:
                    if writer is not None:
                        writer.close()
                    name = f"data/part-{len(written):05d}.parquet"
                    written.append(name)
                    writer = ParquetShardWriter(out / name)
                take = min(batch.num_rows - start, rows_per_file - writer.rows)
                writer.write(_table(batch.slice(start, take)))
                start += take
                total += take
        if writer is not None:
            writer.close()
    except BaseException:  # a failed order leaves no part of itself behind
        if writer is not None:
            writer.abort()
        for name in written:
            (out / name).unlink(missing_ok=True)
        with contextlib.suppress(OSError):  # a folder that holds a user's file stays
            (out / "data").rmdir()
        raise
    summary = connection.execute(
        f"SELECT count(*), count(__key), min(__key), max(__key) FROM ({scored})"
    ).fetchall()[0]
    report: dict[str, Any] = {
        "by": by,
        "key": key,
        "descending": descending,
        "stages": stages,
        "seed": seed if stages else None,
        "documents": total,
        "scored": summary[1],
        "null_scores": summary[0] - summary[1],
        "score_range": [summary[2], summary[3]],
        "files": written,
    }
    if total != summary[0]:
        raise RunError(f"order wrote {total} documents of {summary[0]}: counts do not reconcile")
    if stages and written:
        stats = connection.execute(_stage_stats_query(out, key)).fetchall()
        report["per_stage"] = [
            {"stage": row[0], "documents": row[1], "min": row[2], "max": row[3]} for row in stats
        ]
    return report


def _stage_expression(connection: Any, source: str, key: str, stages: int, descending: bool) -> str:
    """SQL for a row's stage, 1..K (null without a score): the K-quantiles of the column
    (`quantile_disc`, over the scored rows) cut it, equal scores always in the same stage."""
    value = "CAST(__key AS DOUBLE)"
    if descending:
        value = f"-({value})"
    if stages == 1:
        return "CASE WHEN __key IS NULL THEN NULL ELSE 1 END"
    quantiles = ", ".join(repr(i / stages) for i in range(1, stages))
    bounds = connection.execute(
        f"SELECT quantile_disc({value}, [{quantiles}]) FROM (SELECT {key} AS __key FROM {source})"
    ).fetchall()[0][0]
    if not bounds:  # no scored row
        return "CASE WHEN __key IS NULL THEN NULL ELSE 1 END"
    # one list, not a sum of K terms: thousands of stages stay within DuckDB's expression depth
    listed = "[" + ", ".join(f"'{float(b)!r}'::DOUBLE" for b in bounds) + "]"  # inf, nan too
    above = f"len(list_filter({listed}, lambda bound: {value} > bound))"
    return f"CASE WHEN __key IS NULL THEN NULL ELSE 1 + {above} END"


def _stage_stats_query(out: Path, key: str) -> str:
    written = _literal(str(out / "data" / "*.parquet"))
    return (
        f"SELECT {ORDER_STAGE}, count(*), min(__key), max(__key) FROM (SELECT {key} AS __key, "
        f"{ORDER_STAGE} FROM read_parquet({written})) GROUP BY {ORDER_STAGE} "
        f"ORDER BY {ORDER_STAGE} NULLS LAST"
    )


def _table(batch: Any) -> Any:
    import pyarrow as pa

    return pa.Table.from_batches([batch])
