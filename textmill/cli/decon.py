"""`textmill decon index`: build the benchmark decontamination index once, for many runs."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from textmill.cli.args import whole


def register(commands: argparse._SubParsersAction) -> None:
    from textmill.text.ngrams import GPT3_NGRAM

    decon = commands.add_parser("decon", help="benchmark decontamination: build an n-gram index")
    actions = decon.add_subparsers(dest="decon_command", required=True)
    index = actions.add_parser(
        "index",
        help="hash the word n-grams of benchmark items into an index for `decontaminate`",
        description="Read benchmark files (JSONL/Parquet/CSV) and write their items' hashed "
        "word n-grams to one .npz index that the `decontaminate` stage loads with `index: "
        "FILE`. A benchmark is LAYOUT:PATH with a shipped layout (arc, gsm8k, hellaswag, "
        "humaneval, math, mbpp, mmlu, triviaqa), or PATH with --fields.",
    )
    index.add_argument("benchmarks", nargs="+", metavar="BENCH", help="LAYOUT:PATH or PATH")
    index.add_argument("-o", "--out", required=True, metavar="INDEX", help="index file to write")
    index.add_argument("--ngram", type=whole(1), default=GPT3_NGRAM, help="words per n-gram")
    index.add_argument("--fields", help="comma-separated fields forming an item (for PATH)")
    index.add_argument("--id-field", help="record id field (for PATH; default: line number)")
    index.add_argument("--lang", help="language of the benchmarks' text (default: en)")
    index.add_argument(
        "--keep-case", action="store_true", help="compare case-sensitively (lowercase: false)"
    )
    index.add_argument(
        "--keep-accents", action="store_true", help="compare with accents (strip_accents: false)"
    )
    index.set_defaults(handler=cmd_index)


def _spec(argument: str, args: argparse.Namespace):  # noqa: ANN202 (BenchmarkSpec)
    from textmill.stages.safety.benchmarks import BenchmarkError, BenchmarkSpec, layout_names

    layout, sep, path = argument.partition(":")
    extra = {"lang": args.lang, "id": args.id_field}
    extra = {k: v for k, v in extra.items() if v}
    try:
        if sep and layout in layout_names():
            return BenchmarkSpec(layout=layout, path=path, **extra)
        if not args.fields and sep and "://" not in argument and not Path(argument).exists():
            raise BenchmarkError(  # `gsm8K:file`: name the typo, not a missing --fields
                f"{argument}: unknown benchmark layout {layout!r} (layouts: "
                f"{', '.join(layout_names())}), or give --fields"
            )
        if not args.fields:
            raise BenchmarkError(
                f"{argument}: give a layout (LAYOUT:PATH, layouts: {', '.join(layout_names())}) "
                "or --fields"
            )
        fields = tuple(f.strip() for f in args.fields.split(",") if f.strip())
        return BenchmarkSpec(path=argument, fields=fields, **extra)
    except ValueError as exc:
        raise BenchmarkError(str(exc).splitlines()[-1]) from None


def cmd_index(args: argparse.Namespace) -> int:
    from textmill.stages.safety.decon_index import Normalization, build_index

    norm = Normalization(args.ngram, not args.keep_case, not args.keep_accents)
    specs = [_spec(argument, args) for argument in args.benchmarks]
    started = time.perf_counter()
    index = build_index(specs, norm)
    path = index.save(args.out)
    seconds = time.perf_counter() - started
    for bench in index.benchmarks:
        short = f", {bench['short_items']:,} shorter than {args.ngram} words" * bool(
            bench["short_items"]
        )
        print(f"  {bench['name']}: {bench['items']:,} items from {bench['path']}{short}")
    print(
        f"wrote {path}: {len(index.hashes):,} n-grams of {len(index.item_keys):,} items in "
        f"{seconds:.1f} s; use it with `decontaminate: {{index: {path}, ngram: {args.ngram}}}`"
    )
    return 0
