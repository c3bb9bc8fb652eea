"""The quality_score stage: P(pos) as a column, a threshold or top-fraction cut, per language."""

from __future__ import annotations

import pyarrow as pa
import pytest

from textmill.document import make_batch
from textmill.pipeline import build_stage
from textmill.quality.classifier import TrainOptions, train_classifier

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


def test_score_column_is_float32_probability_of_positive(model_path):
    batch, decision = build_stage("quality_score", {"model_path": model_path}).process(three_rows())
    scores = batch["quality_score"].to_pylist()
    assert batch.schema.field("quality_score").type == pa.float32()
    assert scores[0] > 0.9 and scores[1] < 0.1 and scores[2] == 0.0
    assert decision.num_dropped == 0


def test_threshold_drops_low_quality_rows(model_path):
    stage = build_stage("quality_score", {"model_path": model_path, "threshold": 0.5})
    batch, decision = stage.process(three_rows())
    assert decision.keep.tolist() == [True, False, False]
    assert decision.reasons.to_pylist() == [None, "low_quality", "low_quality"]
    assert batch.num_rows == 3  # the runner drops rows; the stage only decides


def test_top_fraction_keeps_the_best_third(model_path):
    stage = build_stage("quality_score", {"model_path": model_path, "top_fraction": 0.33})
    _, decision = stage.process(three_rows())
    assert decision.keep.tolist() == [True, False, False]


def test_per_language_models_score_by_lang_column(model_path, inverted_model_path):
    batch = three_rows().append_column("lang", pa.array(["en", "fr", "de"]))
    stage = build_stage(
        "quality_score",
        {"models": {"en": model_path, "fr": inverted_model_path}, "threshold": 0.5},
    )
    scored, decision = stage.process(batch)
    scores = scored["quality_score"].to_pylist()
    assert scores[0] > 0.9  # en model: scholarly is good
    assert scores[1] > 0.9  # fr model (inverted): casino is good
    assert scores[2] is None  # no model for de: unscored and kept
    assert decision.keep.tolist() == [True, True, True]


def test_stage_without_a_model_is_an_options_error():
    with pytest.raises(ValueError, match="model_path or models"):
        build_stage("quality_score", {"threshold": 0.5})
