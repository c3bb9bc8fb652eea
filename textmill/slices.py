"""`textmill slice OUT --by year`: a finished run's kept documents split into one folder per
value of a column (temporal slices for diachronic pre-training, or any grouping), each slice a
textmill output of its own (data, stats.json, report.html, README.md dataset card) that
`report`, `tokenize`, `mix` and `slice` itself accept.

`--by year` and `--by month` take the first 4 or 7 characters of an ISO date column (`date`
from the `date` stage by default, `--date-column crawl_date` for crawl time); `--by COLUMN`
takes any column's values. Rows without a value (no date, a year-only date sliced by month)
go to the slice `unknown`; nothing is left out: the slices' documents add up to the run's kept
count, or the command fails. Folder layout:

    DEST/slices.json              by, column, the run, documents per slice, reconciled
    DEST/<value>/data/*.parquet   the slice's documents, in the run's order
    DEST/<value>/stats.json       its counts (read = kept = its documents), the run's stages
    DEST/<value>/README.md        its dataset card (report.html beside it)
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from textmill import __version__
from textmill.document import SOURCE, TEXT
from textmill.executors.output import Layout, RunError, check_output_folder, output_lock
from textmill.io.files import is_run_output
from textmill.io.writers import ParquetShardWriter, write_json_atomically
from textmill.report.build import RunReport, write_report
from textmill.report.collect import ReportCollector, state_path
from textmill.report.stats import RunCounters

GRANULARITIES = {"year": 4, "month": 7, "day": 10}  # characters of an ISO date
DATE_COLUMN = "date"
UNKNOWN = "unknown"
SHARD = "part-00000"
MANIFEST = "slices.json"
MAX_SLICES = 1000  # a folder per value: slicing by `id` would make millions
_UNSAFE = re.compile(r"[^A-Za-z0-9._=+-]")
# an ISO date or timestamp (`2019`, `2019-05`, `2019-05-12`, `2019-05-12T10:00:00Z`)
ISO_DATE = r"^\d{4}(-(0[1-9]|1[0-2])(-(0[1-9]|[12]\d|3[01])([T ].*)?)?)?$"


class SliceError(RunError):
    """A slice request textmill cannot carry out; the message is for the user."""


@dataclass
class _Slice:
    """One slice being written: its folder, Parquet writer, counters and report collector."""

    name: str
    value: str | None  # the column's value (None: `unknown`), which `name` may only abbreviate
    folder: Path
    writer: ParquetShardWriter
    collector: ReportCollector
    counters: RunCounters = field(default_factory=RunCounters)

    def add(self, part: pa.Table) -> None:
        """Write rows of this slice and count them."""
        self.writer.write(part)
        self.collector.observe_input(part)
        self.collector.observe_kept(part)
        counters = self.counters
        counters.read += part.num_rows
        counters.kept += part.num_rows
        if SOURCE in part.column_names:
            for source, n in _counts(part[SOURCE]).items():
                counters.sources_read[source] += n
                counters.sources_kept[source] += n
        if "lang" in part.column_names:
            counters.languages.update(_counts(part["lang"]))
        stage = counters.stage(0, "slice")
        stage.docs_in += part.num_rows
        stage.docs_out += part.num_rows
        if TEXT in part.column_names:
            size = int(pc.sum(pc.binary_length(part[TEXT])).as_py() or 0)
            stage.bytes_in += size
            stage.bytes_out += size


def slice_name(value: Any) -> str:
    """A value as a folder name, one per distinct value (null and empty are `unknown`). A
    value that is no safe name as it stands (non-ASCII, `/`, over 100 characters, hidden,
    `unknown` itself, the summary file) keeps its safe part plus `~` and 8 hex digits of its
    hash, so that two values never share a slice."""
    if value is None or str(value) == "":
        return UNKNOWN
    text = str(value)
    name = _UNSAFE.sub("_", text)[:100]
    if name.startswith("."):  # never the state folder (`.textmill`) or a hidden name
        name = "_" + name
    if name == text and name not in (UNKNOWN, MANIFEST):
        return name
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    return f"{name}~{digest}"


def slice_keys(batch: pa.Table, by: str, column: str, where: str = "") -> pa.Array:
    """Each row's slice value (null: `unknown`); dates must be ISO dates (`where` names the
    file in the error)."""
    if by in GRANULARITIES:
        values = pc.cast(batch[column], pa.string())
        values = pc.if_else(pc.equal(values, ""), pa.scalar(None, pa.string()), values)
        bad = pc.invert(pc.match_substring_regex(values, ISO_DATE))
        if pc.any(bad).as_py():
            value = pc.filter(values, bad)[0].as_py()
            raise SliceError(
                f"{where or column}: column {column!r} holds {value[:60]!r}, no ISO date "
                f"(YYYY, YYYY-MM, YYYY-MM-DD): pass --date-column, or --by {column}"
            )
        width = GRANULARITIES[by]
        prefix = pc.utf8_slice_codeunits(values, 0, width)
        # a prefix shorter than asked (a year-only date sliced by month) is no value of it
        full = pc.equal(pc.utf8_length(prefix), width)
        keys = pc.if_else(full, prefix, pa.scalar(None, pa.string()))
    else:
        keys = pc.cast(batch[column], pa.string())
    return keys.combine_chunks() if isinstance(keys, pa.ChunkedArray) else keys


def slice_run(
    out: str | Path,
    by: str,
    dest: str | Path | None = None,
    *,
    date_column: str = DATE_COLUMN,
    overwrite: bool = False,
    max_slices: int = MAX_SLICES,
) -> dict[str, Any]:
    """Write the slices of the finished run in `out` by `by` (year, month, day or a column
    name) into `dest` (default OUT/slices/<by>); returns what DEST/slices.json holds."""
    summary = Path(out) / MANIFEST
    if summary.is_file() and not (Path(out) / "stats.json").exists():
        first = next(iter(json.loads(summary.read_text("utf-8")).get("slices") or {}), "VALUE")
        raise SliceError(
            f"{out} holds the slices of a run, not a run: slice one of them "
            f"(e.g. {Path(out) / first})"
        )
    out = RunReport.check(out)
    if max_slices < 1:
        raise SliceError(f"--max-slices must be at least 1, not {max_slices}")
    column = date_column if by in GRANULARITIES else by
    dest = Path(dest) if dest is not None else out / "slices" / slice_name(by)
    data_files = Layout(out).written("data")
    run_stats = json.loads((out / "stats.json").read_text("utf-8"))
    if data_files:
        schema = pq.read_schema(data_files[0])
        if column not in schema.names:
            hint = " (run the `date` stage, or pass --date-column)" if by in GRANULARITIES else ""
            raise SliceError(
                f"{out}: the run's output has no column {column!r}{hint}; it has "
                + ", ".join(schema.names)
            )
        kind = schema.field(column).type
        if pa.types.is_nested(kind):
            raise SliceError(
                f"{out}: column {column!r} holds {kind}, not one value per document; "
                "slice by a column of single values"
            )
    check_output_folder(dest)
    if dest.resolve() == out.resolve() or dest.resolve() in out.resolve().parents:
        raise SliceError(f"{dest} is or holds the run being sliced; choose another folder")
    if is_run_output(dest):
        if _command_of(dest) != "slice":
            raise SliceError(
                f"{dest} is the output of `textmill {_command_of(dest)}`, not of a slice; "
                "choose another folder"
            )
        if not overwrite:
            raise SliceError(f"{dest} already holds slices; pass --overwrite to replace them")
    created = not dest.exists()
    with output_lock(Layout(out)), output_lock(Layout(dest)):
        _remove_previous(dest)
        _mark(dest, [], slices=[])  # an interrupted slicing is still ours to --overwrite
        try:
            slices = _write_slices(data_files, by, column, dest, max_slices)
        except SliceError:  # a refused request (a value no date, too many slices) leaves nothing
            if created:
                shutil.rmtree(dest)
            else:
                _remove_previous(dest)
            raise
        return _finish(out, dest, by, column, run_stats, slices)


def _command_of(folder: Path) -> str:
    """The command that wrote a textmill output folder (`run` when its manifest says none)."""
    try:
        manifest = json.loads(Layout(folder).manifest.read_text("utf-8"))
    except (OSError, ValueError):
        return "unknown"
    return str(manifest.get("command", "run")) if isinstance(manifest, dict) else "unknown"


def _remove_previous(dest: Path) -> None:
    """With --overwrite: the slice folders a previous `slice` wrote here, finished or not
    (each is marked a slice output as soon as it is created; nothing else is touched)."""
    for child in sorted(dest.iterdir()) if dest.is_dir() else []:
        is_folder = child.is_dir() and not child.is_symlink()
        if is_folder and is_run_output(child) and _command_of(child) == "slice":
            shutil.rmtree(child)
    (dest / MANIFEST).unlink(missing_ok=True)


def _mark(folder: Path, shards: list[str], **extra: Any) -> None:
    """Make `folder` a textmill output of `slice` (its manifest), before anything else."""
    manifest = {"command": "slice", "version": __version__, "shards": shards, "segments": 1}
    write_json_atomically({**manifest, "files": [], **extra}, Layout(folder).manifest)


def _write_slices(
    data_files: list[Path], by: str, column: str, dest: Path, max_slices: int
) -> dict[str, _Slice]:
    slices: dict[str, _Slice] = {}
    try:
        for path in data_files:
            for record_batch in pq.ParquetFile(path).iter_batches():
                batch = pa.Table.from_batches([record_batch])
                keys = slice_keys(batch, by, column, str(path))
                encoded = pc.dictionary_encode(keys)
                indices = pc.fill_null(encoded.indices, -1).to_numpy(zero_copy_only=False)
                for code, value in [(-1, None), *enumerate(encoded.dictionary.to_pylist())]:
                    rows = (indices == code).nonzero()[0]
                    if len(rows):
                        part = batch.take(pa.array(rows))
                        _slice_for(slices, value, dest, max_slices).add(part)
    except BaseException:
        for entry in slices.values():
            entry.writer.abort()
        raise
    return slices


def _slice_for(slices: dict[str, _Slice], value: str | None, dest: Path, max_slices: int) -> _Slice:
    name = slice_name(value)
    if name not in slices:
        if len(slices) >= max_slices:
            raise SliceError(
                f"more than {max_slices} slices: slice by a coarser column (year, month, "
                "a label) or raise --max-slices"
            )
        folder = dest / name
        _mark(folder, [SHARD])
        slices[name] = _Slice(
            name,
            None if name == UNKNOWN else str(value),
            folder,
            ParquetShardWriter(Layout(folder).data(SHARD)),
            ReportCollector(f"slice/{name}", 0, True),
        )
    return slices[name]


def _counts(values: pa.ChunkedArray) -> dict[str, int]:
    counts = pc.value_counts(pc.drop_null(values))
    return dict(
        zip(counts.field("values").to_pylist(), counts.field("counts").to_pylist(), strict=True)
    )


def _finish(
    out: Path,
    dest: Path,
    by: str,
    column: str,
    run_stats: dict[str, Any],
    slices: dict[str, _Slice],
) -> dict[str, Any]:
    run_kept = int(run_stats["kept"])
    documents = {name: s.counters.kept for name, s in sorted(slices.items())}
    total = sum(documents.values())
    for entry in slices.values():
        entry.writer.close()
        entry.collector.save(state_path(entry.folder, SHARD, 0))
        stats = _slice_stats(run_stats, entry, out, by, column, run_kept)
        write_json_atomically(stats, entry.folder / "stats.json")
        write_report(entry.folder)
    summary = {
        "of": str(out),
        "by": by,
        "column": column,
        "run_kept": run_kept,
        "slices": documents,
        "values": {name: s.value for name, s in sorted(slices.items())},
        "total": total,
        "reconciled": total == run_kept,
    }
    write_json_atomically(summary, dest / MANIFEST)
    _mark(dest, [], files=[MANIFEST], slices=list(documents))
    if total != run_kept:
        raise SliceError(
            f"slices hold {total:,} documents but the run in {out} kept {run_kept:,}: its data "
            f"files changed since its stats.json was written; see {dest / MANIFEST}"
        )
    return summary


def _slice_stats(
    run_stats: dict[str, Any],
    entry: _Slice,
    out: Path,
    by: str,
    column: str,
    run_kept: int,
) -> dict[str, Any]:
    """The slice's stats.json: its own counts (every document it read from the run it kept),
    the run's pipeline and per-stage counts as the history of its documents, and `slice`."""
    c = entry.counters
    sources = {
        s: {"read": c.sources_read[s], "kept": c.sources_kept[s]} for s in sorted(c.sources_read)
    }
    return {
        **run_stats,
        "shards": 1,
        "read": c.read,
        "kept": c.kept,
        "rejected": 0,
        "errored": 0,
        "reconciled": c.read == c.kept,
        "skipped_records": {},
        "languages": dict(c.languages.most_common()),
        "sources": sources,
        "repeated_ids": None,
        "slice": {
            "of": str(out),
            "by": by,
            "column": column,
            "value": entry.value,
            "folder": entry.name,
            "docs": c.kept,
            "run_kept": run_kept,
            "text_bytes": c.stages[0].bytes_out if c.stages else 0,
        },
    }


__all__ = ["GRANULARITIES", "UNKNOWN", "SliceError", "slice_keys", "slice_run"]
