"""`textmill report OUT`: rewrite OUT/report.html and OUT/README.md from a finished run."""

from __future__ import annotations

import argparse
import sys
import time


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "report",
        help="rewrite OUT/report.html and OUT/README.md (dataset card) of a finished run",
        description="Regenerate the HTML report (funnel, languages, audit samples per drop "
        "reason, lengths, domains, scores, duplicates, PII, demographic terms, diversity) and "
        "the Hugging Face dataset card from OUT/stats.json, the statistics saved during the run "
        "(OUT/.textmill/report) and a sample of OUT/data.",
    )
    parser.add_argument("out", help="a finished run's output directory")
    parser.set_defaults(handler=cmd_report)


def cmd_report(args: argparse.Namespace) -> int:
    from pathlib import Path

    from textmill.executors.output import Layout, output_lock
    from textmill.report import ReportError, write_report
    from textmill.report.build import RunReport

    started = time.perf_counter()
    try:
        RunReport.check(args.out)  # before the lock, which would write into a user's folder
        with output_lock(Layout(Path(args.out))):  # never while a run writes the same files
            html, card = write_report(args.out)
    except ReportError as exc:
        print(f"textmill: error: {exc}", file=sys.stderr)
        return 2
    except (TypeError, ValueError, KeyError, AttributeError, OSError) as exc:
        # a stats.json edited or damaged by hand, a data file that is no Parquet (ArrowInvalid)
        print(
            f"textmill: error: cannot build the report of {args.out}: its stats.json or data "
            f"is damaged ({type(exc).__name__}: {exc})",
            file=sys.stderr,
        )
        return 2
    print(f"wrote {html} and {card} in {time.perf_counter() - started:.1f} s")
    return 0
