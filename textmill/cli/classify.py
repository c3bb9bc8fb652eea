"""`textmill classify train`: a fastText classifier from any labelled set (dolma's route to its
Jigsaw toxicity taggers), with the trainer `textmill quality train` uses."""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from typing import Any

from textmill.cli.quality import add_train_arguments, guard, train_options
from textmill.io import InputError

_TRUE = {"1", "true", "yes", "pos", "positive"}


def _positive_label(labels: list[object], given: str | None) -> str:
    """The label whose probability the model's score is: `--positive`, else the true side of a
    two-valued label (true/false, 1/0)."""
    from textmill.quality.classifier import LABEL_PREFIX, fasttext_label

    names = Counter(fasttext_label(label).removeprefix(LABEL_PREFIX) for label in labels)
    if given is not None:
        if given not in names:
            raise InputError(f"--positive {given!r} is no label of the data ({_listing(names)})")
        return given
    truthy = [name for name in names if name.lower() in _TRUE]
    if len(names) == 2 and len(truthy) == 1:
        return truthy[0]
    raise InputError(f"name the positive label with --positive ({_listing(names)})")


def _listing(names: Counter) -> str:
    return "labels: " + ", ".join(f"{name} ({count:,})" for name, count in sorted(names.items()))


def cmd_train(args: argparse.Namespace) -> int:
    from textmill.quality.classifier import metrics_path, train_labelled
    from textmill.quality.inputs import read_labelled

    texts, labels = read_labelled(
        args.inputs, label_field=args.label_field, text_field=args.text_field
    )
    positive = _positive_label(labels, args.positive)
    print(
        f"training on {len(texts):,} documents, positive label {positive!r}",
        file=sys.stderr,
        flush=True,
    )
    metrics = train_labelled(texts, labels, positive, args.output, train_options(args))
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
    train.add_argument("-o", "--output", required=True, help="model path, e.g. toxicity.bin")
    add_train_arguments(train)
    train.add_argument("--text-field", default="text", help="JSONL/Parquet text field")
    train.set_defaults(handler=guard(cmd_train))
