"""`textmill order`: a corpus written easy -> hard (or in K shuffled stages) by a column."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from textmill.cli.args import whole
from textmill.cli.quality import guard


def cmd_order(args: argparse.Namespace) -> int:
    from textmill.order import ORDER_REPORT, order

    report = order(
        args.inputs, args.out, by=args.by, stages=args.stages, descending=args.descending,
        seed=args.seed, memory=args.memory, threads=args.threads, overwrite=args.overwrite,
        command=sys.argv,
    )  # fmt: skip
    direction = "descending" if args.descending else "ascending"
    print(
        f"ordered {report['documents']:,} documents by {report['by']} ({direction}"
        + (f", {report['stages']} stages shuffled inside" if report["stages"] else "")
        + f"); {report['null_scores']:,} without a score last; {len(report['files'])} file(s)"
    )
    for stage in report.get("per_stage", []):
        if stage["stage"] is None:  # the documents without a score, after the last stage
            print(f"  no stage (no score), last: {stage['documents']:,} documents")
            continue
        print(
            f"  stage {stage['stage']}: {stage['documents']:,} documents, "
            f"{report['by']} {stage['min']} .. {stage['max']}"
        )
    print(f"report: {args.out}/{ORDER_REPORT}")
    return 0


def register(commands: Any) -> None:
    """Add `order` to the `textmill` subcommands."""
    from textmill.order import DEFAULT_MEMORY

    parser = commands.add_parser(
        "order",
        help="write a corpus ordered by a score column (a curriculum)",
        description="Sort a corpus (a textmill output or Parquet files) by a numeric column "
        "with DuckDB within a memory budget, easy -> hard, or in K stages shuffled inside each; "
        "OUT is a textmill output that tokenize reads in this order.",
    )
    parser.add_argument("inputs", nargs="+", metavar="IN", help="textmill output or Parquet")
    parser.add_argument("-o", "--out", required=True, help="the output folder")
    parser.add_argument(
        "--by", required=True, metavar="COLUMN",
        help="numeric column (lm_loss, readability_grade, quality_score ...; length: text length)",
    )  # fmt: skip
    parser.add_argument("--stages", type=whole(1), metavar="K", help="K buckets, shuffled inside")
    parser.add_argument("--descending", action="store_true", help="highest first")
    parser.add_argument("--seed", type=whole(0), default=0, help="the shuffle inside stages")
    parser.add_argument(
        "--memory", default=DEFAULT_MEMORY, help="DuckDB memory limit (default: %(default)s)"
    )
    parser.add_argument(
        "--threads", type=whole(1),
        help="DuckDB threads (default: one per 256 MB of --memory, at most the cores)",
    )  # fmt: skip
    parser.add_argument("--overwrite", action="store_true", help="replace OUT's earlier order")
    parser.set_defaults(handler=guard(cmd_order))
