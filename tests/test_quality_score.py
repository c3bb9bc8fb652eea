"""The quality_score stage: P(pos) as a column, a threshold or a top-fraction cut over the whole
run (the same kept set whatever the batch size or workers), per language."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import run_global_stage

from textmill.api import Pipeline
from textmill.document import make_batch
from textmill.pipeline import build_stage
from textmill.quality.classifier import TrainOptions, train_classifier
from textmill.stages.quality_score import top_fraction_cut

fasttext = pytest.importorskip("fasttext")
pytestmark = pytest.mark.skipif(
    not hasattr(fasttext, "train_supervised"), reason="fasttext build cannot train"
)
OPTIONS = TrainOptions(epoch=20, lr=0.5, bucket=10_000, holdout_fraction=0.1)
FILLER = [f"filler{i}" for i in range(300)]


def docs(marker: str, count: int, offset: int = 0) -> list[str]:
    """Documents that share filler words and differ by one repeated marker word."""
    return [
        " ".join(FILLER[(offset + i * 7 + j) % len(FILLER)] for j in range(20)) + f" {marker}" * 3
        for i in range(count)
    ]


@pytest.fixture(scope="module")
def model_path(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("model") / "quality.bin"
    train_classifier(docs("scholarly", 200), docs("casino", 200), path, OPTIONS)
    return str(path)


@pytest.fixture(scope="module")
def inverted_model_path(tmp_path_factory) -> str:
    """A model that thinks the opposite: stands in for another language's model."""
    path = tmp_path_factory.mktemp("model") / "inverted.bin"
    train_classifier(docs("casino", 200), docs("scholarly", 200), path, OPTIONS)
    return str(path)


def three_rows() -> pa.Table:
    good, bad = docs("scholarly", 1, offset=3)[0], docs("casino", 1, offset=5)[0]
    return make_batch(["good", "bad", "empty"], [good, bad, None])


def scored(stage, batch: pa.Table, tmp_path: Path, parts: int = 1):
    """The stage as an executor runs it: signatures of `parts` shards, one reduce, apply."""
    shards = [batch.take(part) for part in np.array_split(np.arange(batch.num_rows), parts)]
    batch, decision, _ = run_global_stage(stage, shards, tmp_path)
    return batch, decision


def test_score_column_is_float32_probability_of_positive(model_path, tmp_path):
    stage = build_stage("quality_score", {"model_path": model_path})
    batch, decision = scored(stage, three_rows(), tmp_path)
    scores = batch["quality_score"].to_pylist()
    assert batch.schema.field("quality_score").type == pa.float32()
    assert scores[0] > 0.9 and scores[1] < 0.1 and scores[2] == 0.0
    assert decision.num_dropped == 0


def test_threshold_drops_low_quality_rows(model_path, tmp_path):
    stage = build_stage("quality_score", {"model_path": model_path, "threshold": 0.5})
    batch, decision = scored(stage, three_rows(), tmp_path)
    assert decision.keep.tolist() == [True, False, False]
    assert decision.reasons.to_pylist() == [None, "low_quality", "low_quality"]
    assert batch.num_rows == 3  # the runner drops rows; the stage only decides


def test_top_fraction_keeps_the_best_third_of_all_batches(model_path, tmp_path):
    stage = build_stage("quality_score", {"model_path": model_path, "top_fraction": 0.33})
    _, decision = scored(stage, three_rows(), tmp_path, parts=3)  # one row per batch
    assert decision.keep.tolist() == [True, False, False]


def test_top_fraction_cut_rounds_up_and_keeps_ties():
    scores = np.array([0.9, 0.1, 0.5, np.nan, 0.5, 0.7])
    assert top_fraction_cut(scores, 0.4) == 0.7  # ceil(0.4 × 5 scored) = 2 best
    assert top_fraction_cut(scores, 0.5) == 0.5  # 3 best; the tied 0.5 keeps a fourth
    assert top_fraction_cut(scores, 1.0) == 0.1
    assert top_fraction_cut(np.array([np.nan]), 0.5) == -math.inf


def test_per_language_models_score_by_lang_column(model_path, inverted_model_path, tmp_path):
    batch = three_rows().append_column("lang", pa.array(["en", "fr", "de"]))
    stage = build_stage(
        "quality_score",
        {"models": {"en": model_path, "fr": inverted_model_path}, "threshold": 0.5},
    )
    out, decision = scored(stage, batch, tmp_path)
    scores = out["quality_score"].to_pylist()
    assert scores[0] > 0.9  # en model: scholarly is good
    assert scores[1] > 0.9  # fr model (inverted): casino is good
    assert scores[2] is None  # no model for de: unscored and kept
    assert decision.keep.tolist() == [True, True, True]


def _graded_corpus(path: Path, count: int) -> Path:
    """Documents whose share of good marker words varies, so scores spread with ties rare."""
    rng = np.random.default_rng(7)
    rows = []
    for i in range(count):
        good = int(rng.integers(0, 7))
        words = [FILLER[int(j)] for j in rng.integers(0, len(FILLER), 20)]
        words += ["scholarly"] * good + ["casino"] * (6 - good)
        rows.append({"id": f"d{i:04d}", "text": " ".join(words)})
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), "utf-8")
    return path


def test_top_fraction_keeps_the_same_documents_whatever_the_batches_and_workers(
    model_path, tmp_path
):
    corpus = _graded_corpus(tmp_path / "docs.jsonl", 211)
    halves = [tmp_path / "a.jsonl", tmp_path / "b.jsonl"]  # two shards, so -w2 splits work
    lines = corpus.read_text("utf-8").splitlines(keepends=True)
    halves[0].write_text("".join(lines[:100]), "utf-8")
    halves[1].write_text("".join(lines[100:]), "utf-8")
    everything = Pipeline([("quality_score", {"model_path": model_path})])
    everything.run([str(p) for p in halves], tmp_path / "all", workers=1, progress=False)
    all_scores = pq.read_table(tmp_path / "all" / "data", columns=["id", "quality_score"])
    score_of = dict(zip(*all_scores.to_pydict().values(), strict=True))
    pipeline = Pipeline([("quality_score", {"model_path": model_path, "top_fraction": 0.3})])
    kept_sets, shares = [], []
    for batch_size, workers in ((7, 1), (1000, 1), (7, 2), (1000, 2)):
        out = tmp_path / f"out-{batch_size}-{workers}"
        stats = pipeline.run(
            [str(p) for p in halves], out, workers=workers, batch_size=batch_size, progress=False
        )
        assert stats["reconciled"] is True and stats["read"] == 211
        kept = pq.read_table(out / "data")
        kept_sets.append(set(kept["id"].to_pylist()))
        rejected = pq.read_table(out / "rejects")["id"].to_pylist()
        assert kept["quality_score"].to_pylist() == [score_of[i] for i in kept["id"].to_pylist()]
        # a global cut: every kept document scores above every dropped one
        assert min(score_of[i] for i in kept_sets[-1]) > max(score_of[i] for i in rejected)
        shares.append(len(kept_sets[-1]) / 211)
    assert all(found == kept_sets[0] for found in kept_sets)
    # ceil(0.3 × 211) = 64 documents, plus those tied with the 64th best
    assert len(kept_sets[0]) >= math.ceil(0.3 * 211)
    assert shares[0] == pytest.approx(0.3, abs=0.05)


def test_stage_without_a_model_is_an_options_error():
    with pytest.raises(ValueError, match="model_path or models"):
        build_stage("quality_score", {"threshold": 0.5})
