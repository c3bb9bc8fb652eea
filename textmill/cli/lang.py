"""`textmill calibrate`: a per-language preset from reference text or a FineWeb-2 config."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from textmill.cli.args import whole
from textmill.lang.calibrate import PASS_SHARE, STOP_WORDS, calibrate, read_reference
from textmill.lang.fineweb2 import FineWeb2ConfigError
from textmill.lang.presets import fineweb2_preset


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "calibrate",
        help="write a per-language preset from reference text (or a FineWeb-2 config)",
        description="Measure every filter metric on reference documents in one language "
        "(JSONL/Parquet of good text, e.g. Wikipedia) and write a FineWeb-2-style preset whose "
        "thresholds let at least --pass-share of them pass each filter (gopher_repetition, "
        "fineweb_quality, gopher_quality) on all its calibrated metrics at once; or convert a "
        "FineWeb-2 config (configs/{lang}_{script}.yml) with --fineweb2-config.",
    )
    parser.add_argument("reference", nargs="*", help="reference JSONL/Parquet files or folders")
    parser.add_argument("--lang", required=True, help="language code (e.g. ja, zh, cmn_Hani)")
    parser.add_argument("-o", "--out", required=True, help="preset YAML to write")
    parser.add_argument(
        "--pass-share",
        type=float,
        default=PASS_SHARE,
        help="share of reference documents each filter lets pass, its calibrated thresholds "
        "together (%(default)s)",
    )
    parser.add_argument(
        "--stop-words", type=whole(0), default=STOP_WORDS, help="stop words to keep (%(default)s)"
    )
    parser.add_argument("--text-field", default="text", help="JSONL/Parquet text field")
    parser.add_argument(
        "--fineweb2-config",
        help="a FineWeb-2 config file, or the configs/ folder, instead of reference text",
    )
    parser.set_defaults(handler=cmd_calibrate)


def cmd_calibrate(args: argparse.Namespace) -> int:
    try:
        if args.fineweb2_config:
            text = fineweb2_preset(args.lang, args.fineweb2_config)
        elif not args.reference:
            print("textmill: error: give reference files or --fineweb2-config", file=sys.stderr)
            return 2
        else:
            docs = read_reference(args.reference, args.text_field)
            result = calibrate(docs, args.lang, args.pass_share, args.stop_words)
            text = result.preset(args.pass_share)
            print(f"calibrated {args.lang} on {result.documents:,} reference documents")
            for stage, options in result.options.items():
                shown = {k: v for k, v in options.items() if k != "stop_words"}
                print(f"  {stage}: {shown}")
            words = ", ".join(f"{w} {share:.0%}" for w, share in result.stop_word_shares[:10])
            print(f"  stop words (share of documents): {words}, ...")
    except (ValueError, FineWeb2ConfigError, OSError) as exc:
        print(f"textmill: error: {exc}", file=sys.stderr)
        return 2
    Path(args.out).write_text(text, "utf-8")
    print(f"wrote {args.out}: textmill run {args.out} INPUT... -o OUT")
    return 0
