"""corpus_thresholds: each language's thresholds from its own documents in the run (quantile
transfer from English's fixed thresholds), English unchanged, small languages pooled by script
and held to English's shares too."""

from __future__ import annotations

import json
import math

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from textmill.api import Pipeline
from textmill.pipeline import Mapper, build_stage, register
from textmill.stages.corpus_thresholds import (
    CORPUS,
    FIXED,
    MIXED_POOL,
    POOLED,
    SOURCE_COLUMN,
    pass_share,
    threshold_for_share,
)
from textmill.stages.filters._language import FALLBACK
from textmill.stages.filters.gopher_quality import GopherQuality

QUALITY = {
    "by_language": {"en": {}},
    "fallback": {"min_alpha_words_ratio": None, "min_stop_words": None},
}


def test_upper_threshold_lets_at_least_the_share_pass_and_nan_always_passes():
    values = np.array([0.1, 0.2, 0.3, 0.4, np.nan])
    assert threshold_for_share(values, 0.6, upper=True) == 0.2  # 0.1, 0.2 and the NaN pass
    assert threshold_for_share(values, 1.0, upper=True) == 0.4
    assert threshold_for_share(values, 0.2, upper=True) < 0.1  # the NaN alone: all others fail


def test_lower_threshold_counts_from_the_top_and_ties_make_it_lenient():
    values = np.array([1.0, 2.0, 2.0, 2.0, 5.0])
    assert threshold_for_share(values, 0.4, upper=False) == 2.0  # asks 2, ties let 4 pass
    assert threshold_for_share(values, 0.2, upper=False) == 5.0
    assert math.isnan(threshold_for_share(np.array([np.nan]), 0.5, upper=True))


def test_pass_share_fails_a_row_on_any_of_its_metrics():
    hashes, ellipses = np.array([0.0, 0.5, 0.0, 0.0]), np.array([0.0, 0.0, 0.5, np.nan])
    assert pass_share([hashes, ellipses], 0.1, upper=True) == 0.5


def _quality_metrics(
    groups: dict[str, np.ndarray], scripts: dict[str, str] | None = None
) -> pa.Table:
    """Signatures of gopher_quality where only the share of words with letters varies."""
    langs = [lang for lang, values in groups.items() for _ in values]
    alpha = np.concatenate(list(groups.values()))
    n = len(langs)
    prose = {
        "num_words": np.full(n, 200),
        "num_real_words": np.full(n, 200),
        "mean_word_length": np.full(n, 5.0),
        "hash_word_ratio": np.zeros(n),
        "ellipsis_word_ratio": np.zeros(n),
        "bullet_lines_ratio": np.zeros(n),
        "ellipsis_lines_ratio": np.zeros(n),
        "alpha_words_ratio": alpha,
        "stop_words": np.full(n, 5),
    }
    columns = {
        "doc_key": np.arange(len(langs), dtype=np.int64),
        "id": [f"{lang}-{i}" for i, lang in enumerate(langs)],
        "lang": langs,
    }
    if scripts:
        columns["lang_script"] = [scripts[lang] for lang in langs]
    columns.update({f"gopher_quality/{name}": values for name, values in prose.items()})
    return pa.table(columns)


def _stage(**options):
    return build_stage("corpus_thresholds", {"filters": {"gopher_quality": QUALITY}, **options})


def test_each_language_loses_the_share_english_loses_and_english_keeps_fineweb():
    # English: half its documents under FineWeb's 0.8; Japanese: the same shape, lower; Swahili:
    # too few documents for a distribution of its own, yet held to English's share (pooled)
    english = np.linspace(0.605, 0.995, 40)
    japanese = english - 0.4
    swahili = np.linspace(0.05, 0.25, 5)
    metrics = _quality_metrics({"en": english, "ja": japanese, "sw": swahili})
    stage = _stage(min_documents=10)
    derived = stage.derive(metrics)
    japanese_options = derived["gopher_quality"]["ja"]
    assert japanese_options["min_alpha_words_ratio"] == pytest.approx(japanese[20])
    assert japanese_options["min_stop_words"] is None  # English's words say nothing about ja
    assert japanese_options["min_words"] == 200  # nothing fails in English: nothing in ja
    assert set(derived["gopher_quality"]) == {"ja", "sw"}
    assert stage.pools(metrics) == {"sw": MIXED_POOL}  # alone, under min_documents

    decisions = stage.decide(metrics, derived)
    reasons = dict(zip(decisions["id"].to_pylist(), decisions["reason"].to_pylist(), strict=True))
    kept = {lang: sum(r is None for i, r in reasons.items() if i.startswith(lang)) for lang in
            ("en", "ja", "sw")}  # fmt: skip
    assert kept == {"en": 20, "ja": 20, "sw": 3}  # half of 5, rounded up (ties lenient)
    assert reasons["ja-40"] == "non_alpha_words=ja"
    assert reasons["en-0"] == "non_alpha_words=en"
    # English is decided exactly as the plain filter decides it
    english_rows = metrics.slice(0, 40)
    plain = GopherQuality({"lang": "auto", **QUALITY}).decide(
        english_rows.select([n for n in english_rows.column_names if "/" in n])
        .rename_columns([n.split("/")[1] for n in english_rows.column_names if "/" in n])
        .append_column("lang", english_rows["lang"])
    )
    assert decisions["reason"].slice(0, 40).to_pylist() == plain.reasons.to_pylist()
    sources = decisions[SOURCE_COLUMN].to_pylist()
    assert (sources[0], sources[40], sources[80]) == (FIXED, CORPUS, POOLED)


def test_without_english_documents_each_check_cuts_the_tail_share():
    metrics = _quality_metrics({"ja": np.linspace(0.01, 0.40, 40), "ko": np.full(20, 0.5)})
    derived = _stage(min_documents=10, tail_share=0.05).derive(metrics)
    assert derived["gopher_quality"]["ja"]["min_alpha_words_ratio"] == pytest.approx(0.03)
    # ties: every Korean document has the same value, so none falls in the tail
    assert derived["gopher_quality"]["ko"]["min_alpha_words_ratio"] == 0.5


def test_a_few_english_documents_weigh_their_share_against_the_tail_rule():
    # 5 English documents, all failing FineWeb's 0.8: their share 0 counts 5 of 10, the tail
    # rule's 0.95 the other 5, so Japanese keeps ceil(0.475 × 40) = 19 of 40, not 38
    metrics = _quality_metrics({"en": np.full(5, 0.5), "ja": np.linspace(0.01, 0.40, 40)})
    stage = _stage(min_documents=10, tail_share=0.05)
    decisions = stage.decide(metrics, stage.derive(metrics))
    reasons = decisions["reason"].to_pylist()
    assert sum(r is None for r in reasons[5:]) == 19
    assert sum(r is None for r in reasons[:5]) == 0  # English: FineWeb's threshold, unchanged


def test_small_languages_pool_by_script_and_lose_englishs_share():
    # English loses half; three small Latin languages (8 documents each) pool into one
    # Latin distribution; one small Cyrillic language's pool is too small: the mixed pool
    english = np.linspace(0.605, 0.995, 40)
    groups = {
        "en": english,
        "id": np.linspace(0.10, 0.45, 8),
        "sw": np.linspace(0.12, 0.47, 8),
        "tl": np.linspace(0.14, 0.49, 8),
        "kk": np.linspace(0.30, 0.65, 4),
    }
    scripts = {"en": "Latn", "id": "Latn", "sw": "Latn", "tl": "Latn", "kk": "Cyrl"}
    metrics = _quality_metrics(groups, scripts)
    stage = _stage(min_documents=20)
    pools = stage.pools(metrics)
    assert pools == {"id": "script:Latn", "sw": "script:Latn", "tl": "script:Latn",
                     "kk": MIXED_POOL}  # fmt: skip
    derived = stage.derive(metrics)
    latin = np.sort(np.concatenate([groups["id"], groups["sw"], groups["tl"]]))
    for lang in ("id", "sw", "tl"):  # one threshold: the pool's median, as English's share
        assert derived["gopher_quality"][lang]["min_alpha_words_ratio"] == pytest.approx(latin[12])
    decisions = stage.decide(metrics, derived)
    reasons = decisions["reason"].to_pylist()
    pooled_rows = slice(40, 64)
    assert sum(r is None for r in reasons[pooled_rows]) == 12  # half of 24
    assert sum(r is None for r in reasons[64:]) == 2  # kk: half of its 4 (its own pool)
    assert set(decisions[SOURCE_COLUMN].to_pylist()[40:]) == {POOLED}
    assert FALLBACK not in decisions[SOURCE_COLUMN].to_pylist()


def test_a_language_with_its_own_thresholds_keeps_them():
    metrics = _quality_metrics({"en": np.linspace(0.6, 1.0, 30), "ja": np.full(30, 0.2)})
    fixed = {**QUALITY, "by_language": {"en": {}, "ja": {"min_alpha_words_ratio": 0.1}}}
    stage = build_stage(
        "corpus_thresholds", {"filters": {"gopher_quality": fixed}, "min_documents": 10}
    )
    derived = stage.derive(metrics)
    assert derived["gopher_quality"] == {}
    decisions = stage.decide(metrics, derived)
    assert decisions["reason"].slice(30).null_count == 30
    assert set(decisions[SOURCE_COLUMN].to_pylist()) == {FIXED}


def test_options_reject_unknown_filters_and_fixed_languages():
    with pytest.raises(ValueError, match="unknown filter"):
        build_stage("corpus_thresholds", {"filters": {"c4_quality": {}}})
    with pytest.raises(ValueError, match="lang: auto"):
        build_stage("corpus_thresholds", {"filters": {"gopher_quality": {"lang": "en"}}})


@register("test_lang_from_id")
class LangFromId(Mapper):
    """Sets `lang` from the id's prefix (`ja-3` → `ja`), standing in for langid in tests."""

    def map(self, batch):
        langs = [doc_id.split("-")[0] for doc_id in batch["id"].to_pylist()]
        return batch.append_column("lang", pa.array(langs, pa.string()))


def _prose(words: list[str], seed: int, symbols: int) -> str:
    rng = np.random.default_rng(seed)
    lines = []
    for _ in range(8):
        picked = [str(w) for w in rng.choice(words, 12)]
        picked += ["#" * 3 + str(i) for i in range(symbols)]  # words without a letter
        lines.append(" ".join(picked).capitalize() + ".")
    return "\n".join(lines)


def test_a_run_derives_thresholds_reconciles_and_writes_them(tmp_path):
    english = str.split("the be to of and that have with river town bridge stood years water")
    french = str.split("le la les un une des de du et à en pour dans sur avec ville pont rivière")
    rows = [
        {"id": f"{lang}-{i}", "text": _prose(words, 100 * k + i, symbols=i % 6)}
        for k, (lang, words) in enumerate((("en", english), ("fr", french)))
        for i in range(12)
    ]
    corpus = tmp_path / "docs.jsonl"
    corpus.write_text("".join(json.dumps(row) + "\n" for row in rows), "utf-8")
    written = tmp_path / "out" / "thresholds.yaml"  # a relative path is under OUT
    options = {"min_documents": 10, "write_thresholds": "thresholds.yaml"}
    stats = Pipeline(["test_lang_from_id", ("corpus_thresholds", options)]).run(
        [str(corpus)], tmp_path / "out", workers=1, progress=False
    )
    assert stats["read"] == 24 and stats["reconciled"] is True
    kept = pq.read_table(tmp_path / "out" / "data").to_pylist()
    rejects = pq.read_table(tmp_path / "out" / "rejects").to_pylist()
    assert len(kept) + len(rejects) == 24 and 0 < len(rejects) < 24
    kept_per_lang = {lang: sum(r["lang"] == lang for r in kept) for lang in ("en", "fr")}
    assert kept_per_lang["en"] == kept_per_lang["fr"]  # same shape of text, same share kept
    assert {r[SOURCE_COLUMN] for r in kept} == {FIXED, CORPUS}
    assert {r["reject_stage"] for r in rejects} == {"corpus_thresholds"}
    assert all(r["reject_reason"].split(":")[1].split("=")[1] in ("en", "fr") for r in rejects)
    assert "fr" in written.read_text("utf-8")


def test_a_small_reference_is_not_pooled_and_does_not_swell_a_pool():
    # 15 English documents (fixed: FineWeb's thresholds) and two small Latin languages whose
    # pool alone is under min_documents: they share the mixed pool, English is in none
    scripts = {"en": "Latn", "id": "Latn", "sw": "Latn"}
    metrics = _quality_metrics(
        {"en": np.full(15, 0.9), "id": np.linspace(0.1, 0.5, 6), "sw": np.linspace(0.2, 0.6, 6)},
        scripts,
    )
    stage = _stage(min_documents=20)
    assert stage.pools(metrics) == {"id": MIXED_POOL, "sw": MIXED_POOL}
    sources = stage.decide(metrics, stage.derive(metrics))[SOURCE_COLUMN].to_pylist()
    assert sources[:15] == [FIXED] * 15 and set(sources[15:]) == {POOLED}
