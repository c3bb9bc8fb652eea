"""Held-out AUC and scoring speed of the fastText quality classifier on real labelled web text.

Task: Turku line quality (../shared/data/quality/turku_line_quality.jsonl.gz): running-text lines
(positive) against noise lines such as navigation (negative), de/en/es/fi/fr/sv together. Split by
document (80/20, seeded) so that no page's lines sit on both sides. Baseline: the majority class.
Speed: preprocessing + prediction, one process, one fastText thread.

usage: .venv/bin/python benchmarks/quality_classifier.py [--seed 0]
"""

from __future__ import annotations

import argparse
import gzip
import json
import tempfile
import time
from pathlib import Path

import numpy as np

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "quality"
TURKU = DATA / "turku_line_quality.jsonl.gz"


def load_lines(seed: int) -> tuple[list[str], np.ndarray, list[str], np.ndarray]:
    """(train lines, train labels, test lines, test labels), split by document."""
    with gzip.open(TURKU, "rt", encoding="utf-8") as handle:
        documents = [json.loads(line) for line in handle.read().split("\n") if line]
    order = np.random.default_rng(seed).permutation(len(documents))
    test_docs = set(order[: len(documents) // 5].tolist())
    splits: dict[bool, tuple[list[str], list[int]]] = {True: ([], []), False: ([], [])}
    for index, document in enumerate(documents):
        lines, labels = splits[index in test_docs]
        for line, label in zip(document["lines"], document["labels"], strict=True):
            if line.strip():
                lines.append(line)
                labels.append(int(label))
    (train, train_labels), (test, test_labels) = splits[False], splits[True]
    return train, np.asarray(train_labels, bool), test, np.asarray(test_labels, bool)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if not TURKU.is_file():
        print(f"benchmark data not found: {TURKU}: nothing to measure")
        return 0
    from textmill.quality.classifier import QualityModel, TrainOptions, evaluate, train_classifier

    train, train_labels, test, test_labels = load_lines(args.seed)
    positives = [line for line, label in zip(train, train_labels, strict=True) if label]
    negatives = [line for line, label in zip(train, train_labels, strict=True) if not label]
    with tempfile.TemporaryDirectory() as tmp:
        model_path = Path(tmp) / "turku.bin"
        started = time.perf_counter()
        train_classifier(
            positives, negatives, model_path, TrainOptions(bucket=200_000, seed=args.seed)
        )
        train_s = time.perf_counter() - started
        model = QualityModel.load(model_path)
        model.score(test[:100])  # warm-up
        started = time.perf_counter()
        scores = model.score(test)
        score_s = time.perf_counter() - started
    measured = evaluate(test_labels, scores)
    print(
        f"Turku line quality: train {len(positives):,} text / {len(negatives):,} noise lines, "
        f"test {int(test_labels.sum()):,} / {int((~test_labels).sum()):,} (split by document)"
    )
    print(
        f"AUC {measured['auc']:.3f}  precision {measured['precision']:.3f}  "
        f"recall {measured['recall']:.3f}  accuracy {measured['accuracy']:.3f}  "
        f"(majority baseline accuracy {measured['majority_accuracy']:.3f}, AUC 0.5)"
    )
    print(
        f"training {train_s:.1f} s; scoring {len(test) / score_s:,.0f} lines/s on one core "
        f"({score_s:.2f} s for {len(test):,})"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
