"""Language-id confidence per language: τ from a score distribution, tables, scripts."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from textmill.lang.codes import base_language, candidate_keys, lookup
from textmill.lang.thresholds import language_score_threshold, language_score_thresholds
from textmill.pipeline import build_stage


def test_threshold_is_median_minus_sigma_within_the_floor_and_ceiling():
    scores = np.array([0.6, 0.7, 0.8, 0.9, 1.0])  # median 0.8, population sigma ~0.1414
    assert language_score_threshold(scores) == pytest.approx(0.8 - np.std(scores))
    assert language_score_threshold([0.99, 0.99, 1.0, 1.0]) == 0.9  # ceiling
    assert language_score_threshold([0.1, 0.2, 0.9, 0.3]) == 0.3  # floor


def test_thresholds_per_language_from_a_synthetic_run():
    rng = np.random.default_rng(0)
    confident = np.clip(rng.normal(0.85, 0.05, 500), 0, 1)
    unsure = np.clip(rng.normal(0.55, 0.1, 500), 0, 1)
    langs = ["fr"] * 500 + ["sw"] * 500 + ["xx"] * 5 + [None]
    scores = np.concatenate([confident, unsure, np.ones(6)])
    table = language_score_thresholds(langs, scores)
    assert set(table) == {"fr", "sw"}  # xx: too few documents for a threshold
    assert table["fr"] == pytest.approx(np.median(confident) - np.std(confident), abs=1e-4)
    assert table["sw"] == pytest.approx(np.median(unsure) - np.std(unsure), abs=1e-4)
    assert 0.75 < table["fr"] < 0.85 and 0.4 < table["sw"] < 0.5


def test_language_codes_match_across_iso_spellings():
    assert base_language("cmn_Hani") == "zh" and base_language("zh-Hant") == "zh"
    assert lookup({"zh": 1}, "cmn_Hani") == 1
    assert lookup({"jpn_Jpan": 2}, "ja") is None  # a bare code does not guess the script
    assert "jpn" in candidate_keys("ja")
    assert lookup({"jpn": 3}, "ja") == 3


def test_langid_uses_each_languages_own_threshold_and_writes_the_script():
    batch = pa.table(
        {
            "id": ["a", "b", "c"],
            "text": [
                "The quick brown fox jumps over the lazy dog near the river bank today.",
                "Le renard brun saute par-dessus le chien paresseux près de la rivière.",
                "今天天气很好，我们一起去公园散步吧。",
            ],
        }
    )
    stage = build_stage("langid", {"min_score": 0.3, "min_score_by_language": {"fr": 1.01}})
    out, decision = stage.process(batch)
    assert out["lang"].to_pylist() == ["en", "fr", "zh"]
    assert out["lang_script"].to_pylist() == ["Latn", "Latn", "Hani"]
    assert decision.reasons.to_pylist() == [None, "low_language_score", None]


def test_cld2_agreement_drops_rows_the_second_identifier_disputes():
    pytest.importorskip("pycld2")
    from textmill.stages.langid import cld2_language, same_language

    assert cld2_language("Ceci est une phrase en français, écrite pour le test.")[0] == "fr"
    assert same_language("fra_Latn", "fr") and not same_language("en", "fr")
    stage = build_stage("langid", {"min_score": 0.0, "second_identifier": "cld2"})
    metrics = pa.table(
        {"lang": ["en", "en"], "lang_score": pa.array([0.9, 0.9], pa.float32()),
         "lang_second": ["en", "fr"]}
    )  # fmt: skip
    assert stage.decide(metrics).reasons.to_pylist() == [None, "identifiers_disagree"]
