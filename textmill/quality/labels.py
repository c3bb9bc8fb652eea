"""Many-valued fastText classifiers: multi-class (one label a text, softmax) and multi-label
(any number of labels a text, one-vs-all), trained through the same `fit_fasttext` as the
quality classifier, evaluated per label on a stratified held-out split, and applied to whole
columns by `LabelModel` (the `classify` stage).

A text's probabilities come from fastText in one batched call; the top label, its probability
and (multi-label) the labels at or above a threshold become Arrow columns without a Python
object per label.
"""

from __future__ import annotations

import functools
import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from textmill.quality.classifier import (
    LABEL_PREFIX,
    ModelFileError,
    TrainOptions,
    fasttext_label,
    fit_fasttext,
    load_fasttext_model,
    metrics_path,
    stratified_split,
)
from textmill.quality.preprocess import preprocess_texts

MULTI_LABEL_THRESHOLD = 0.5  # a one-vs-all probability: the label applies or it does not


def label_name(value: object) -> str:
    """A label as textmill shows it: fastText's name without `__label__`."""
    return fasttext_label(value).removeprefix(LABEL_PREFIX)


@dataclass
class LabelMetrics:
    """Held-out quality of a many-valued classifier, saved beside the model."""

    multi_label: bool
    labels: dict[str, int]  # training examples per label (before the held-out split)
    holdout: int
    per_label: dict[str, dict[str, float]]  # label → precision, recall, f1, support
    macro_f1: float
    micro_f1: float
    majority_macro_f1: float  # the baseline: every text gets the most frequent label
    threshold: float
    unlabelled: int = 0  # records skipped for having no label
    # training texts per `lang` of the records (empty: unknown); the stage flags other
    # languages as out of distribution
    languages: dict[str, int] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> str:
        worst = sorted(self.per_label.items(), key=lambda item: item[1]["f1"])[:3]
        return (
            f"held-out: {self.holdout} documents, {len(self.per_label)} labels "
            f"({'multi-label' if self.multi_label else 'multi-class'}); macro-F1 "
            f"{self.macro_f1:.3f}  micro-F1 {self.micro_f1:.3f} (majority baseline macro-F1 "
            f"{self.majority_macro_f1:.3f}); weakest: "
            + ", ".join(f"{name} {entry['f1']:.3f}" for name, entry in worst)
        )


def label_matrix(label_sets: Sequence[Sequence[str]], names: Sequence[str]) -> np.ndarray:
    """bool [texts, labels]: which of `names` each text carries."""
    index = {name: i for i, name in enumerate(names)}
    matrix = np.zeros((len(label_sets), len(names)), dtype=bool)
    for row, labels in enumerate(label_sets):
        for label in labels:
            if label in index:
                matrix[row, index[label]] = True
    return matrix


def f1_scores(truth: np.ndarray, predicted: np.ndarray, names: Sequence[str]) -> dict[str, Any]:
    """Per-label precision/recall/F1/support, macro-F1 (unweighted mean over labels) and
    micro-F1 (over all label decisions) of bool [texts, labels] matrices."""
    true_pos = (truth & predicted).sum(axis=0)
    predicted_pos = predicted.sum(axis=0)
    support = truth.sum(axis=0)
    precision = np.divide(
        true_pos, predicted_pos, out=np.zeros(len(names)), where=predicted_pos > 0
    )
    recall = np.divide(true_pos, support, out=np.zeros(len(names)), where=support > 0)
    total = precision + recall
    f1 = np.divide(2 * precision * recall, total, out=np.zeros(len(names)), where=total > 0)
    tp, pp, sp = true_pos.sum(), predicted_pos.sum(), support.sum()
    micro = 2 * tp / (pp + sp) if pp + sp else 0.0
    return {
        "per_label": {
            name: {"precision": float(p), "recall": float(r), "f1": float(f), "support": int(s)}
            for name, p, r, f, s in zip(names, precision, recall, f1, support, strict=True)
        },
        "macro_f1": float(f1.mean()) if len(names) else 0.0,
        "micro_f1": float(micro),
    }


def stratum_codes(label_sets: Sequence[Sequence[str]], counts: Counter) -> np.ndarray:
    """Each text's rarest label, as a code: stratifying on it keeps every rare label in both
    halves of a multi-label split."""
    order = {name: i for i, (name, _) in enumerate(sorted(counts.items(), key=lambda x: x[1]))}
    return np.array([min(order[label] for label in labels) for labels in label_sets], np.int64)


def train_labels(
    texts: Sequence[str],
    label_sets: Sequence[Sequence[str]],
    model_path: str | Path,
    options: TrainOptions | None = None,
    *,
    multi_label: bool | None = None,
    threshold: float = MULTI_LABEL_THRESHOLD,
    unlabelled: int = 0,
    languages: dict[str, int] | None = None,
) -> LabelMetrics:
    """Train on all but a stratified held-out split; save the model and its per-label held-out
    metrics (`<model>.metrics.json`), and return them. `label_sets[i]` are text i's label names
    (non-empty); multi-label (one-vs-all loss) when any text has two, unless told."""
    options = options or TrainOptions()
    if len(texts) != len(label_sets):
        raise ValueError(f"{len(texts)} texts but {len(label_sets)} label sets")
    label_sets = [sorted({label_name(label) for label in labels}) for labels in label_sets]
    if any(not labels for labels in label_sets):
        raise ValueError("every training text needs at least one label")
    if multi_label is None:
        multi_label = any(len(labels) > 1 for labels in label_sets)
    if not multi_label and any(len(labels) > 1 for labels in label_sets):
        raise ValueError("texts with several labels need a multi-label classifier")
    counts = Counter(label for labels in label_sets for label in labels)
    if len(counts) < 2:
        raise ValueError(f"need examples of two labels or more (have {dict(counts)})")
    names = sorted(counts)
    options = TrainOptions(**{**asdict(options), "loss": "ova" if multi_label else options.loss})
    codes = stratum_codes(label_sets, counts)
    train_index, holdout_index = stratified_split(codes, options.holdout_fraction, options.seed)
    lines = [" ".join(fasttext_label(label) for label in labels) for labels in label_sets]
    model, options = fit_fasttext(
        [texts[i] for i in train_index], [lines[i] for i in train_index], model_path, options
    )
    truth = label_matrix([label_sets[i] for i in holdout_index], names)
    model_view = LabelModel(
        model, multi_label=multi_label, threshold=threshold, max_chars=options.max_chars
    )
    predicted = model_view.label_matrix([texts[i] for i in holdout_index], names)
    majority = np.zeros_like(truth)
    majority[:, names.index(counts.most_common(1)[0][0])] = True
    measured = f1_scores(truth, predicted, names)
    metrics = LabelMetrics(
        multi_label=multi_label,
        labels=dict(sorted(counts.items())),
        holdout=len(holdout_index),
        threshold=threshold,
        majority_macro_f1=f1_scores(truth, majority, names)["macro_f1"],
        unlabelled=unlabelled,
        languages=dict(sorted((languages or {}).items())),
        options=asdict(options),
        **measured,
    )
    metrics_path(model_path).write_text(json.dumps(asdict(metrics), indent=2) + "\n")
    return metrics


class LabelModel:
    """A loaded fastText classifier applied to columns: the top label and its probability per
    text and, for a multi-label (one-vs-all) model, every label at or above `threshold`."""

    def __init__(
        self,
        model: Any,
        *,
        multi_label: bool | None = None,
        threshold: float = MULTI_LABEL_THRESHOLD,
        max_chars: int | None = None,
        languages: frozenset[str] | None = None,
    ):
        self.model = model
        self.max_chars = max_chars
        self.languages = languages  # those it was trained on; None: unknown
        self.labels = [name.removeprefix(LABEL_PREFIX) for name in model.get_labels()]
        if multi_label is None:  # a one-vs-all model scores each label on its own
            multi_label = model.f.getArgs().loss.name == "ova"
        self.multi_label = multi_label
        self.threshold = threshold

    @classmethod
    def load(
        cls,
        path: str | Path,
        threshold: float = MULTI_LABEL_THRESHOLD,
        max_chars: int | None = None,
    ) -> LabelModel:
        """A model file; `max_chars` None reads the setting it was trained with from its
        metrics file (`textmill classify train` writes one), else the whole text."""
        return _load_cached(str(path), threshold, max_chars)

    def _predict(self, texts: pa.Array | pa.ChunkedArray | Sequence[str | None], k: int) -> tuple:
        lines = preprocess_texts(texts, self.max_chars).to_pylist()
        rows = [row for row, line in enumerate(lines) if line]
        if not rows:
            return lines, rows, [], []
        labels, probs = self.model.predict([lines[row] for row in rows], k=k)
        return lines, rows, labels, probs

    def predict(
        self, texts: pa.Array | pa.ChunkedArray | Sequence[str | None]
    ) -> tuple[pa.Array, pa.Array, pa.Array | None]:
        """(top label, its probability, labels ≥ threshold (at least the top one) or None for a
        multi-class model); null where the text is null or blank (nothing to classify)."""
        k = -1 if self.multi_label else 1
        lines, rows, labels, probs = self._predict(texts, k)
        n = len(lines)
        found = np.zeros(n, dtype=bool)
        found[rows] = True
        code_of = {LABEL_PREFIX + name: i for i, name in enumerate(self.labels)}
        top = np.zeros(n, dtype=np.int32)
        score = np.zeros(n, dtype=np.float32)
        top[rows] = [code_of[row_labels[0]] for row_labels in labels]
        score[rows] = [row_probs[0] for row_probs in probs]
        score = np.clip(score, 0.0, 1.0)  # fastText adds 1e-5 before normalising
        dictionary = pa.array(self.labels, pa.string())
        top_column = pa.DictionaryArray.from_arrays(pa.array(top, mask=~found), dictionary)
        score_column = pa.array(score, pa.float32(), mask=~found)
        if not self.multi_label:
            return top_column.cast(pa.string()), score_column, None
        lengths = np.zeros(n, dtype=np.int32)
        chosen: list[str] = []
        for row, row_labels, row_probs in zip(rows, labels, probs, strict=True):
            # labels come sorted by probability; the top one always applies (every text has
            # a register, a topic... even when no one-vs-all probability reaches the threshold)
            count = max(int(np.count_nonzero(np.asarray(row_probs) >= self.threshold)), 1)
            lengths[row] = count
            chosen.extend(label.removeprefix(LABEL_PREFIX) for label in row_labels[:count])
        offsets = np.concatenate(([0], np.cumsum(lengths))).astype(np.int32)
        lists = pa.ListArray.from_arrays(
            pa.array(offsets), pa.array(chosen, pa.string()), mask=pa.array(~found)
        )
        return top_column.cast(pa.string()), score_column, lists

    def label_matrix(self, texts: Sequence[str], names: Sequence[str]) -> np.ndarray:
        """bool [texts, names]: the labels the model gives each text (its top label for a
        multi-class model; those ≥ threshold, at least the top one, for a multi-label model)."""
        top, _, lists = self.predict(texts)
        if lists is None:
            return label_matrix([[label] if label else [] for label in top.to_pylist()], names)
        return label_matrix([chosen or [] for chosen in lists.to_pylist()], names)


def _saved_metrics(path: str | Path) -> dict[str, Any]:
    """The metrics file `textmill classify train` wrote beside a model ({} when none)."""
    saved = metrics_path(path)
    try:
        metrics = json.loads(saved.read_text()) if saved.is_file() else {}
    except ValueError:
        return {}
    return metrics if isinstance(metrics, dict) else {}


@functools.cache
def _load_cached(path: str, threshold: float, max_chars: int | None) -> LabelModel:
    model = load_fasttext_model(path)
    saved = _saved_metrics(path)
    if max_chars is None:
        max_chars = (saved.get("options") or {}).get("max_chars")
    languages = frozenset(saved["languages"]) if saved.get("languages") else None
    try:
        return LabelModel(model, threshold=threshold, max_chars=max_chars, languages=languages)
    except (ValueError, RuntimeError, AttributeError) as error:
        raise ModelFileError(path, str(error)) from None
