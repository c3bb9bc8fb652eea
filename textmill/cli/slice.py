"""`textmill slice OUT --by year`: a finished run's documents in one folder per year, month or
value of any column, each with its own stats.json, report and dataset card."""

from __future__ import annotations

import argparse
import sys


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "slice",
        help="split a finished run's output into slices by year, month or any column",
        description="Write one textmill output folder per slice (its data, stats.json, "
        "report.html and README.md dataset card) of the documents a run kept: by the year, "
        "month or day of an ISO date column (`date` from the `date` stage by default), or by "
        "the values of any column. Rows without a value go to the slice `unknown`; the slices "
        "add up to the run's kept documents (DEST/slices.json).",
    )
    parser.add_argument("out", help="a finished run's output directory")
    parser.add_argument(
        "--by", required=True, help="year, month, day, or the name of a column to slice by"
    )
    parser.add_argument(
        "-o", "--output", default=None, help="where the slices go (default: OUT/slices/BY)"
    )
    parser.add_argument(
        "--date-column",
        default="date",
        help="the ISO date column --by year/month/day reads (default: date; e.g. crawl_date)",
    )
    parser.add_argument("--max-slices", type=int, default=1000, help="refuse more slices")
    parser.add_argument("--overwrite", action="store_true", help="replace a previous slicing")
    parser.set_defaults(handler=cmd_slice)


def cmd_slice(args: argparse.Namespace) -> int:
    from textmill.executors.output import RunError
    from textmill.report import ReportError
    from textmill.slices import slice_run

    try:
        summary = slice_run(
            args.out,
            args.by,
            args.output,
            date_column=args.date_column,
            overwrite=args.overwrite,
            max_slices=args.max_slices,
        )
    except (ReportError, RunError):
        raise  # the command line's one-line error, exit 2
    except (TypeError, ValueError, KeyError) as exc:  # a damaged stats.json, a non-Parquet file
        print(
            f"textmill: error: cannot slice {args.out}: its stats.json or data is damaged "
            f"({type(exc).__name__}: {exc})",
            file=sys.stderr,
        )
        return 2
    counts = ", ".join(f"{name} {n:,}" for name, n in summary["slices"].items())
    print(
        f"{len(summary['slices'])} slices by {summary['by']} of {summary['run_kept']:,} kept "
        f"documents ({counts}); reconciled: {summary['reconciled']}"
    )
    return 0
