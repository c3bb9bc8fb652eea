"""The local executor: a process pool over input shards, resumable, with global stages
(deduplication) run as map → reduce → map over files on disk.

A pipeline is cut into segments at its global stages. Segment k applies global stage k-1's
decisions (if any), runs the stages up to global stage k, and writes either intermediate
Parquet plus signatures or, for the last segment, the final data. Each finished
(segment, shard) writes a done marker holding its counters, atomically and last, so a re-run
skips it and the final counts are the sum of the markers, whatever the worker count was.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import multiprocessing
import os
import shutil
import signal
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from tqdm import tqdm

from textmill.document import KEY, SOURCE, conform, shard_of_keys, without_key
from textmill.executors.output import (
    Layout,
    RunError,
    check_output_folder,
    output_lock,
    remove_owned,
    resolve_output_options,
    wrote_nothing,
)
from textmill.io import ReadOptions, Shard, plan_shards, read_shard, with_keys
from textmill.io.files import INPUT_KINDS, printable_path, skip_reason
from textmill.io.writers import (
    ParquetShardWriter,
    write_errors,
    write_json_atomically,
    write_jsonl,
)
from textmill.pipeline import GlobalStage, Stage, build_stages, stage_class
from textmill.report import write_report
from textmill.report.collect import ReportCollector
from textmill.report.collect import state_path as report_state_path
from textmill.report.ids import repeated_ids
from textmill.report.stats import RunCounters, run_summary
from textmill.runner import (
    StageCall,
    bisect_failures,
    concat_tables,
    run_stages,
    stage_call,
    succeeded_rows,
)

LANG_COLUMN = "lang"


class SettingsError(RunError, ValueError):
    """A run setting out of its range (`batch_size=0`): refused before anything is read."""


def check_reader_settings(settings: RunSettings) -> None:
    """The book readers' settings (textmill/io/pdf.py, page_folders.py), refused up front:
    an unknown engine or OCR without Tesseract would otherwise fail every file."""
    from textmill.io.pdf import PDF_ENGINES, tesseract_available, tesseract_languages

    if settings.pdf_engine not in PDF_ENGINES:
        raise SettingsError(
            f"pdf_engine must be one of {', '.join(PDF_ENGINES)} (got {settings.pdf_engine!r})"
        )
    limit = settings.pdf_time_limit_s
    if limit is not None and (isinstance(limit, bool) or not limit > 0):
        raise SettingsError(f"pdf_time_limit_s must be > 0 seconds or None (got {limit!r})")
    if settings.input_kind not in INPUT_KINDS:
        raise SettingsError(
            f"input_kind must be one of {', '.join(INPUT_KINDS)} (got {settings.input_kind!r})"
        )
    if settings.ocr_languages is not None and not tesseract_available():
        raise SettingsError(
            "ocr_languages needs Tesseract: install it (Debian: apt-get install tesseract-ocr, "
            "plus tesseract-ocr-LANG for other languages) or run without OCR"
        )
    installed = tesseract_languages() if settings.ocr_languages is not None else None
    if installed is not None:
        missing = [lang for lang in settings.ocr_languages.split("+") if lang not in installed]
        if missing:
            raise SettingsError(
                f"ocr_languages: Tesseract has no {' or '.join(repr(m) for m in missing)} "
                f"(installed: {', '.join(sorted(installed)) or 'none'}; Debian: apt-get install "
                f"tesseract-ocr-{missing[0] or 'LANG'})"
            )


@dataclass(frozen=True)
class RunSettings:
    workers: int = 0  # 0 = one per core
    batch_size: int = 1000
    max_document_bytes: int = ReadOptions.max_document_bytes
    max_compression_ratio: float = ReadOptions.max_compression_ratio
    text_field: str | None = None  # None: `text`, or `content` for records read as code
    id_field: str = "id"
    url_field: str = "url"
    input_kind: str = "auto"  # auto | code | files | pages (textmill.io.files.INPUT_KINDS)
    jsonl: bool = False
    progress: bool = True
    overwrite: bool = False
    allow_outside_writes: bool = False  # stage options may write absolute paths outside OUT
    pdf_engine: str = ReadOptions.pdf_engine  # textmill/io/pdf.py: pypdfium2, pdfplumber, pypdf
    pdf_time_limit_s: float | None = ReadOptions.pdf_time_limit_s  # per PDF file
    ocr_languages: str | None = None  # Tesseract languages for image-only PDF pages ("eng")

    def __post_init__(self) -> None:
        check_reader_settings(self)
        # 0 workers means one per core; a batch or a document needs at least one row or byte
        # (batch_size=0 made the readers loop forever, max_document_bytes=-1 errored every row)
        # (and fits the 64-bit integers Arrow and the OS take: a larger one was an OverflowError)
        for name, low in (("workers", 0), ("batch_size", 1), ("max_document_bytes", 1)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise SettingsError(f"{name} must be a whole number >= {low} (got {value!r})")
            if value >= 2**63:
                raise SettingsError(f"{name} must be below 2**63 (got {value:,})")
        ratio = self.max_compression_ratio
        if isinstance(ratio, bool) or not isinstance(ratio, (int, float)) or not ratio >= 0:
            raise SettingsError(f"max_compression_ratio must be a number >= 0 (got {ratio!r})")

    @property
    def worker_count(self) -> int:
        return self.workers or os.cpu_count() or 1

    def read_options(self) -> ReadOptions:
        return ReadOptions(
            batch_size=self.batch_size,
            max_document_bytes=self.max_document_bytes,
            max_compression_ratio=self.max_compression_ratio,
            text_field=self.text_field or ReadOptions.text_field,
            code_text_field=self.text_field or ReadOptions.code_text_field,
            id_field=self.id_field,
            url_field=self.url_field,
            input_kind=self.input_kind,
            pdf_engine=self.pdf_engine,
            pdf_time_limit_s=self.pdf_time_limit_s,
            ocr_languages=self.ocr_languages,
        )


Specs = Sequence[tuple[str, dict[str, Any]]]


@dataclass(frozen=True)
class Segment:
    index: int
    applies: int | None  # global stage whose decisions open this segment
    stages: tuple[int, ...]  # stage indices run in this segment (the applied global included)
    emits: int | None  # global stage whose signatures close this segment


def plan_segments(specs: Specs) -> list[Segment]:
    globals_ = [
        i for i, (name, _) in enumerate(specs) if issubclass(stage_class(name), GlobalStage)
    ]
    boundaries = [*globals_, len(specs)]
    segments, start, applies = [], 0, None
    for k, end in enumerate(boundaries):
        emits = end if end < len(specs) else None
        segments.append(Segment(k, applies, tuple(range(start, end)), emits))
        start, applies = end, emits
    return segments


@dataclass(frozen=True)
class Task:
    specs: tuple[tuple[str, str], ...]  # (name, options as JSON): hashable and picklable
    settings: RunSettings
    out: str
    segment: Segment
    shard: Shard
    is_last: bool


# ---------------------------------------------------------------- worker side

_PROCESS_STAGES: dict[tuple, list[Stage]] = {}
_PROGRESS: Callable[[int, int], None] | None = None


def _stages_for(specs: tuple[tuple[str, str], ...]) -> list[Stage]:
    """Stages are built and set up once per process, then reused for every shard."""
    if specs not in _PROCESS_STAGES:
        stages = build_stages((name, json.loads(options)) for name, options in specs)
        for stage in stages:
            stage.setup()
        _PROCESS_STAGES[specs] = stages
    return _PROCESS_STAGES[specs]


def _report_progress(raw_bytes: int, docs: int) -> None:
    if _PROGRESS is not None:
        _PROGRESS(raw_bytes, docs)


def _init_worker(queue) -> None:
    """A pool worker reports progress through `queue`. Ctrl-C reaches the whole process group;
    workers ignore it and the driver alone answers (it stops them, see `_run_pool`): a
    KeyboardInterrupt in a worker would print a traceback, and a worker that died of it first
    would make the driver fail on a broken pool instead of saying it was interrupted."""
    global _PROGRESS
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _PROGRESS = lambda raw_bytes, docs: queue.put((raw_bytes, docs))  # noqa: E731


def _input_batches(task: Task, counters: RunCounters, errors: list) -> Iterator[pa.Table]:
    layout = Layout(Path(task.out))
    if task.segment.index == 0:
        for read in with_keys(read_shard(task.shard, task.settings.read_options()), task.shard):
            docs = conform(read.docs)
            errored = sum(error.counted for error in read.errors)
            counters.read += docs.num_rows + errored
            counters.errored += errored
            counters.skipped.update(read.skipped)
            counters.reader.update(read.counts)
            for error in read.errors:
                errors.append(asdict(error))
                counters.sources_read[error.file] += error.counted
            if docs.num_rows:
                counters.sources_read.update(_value_counts(docs[SOURCE]))
            _report_progress(read.progress_bytes, docs.num_rows + errored)
            if docs.num_rows:
                yield docs
        return
    path = layout.intermediate(task.shard.name, task.segment.index - 1)
    if not path.exists():
        return
    for record_batch in pq.ParquetFile(path).iter_batches(batch_size=task.settings.batch_size):
        _report_progress(0, record_batch.num_rows)
        yield pa.Table.from_batches([record_batch])


def _value_counts(column: pa.ChunkedArray) -> dict[str, int]:
    return {str(row["values"]): row["counts"] for row in pc.value_counts(column).to_pylist()}


def pending_shards(layout: Layout, segment: Segment, shards: Sequence[Shard]) -> list[Shard]:
    """The shards this segment has not finished, largest input first: the longest tasks start
    first, so no worker is left alone with a big shard at the end (LPT scheduling)."""
    pending = [s for s in shards if not layout.done(s.name, segment.index).exists()]
    return sorted(pending, key=lambda s: -s.size_bytes)


def shard_decisions(layout: Layout, stage_index: int, shard: Shard) -> pa.Table:
    """The decisions about this shard's documents only (the high half of their `doc_key`), so
    that applying them per batch costs the shard's share of the decision table, not all of it."""
    decisions = pq.read_table(layout.decisions(stage_index))
    return decisions.filter(pc.equal(shard_of_keys(decisions[KEY]), shard.index))


def stage_chain(
    stages: Sequence[Stage],
    indices: Sequence[int],
    applies: int | None,
    decisions: pa.Table | None,
    collector: ReportCollector,
) -> list[tuple[int, Stage, StageCall]]:
    """The (index, stage, call) triples `run_stages` pushes a batch through, every call watched
    by the report collector; the global stage at `applies` applies `decisions`."""
    chain = [
        (i, stages[i], stage_call(stages[i], decisions if i == applies else None)) for i in indices
    ]
    return collector.instrument(chain)


def account_kept(
    kept: pa.Table,
    counters: RunCounters,
    collector: ReportCollector,
    emitter: tuple[int, GlobalStage] | None,
    is_last: bool,
) -> tuple[pa.Table, pa.Table | None, list[dict[str, Any]], np.ndarray | None]:
    """Everything that follows a batch's kept rows out of the chain: the emitting global
    stage's signatures (a row it fails on becomes that row's error and leaves the output), the
    report's look at the final output, the kept counts. Returns the rows still kept, their
    signatures, the errors, and (when there were errors) the mask of rows still kept."""
    signatures, errors, signed = None, [], None
    if emitter is not None:
        index, stage = emitter
        started = time.perf_counter()
        pieces, errors = bisect_failures(stage.signatures, kept, stage.name)
        counter = counters.stage(index, stage.name)
        counter.seconds += time.perf_counter() - started
        tables = [table for _, _, table in pieces]
        signatures = concat_tables(tables) if tables else None
        if errors:
            counter.errored += len(errors)
            counters.errored += len(errors)
            signed = succeeded_rows(kept.num_rows, pieces)
            kept = kept.filter(pa.array(signed))
    collector.observe_kept(kept)
    if is_last:
        counters.kept += kept.num_rows
        counters.sources_kept.update(_value_counts(kept[SOURCE]))
        if LANG_COLUMN in kept.column_names:
            counters.languages.update(_value_counts(kept[LANG_COLUMN]))
    return kept, signatures, errors, signed


def finish_shard(
    layout: Layout,
    task: Task,
    data_path: Path | None,
    errors: list[dict[str, Any]],
    counters: RunCounters,
    report_state: dict[str, Any],
) -> dict[str, Any]:
    """The files that close a (segment, shard) once its data, rejects and signatures are in
    place: JSONL copy, errors, report state, and last the done marker holding its counters."""
    name, segment = task.shard.name, task.segment.index
    if task.is_last and task.settings.jsonl and data_path is not None:
        write_jsonl(pq.read_table(data_path), layout.jsonl(name))
    write_errors(errors, layout.errors(name, segment))
    write_json_atomically(report_state, report_state_path(layout.out, name, segment))
    summary = counters.to_json()
    write_json_atomically(summary, layout.done(name, segment))
    return summary


def emitter_of(stages: Sequence[Stage], segment: Segment) -> tuple[int, GlobalStage] | None:
    if segment.emits is None:
        return None
    stage = stages[segment.emits]
    assert isinstance(stage, GlobalStage)
    return segment.emits, stage


def run_task(task: Task) -> dict[str, Any]:
    """Run one segment over one shard; return its counters (also saved in its done marker)."""
    layout = Layout(Path(task.out))
    stages = _stages_for(task.specs)
    segment = task.segment
    decisions = (
        shard_decisions(layout, segment.applies, task.shard)
        if segment.applies is not None
        else None
    )
    # report: statistics collected while the stages run (textmill/report/collect.py)
    collector = ReportCollector(f"{task.shard.name}/s{segment.index}", segment.index, task.is_last)
    chain = stage_chain(stages, segment.stages, segment.applies, decisions, collector)
    emitter = emitter_of(stages, segment)
    counters = RunCounters()
    errors: list[dict[str, Any]] = []
    name = task.shard.name
    output = ParquetShardWriter(
        layout.data(name) if task.is_last else layout.intermediate(name, segment.index)
    )
    rejects = ParquetShardWriter(layout.rejects(name, segment.index))
    signatures = ParquetShardWriter(layout.signatures(name, segment.emits)) if emitter else None
    try:
        for batch in _input_batches(task, counters, errors):
            collector.observe_input(batch)
            outcome = run_stages(chain, batch, counters)
            errors.extend(outcome.errors)
            for table in outcome.rejects:
                rejects.write(table)
            if outcome.kept.num_rows == 0:
                continue
            kept, signed, signature_errors, _ = account_kept(
                outcome.kept, counters, collector, emitter, task.is_last
            )
            errors.extend(signature_errors)
            output.write(without_key(kept) if task.is_last else kept)
            if signatures is not None and signed is not None:
                signatures.write(signed)
        data_path = output.close()
        rejects.close()
        if signatures is not None:
            signatures.close()
    except BaseException:
        for writer in (output, rejects, signatures):
            if writer is not None:
                writer.abort()
        raise
    # the collector state is written before the marker
    return finish_shard(layout, task, data_path, errors, counters, collector.state())


# ---------------------------------------------------------------- driver side


class LocalExecutor:
    """Runs a pipeline (stage specs) over inputs into an output directory.

    Other executors subclass it and replace where the work runs, not what it does:
    `_run_segment(layout, segment, shards)` runs `run_task` for every unfinished shard of a
    segment, and `_reduce(layout, stage_index, shards)` writes a global stage's decisions
    (the Ray executor overrides these two). Output preparation, done markers, the final
    counts and the report (`_prepare_output`, `_finish`) stay shared."""

    def __init__(self, specs: Specs, settings: RunSettings | None = None):
        self.given_specs = [(name, dict(options)) for name, options in specs]
        self.specs = self.given_specs  # with option file paths resolved under OUT once run
        self.settings = settings or RunSettings()
        self.segments = plan_segments(self.specs)
        self._frozen_specs = _frozen(self.specs)
        self._owned_option_files: list[str] = []

    def run(self, inputs: Sequence[str], out: str | Path) -> dict[str, Any]:
        layout = Layout(Path(out).expanduser())
        check_output_folder(layout.out)
        shards, skipped = plan_shards(
            inputs, exclude=[str(layout.out)], input_kind=self.settings.input_kind
        )
        if not shards:
            raise RunError(
                "no readable input files (formats: WARC/WET, JSONL, Parquet, Arrow, .txt, .html, "
                ".pdf, hOCR, ALTO; source code: folders of .git checkouts, or any folder with "
                "--input-kind code)"
                + "".join(
                    f"; skipped {printable_path(path)}: {skip_reason(path)}" for path in skipped[:5]
                )
            )
        self.specs, self._owned_option_files = resolve_output_options(
            self.given_specs, layout.out, self.settings.allow_outside_writes
        )
        self._frozen_specs = _frozen(self.specs)
        with output_lock(layout):
            self._prepare_output(layout, shards)
            for path in skipped:
                self._say(f"skipping {printable_path(path)}: {skip_reason(path)}")
            with self._session():
                started = time.time()
                for segment in self.segments:
                    self._run_segment(layout, segment, shards)
                    if segment.emits is not None:
                        self._reduce(layout, segment.emits, shards)
                return self._finish(layout, shards, time.time() - started, skipped)

    # -- steps

    def _session(self) -> contextlib.AbstractContextManager[None]:
        """What the run needs around its work once OUT is locked (the Ray executor: Ray)."""
        return contextlib.nullcontext()

    def _prepare_output(self, layout: Layout, shards: list[Shard]) -> None:
        """Resume the run OUT holds, or replace it (--overwrite: only the files it wrote), or
        start in a new or empty OUT (check_output_folder refused anything else)."""
        fingerprint = hashlib.sha256(
            json.dumps([_frozen(self.given_specs), [s.name for s in shards]]).encode()
        ).hexdigest()
        if layout.manifest.exists():
            try:
                previous = json.loads(layout.manifest.read_text("utf-8"))
            except (OSError, ValueError) as error:
                raise RunError(f"{layout.manifest} is unreadable ({error}); remove it") from None
            if previous.get("fingerprint") == fingerprint:
                self._say(f"resuming the run in {layout.out}")
                remove_owned(layout, previous, finished=False)
            elif self.settings.overwrite:
                self._say(f"replacing the previous run in {layout.out} (its files only)")
                remove_owned(layout, previous, finished=True)
            elif wrote_nothing(layout, previous):  # e.g. it stopped at a stage's setup
                self._say(f"replacing the run in {layout.out}: it stopped before writing anything")
                remove_owned(layout, previous, finished=True)
            else:
                raise RunError(
                    f"{layout.out} holds a run of another pipeline or other inputs; "
                    "pass --overwrite to replace it, or choose a new output directory"
                )
        for sub in ("data", "rejects", "errors"):  # always present, even when empty
            (layout.out / sub).mkdir(parents=True, exist_ok=True)
        write_json_atomically(
            {
                "fingerprint": fingerprint,
                "stages": [list(s) for s in self.given_specs],
                "shards": [s.name for s in shards],
                "segments": len(self.segments),
                "files": self._owned_option_files,
            },
            layout.manifest,
        )

    def _run_segment(self, layout: Layout, segment: Segment, shards: list[Shard]) -> None:
        is_last = segment.index == len(self.segments) - 1
        pending = pending_shards(layout, segment, shards)
        if not pending:
            return
        tasks = [
            Task(self._frozen_specs, self.settings, str(layout.out), segment, s, is_last)
            for s in pending
        ]
        label = "read+process" if segment.index == 0 else f"segment {segment.index}"
        total = sum(s.size_bytes for s in pending) if segment.index == 0 else None
        with _Progress(label, total, self.settings.progress, len(pending)) as progress:
            workers = min(self.settings.worker_count, len(tasks))
            if workers <= 1:
                global _PROGRESS
                _PROGRESS = progress.update
                try:
                    for task in tasks:
                        run_task(task)
                        progress.shard_done()
                finally:
                    _PROGRESS = None
            else:
                self._run_pool(tasks, workers, progress)

    @staticmethod
    def _run_pool(tasks: list[Task], workers: int, progress: _Progress) -> None:
        context = multiprocessing.get_context("fork")
        queue = context.Queue()
        with ProcessPoolExecutor(
            workers, mp_context=context, initializer=_init_worker, initargs=(queue,)
        ) as pool:
            futures = {pool.submit(run_task, task) for task in tasks}
            try:
                while futures:
                    done, futures = wait(futures, timeout=0.2, return_when=FIRST_COMPLETED)
                    _drain(queue, progress)
                    for future in done:
                        future.result()
                        progress.shard_done()
            except BaseException as exc:
                for future in futures:
                    future.cancel()
                if isinstance(exc, KeyboardInterrupt):  # stop now, as a kill would: resumable
                    for process in list(pool._processes.values()):  # noqa: SLF001
                        process.terminate()
                raise
            finally:
                _drain(queue, progress)

    def _reduce(self, layout: Layout, stage_index: int, shards: list[Shard]) -> None:
        target = layout.decisions(stage_index)
        if target.exists():
            return
        stage = _stages_for(self._frozen_specs)[stage_index]
        assert isinstance(stage, GlobalStage)
        signature_files = sorted(layout.signatures_dir(stage_index).glob("*.parquet"))
        workdir = layout.reduce_dir(stage_index)
        workdir.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        self._say(f"{stage.name}: reducing {len(signature_files)} signature files")
        decisions = stage.reduce(signature_files, workdir)
        writer = ParquetShardWriter(target)
        writer.write(decisions)
        if writer.close() is None:
            raise RunError(f"{stage.name}: reduce produced no decision table")
        write_json_atomically(
            {"seconds": time.perf_counter() - started}, target.with_suffix(".json")
        )

    def _finish(
        self, layout: Layout, shards: list[Shard], seconds: float, unknown: list[str]
    ) -> dict[str, Any]:
        totals = RunCounters()
        for segment in self.segments:
            for shard in shards:
                marker = layout.done(shard.name, segment.index)
                totals.add(RunCounters.from_json(json.loads(marker.read_text("utf-8"))))
            if segment.emits is not None:
                reduce_marker = layout.decisions(segment.emits).with_suffix(".json")
                reduce_seconds = json.loads(reduce_marker.read_text("utf-8"))["seconds"]
                name = self.specs[segment.emits][0]
                totals.stage(segment.emits, name).seconds += reduce_seconds
        summary = run_summary(
            totals,
            [name for name, _ in self.specs],
            pipeline=[{name: options} for name, options in self.specs],
            shards=len(shards),
            unknown_files=[printable_path(path) for path in unknown],
            repeated_ids=repeated_ids(layout.out),
            wall_seconds=round(seconds, 3),
        )
        write_json_atomically(summary, layout.stats)
        shutil.rmtree(layout.state / "work", ignore_errors=True)
        try:  # report.html and README.md; failing to write them never fails a run
            write_report(layout.out)
        except Exception as exc:  # noqa: BLE001
            print(f"textmill: warning: report not written: {exc!r}", file=sys.stderr)
        if not totals.reconciles:
            raise RunError(
                f"counts do not reconcile: read {totals.read:,} != kept {totals.kept:,} + "
                f"rejected {totals.rejected:,} + errored {totals.errored:,}; see {layout.stats}"
            )
        return summary

    def _say(self, message: str) -> None:
        if self.settings.progress:
            print(f"textmill: {message}", file=sys.stderr)


def _frozen(specs: Specs) -> tuple[tuple[str, str], ...]:
    """(name, options as JSON) pairs: hashable, picklable, and one spelling per pipeline."""
    return tuple((name, json.dumps(options, sort_keys=True)) for name, options in specs)


def _drain(queue, progress: _Progress) -> None:
    while True:
        try:
            raw_bytes, docs = queue.get_nowait()
        except Exception:  # noqa: BLE001 - queue.Empty, or a closed queue at shutdown
            return
        progress.update(raw_bytes, docs)


class _Progress:
    """A progress bar in input bytes (ETA) with docs/s; silent when progress is off."""

    def __init__(self, label: str, total_bytes: int | None, enabled: bool, shards: int):
        self.enabled = enabled
        self.docs = 0
        self.shards_left = shards
        self.started = time.perf_counter()
        self.bar = (
            tqdm(
                total=total_bytes if total_bytes else shards,
                unit="B" if total_bytes else "shard",
                unit_scale=bool(total_bytes),
                desc=label,
                file=sys.stderr,
                dynamic_ncols=True,
            )
            if enabled
            else None
        )
        self.in_bytes = bool(total_bytes)

    def update(self, raw_bytes: int, docs: int) -> None:
        self.docs += docs
        if self.bar is None:
            return
        if self.in_bytes:
            self.bar.update(raw_bytes)
        rate = self.docs / max(time.perf_counter() - self.started, 1e-9)
        self.bar.set_postfix_str(f"{self.docs:,} docs, {rate:,.0f} docs/s", refresh=False)

    def shard_done(self) -> None:
        if self.bar is not None and not self.in_bytes:
            self.bar.update(1)

    def __enter__(self) -> _Progress:
        return self

    def __exit__(self, *exc) -> None:
        if self.bar is not None:
            if self.in_bytes and not any(exc):
                self.bar.update(max(0, self.bar.total - self.bar.n))
            self.bar.close()
