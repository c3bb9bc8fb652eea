import pytest

from textmill.api import Pipeline
from textmill.config import PipelineConfigError, parse_pipeline, preset_names


def test_unknown_stage_names_the_line_and_suggests():
    text = "stages:\n  - exact_dedup: {}\n  - exact_dedupe: {}\n"
    with pytest.raises(PipelineConfigError) as error:
        parse_pipeline(text, "p.yaml")
    message = str(error.value)
    assert "p.yaml, line 3" in message
    assert "'exact_dedupe'" in message and "Did you mean 'exact_dedup'" in message
    assert "allowed:" in message


def test_unknown_option_names_its_own_line_and_the_allowed_options():
    text = "stages:\n  - extract:\n      engine: trafilatura\n      engin: x\n"
    with pytest.raises(PipelineConfigError) as error:
        parse_pipeline(text, "p.yaml")
    message = str(error.value)
    assert "p.yaml, line 4" in message
    assert "no option 'engin'" in message
    assert "engine" in message


def test_bad_option_value_names_the_option_and_value():
    text = "stages:\n  - extract: {engine: 42}\n"
    with pytest.raises(PipelineConfigError, match=r"line 2: stage 'extract', option 'engine'"):
        parse_pipeline(text, "p.yaml")


def test_unquoted_dates_are_the_strings_options_take_and_a_non_date_is_refused_by_line():
    specs = parse_pipeline("stages:\n  - date: {latest_date: 2026-01-01}\n", "p.yaml")
    assert specs[0].options == {"latest_date": "2026-01-01"}  # text, as stats.json holds it
    text = "stages:\n  - date:\n      use_url: true\n      latest_date: 2026-13-01\n"
    with pytest.raises(PipelineConfigError, match=r"line 4: stage 'date', option 'latest_date'"):
        parse_pipeline(text, "p.yaml")


def test_stage_without_options_may_be_a_bare_name():
    specs = parse_pipeline("stages:\n  - exact_dedup\n  - extract:\n", "p.yaml")
    assert [(s.name, s.options) for s in specs] == [("exact_dedup", {}), ("extract", {})]


def test_not_yaml_and_not_a_list_are_clear_errors():
    with pytest.raises(PipelineConfigError, match="not valid YAML"):
        parse_pipeline("stages: [", "p.yaml")
    with pytest.raises(PipelineConfigError, match="non-empty list"):
        parse_pipeline("stages: {}", "p.yaml")
    with pytest.raises(PipelineConfigError, match="unknown top-level key 'stage'"):
        parse_pipeline("stage: []", "p.yaml")


def test_fineweb_preset_loads_and_round_trips_through_yaml():
    assert "fineweb" in preset_names()
    pipeline = Pipeline.from_preset("fineweb")
    assert pipeline.stage_names[:4] == ["url_filter", "provenance", "extract", "langid"]
    again = Pipeline.from_yaml_text(pipeline.to_yaml())
    assert [(s.name, s.options) for s in again.specs] == [
        (s.name, s.options) for s in pipeline.specs
    ]
