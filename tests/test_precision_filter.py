from pathlib import Path

import pyarrow as pa
import pytest

from textmill.document import make_batch
from textmill.lang.precision import (
    corpora_by_language,
    read_word_list,
    specific_words,
    write_word_list,
)
from textmill.pipeline import build_stage

# Two close languages that share most words; only a few words tell them apart.
CROATIAN = [
    "tko je bio ovdje jučer i kruh",
    "tko zna što je tisuća",
    "kruh je na stolu i tko ga jede",
    "ovdje je tisuća ljudi",
    "jučer je bio lijep dan",
    "tko je bio ovdje",
]
SERBIAN = [
    "ko je bio ovde juče i hleb",
    "ko zna šta je hiljada",
    "hleb je na stolu i ko ga jede",
    "ovde je hiljada ljudi",
    "juče je bio lep dan",
    "ko je bio ovde",
    "na stolu je bio hleb",
    "ljudi je bilo mnogo",
]


def test_specific_words_keep_words_of_one_language_and_drop_shared_ones():
    corpora = {"hr": CROATIAN, "sr": SERBIAN}
    words = specific_words(corpora, "hr", top_percentile=0)
    assert words == ["tko", "ovdje", "jučer", "kruh", "tisuća", "lijep", "što"]
    # shared words ("je", "bio", "na", "stolu", "ljudi") are far below 85% specific
    assert not {"je", "bio", "na", "stolu", "ljudi", "dan"} & set(words)
    assert specific_words(corpora, "sr", top_percentile=0)[:3] == ["ko", "hleb", "ovde"]


def test_top_percentile_keeps_only_the_most_widespread_specific_words():
    corpora = {"hr": CROATIAN, "sr": SERBIAN}
    # Croatian document frequencies (17 words): the 85th percentile is 3 documents, reached by
    # je (6, shared), tko (4), ovdje and bio (3, shared); the 95th is 4.4, reached by je only
    assert specific_words(corpora, "hr", top_percentile=85) == ["tko", "ovdje"]
    assert specific_words(corpora, "hr") == []


def test_balancing_languages_lets_a_small_language_keep_words_a_big_one_also_uses():
    small = ["alpha beta", "alpha gamma"]
    big = ["alpha delta"] + ["delta epsilon"] * 98 + ["delta"]
    corpora = {"xx": small, "yy": big}
    # alpha: in 100% of xx documents, 1% of yy documents: 99% specific once balanced
    assert "alpha" in specific_words(corpora, "xx", top_percentile=0)
    # raw counts (FineWeb-2's ratio): 2 / (2 + 1) = 67%, below 85%
    raw = specific_words(corpora, "xx", top_percentile=0, balance_languages=False)
    assert "alpha" not in raw and raw == ["beta", "gamma"]


def test_corpora_by_language_groups_texts_and_skips_rows_without_language():
    texts = pa.array(["a", "b", "c", "d"])
    languages = pa.array(["hr", None, "sr", "hr"])
    assert corpora_by_language(texts, languages) == {"hr": ["a", "d"], "sr": ["c"]}


def test_word_list_file_round_trip_lower_cases_and_skips_blank_lines(tmp_path: Path):
    path = write_word_list(["Tko", "", "kruh"], tmp_path / "hr.txt")
    assert read_word_list(path) == ["tko", "kruh"]


def batch_with_languages(texts, langs, urls=None) -> pa.Table:
    batch = make_batch([f"doc{i}" for i in range(len(texts))], texts, urls=urls)
    return batch.append_column("lang", pa.array(langs, pa.string()))


def test_stage_drops_listed_language_without_specific_words_and_passes_other_languages(
    tmp_path: Path,
):
    write_word_list(["tko", "kruh", "jučer"], tmp_path / "hr.txt")
    stage = build_stage(
        "precision_filter",
        {"word_list_files": {"hr": str(tmp_path / "hr.txt")}, "min_specific_words": 2},
    )
    batch = batch_with_languages(
        [
            "Tko je jeo KRUH jučer?",  # three listed words (case-insensitive)
            "Ko je jeo hleb juče? Tko",  # one listed word: Serbian detected as Croatian
            "Ko je jeo hleb juče?",  # Serbian detected as Serbian: no list, not checked
        ],
        ["hr", "hrv_Latn", "sr"],
    )
    metrics = stage.measure(batch)
    assert metrics["specific_words"].to_pylist() == [3, 1, None]
    _, decision = stage.process(batch)
    assert decision.keep.tolist() == [True, False, True]
    assert decision.reasons.to_pylist() == [None, "few_specific_words", None]


def test_allow_listed_domain_and_its_subdomains_are_kept_without_specific_words(tmp_path: Path):
    allowlist = tmp_path / "allow.txt"
    allowlist.write_text("# Croatian news\nvijesti.example\n", encoding="utf-8")
    stage = build_stage(
        "precision_filter",
        {
            "word_lists": {"hr": ["tko"]},
            "allow_domains": ["hr"],  # a whole top-level domain
            "allowlist_files": [str(allowlist)],
        },
    )
    batch = batch_with_languages(
        ["Ko je to bio?"] * 4,
        ["hr"] * 4,
        urls=[
            "https://www.vijesti.example/a",
            "http://portal.hr/clanak?id=1",
            "https://notvijesti.example/",
            None,
        ],
    )
    _, decision = stage.process(batch)
    assert decision.reasons.to_pylist() == [None, None, "few_specific_words", "few_specific_words"]


def test_stage_without_lang_column_says_to_run_langid_first():
    stage = build_stage("precision_filter", {"word_lists": {"hr": ["tko"]}})
    with pytest.raises(ValueError, match="run langid"):
        stage.measure(make_batch(["a"], ["tko"]))
