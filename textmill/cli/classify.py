"""`textmill classify train`: a fastText classifier from any labelled set (dolma's route to its
Jigsaw toxicity taggers), with the trainer `textmill quality train` uses."""

from __future__ import annotations

import argparse
from typing import Any

from textmill.cli.quality import add_train_arguments, guard, train_options
from textmill.quality.label_field import train_label_field


def cmd_train(args: argparse.Namespace) -> int:
    from textmill.quality.classifier import metrics_path

    metrics = train_label_field(
        args.inputs, label_field=args.label_field, output=args.output,
        options=train_options(args), text_field=args.text_field, positive=args.positive,
        keep=args.labels, multi_label=True if args.multi_label else None,
    )  # fmt: skip
    print(metrics.summary())
    print(f"model: {args.output}  metrics: {metrics_path(args.output)}")
    return 0


def cmd_recipe(args: argparse.Namespace) -> int:
    from textmill.quality.classifier import metrics_path
    from textmill.quality.recipes import RECIPES

    recipe = RECIPES[args.recipe]
    options = recipe.options(seed=args.seed, threads=args.threads)
    metrics = train_label_field(
        args.inputs, label_field=args.label_field or recipe.label_field, output=args.output,
        options=options, text_field=args.text_field, keep=list(recipe.labels),
        multi_label=recipe.multi_label,
    )  # fmt: skip
    print(metrics.summary())
    print(f"model: {args.output}  metrics: {metrics_path(args.output)}")
    return 0


def register(commands: Any) -> None:
    """Add `classify train` to the `textmill` subcommands."""
    classify = commands.add_parser("classify", help="fastText classifiers from labelled data")
    actions = classify.add_subparsers(dest="classify_command", required=True)
    train = actions.add_parser(
        "train", help="train a fastText classifier on labelled records (JSONL, Parquet, ...)"
    )
    train.add_argument("inputs", nargs="+", help="labelled records (files/dirs)")
    train.add_argument(
        "--label-field", required=True, help="the record field holding each record's label"
    )
    train.add_argument(
        "--positive",
        help="the label the score is the probability of (default: the true side of a "
        "true/false or 1/0 label)",
    )
    train.add_argument(
        "--labels", nargs="+", metavar="LABEL",
        help="learn only these labels (others are dropped from each record's labels)",
    )  # fmt: skip
    train.add_argument(
        "--multi-label", action="store_true",
        help="one-vs-all: a text may carry several labels (default when a record has a list)",
    )  # fmt: skip
    train.add_argument("-o", "--output", required=True, help="model path, e.g. toxicity.bin")
    add_train_arguments(train)
    train.add_argument("--text-field", default="text", help="JSONL/Parquet text field")
    train.set_defaults(handler=guard(cmd_train))

    from textmill.quality.recipes import RECIPES

    recipe = actions.add_parser(
        "recipe", help="train a shipped recipe (settings and labels fixed) on your copy of its data"
    )
    recipe.add_argument("recipe", choices=sorted(RECIPES), help="; ".join(
        f"{name}: {r.description}" for name, r in sorted(RECIPES.items())
    ))  # fmt: skip
    recipe.add_argument("inputs", nargs="+", help="the labelled records (files/dirs)")
    recipe.add_argument("-o", "--output", required=True, help="model path, e.g. register.bin")
    recipe.add_argument("--seed", type=int, default=0)
    recipe.add_argument("--threads", type=int, default=1, help="1 keeps training deterministic")
    recipe.add_argument("--label-field", help="the label field (default: the recipe's)")
    recipe.add_argument("--text-field", default="text", help="JSONL/Parquet text field")
    recipe.set_defaults(handler=guard(cmd_recipe))
