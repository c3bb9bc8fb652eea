"""CCNet perplexity under a KenLM model: a hand-written ARPA file, cutoffs and buckets."""

from __future__ import annotations

import math

import numpy as np
import pyarrow as pa
import pytest

from textmill.document import make_batch
from textmill.pipeline import build_stage
from textmill.quality.perplexity import (
    assign_buckets,
    document_perplexity,
    load_kenlm,
    perplexity_cutoffs,
)

pytest.importorskip("kenlm")

# log10 probabilities and back-offs chosen so that scores can be worked out by hand
ARPA = """
\\data\\
ngram 1=5
ngram 2=3

\\1-grams:
-1.0\t<unk>\t0
-99\t<s>\t-0.5
-0.5\t</s>\t0
-0.3\tthe\t-0.2
-0.6\tcat\t0

\\2-grams:
-0.1\t<s> the
-0.2\tthe cat
-0.4\tcat </s>

\\end\\
"""
THE_CAT = -0.1 - 0.2 - 0.4  # <s> the, the cat, cat </s>
CAT_THE = (-0.5 - 0.6) + (0 - 0.3) + (-0.2 - 0.5)  # every bigram backs off


@pytest.fixture()
def arpa_path(tmp_path) -> str:
    path = tmp_path / "tiny.arpa"
    path.write_text(ARPA.lstrip())
    return str(path)


def test_arpa_model_scores_bigrams_and_backoffs_by_hand(arpa_path):
    model = load_kenlm(arpa_path)
    assert model.order == 2
    assert model.score("the cat", bos=True, eos=True) == pytest.approx(THE_CAT, abs=1e-5)
    assert model.score("cat the", bos=True, eos=True) == pytest.approx(CAT_THE, abs=1e-5)


def test_document_perplexity_pools_lines_like_ccnet(arpa_path):
    model = load_kenlm(arpa_path)
    perplexity = document_perplexity(["the cat\ncat the", "the cat", "", None], model)
    assert perplexity[0] == pytest.approx(10 ** (-(THE_CAT + CAT_THE) / 6), rel=1e-5)
    assert perplexity[1] == pytest.approx(10 ** (-THE_CAT / 3), rel=1e-5)
    assert math.isnan(perplexity[2]) and math.isnan(perplexity[3])


def test_cutoffs_are_per_language_percentiles():
    values = np.array([10, 20, 30, 40, 50, 100, 200, 300, np.nan])
    langs = ["en"] * 5 + ["fr"] * 3 + ["en"]
    cutoffs = perplexity_cutoffs(values, langs, percentiles=(30, 60))
    assert cutoffs["en"] == pytest.approx((np.percentile([10, 20, 30, 40, 50], 30), 34.0))
    assert cutoffs["fr"] == pytest.approx((160.0, 220.0))


def test_buckets_split_head_middle_tail_and_leave_unknown_languages_null():
    buckets = assign_buckets(
        np.array([5.0, 50.0, 500.0, 5.0, np.nan]),
        ["en", "en", "en", "xx", "en"],
        {"en": (10.0, 100.0)},
    )
    assert buckets.to_pylist() == ["head", "middle", "tail", None, None]
    any_lang = assign_buckets(np.array([5.0]), None, {"*": (10.0, 100.0)})
    assert any_lang.to_pylist() == ["head"]


def test_perplexity_stage_adds_columns_and_drops_unwanted_buckets(arpa_path):
    low = 10 ** (-THE_CAT / 3)
    stage = build_stage(
        "perplexity",
        {"model_path": arpa_path, "cutoffs": {"*": [low + 0.01, 5.0]}, "keep_buckets": ["head"]},
    )
    batch = make_batch(["fluent", "odd", "empty"], ["The cat", "cat the dog dog", None])
    scored, decision = stage.process(batch)
    assert scored["perplexity"].to_pylist()[0] == pytest.approx(low, rel=1e-5)
    assert scored["perplexity"].to_pylist()[2] is None
    assert scored["perplexity_bucket"].to_pylist() == ["head", "tail", None]
    assert decision.keep.tolist() == [True, False, True]
    assert decision.reasons.to_pylist() == [None, "perplexity_bucket", None]
    assert scored.schema.field("perplexity").type == pa.float64()
