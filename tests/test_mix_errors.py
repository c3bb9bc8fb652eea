"""Bad mix specs and sources: one clear line (exit 2) naming the line, field or group, or a
counted, reported case; nothing silently dropped."""

import importlib.util

import pyarrow as pa
import pyarrow.parquet as pq
from test_mix_build import text_source, tok_folder

from textmill.cli import main
from textmill.mix import mix, parse_mix_spec, shipped_specs


def run_spec(tmp_path, text: str, capsys, *extra: str) -> str:
    """Run `textmill mix` on a spec text; it must fail with one line, which is returned."""
    path = tmp_path / "spec.yaml"
    path.write_text(text, "utf-8")
    assert main(["mix", str(path), "-o", str(tmp_path / "mix"), *extra]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("textmill: error: "), err
    assert not (tmp_path / "mix").exists()  # refused before anything is written
    return err


def test_a_source_that_does_not_exist_is_named(tmp_path, capsys):
    err = run_spec(tmp_path, "sources:\n  - path: nowhere\n", capsys)
    assert "source 'nowhere':" in err and "nowhere does not exist" in err


def test_negative_weights_are_refused_with_their_line(tmp_path, capsys):
    text_source(tmp_path / "web", {"fr": 10})
    err = run_spec(
        tmp_path, "sources:\n  - path: web\ngroup_by: lang\nweights:\n  fr: -1\n", capsys
    )
    assert "line 5" in err and "weights.fr: Input should be greater than or equal to 0" in err
    err = run_spec(tmp_path, "sources:\n  - path: web\n    weight: -2\n", capsys)
    assert "line 3" in err and "sources.0.weight" in err
    err = run_spec(tmp_path, "sources:\n  - path: web\ngroup_by: lang\nweights: {fr: 0}\n", capsys)
    assert "weights sum to 0" in err


def test_an_unknown_field_names_its_line_and_the_closest_field(tmp_path, capsys):
    err = run_spec(tmp_path, "sources:\n  - path: web\n    wieght: 1\n", capsys)
    assert "line 3" in err and "'sources.0.wieght'" in err and "Did you mean 'weight'?" in err
    err = run_spec(tmp_path, "sources: [{path: web}]\ntemprature: 2\n", capsys)
    assert "line 2" in err and "Did you mean 'temperature'?" in err


def test_invalid_yaml_names_the_line(tmp_path, capsys):
    err = run_spec(tmp_path, "sources:\n  - path: web\n weights: [\n", capsys)
    assert "not valid YAML" in err and "line" in err


def test_two_ways_to_set_the_shares_are_refused(tmp_path, capsys):
    err = run_spec(
        tmp_path,
        "sources: [{path: web}]\ngroup_by: lang\ntemperature: 2\nweights: {fr: 1}\n",
        capsys,
    )
    assert "give one way to set the shares, not weights and temperature" in err


def test_a_budget_larger_than_the_data_allows_says_how_to_fix_it(tmp_path, capsys):
    text_source(tmp_path / "web", {"fr": 100, "en": 100})
    spec = "sources: [{path: web}]\ngroup_by: lang\nweights: {fr: 1, en: 1}\nbudget: 10M\n"
    err = run_spec(tmp_path, spec, capsys)
    assert "budget 10,000,000 tokens is larger than the data allows" in err
    assert "lower the budget to at most" in err and "raise max_epochs to" in err
    err = run_spec(tmp_path, "sources: [{path: web}]\nbudget: lots\n", capsys)
    assert "line 2" in err and "a token count is a number such as 1000000 or 800B" in err


def test_an_unknown_grouping_column_lists_the_columns(tmp_path, capsys):
    text_source(tmp_path / "web", {"fr": 10})
    err = run_spec(tmp_path, "sources: [{path: web}]\ngroup_by: domain\n", capsys)
    assert "unknown grouping column 'domain'" in err and "columns: id, text, source, lang" in err


def test_an_empty_group_is_refused(tmp_path, capsys):
    text_source(tmp_path / "web", {"fr": 10, "en": 10})
    err = run_spec(
        tmp_path, "sources: [{path: web}]\ngroup_by: lang\nweights: {fr: 1, de: 1}\n", capsys
    )
    assert "group 'de' has no documents (groups in the data: en, fr)" in err
    empty = tmp_path / "empty"
    empty.mkdir()
    pq.write_table(pa.table({"id": ["a", "b"], "text": ["", ""]}), empty / "part.parquet")
    err = run_spec(
        tmp_path, "sources: [{path: web}, {path: empty}]\nweights: {web: 1, empty: 1}\n", capsys
    )
    assert "group 'empty' is empty (0 tokens in its documents)" in err


def test_documents_without_a_group_value_are_a_counted_group(tmp_path):
    text_source(tmp_path / "web", {"fr": 50})
    table = pq.read_table(tmp_path / "web" / "part-0.parquet")
    lang = pa.array(["fr"] * 40 + [None] * 10, pa.string())
    pq.write_table(table.set_column(3, "lang", lang), tmp_path / "web" / "part-0.parquet")
    manifest = mix(
        {"sources": [{"path": str(tmp_path / "web")}], "group_by": "lang"}, tmp_path / "mix"
    )
    groups = {g["group"]: g for g in manifest["groups"]}
    assert groups["<null>"]["documents"] == 10 and groups["fr"]["documents"] == 40
    assert manifest["sources"][0]["null_group_documents"] == 10
    assert "10 documents have no 'lang': group '<null>'" in manifest["notes"]
    # weights that leave a group out say how many documents stay out
    manifest = mix(
        {"sources": [{"path": str(tmp_path / "web")}], "group_by": "lang", "weights": {"fr": 1}},
        tmp_path / "mix2",
    )
    assert "left out: <null> (10 documents)" in manifest["notes"][0]
    assert {g["group"]: g["left_out_documents"] for g in manifest["groups"]} == {
        "<null>": 10,
        "fr": 0,
    }


def test_a_target_too_small_for_whole_documents_says_why(tmp_path, capsys):
    big = tmp_path / "big"
    big.mkdir()
    pq.write_table(pa.table({"id": ["a", "b", "c"], "text": ["x" * 1000] * 3}), big / "p.parquet")
    err = run_spec(tmp_path, "sources: [{path: big}]\nbudget: 1500\n", capsys)
    assert "whole documents give" in err and "over the 0.50% tolerance" in err
    assert "average 1,000 tokens" in err


def test_outputs_that_the_sources_cannot_give_are_refused(tmp_path, capsys):
    tok_folder(tmp_path / "tok", [10] * 10, "en")
    text_source(tmp_path / "web", {"en": 10})
    err = run_spec(tmp_path, "sources: [{path: tok}]\n", capsys)
    assert "TOK sources hold tokens only; use a token format or blend" in err
    err = run_spec(tmp_path, "sources: [{path: web}]\noutput: {format: megatron}\n", capsys)
    assert "name a `tokenizer` in the spec" in err
    err = run_spec(tmp_path, "sources: [{path: web}]\n", capsys, "--megatron-blend")
    assert "format blend weighs Megatron datasets: give a TOK folder" in err
    tok_folder(tmp_path / "other", [10] * 10, "en", sha="def")
    err = run_spec(
        tmp_path, "sources: [{path: tok}, {path: other}]\noutput: {format: blend}\n", capsys
    )
    assert "different tokenizers" in err


def test_mix_fit_and_search_reach_the_mixture_law_commands_or_say_they_are_absent(capsys):
    assert main(["mix", "fit", "no-such-points.csv"]) == 2
    err = capsys.readouterr().err
    if importlib.util.find_spec("textmill.cli.mix_law") is None:
        assert "`textmill mix fit` is not available" in err
    else:  # the law's own handler answered, not `mix SPEC.yaml`
        assert err.startswith("textmill mix fit: ") and "no-such-points.csv" in err


def test_the_shipped_example_specs_validate_and_print(capsys):
    specs = shipped_specs()
    assert {"lucie", "ct-llm", "ct-llm-budget"} <= set(specs)
    for name, text in specs.items():
        spec = parse_mix_spec(text, name)
        assert spec.method == "weights"
    assert parse_mix_spec(specs["ct-llm-budget"]).budget == 1_200_000_000_000
    assert main(["mix", "example", "lucie"]) == 0
    assert "fr: 0.33" in capsys.readouterr().out
    assert main(["mix", "example", "nope"]) == 2
    assert "no example spec 'nope' (have: ct-llm, ct-llm-budget, lucie)" in capsys.readouterr().err
