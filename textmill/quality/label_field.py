"""Train a classifier on a labelled field: the binary trainer for a positive label (toxicity),
the many-valued one (multi-class, multi-label) otherwise, from any input textmill reads. The
`classify train` / `classify recipe` commands and the Python API both come through here."""

from __future__ import annotations

import sys
from collections import Counter
from typing import Any

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


def _check_categories(labels: list[object], field: str) -> None:
    """A field of fractional numbers is a score, not a category: each value would become its own
    label with one example and the held-out split would be empty."""
    values = (v for x in labels for v in (x if isinstance(x, list) else [x]))
    fraction = next((v for v in values if isinstance(v, float) and not v.is_integer()), None)
    if fraction is not None:
        raise InputError(
            f"{field!r} holds fractional numbers (such as {fraction!r}), not categories: bin it "
            "into a few labels first (classify trains on categories)"
        )


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
    _check_categories(data.labels, label_field)
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
    languages = Counter(str(data.langs[row]) for row in rows if data.langs[row] is not None)
    return train_labels(
        [data.texts[row] for row in rows], [sets[row] for row in rows], output, options,
        multi_label=multi_label, unlabelled=unlabelled, languages=dict(languages),
    )  # fmt: skip


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)
