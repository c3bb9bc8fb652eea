"""`textmill run`, `demo`, `stages`, `presets` and `rehydrate`: the pipeline commands."""

from __future__ import annotations

import argparse
import os
from importlib import resources
from pathlib import Path
from typing import Any

from textmill.api import EXECUTORS, Pipeline
from textmill.config import PipelineConfigError, preset_names, preset_text
from textmill.executors.local import RunError, RunSettings
from textmill.executors.output import is_empty_folder
from textmill.io import READERS, InputError
from textmill.io.files import INPUT_KINDS, detect_format, has_magic, is_run_output
from textmill.io.pdf import PDF_ENGINES
from textmill.report.ids import repeated_ids_note

SAMPLE = "sample.warc.gz"


def sample_path() -> Path:
    return Path(str(resources.files("textmill") / "data" / SAMPLE))


def _add_run_settings(parser: argparse.ArgumentParser) -> None:
    defaults = RunSettings()
    parser.add_argument(
        "-w", "--workers", type=int, default=0, help="worker processes (default: one per core)"
    )
    parser.add_argument(
        "--executor", choices=EXECUTORS, default="local", help="where to run (default: local)"
    )
    parser.add_argument(
        "--address",
        help="with --executor ray: a cluster (auto, ray://host:port); default: a private local "
        "Ray with --workers CPUs, stopped at the end",
    )
    parser.add_argument(
        "--cpus-per-task", type=float, help="with --executor ray: CPUs per shard task (default 1)"
    )
    parser.add_argument(
        "--batch-size", type=int, default=defaults.batch_size, help="documents per batch"
    )
    parser.add_argument(
        "--max-doc-bytes",
        type=int,
        default=defaults.max_document_bytes,
        help="documents larger than this are counted as errored (default: %(default)s)",
    )
    parser.add_argument(
        "--max-compression-ratio",
        type=float,
        default=defaults.max_compression_ratio,
        help="a compressed input expanding more than this many times is an error, a "
        "decompression bomb (0: no limit; default: %(default)g)",
    )
    parser.add_argument(
        "--text-field",
        help="JSONL/Parquet text field (default text; content with --input-kind code)",
    )
    parser.add_argument("--id-field", default="id", help="JSONL/Parquet id field")
    parser.add_argument("--url-field", default="url", help="JSONL/Parquet URL field")
    parser.add_argument(
        "--pdf-engine",
        choices=PDF_ENGINES,
        default=defaults.pdf_engine,
        help="PDF text engine: pypdfium2 (fast, default), pdfplumber (layout analysis, for "
        "multi-column pages; ~50x slower), pypdf",
    )
    parser.add_argument(
        "--pdf-time-limit",
        type=float,
        default=defaults.pdf_time_limit_s,
        help="seconds one PDF may take before it is stopped and counted as errored "
        "(default: %(default)g)",
    )
    parser.add_argument(
        "--ocr",
        metavar="LANGS",
        help="OCR image-only PDF pages with Tesseract in these languages (eng, eng+deu); "
        "needs the tesseract binary",
    )
    parser.add_argument(
        "--input-kind",
        choices=INPUT_KINDS,
        default="auto",
        help="code: folders are trees of repositories (one document per file) and JSONL/Parquet "
        "are The-Stack-style records; pages: each folder of .txt files (or of hOCR, ALTO or "
        "PAGE-XML files) is one book, a page per file in natural name order; files: every file "
        "by its format; auto (default): a folder with .git checkouts is code, anything else by "
        "its format",
    )
    parser.add_argument("--jsonl", action="store_true", help="also write OUT/jsonl/*.jsonl.gz")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="replace the files of the run OUT holds when it is another run's (never others)",
    )
    parser.add_argument(
        "--allow-outside-writes",
        action="store_true",
        help="let stage options write absolute paths outside OUT (e.g. write_thresholds)",
    )


def _settings(args: argparse.Namespace) -> dict[str, Any]:
    # Ray options go through only when given, so that without --executor ray they are
    # refused (Pipeline.run) instead of ignored
    given = {"address": args.address, "cpus_per_task": args.cpus_per_task}
    return {k: v for k, v in given.items() if v is not None} | {
        "workers": args.workers,
        "batch_size": args.batch_size,
        "max_document_bytes": args.max_doc_bytes,
        "max_compression_ratio": args.max_compression_ratio,
        "text_field": args.text_field,
        "id_field": args.id_field,
        "url_field": args.url_field,
        "input_kind": args.input_kind,
        "jsonl": args.jsonl,
        "progress": not args.no_progress,
        "overwrite": args.overwrite,
        "allow_outside_writes": args.allow_outside_writes,
        "pdf_engine": args.pdf_engine,
        "pdf_time_limit_s": args.pdf_time_limit,
        "ocr_languages": args.ocr,
    }


def register(commands: argparse._SubParsersAction) -> None:
    run = commands.add_parser(
        "run",
        help="run a pipeline over inputs",
        description="Run a pipeline file or preset over files, directories, globs or fsspec "
        "URLs. Writes OUT/data, OUT/rejects, OUT/errors and OUT/stats.json; re-running the "
        "same command resumes.",
    )
    run.add_argument(
        "pipeline", nargs="?", help="pipeline YAML file (or use --preset)", default=None
    )
    run.add_argument(
        "inputs",
        nargs="*",
        help="input files, directories, globs or URLs, each read by its format "
        f"({', '.join(READERS)})",
    )
    run.add_argument("--preset", help=f"a built-in pipeline: {', '.join(all_presets())}")
    _add_fineweb2_arguments(run)
    run.add_argument(
        "--llm-base-url",
        help="OpenAI-compatible endpoint of every LLM stage, e.g. http://localhost:8000/v1 "
        "(over the pipeline's llm: base_url; default: OPENAI_BASE_URL)",
    )
    run.add_argument("--llm-model", help="model name of every LLM stage (over llm: model)")
    run.add_argument(
        "--dry-run",
        action="store_true",
        help="send no LLM request: print the requests and estimated tokens the run would cost",
    )
    run.add_argument(
        "-o",
        "--out",
        help="output folder (default: the last positional argument, when that is a new or "
        "empty folder or a textmill output)",
    )
    _add_run_settings(run)

    demo = commands.add_parser("demo", help="run the fineweb preset on the bundled sample crawl")
    demo.add_argument("-o", "--out", default="demo-out", help="output (default: demo-out)")
    _add_run_settings(demo)

    stages = commands.add_parser("stages", help="list stages and their options")
    stages.add_argument("name", nargs="?", help="one stage to describe")

    presets = commands.add_parser("presets", help="list presets, or print one as YAML")
    presets.add_argument("name", nargs="?", help="print this preset")
    _add_fineweb2_arguments(presets)
    rehydrate = commands.add_parser(
        "rehydrate",
        help="write each kept document rehydrate_copies times into OUT/rehydrated/",
        description="FineWeb-2 upsampling after a run whose pipeline had the rehydrate stage.",
    )
    rehydrate.add_argument("out", help="a finished run's output directory")
    rehydrate.add_argument("--target", help="where to write (default: OUT/rehydrated)")
    for parser, handler in (
        (run, cmd_run),
        (demo, cmd_demo),
        (stages, cmd_stages),
        (presets, cmd_presets),
        (rehydrate, cmd_rehydrate),
    ):
        parser.set_defaults(handler=handler)


FINEWEB2 = "fineweb2"  # built per language (--lang, --lang-config), so not a file in presets/


def all_presets() -> list[str]:
    return [*preset_names(), FINEWEB2]


def _add_fineweb2_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--lang", help="language for the fineweb2 preset (ja, cmn_Hani, ...)")
    parser.add_argument(
        "--lang-config",
        help="fineweb2 preset thresholds: a FineWeb-2 config file or configs/ folder, or a "
        "preset written by `textmill calibrate`",
    )


def cmd_run(args: argparse.Namespace) -> int:
    inputs = list(args.inputs)
    if args.preset and args.pipeline:
        inputs.insert(0, args.pipeline)
    if args.preset == FINEWEB2:
        pipeline = Pipeline.from_yaml_text(_fineweb2_text(args.lang, args.lang_config))
    elif args.preset:
        pipeline = Pipeline.from_preset(args.preset)
    elif args.pipeline:
        pipeline = Pipeline.from_yaml(args.pipeline)
    else:
        raise PipelineConfigError("give a pipeline YAML file or --preset NAME")
    out = args.out
    if out is None:
        if len(inputs) < 2:
            raise InputError("give the output directory with -o OUT (or as the last argument)")
        out = inputs.pop()
        refused = _not_an_output(out)
        if refused:
            raise InputError(f"{out} {refused}; give the output folder with -o OUT")
    if not inputs:
        raise InputError("no inputs given")
    pipeline = pipeline.with_endpoint(args.llm_base_url, args.llm_model)
    if args.dry_run:
        from textmill.llm.plan import cost_table

        settings = _settings(args) | {"progress": False}
        costs = pipeline.dry_run(inputs, out, executor=args.executor, **settings)
        print(cost_table(costs) if costs else "the pipeline has no LLM stage: it sends nothing")
        return 0
    stats = pipeline.run(inputs, out, executor=args.executor, **_settings(args))
    print_summary(stats, out)
    return 0


def _not_an_output(last: str) -> str | None:
    """Why the last positional argument cannot be OUT (it looks like an input), else None: OUT
    comes last only when it is new, empty or a textmill output, so that `run p.yaml in1/ in2/`
    never writes into the input folder in2/."""
    path = Path(last).expanduser()
    if "://" in last or has_magic(last):
        return "is a URL or a glob, so an input"
    if path.is_dir():
        if is_run_output(path) or is_empty_folder(path):
            return None
        return "is an existing folder that is not a textmill output (an input?)"
    if path.exists() or path.is_symlink():
        return "is an existing file (an input?)"
    if detect_format(last) is not None:
        return "does not exist and is named like an input file"
    return None


def _fineweb2_text(lang: str | None, config: str | None) -> str:
    """FineWeb-2's recipe for one language as pipeline YAML: thresholds from a FineWeb-2
    config or a calibrated preset (see `textmill calibrate`)."""
    from textmill.lang.presets import fineweb2_preset

    if not lang:
        raise PipelineConfigError(
            "the fineweb2 preset is built per language: give --lang xx and --lang-config "
            "(a FineWeb-2 config or configs/ folder, or a preset from `textmill calibrate`)"
        )
    try:
        return fineweb2_preset(lang, config)
    except ValueError as exc:
        raise PipelineConfigError(str(exc)) from exc


def cmd_demo(args: argparse.Namespace) -> int:
    settings = _settings(args)
    settings["overwrite"] = True
    pipeline = Pipeline.from_preset("fineweb")
    print(f"textmill demo: the fineweb preset on {sample_path()} -> {args.out}/")
    stats = pipeline.run([str(sample_path())], args.out, executor=args.executor, **settings)
    print_summary(stats, args.out)
    return 0


def cmd_stages(args: argparse.Namespace) -> int:
    import textmill.stages  # noqa: F401
    from textmill.pipeline import STAGES, stage_class

    names = [args.name] if args.name else sorted(STAGES)
    for name in names:
        try:
            cls = stage_class(name)
        except KeyError:
            raise PipelineConfigError(f"unknown stage {name!r}") from None
        doc = " ".join((cls.__doc__ or "").strip().split("\n\n")[0].split())
        print(f"{name}: {doc}")
        if args.name or len(names) == 1:
            for option, field in cls.Options.model_fields.items():
                value = " (required)" if field.is_required() else f" = {field.default!r}"
                print(f"    {option}{value}  {field.description or ''}".rstrip())
    return 0


def cmd_presets(args: argparse.Namespace) -> int:
    if args.name == FINEWEB2:
        print(_fineweb2_text(args.lang, args.lang_config), end="")
    elif args.name:
        if args.lang or args.lang_config:
            raise PipelineConfigError(f"--lang and --lang-config are for {FINEWEB2} only")
        print(preset_text(args.name), end="")
    else:
        names = preset_names()
        print("\n".join([*names, f"{FINEWEB2}  (per language: --lang xx --lang-config CONFIG)"]))
    return 0


def cmd_rehydrate(args: argparse.Namespace) -> int:
    from textmill.stages.rehydrate import materialize

    try:
        rows = materialize(args.out, args.target)
    except ValueError as exc:
        raise RunError(str(exc)) from None
    print(f"wrote {rows:,} rows to {args.target or Path(args.out) / 'rehydrated'}")
    return 0


def unread_files_note(paths: list[str]) -> str | None:
    """Files under the inputs that were not read (no format textmill reads): said on the
    terminal, not only in stats.json, since source files in a folder without `.git` are
    among them unless the run reads code."""
    if not paths:
        return None
    from textmill.code.languages import language_of

    shown = ", ".join(paths[:3]) + (", ..." if len(paths) > 3 else "")
    files = f"{len(paths):,} file{'s' if len(paths) != 1 else ''}"
    note = f"{files} not read (no format textmill reads: {shown}"
    note += "; stats.json unknown_files)"
    if any(language_of(path) for path in paths):
        note += "; to read source code from a folder without .git: --input-kind code"
    return note


def print_summary(stats: dict[str, Any], out: str | os.PathLike) -> None:
    """The per-stage funnel and the reconciliation line, as a terminal table."""
    print()
    print(f"{'stage':<20}{'in':>9}{'out':>9}{'dropped':>9}{'errored':>9}{'s':>8}  top reasons")
    for stage in stats["stages"]:
        reasons = ", ".join(f"{r} {n}" for r, n in list(stage["reasons"].items())[:3])
        if len(stage["reasons"]) > 3:
            reasons += ", ..."
        print(
            f"{stage['name']:<20}{stage['docs_in']:>9,}{stage['docs_out']:>9,}"
            f"{stage['dropped']:>9,}{stage['errored']:>9,}{stage['seconds']:>8.2f}  {reasons}"
        )
    skipped = sum(stats["skipped_records"].values())
    print()
    print(
        f"read {stats['read']:,} = kept {stats['kept']:,} + rejected {stats['rejected']:,} "
        f"+ errored {stats['errored']:,}  "
        f"({'reconciled' if stats['reconciled'] else 'NOT RECONCILED'}; "
        f"{skipped:,} non-document records skipped)"
    )
    if stats.get("reader_counts"):
        print("reader: " + ", ".join(f"{k} {v:,}" for k, v in stats["reader_counts"].items()))
    repeated = repeated_ids_note(stats)
    if repeated:
        print(f"note: {repeated}")
    unread = unread_files_note(stats.get("unknown_files") or [])
    if unread:
        print(f"note: {unread}")
    print(
        f"output: {out}/data  rejects: {out}/rejects  errors: {out}/errors\n"
        f"stats: {out}/stats.json  report: {out}/report.html  dataset card: {out}/README.md"
    )
