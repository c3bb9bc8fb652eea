"""fastText classifiers: train on labelled texts, evaluate on held-out data, score.

One trainer serves every classifier textmill trains: Ultra-FineWeb's binary quality classifier
(`textmill quality train`, score = P(`__label__pos`)) and any labelled set (`textmill classify
train --label-field`, dolma's route to its Jigsaw toxicity taggers, score = P(the positive
label)). Training needs the `fasttext` module of `fasttext-numpy2-wheel` (the `quality` extra);
scoring works with it too. Models load offline from a path.
"""

from __future__ import annotations

import functools
import json
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from textmill.quality.preprocess import preprocess_texts

POSITIVE = "__label__pos"
NEGATIVE = "__label__neg"


@dataclass(frozen=True)
class TrainOptions:
    """fastText settings. methods.md (Ultra-FineWeb): hyper-parameters were not published; common
    settings are word n-grams 2–3, dimension 100–256, a few epochs. fastText's own defaults
    (lr 0.1, 5 epochs) barely move a model trained on a few hundred documents: on the bundled
    sample's 384 every score lay in 0.4997–0.5005 (held-out AUC 0.78); lr 0.5 and 25 epochs,
    fastText's tutorial settings for small sets, spread them over 0–1 (AUC 0.93). On 42k Turku
    lines they cost 3× the training time and 0.007 AUC (BENCHMARKS.md): lower them there."""

    word_ngrams: int = 2
    dim: int = 128
    epoch: int = 25
    lr: float = 0.5
    min_count: int = 1
    # fastText's default: 2M hashed n-gram rows × dim floats (~1 GB at dim 128); lower it for
    # small training sets, the model file shrinks in proportion
    bucket: int = 2_000_000
    holdout_fraction: float = 0.1
    seed: int = 0
    threads: int = 1  # fastText is only deterministic with one thread
    # softmax: one label per text; ova (one-vs-all): independent labels, for multi-label data
    loss: str = "softmax"
    # character n-gram lengths (fastText's supervised default 0/0: words only)
    minn: int = 0
    maxn: int = 0
    # read only each text's first max_chars characters (training and scoring alike); None: all
    max_chars: int | None = None


@dataclass
class ClassifierMetrics:
    """Held-out quality of a classifier, saved beside the model."""

    train_pos: int
    train_neg: int
    holdout_pos: int
    holdout_neg: int
    precision: float
    recall: float
    f1: float
    accuracy: float
    auc: float
    majority_accuracy: float  # the baseline: always answer the larger class
    threshold: float = 0.5
    options: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> str:
        return (
            f"held-out: {self.holdout_pos} pos / {self.holdout_neg} neg; "
            f"precision {self.precision:.3f}  recall {self.recall:.3f}  f1 {self.f1:.3f}  "
            f"accuracy {self.accuracy:.3f} (majority baseline {self.majority_accuracy:.3f})  "
            f"AUC {self.auc:.3f}"
        )


LR_BACKOFF_TRIES = 3  # fastText diverges to NaN now and then at a high lr; halve it and retry


def _fasttext_settings(options: TrainOptions) -> dict[str, Any]:
    """`train_supervised`'s keyword arguments for `options`."""
    return {
        "wordNgrams": options.word_ngrams,
        "dim": options.dim,
        "epoch": options.epoch,
        "lr": options.lr,
        "minCount": options.min_count,
        "bucket": options.bucket,
        "thread": options.threads,
        "seed": options.seed,
        "loss": options.loss,
        "minn": options.minn,
        "maxn": options.maxn,
        "verbose": 0,
    }


# The child imports fastText and nothing else. fastText 0.9.2 can diverge ("Encountered NaN")
# depending on what the process did before training, not only on the data and the lr: the
# same file trained at every lr in a bare interpreter and failed at every lr after importing a
# slightly different textmill (and in long-lived processes). A bare child makes a training
# depend on its data, settings and the installed fastText alone.
_CHILD = (
    "import json, sys\n"
    "import fasttext\n"
    "job = json.load(sys.stdin)\n"
    "model = fasttext.train_supervised(job['train_file'], **job['settings'])\n"
    "model.save_model(job['model_file'])\n"
)


def _train_in_child(train_file: str, model_file: str, options: TrainOptions) -> None:
    """One training in a fresh interpreter (see `_CHILD`); a spawned multiprocessing child
    would also re-run the caller's script, which fails in a script without an
    `if __name__ == "__main__"` guard and from `python -` (stdin). The child's last error line
    (fastText's "Encountered NaN.") comes back as a RuntimeError."""
    fasttext_module()  # the build that trains, or the error that says how to install it
    job = {"train_file": train_file, "model_file": model_file}
    payload = json.dumps({**job, "settings": _fasttext_settings(options)})
    done = subprocess.run(
        [sys.executable, "-c", _CHILD], input=payload, capture_output=True, text=True,
        check=False,
    )  # fmt: skip
    if done.returncode:
        lines = done.stderr.strip().splitlines()
        raise RuntimeError(lines[-1] if lines else f"exit code {done.returncode}")


def _train_with_backoff(
    train_file: Path, model_path: Path, options: TrainOptions
) -> tuple[Any, TrainOptions]:
    """Train in a child process; on "Encountered NaN" retry with half the learning rate (the
    options returned, and saved in the metrics, hold the lr that trained the model)."""
    for attempt in range(LR_BACKOFF_TRIES):
        try:
            _train_in_child(str(train_file), str(model_path), options)
            return fasttext_module().load_model(str(model_path)), options
        except RuntimeError as error:
            if "NaN" not in str(error) or attempt == LR_BACKOFF_TRIES - 1:
                raise RuntimeError(
                    f"fastText training failed ({error}) at lr {options.lr}; with very small "
                    "or repetitive data lower --lr or add examples"
                ) from error
            options = replace(options, lr=options.lr / 2)
    raise AssertionError("unreachable")


def fasttext_module() -> Any:
    """The `fasttext` module, checked to be the build that trains (fasttext-numpy2-wheel)."""
    import fasttext

    if not hasattr(fasttext, "train_supervised"):
        raise ImportError(
            "the installed `fasttext` module cannot train (it is fasttext-predict's); run "
            "`pip install --force-reinstall --no-deps fasttext-numpy2-wheel==0.9.2`"
        )
    return fasttext


def metrics_path(model_path: str | Path) -> Path:
    """`model.bin` → `model.metrics.json`."""
    model_path = Path(model_path)
    return model_path.with_name(model_path.stem + ".metrics.json")


def roc_auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve by the rank-sum (Mann–Whitney U) formula; ties count half."""
    labels = np.asarray(labels, dtype=bool)
    scores = np.asarray(scores, dtype=np.float64)
    num_pos = int(labels.sum())
    num_neg = len(labels) - num_pos
    if num_pos == 0 or num_neg == 0:
        return float("nan")
    order = np.argsort(scores, kind="stable")
    sorted_scores = scores[order]
    ranks = np.empty(len(scores), dtype=np.float64)
    # average rank within each group of tied scores
    boundaries = np.flatnonzero(np.diff(sorted_scores)) + 1
    starts = np.concatenate(([0], boundaries))
    ends = np.concatenate((boundaries, [len(scores)]))
    average = (starts + ends + 1) / 2.0
    ranks[order] = np.repeat(average, ends - starts)
    return float((ranks[labels].sum() - num_pos * (num_pos + 1) / 2) / (num_pos * num_neg))


def evaluate(labels: np.ndarray, scores: np.ndarray, threshold: float = 0.5) -> dict[str, float]:
    """Precision, recall, F1, accuracy at `threshold`, AUC, and the majority-class baseline."""
    labels = np.asarray(labels, dtype=bool)
    predicted = np.asarray(scores) >= threshold
    true_pos = int(np.count_nonzero(predicted & labels))
    precision = true_pos / max(int(predicted.sum()), 1)
    recall = true_pos / max(int(labels.sum()), 1)
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    majority = max(labels.mean(), 1 - labels.mean()) if len(labels) else float("nan")
    return {
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "accuracy": float((predicted == labels).mean()) if len(labels) else float("nan"),
        "auc": roc_auc(labels, scores),
        "majority_accuracy": float(majority),
    }


def split_holdout(num_rows: int, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(train indices, held-out indices): a seeded permutation, at least one row held out
    when there are two or more rows."""
    order = np.random.default_rng(seed).permutation(num_rows)
    num_holdout = int(round(num_rows * fraction))
    if fraction > 0 and num_rows >= 2:
        num_holdout = min(max(num_holdout, 1), num_rows - 1)
    return np.sort(order[num_holdout:]), np.sort(order[:num_holdout])


LABEL_PREFIX = "__label__"


def fasttext_label(value: object) -> str:
    """A label value as fastText writes it: `__label__` and the value, booleans as true/false,
    whitespace as `_` (fastText splits labels on whitespace)."""
    text = str(value).lower() if isinstance(value, bool) else str(value)
    return LABEL_PREFIX + "_".join(text.split())


class ModelFileError(OSError):
    """A classifier file that does not exist or does not load; the CLI prints it in one line."""

    def __init__(self, path: str | Path, problem: str):
        super().__init__(None, problem, str(path))

    def __reduce__(self) -> tuple[type, tuple[str, str]]:  # crosses process pools intact
        return type(self), (self.filename, self.strerror)


class FastTextClassifier:
    """A loaded fastText classifier; `score(texts)` gives P(`positive`) per text as float32."""

    def __init__(self, model: Any, positive: str = POSITIVE):
        self.model = model
        self.positive = positive if positive.startswith(LABEL_PREFIX) else fasttext_label(positive)
        labels = set(model.get_labels())
        if self.positive not in labels:
            raise ValueError(f"model has no {self.positive} label (labels: {sorted(labels)})")

    @classmethod
    def load(cls, path: str | Path, positive: str = POSITIVE) -> FastTextClassifier:
        return _load_cached(cls, str(path), positive)

    def score(self, texts: pa.Array | pa.ChunkedArray | Sequence[str | None]) -> np.ndarray:
        """P(positive) per text; null or blank texts score 0 (no evidence either way)."""
        lines = preprocess_texts(texts).to_pylist()
        scores = np.zeros(len(lines), dtype=np.float32)
        rows = [row for row, line in enumerate(lines) if line]
        if not rows:
            return scores
        all_labels, all_probs = self.model.predict([lines[row] for row in rows], k=-1)
        for row, labels, probs in zip(rows, all_labels, all_probs, strict=True):
            for label, prob in zip(labels, probs, strict=True):
                if label == self.positive:
                    scores[row] = prob
                    break
        # fastText adds 1e-5 to every probability before normalising; keep scores in [0, 1]
        return np.clip(scores, 0.0, 1.0)


class QualityModel(FastTextClassifier):
    """Ultra-FineWeb's quality classifier: P(`__label__pos`)."""

    def __init__(self, model: Any):
        super().__init__(model, POSITIVE)

    @classmethod
    def load(cls, path: str | Path) -> QualityModel:  # type: ignore[override]
        return _load_cached(cls, str(path), POSITIVE)


def load_fasttext_model(path: str | Path) -> Any:
    """A fastText model from a file, or a one-line ModelFileError saying why it is not one."""
    if not Path(path).is_file():
        raise ModelFileError(path, "classifier model does not exist")
    import fasttext

    try:
        return fasttext.load_model(str(path))
    except (ValueError, RuntimeError, MemoryError) as error:
        raise ModelFileError(path, f"not a fastText model ({error})") from None


@functools.cache
def _load_cached(cls: type, path: str, positive: str) -> Any:
    model = load_fasttext_model(path)
    try:
        return cls(model) if cls is QualityModel else cls(model, positive)
    except ValueError as error:
        raise ModelFileError(path, str(error)) from None


def train_classifier(
    positives: Sequence[str],
    negatives: Sequence[str],
    model_path: str | Path,
    options: TrainOptions | None = None,
) -> ClassifierMetrics:
    """Train on all but a seeded held-out split of each class, save the model and its held-out
    metrics (`<model>.metrics.json`), and return the metrics."""
    if not positives or not negatives:
        raise ValueError(
            f"need positive and negative examples (have {len(positives)} pos, {len(negatives)} neg)"
        )
    labels = ["pos"] * len(positives) + ["neg"] * len(negatives)
    return train_labelled(list(positives) + list(negatives), labels, "pos", model_path, options)


def stratified_split(
    codes: np.ndarray, fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """(train rows, held-out rows) splitting each class code on its own, so that every class
    is represented in the held-out set; the train rows come shuffled (fastText learns online,
    the classes must interleave)."""
    train_rows, holdout_rows = [], []
    for salt, code in enumerate(np.unique(codes)):
        rows = np.flatnonzero(codes == code)
        train, holdout = split_holdout(len(rows), fraction, seed + salt)
        train_rows.append(rows[train])
        holdout_rows.append(rows[holdout])
    train_index = np.concatenate(train_rows) if train_rows else np.zeros(0, np.int64)
    holdout_index = np.sort(np.concatenate(holdout_rows)) if holdout_rows else train_index[:0]
    return np.random.default_rng(seed).permutation(train_index), holdout_index


def fit_fasttext(
    texts: Sequence[str], labels: Sequence[str], model_path: str | Path, options: TrainOptions
) -> tuple[Any, TrainOptions]:
    """The one fastText training every textmill classifier goes through: texts preprocessed
    as at scoring time, one line each after its labels (`labels[i]` holds one or more
    space-separated `__label__` names), trained in a child process, saved at `model_path`.
    Returns the loaded model and the options that trained it (lr after any backoff)."""
    prepared = preprocess_texts(list(texts), options.max_chars).to_pylist()
    model_path = Path(model_path)
    model_path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="textmill-classifier-") as tmp:
        train_file = Path(tmp) / "train.txt"
        with train_file.open("w", encoding="utf-8") as out:
            for label, line in zip(labels, prepared, strict=True):
                out.write(f"{label} {line}\n")
        return _train_with_backoff(train_file, model_path, options)


def train_labelled(
    texts: Sequence[str],
    labels: Sequence[object],
    positive: object,
    model_path: str | Path,
    options: TrainOptions | None = None,
) -> ClassifierMetrics:
    """Train a fastText classifier on `texts` with one label each (any number of classes) on
    all but a seeded held-out split of every class; save the model and the held-out metrics of
    `positive` against the rest (`<model>.metrics.json`, with `positive_label` unless it is the
    quality classifier's `pos`), and return them."""
    options = options or TrainOptions()
    if len(texts) != len(labels):
        raise ValueError(f"{len(texts)} texts but {len(labels)} labels")
    names = [fasttext_label(label) for label in labels]
    positive_name = fasttext_label(positive)
    # the positive class first, then the others sorted: salts and order never depend on input
    classes = [positive_name] + sorted(set(names) - {positive_name})
    counts = {name: names.count(name) for name in classes}
    if len(classes) < 2 or counts[positive_name] == 0:
        found = ", ".join(f"{n.removeprefix(LABEL_PREFIX)} ({c})" for n, c in counts.items() if c)
        raise ValueError(
            f"need examples of {positive_name.removeprefix(LABEL_PREFIX)!r} and of another "
            f"label (have {found or 'none'})"
        )
    index_of = {name: i for i, name in enumerate(classes)}
    codes = np.array([index_of[name] for name in names], dtype=np.int64)
    is_positive = codes == 0
    train_index, holdout_index = stratified_split(codes, options.holdout_fraction, options.seed)
    model, options = fit_fasttext(
        [texts[i] for i in train_index],
        [classes[codes[i]] for i in train_index],
        model_path,
        options,
    )

    classifier = FastTextClassifier(model, positive_name)
    scores = classifier.score([texts[i] for i in holdout_index])
    measured = evaluate(is_positive[holdout_index], scores)
    metrics = ClassifierMetrics(
        train_pos=int(is_positive[train_index].sum()),
        train_neg=int((~is_positive[train_index]).sum()),
        holdout_pos=int(is_positive[holdout_index].sum()),
        holdout_neg=int((~is_positive[holdout_index]).sum()),
        options=asdict(options),
        **measured,
    )
    saved = asdict(metrics)
    if positive_name != POSITIVE:  # a quality model's file stays as it always was
        saved["positive_label"] = positive_name.removeprefix(LABEL_PREFIX)
        saved["labels"] = {name.removeprefix(LABEL_PREFIX): count for name, count in counts.items()}
    metrics_path(model_path).write_text(json.dumps(saved, indent=2) + "\n")
    return metrics
