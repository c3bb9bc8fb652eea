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


def _is_binary(labels: list[object], given: str | None) -> bool:
    """The toxicity-style case: one value a record, and either a named positive label or a
    true/false field; everything else trains a multi-class or multi-label classifier."""
    if given is not None:
        return True
    if any(isinstance(label, list) for label in labels):
        return False
    from textmill.quality.classifier import LABEL_PREFIX, fasttext_label

    names = {fasttext_label(label).removeprefix(LABEL_PREFIX) for label in labels}
    return len(names) == 2 and sum(name.lower() in _TRUE for name in names) == 1


def _label_sets(labels: list[object], keep: list[str] | None) -> list[list[str]]:
    """Each record's labels as a list (a list field as it is, a value as one label), limited
    to `keep` when given (a record left with none is then unlabelled)."""
    from textmill.quality.labels import label_name

    sets = [[label_name(v) for v in (x if isinstance(x, list) else [x])] for x in labels]
    if keep is not None:
        wanted = set(keep)
        sets = [[label for label in labels if label in wanted] for labels in sets]
    return sets


def train_label_field(
    inputs: list[str],
    *,
    label_field: str,
    output: str,
    options: Any,
    text_field: str = "text",
    positive: str | None = None,
    keep: list[str] | None = None,
    multi_label: bool | None = None,
) -> Any:
    """Read a labelled set and train: the binary trainer for a positive label, the many-valued
    one otherwise; records without a label (or with none of `keep`) are counted and left out."""
    from textmill.quality.classifier import train_labelled
    from textmill.quality.inputs import read_labelled
    from textmill.quality.labels import train_labels

    data = read_labelled(inputs, label_field=label_field, text_field=text_field)
    if not data.texts:
        raise InputError(f"no record of {', '.join(inputs)} has a label in {label_field!r}")
    if keep is None and _is_binary(data.labels, positive):
        if data.note(label_field):
            _log(data.note(label_field))
        positive = _positive_label(data.labels, positive)
        _log(f"training on {len(data.texts):,} documents, positive label {positive!r}")
        return train_labelled(data.texts, data.labels, positive, output, options)
    sets = _label_sets(data.labels, keep)
    rows = [row for row, labels in enumerate(sets) if labels]
    unlabelled = data.unlabelled + len(sets) - len(rows)
    if unlabelled:
        first = data.first_unlabelled if data.unlabelled else "one without any of --labels"
        _log(f"{unlabelled:,} records without a label in {label_field!r} left out (first: {first})")
    _log(f"training on {len(rows):,} documents")
    return train_labels(
        [data.texts[row] for row in rows], [sets[row] for row in rows], output, options,
        multi_label=multi_label, unlabelled=unlabelled,
    )  # fmt: skip


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


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
