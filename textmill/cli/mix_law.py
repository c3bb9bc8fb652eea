"""`textmill mix fit` and `textmill mix search`: mixture laws and the critical mixture ratio.

textmill/cli/mix.py adds these to its `mix` group: `add_fit_parser(actions)` and
`add_search_parser(actions)` each add one sub-parser with `set_defaults(handler=...)`; the
handler takes the parsed args and returns an exit code (2 for bad input, with one line).
Nothing heavy is imported until a handler runs.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from textmill.cli.args import number, whole


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _guarded(command: str, handler):
    """Bad input becomes one line and exit code 2, not a traceback."""

    def run(args: argparse.Namespace) -> int:
        from textmill.executors.local import RunError
        from textmill.io import InputError

        try:
            return handler(args)
        except (InputError, RunError, FileNotFoundError, ValueError, ImportError) as error:
            print(f"textmill mix {command}: {error}", file=sys.stderr)
            return 2

    return run


def _ratio(text: str) -> float:
    value = number(at_least=0)(text)
    if value > 1:
        raise argparse.ArgumentTypeError(f"a ratio must lie in [0, 1] (got {text})")
    return value


def _add_law_arguments(parser: argparse.ArgumentParser) -> None:
    from textmill.mix.law import DEFAULT_TOLERANCE, FORMS

    parser.add_argument(
        "--tolerance", default=DEFAULT_TOLERANCE, metavar="T",
        help="how far general loss may rise above the baseline: nats/token (0.02) or a "
        f"percentage of the baseline (1%%); default {DEFAULT_TOLERANCE}",
    )  # fmt: skip
    parser.add_argument(
        "--target-tokens", type=number(above=0), metavar="D",
        help="token budget the CMR is computed for (default: the largest measured)",
    )  # fmt: skip
    parser.add_argument(
        "--baseline-loss", type=number(above=0), metavar="L",
        help="general loss to stay within tolerance of (default: the law at ratio 0, i.e. the "
        "same budget of general data only; e.g. your base model's general loss)",
    )  # fmt: skip
    parser.add_argument(
        "--forms", nargs="+", choices=list(FORMS), metavar="FORM",
        help=f"candidate forms to fit (default: all: {', '.join(FORMS)})",
    )  # fmt: skip


def _print_fit(fit: Any, written: dict[str, Path]) -> None:
    print(fit.summary())
    print("report: " + "  ".join(f"{path}" for path in written.values()))


def cmd_fit(args: argparse.Namespace) -> int:
    from textmill.mix.law import fit_cmr, write_fit

    fit = fit_cmr(
        args.measurements, tolerance=args.tolerance, target_tokens=args.target_tokens,
        baseline_loss=args.baseline_loss, forms=args.forms,
    )  # fmt: skip
    measurements = Path(args.measurements)
    report = args.output or measurements.with_name(measurements.stem + ".law.json")
    _print_fit(fit, write_fit(fit, report))
    return 0


def cmd_search(args: argparse.Namespace) -> int:
    from textmill.mix.search import MEASUREMENTS_NAME, options_for_size, search_mixture

    options = options_for_size(
        args.size, ratios=args.ratios, tokens=args.tokens, seeds=args.seeds,
        pretrain_tokens=args.pretrain_tokens, device=args.device, threads=args.threads,
    )  # fmt: skip
    _report, fit = search_mixture(
        args.general, args.domain, args.output, options,
        general_reference=args.general_reference, domain_reference=args.domain_reference,
        text_field=args.text_field, tolerance=args.tolerance, target_tokens=args.target_tokens,
        baseline_loss=args.baseline_loss, forms=args.forms, log=_log,
    )  # fmt: skip
    out = Path(args.output)
    print(fit.summary())
    print(
        f"measurements: {out / MEASUREMENTS_NAME}  law: {out / 'law.json'} ({out / 'law.png'})  "
        f"runs: {out / 'search.json'}"
    )
    return 0


def add_fit_parser(subparsers: Any) -> argparse.ArgumentParser:
    """`fit MEASUREMENTS.csv`: the law and the CMR from measured (or your own) losses."""
    fit = subparsers.add_parser(
        "fit",
        help="fit mixture laws of loss in domain ratio and tokens; print the critical ratio",
        description="Fit candidate laws L(r, D) to general and domain loss, choose each by "
        "AICc, and print the critical mixture ratio (the largest domain share that keeps "
        "general loss within the tolerance), residuals and a plot.",
    )
    fit.add_argument(
        "measurements", metavar="MEASUREMENTS.csv",
        help="columns ratio, tokens, general_loss, domain_loss (what `mix search` writes)",
    )  # fmt: skip
    fit.add_argument(
        "-o", "--output", metavar="REPORT.json",
        help="report path; the plot goes beside it as .png (default: MEASUREMENTS.law.json)",
    )  # fmt: skip
    _add_law_arguments(fit)
    fit.set_defaults(handler=_guarded("fit", cmd_fit))
    return fit


def add_search_parser(subparsers: Any) -> argparse.ArgumentParser:
    """`search --general ... --domain ... -o OUT`: train verify's GPT over a ratio × budget grid."""
    from textmill.mix.search import SIZES

    search = subparsers.add_parser(
        "search",
        help="train the verify GPT at several domain ratios and budgets, then fit the law",
        description="Train the small verify GPT from scratch at every domain ratio × token "
        "budget × seed, score each on a general and a domain reference, write "
        "OUT/measurements.csv, then fit the law as `mix fit` does. Re-run to resume.",
    )
    search.add_argument(
        "--general",
        nargs="+",
        required=True,
        metavar="PATH",
        help="the general corpus (any textmill input or output folder)",
    )
    search.add_argument(
        "--domain", nargs="+", required=True, metavar="PATH", help="the domain corpus"
    )
    search.add_argument(
        "-o",
        "--output",
        required=True,
        metavar="OUT",
        help="a new or empty folder, or an earlier search's to resume it",
    )
    search.add_argument(
        "--general-reference",
        nargs="+",
        metavar="PATH",
        help="general reference text (default: held out from --general)",
    )
    search.add_argument(
        "--domain-reference",
        nargs="+",
        metavar="PATH",
        help="domain reference text (default: held out from --domain)",
    )
    search.add_argument(
        "--size",
        choices=list(SIZES),
        default="small",
        help="model and grid preset (small: minutes on 2 CPU cores; base: a GPU)",
    )
    search.add_argument(
        "--ratios",
        type=_ratio,
        nargs="+",
        metavar="R",
        help="domain ratios (small: 0 0.1 0.2 0.3 0.5 0.7)",
    )
    search.add_argument(
        "--tokens",
        type=whole(1),
        nargs="+",
        metavar="D",
        help="training token budgets (small: 65536 131072 262144)",
    )
    search.add_argument("--seeds", type=whole(0), nargs="+", help="model seeds (default: 0)")
    search.add_argument(
        "--pretrain-tokens", type=whole(0), metavar="N",
        help="continual pre-training: first train a base model on N general tokens, continue "
        "every point from it, and keep general loss near the base model's (default: 0, scratch)",
    )  # fmt: skip
    search.add_argument("--device", help="torch device: cpu (default), cuda, cuda:1 ...")
    search.add_argument("--threads", type=whole(1), help="torch CPU threads (tiny, small: 1)")
    search.add_argument("--text-field", default="text", help="JSONL/Parquet text field")
    _add_law_arguments(search)
    search.set_defaults(handler=_guarded("search", cmd_search))
    return search
