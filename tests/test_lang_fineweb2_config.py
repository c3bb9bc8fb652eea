"""Reading FineWeb-2's per-language configs into stage options."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from textmill.api import Pipeline
from textmill.lang.fineweb2 import FineWeb2ConfigError, find_fineweb2_config, read_fineweb2_config
from textmill.lang.presets import fineweb2_preset

SHARED_CONFIGS = Path(__file__).resolve().parents[2] / "shared" / "data" / "fineweb2" / "configs"

CONFIG = """\
dup_line_frac: 0.25
dup_n_grams:
- - 5
  - 0.2
- - 6
  - 0.19
language_score: 0.71
line_punct_thr: 0.1
max_avg_word_length: 6
max_non_alpha_words_ratio: 0.76
min_avg_word_length: 1
new_line_ratio: 0.15
stopwords:
- "\\u306E"
- "\\u306B"
top_n_grams:
- - 2
  - 0.24
"""


def test_a_config_in_fineweb2_format_becomes_stage_options(tmp_path):
    path = tmp_path / "jpn_Jpan.yml"
    path.write_text(CONFIG)
    options = read_fineweb2_config(path)
    assert options["langid"] == {"min_score": 0.71}
    assert options["gopher_repetition"]["top_n_grams"] == {2: 0.24}
    assert options["gopher_repetition"]["dup_n_grams"] == {5: 0.2, 6: 0.19}
    assert options["gopher_repetition"]["dup_para_frac"] is None
    assert options["fineweb_quality"]["short_line_thr"] is None
    assert options["fineweb_quality"]["char_duplicates_ratio"] == 0.1
    quality = options["gopher_quality"]
    assert quality["stop_words"] == ["の", "に"]
    assert quality["min_alpha_words_ratio"] == 0.76  # FineWeb-2's name says "non alpha"
    assert (quality["min_mean_word_length"], quality["max_mean_word_length"]) == (1, 6)


def test_the_fineweb2_preset_for_a_language_validates_as_a_pipeline(tmp_path):
    (tmp_path / "jpn_Jpan.yml").write_text(CONFIG)
    assert find_fineweb2_config(tmp_path, "ja").name == "jpn_Jpan.yml"
    text = fineweb2_preset("ja", tmp_path)
    pipeline = Pipeline.from_yaml_text(text)
    assert "c4_quality" not in pipeline.stage_names
    quality = dict(pipeline.specs[pipeline.stage_names.index("gopher_quality")].options)
    assert quality["lang"] == "ja" and quality["stop_words"] == ["の", "に"]


def test_a_file_that_is_not_a_fineweb2_config_is_refused_with_what_is_missing(tmp_path):
    path = tmp_path / "x.yml"
    path.write_text(yaml.safe_dump({"dup_line_frac": 0.2}))
    with pytest.raises(FineWeb2ConfigError, match="missing language_score"):
        read_fineweb2_config(path)


@pytest.mark.skipif(not SHARED_CONFIGS.is_dir(), reason="../shared/data/fineweb2 not present")
@pytest.mark.parametrize("name", ["cmn_Hani", "jpn_Jpan", "tha_Thai", "deu_Latn", "arb_Arab"])
def test_published_fineweb2_configs_read_and_build_pipelines(name):
    options = read_fineweb2_config(SHARED_CONFIGS / f"{name}.yml")
    assert 0.3 <= options["langid"]["min_score"] <= 0.9
    assert len(options["gopher_quality"]["stop_words"]) >= 2
    Pipeline.from_yaml_text(fineweb2_preset(name, SHARED_CONFIGS / f"{name}.yml"))
