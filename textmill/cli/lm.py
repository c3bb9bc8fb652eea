"""`textmill lm train`: the small reference LM that the `lm_score` stage scores documents with."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from textmill.cli.args import number, whole
from textmill.cli.quality import _log, guard


def cmd_train(args: argparse.Namespace) -> int:
    from textmill.train.lm import CONFIG, train_lm
    from textmill.train.verify import options_for_size

    options = options_for_size(
        args.size, tokens_per_dataset=args.tokens, seeds=[args.seed], device=args.device,
        threads=args.threads,
    )  # fmt: skip
    config = train_lm(
        args.reference, args.output, options, text_field=args.text_field,
        heldout_fraction=args.heldout, langs=args.lang, overwrite=args.overwrite, log=_log,
    )  # fmt: skip
    print(
        f"trained {config['parameters']:,} parameters on {config['tokens_trained']:,} tokens; "
        f"held-out loss {config['heldout_loss']:.4f} nats/token; languages "
        f"{', '.join(config['langs']) or 'none detected'}"
    )
    print(f"model: {args.output}  config: {Path(args.output) / CONFIG}")
    if args.json:
        print(json.dumps(config, indent=2))
    return 0


def register(commands: Any) -> None:
    """Add `lm` (train) to the `textmill` subcommands."""
    from textmill.train.verify import SIZES

    lm = commands.add_parser("lm", help="small reference LM for lm_score (the verify GPT)")
    actions = lm.add_subparsers(dest="lm_command", required=True)
    train = actions.add_parser(
        "train",
        help="train the verify GPT on a reference corpus and save it",
        description="Train verify's small GPT (and its BPE tokenizer) on reference text and "
        "save weights, tokenizer and config to MODEL_DIR, for the lm_score stage.",
    )
    train.add_argument("reference", nargs="+", metavar="REF", help="reference files or folders")
    train.add_argument("-o", "--output", required=True, metavar="MODEL_DIR", help="model folder")
    train.add_argument(
        "--size", choices=list(SIZES), default="small", help="verify's model preset (tiny: seconds)"
    )
    train.add_argument("--tokens", type=whole(1), help="training tokens (default: the size's)")
    train.add_argument("--seed", type=whole(0), default=0, help="model seed")
    train.add_argument(
        "--heldout", type=number(above=0, below=1), default=0.05,
        help="share of reference documents held out for the loss in the config",
    )  # fmt: skip
    train.add_argument(
        "--lang", action="append",
        help="a language of the reference (repeatable; default: detected by langid)",
    )  # fmt: skip
    train.add_argument("--device", help="torch device: cpu (default), cuda ...")
    train.add_argument("--threads", type=whole(1), help="torch CPU threads")
    train.add_argument("--text-field", default="text", help="JSONL/Parquet text field")
    train.add_argument("--overwrite", action="store_true", help="replace a non-empty MODEL_DIR")
    train.add_argument("--json", action="store_true", help="also print the config")
    train.set_defaults(handler=guard(cmd_train))
