"""Ultra-FineWeb preprocessing and the fastText quality classifier."""

from __future__ import annotations

import dataclasses
import json
import random

import numpy as np
import pytest

from textmill.quality.classifier import (
    QualityModel,
    TrainOptions,
    evaluate,
    metrics_path,
    roc_auc,
    split_holdout,
    train_classifier,
)
from textmill.quality.preprocess import preprocess_text, preprocess_texts

fasttext = pytest.importorskip("fasttext")
needs_training = pytest.mark.skipif(
    not hasattr(fasttext, "train_supervised"), reason="fasttext build cannot train"
)

# a small model file for a small set
SMALL = TrainOptions(epoch=20, lr=0.25, bucket=10_000)


def synthetic_docs(seed: int) -> tuple[list[str], list[str]]:
    """Prose-like positives and spam-like negatives that share a background vocabulary."""
    rng = random.Random(seed)
    background = [f"word{i}" for i in range(500)]
    prose = ["the", "research", "explains", "history", "because", "therefore", "analysis"]
    spam = ["buy", "cheap", "click", "casino", "free", "viagra", "winner"]

    def doc(marked: list[str]) -> str:
        words = [rng.choice(background) for _ in range(40)] + rng.sample(marked, 4)
        rng.shuffle(words)
        return " ".join(words).capitalize() + "."

    return [doc(prose) for _ in range(300)], [doc(spam) for _ in range(300)]


def test_preprocessing_collapses_newlines_lowercases_strips_accents_and_splits_punctuation():
    text = "Héllo,  WÖRLD!\n\n\n\nÇa va?"
    assert preprocess_text(text) == "hello , world ! \\n \\n ca va ?"


def test_preprocessing_keeps_nulls_and_two_newlines():
    out = preprocess_texts(["a\n\nb", None]).to_pylist()
    assert out == ["a \\n \\n b", None]


def test_auc_is_one_for_separated_half_for_tied_and_zero_for_reversed():
    labels = np.array([1, 1, 0, 0], bool)
    assert roc_auc(labels, np.array([0.9, 0.8, 0.2, 0.1])) == 1.0
    assert roc_auc(labels, np.array([0.5, 0.5, 0.5, 0.5])) == 0.5
    assert roc_auc(labels, np.array([0.1, 0.2, 0.8, 0.9])) == 0.0


def test_evaluate_counts_precision_recall_and_majority_baseline():
    labels = np.array([1, 1, 1, 0], bool)
    measured = evaluate(labels, np.array([0.9, 0.1, 0.8, 0.7]))
    assert measured["precision"] == pytest.approx(2 / 3)
    assert measured["recall"] == pytest.approx(2 / 3)
    assert measured["majority_accuracy"] == 0.75


def test_holdout_split_is_seeded_and_disjoint():
    train, holdout = split_holdout(100, 0.1, seed=3)
    again_train, again_holdout = split_holdout(100, 0.1, seed=3)
    assert len(holdout) == 10 and not set(train) & set(holdout)
    assert (holdout == again_holdout).all() and (train == again_train).all()
    assert not (split_holdout(100, 0.1, seed=4)[1] == holdout).all()


@needs_training
def test_classifier_on_separable_set_reaches_auc_one_and_saves_metrics(tmp_path):
    positives, negatives = synthetic_docs(seed=0)
    model_path = tmp_path / "quality.bin"
    metrics = train_classifier(
        positives, negatives, model_path, dataclasses.replace(SMALL, holdout_fraction=0.2)
    )
    assert metrics.auc > 0.99
    assert metrics.holdout_pos == 60 and metrics.holdout_neg == 60
    assert metrics.train_pos == 240 and metrics.train_neg == 240
    assert metrics.majority_accuracy == 0.5
    saved = json.loads(metrics_path(model_path).read_text())
    assert saved["auc"] == metrics.auc and saved["options"]["word_ngrams"] == 2

    model = QualityModel.load(model_path)
    new_pos, new_neg = synthetic_docs(seed=1)
    scores = model.score([new_pos[0], new_neg[0], None, ""])
    assert scores.dtype == np.float32
    assert scores[0] > 0.9 and scores[1] < 0.1
    assert scores[2] == 0.0 and scores[3] == 0.0


@needs_training
def test_training_twice_with_one_seed_gives_the_same_split_and_close_scores(tmp_path):
    # fastText 0.9.2 training is not bit-reproducible (rarely, a run differs slightly)
    positives, negatives = synthetic_docs(seed=0)
    first = train_classifier(positives, negatives, tmp_path / "a.bin", SMALL)
    second = train_classifier(positives, negatives, tmp_path / "b.bin", SMALL)
    probe = positives[:5] + negatives[:5]
    a = QualityModel(fasttext.load_model(str(tmp_path / "a.bin"))).score(probe)
    b = QualityModel(fasttext.load_model(str(tmp_path / "b.bin"))).score(probe)
    assert (first.holdout_pos, first.train_pos) == (second.holdout_pos, second.train_pos)
    assert first.auc == second.auc == 1.0
    np.testing.assert_allclose(a, b, atol=0.05)


def test_training_needs_both_classes(tmp_path):
    with pytest.raises(ValueError, match="positive and negative"):
        train_classifier(["some text"], [], tmp_path / "m.bin")


@needs_training
def test_a_diverging_training_is_retried_at_half_the_learning_rate(tmp_path, monkeypatch):
    import textmill.quality.classifier as classifier

    tried: list[float] = []
    real_child = classifier._train_in_child

    def diverges_once(train_file, model_file, options):
        """The real child process, except that the first training diverges as fastText
        sometimes does."""
        tried.append(options.lr)
        if len(tried) == 1:
            raise RuntimeError("RuntimeError: Encountered NaN.")
        real_child(train_file, model_file, options)

    monkeypatch.setattr(classifier, "_train_in_child", diverges_once)
    positives, negatives = synthetic_docs(seed=0)
    metrics = train_classifier(positives, negatives, tmp_path / "q.bin", SMALL)
    assert tried == [SMALL.lr, SMALL.lr / 2]
    assert metrics.options["lr"] == SMALL.lr / 2


@needs_training
def test_training_from_a_script_without_a_main_guard(tmp_path):
    """The README's Python snippets are plain scripts: the training child must not re-run them
    (a spawned multiprocessing child did, and failed while bootstrapping)."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    import textmill

    rows = [{"text": f"{'good words here' if i % 2 else 'spam spam buy'} {i}", "ok": i % 2 == 1}
            for i in range(60)]  # fmt: skip
    (tmp_path / "in.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    script = tmp_path / "snippet.py"
    script.write_text(
        "import textmill\n"
        "textmill.train_label_classifier(['in.jsonl'], 'ok', 'm.bin', epoch=5, bucket=10000)\n"
        "print('trained')\n"
    )
    root = str(Path(textmill.__file__).resolve().parents[1])
    done = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True,
        env={**os.environ, "PYTHONPATH": root}, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.count("trained") == 1 and (tmp_path / "m.bin").exists()
