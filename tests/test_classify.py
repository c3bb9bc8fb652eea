"""`textmill classify train` on many-valued and multi-label fields (the trainer `quality train`
uses), the `classify` stage on a three-row table, per-language models, filters by label and
score, clear errors for missing models, records without labels counted, and the register
recipe command."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import write_jsonl

from textmill.cli import main
from textmill.document import make_batch
from textmill.pipeline import build_stage

fasttext = pytest.importorskip("fasttext")
if not hasattr(fasttext, "train_supervised"):
    pytest.skip("fasttext build cannot train", allow_module_level=True)

MARKERS = {"story": "once upon yesterday", "recipe": "stir bake oven", "forum": "reply thread"}
FILLER = [f"filler{i}" for i in range(40)]


def records(count: int, *, multi: bool = False, lang: str | None = None) -> list[dict]:
    """Three registers told apart by marker words among shared filler; with `multi` every
    third record carries two of them."""
    names = list(MARKERS)
    out = []
    for i in range(count):
        labels = [names[i % 3]] + ([names[(i + 1) % 3]] if multi and i % 3 == 0 else [])
        body = " ".join(FILLER[(i * 7 + j) % len(FILLER)] for j in range(10))
        text = body + " " + " ".join(MARKERS[label] for label in labels)
        record = {"id": f"r{i}", "text": text, "register": labels if multi else labels[0]}
        if lang:
            record["text"] = f"{lang}word {record['text']}"
        out.append(record)
    return out


def train(tmp_path: Path, data: list[dict], name: str, *extra: str) -> Path:
    source = write_jsonl(tmp_path / f"{name}.jsonl", data)
    model = tmp_path / f"{name}.bin"
    code = main(
        ["classify", "train", str(source), "--label-field", "register", "-o", str(model),
         "--bucket", "20000", "--epoch", "20", *extra]
    )  # fmt: skip
    assert code == 0
    return model


@pytest.fixture(scope="module")
def multiclass_model(tmp_path_factory) -> Path:
    return train(tmp_path_factory.mktemp("multiclass"), records(150), "register")


@pytest.fixture(scope="module")
def multilabel_model(tmp_path_factory) -> Path:
    return train(tmp_path_factory.mktemp("multilabel"), records(150, multi=True), "multi")


def three_rows(langs: list[str | None] | None = None) -> pa.Table:
    texts = ["filler1 filler2 once upon yesterday", "filler3 stir bake oven filler9", None]
    table = make_batch(["a", "b", "c"], texts)
    return table if langs is None else table.append_column("lang", pa.array(langs, pa.string()))


def process(options: dict, table: pa.Table) -> tuple[pa.Table, list]:
    stage = build_stage("classify", options)
    stage.setup()
    out, decision = stage.process(table)
    return out, decision.reasons.to_pylist()


def test_a_many_valued_field_trains_a_multiclass_model_with_per_label_metrics(multiclass_model):
    metrics = json.loads(multiclass_model.with_name("register.metrics.json").read_text())
    assert metrics["multi_label"] is False and metrics["options"]["loss"] == "softmax"
    assert metrics["labels"] == {"forum": 50, "recipe": 50, "story": 50}
    assert set(metrics["per_label"]) == set(MARKERS) and metrics["macro_f1"] > 0.9
    assert metrics["majority_macro_f1"] < 0.5  # the baseline it is measured against


def test_the_stage_writes_label_and_score_columns_on_three_rows(multiclass_model):
    out, reasons = process({"model_path": str(multiclass_model), "column": "register"},
                           three_rows())  # fmt: skip
    assert out["register"].to_pylist() == ["story", "recipe", None]  # a null text: no label
    scores = out["register_score"].to_pylist()
    assert scores[0] > 0.5 and scores[1] > 0.5 and scores[2] is None
    assert "register_labels" not in out.column_names  # a multi-class model: one label
    assert reasons == [None, None, None]  # no filter option: it only labels


def test_keep_drop_and_min_score_filter_with_reasons_naming_the_column(multiclass_model):
    path = str(multiclass_model)
    _, reasons = process({"model_path": path, "column": "register", "keep": ["story"]},
                         three_rows())  # fmt: skip
    assert reasons == [None, "register_label", None]  # the unlabelled row is never dropped
    _, reasons = process({"model_path": path, "column": "register", "drop": ["story"]},
                         three_rows())  # fmt: skip
    assert reasons == ["register_label", None, None]
    sure_and_unsure = make_batch(["a", "b"], ["filler1 once upon yesterday", "filler5 filler6"])
    out, reasons = process({"model_path": path, "column": "register", "min_score": 0.9},
                           sure_and_unsure)  # fmt: skip
    assert out["register_score"].to_pylist()[1] < 0.9 <= out["register_score"].to_pylist()[0]
    assert reasons == [None, "register_score"]


def test_a_multilabel_model_writes_a_list_column_and_filters_on_any_label(multilabel_model):
    metrics = json.loads(multilabel_model.with_name("multi.metrics.json").read_text())
    assert metrics["multi_label"] is True and metrics["options"]["loss"] == "ova"
    table = make_batch(["a", "b"], ["filler1 once upon yesterday stir bake oven", "reply thread"])
    out, reasons = process(
        {"model_path": str(multilabel_model), "column": "genre", "drop": ["recipe"]}, table
    )
    labels = out["genre_labels"].to_pylist()
    assert sorted(labels[0]) == ["recipe", "story"] and labels[1] == ["forum"]
    assert out["genre"].to_pylist()[1] == "forum"
    assert reasons == ["genre_label", None]


def test_one_model_per_language_by_the_lang_column(tmp_path, multiclass_model):
    # a second model that only knows two labels of its own: which model ran shows in the label
    swapped = [{**r, "lang": "sv", "register": {"story": "tale", "recipe": "howto",
                "forum": "tale"}[r["register"]]} for r in records(90)]  # fmt: skip
    other = train(tmp_path, swapped, "other")
    out, _ = process(
        {"models": {"sv": str(other)}, "model_path": str(multiclass_model), "column": "register"},
        three_rows(["sv", "fr", None]),
    )
    assert out["register"].to_pylist() == ["tale", "recipe", None]
    out, _ = process({"models": {"sv": str(other)}, "column": "register"},
                     three_rows(["fr", "sv", "sv"]))  # fmt: skip
    assert out["register"].to_pylist() == [None, "howto", None]  # fr has no model: null, kept


def test_texts_in_a_language_the_model_was_not_trained_on_are_scored_and_flagged(tmp_path):
    swedish = [{**r, "lang": "sv"} for r in records(90)]
    model = train(tmp_path, swedish, "sv")
    assert json.loads((tmp_path / "sv.metrics.json").read_text())["languages"] == {"sv": 90}
    out, reasons = process({"model_path": str(model), "column": "register"},
                           three_rows(["sv", "fr", None]))  # fmt: skip
    assert out["register"].to_pylist()[:2] == ["story", "recipe"]  # fr is still labelled...
    assert out["register_ood"].to_pylist() == [False, True, None]  # ...and flagged
    assert reasons == [None, None, None]


def test_records_without_a_label_are_counted_and_left_out(tmp_path, capsys):
    data = records(60)
    for i in (3, 10, 17):
        del data[i]["register"]
    data[20]["register"] = None
    train(tmp_path, data, "partial")
    err = capsys.readouterr().err
    assert "4 records without a label in 'register' left out" in err
    assert "record r3" in err
    metrics = json.loads((tmp_path / "partial.metrics.json").read_text())
    assert metrics["unlabelled"] == 4 and sum(metrics["labels"].values()) == 56


def test_a_missing_model_is_a_one_line_error_with_exit_code_2(tmp_path, capsys):
    data = write_jsonl(tmp_path / "in.jsonl", [{"id": "a", "text": "hello"}])
    pipeline = tmp_path / "p.yaml"
    pipeline.write_text(f"stages:\n  - classify: {{model_path: {tmp_path / 'nope.bin'}}}\n")
    code = main(["run", str(pipeline), str(data), "-o", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2, err
    assert "nope.bin: classifier model does not exist" in err and "Traceback" not in err


def test_a_run_labels_every_kept_document(tmp_path, multiclass_model):
    from conftest import reconciled_run

    source = write_jsonl(tmp_path / "in.jsonl", records(30))
    stats, _ = reconciled_run(
        [("classify", {"model_path": str(multiclass_model), "column": "register",
                       "keep": ["story", "recipe"]})],
        [source], tmp_path / "out",
    )  # fmt: skip
    table = pq.read_table(next((tmp_path / "out" / "data").glob("*.parquet")))
    assert set(table["register"].to_pylist()) == {"story", "recipe"}
    assert stats["kept"] == 20 and stats["rejected"] == 10


def test_the_register_recipe_trains_core_main_registers_from_one_command(tmp_path, capsys):
    names = {"story": "NA", "recipe": "HI", "forum": "ID"}
    # 300 records (fastText 0.9.2 diverged more often on 90 in a long-lived process)
    data = [{**r, "register_labels": [names[r["register"]], "ne"]} for r in records(300)]
    data[0]["register_labels"] = ["ne"]  # only a sub-register: no main register, counted
    source = write_jsonl(tmp_path / "core.jsonl", data)
    model = tmp_path / "register.bin"
    assert main(["classify", "recipe", "register", str(source), "-o", str(model)]) == 0
    assert "1 records without a label" in capsys.readouterr().err
    metrics = json.loads((tmp_path / "register.metrics.json").read_text())
    assert set(metrics["labels"]) == {"NA", "HI", "ID"} and metrics["multi_label"] is True
    from textmill.quality.labels import LabelModel

    # the recipe reads each text's head; the stage reads the same head, from the metrics file
    assert metrics["options"]["max_chars"] == 2000 == LabelModel.load(model).max_chars


def test_the_python_api_trains_what_the_cli_trains(tmp_path):
    from textmill import train_label_classifier

    source = write_jsonl(tmp_path / "l.jsonl", records(60, multi=True))
    metrics = train_label_classifier(
        [source], "register", tmp_path / "api.bin", bucket=20000, epoch=20
    )
    assert metrics.multi_label and set(metrics.per_label) == set(MARKERS)
    assert (tmp_path / "api.metrics.json").is_file()


def test_a_label_field_of_fractional_numbers_is_a_one_line_error(tmp_path, capsys):
    """A score column is no category: training on 300 one-record labels would report macro-F1
    0 on an empty held-out split and save a useless model."""
    data = [{"id": f"r{i}", "text": f"word{i} filler", "score": i / 7} for i in range(30)]
    source = write_jsonl(tmp_path / "scores.jsonl", data)
    code = main(["classify", "train", str(source), "--label-field", "score",
                 "-o", str(tmp_path / "m.bin")])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2, err
    assert "'score' holds fractional numbers" in err and "Traceback" not in err
    assert not (tmp_path / "m.bin").exists()


def test_a_label_field_of_whole_numbers_trains_a_multiclass_model(tmp_path):
    data = records(90)
    for record in data:
        record["register"] = list(MARKERS).index(record["register"]) + 1
    model = train(tmp_path, data, "stars")
    metrics = json.loads(model.with_name("stars.metrics.json").read_text())
    assert sorted(metrics["labels"]) == ["1", "2", "3"]
    # the stage's filters take the labels as the field held them: numbers
    out, reasons = process({"model_path": str(model), "keep": [1, 2]}, three_rows())
    assert out["label"].to_pylist() == ["1", "2", None] and reasons == [None, None, None]
    _, reasons = process({"model_path": str(model), "drop": [2]}, three_rows())
    assert reasons == [None, "label_label", None]


def test_keep_or_drop_naming_no_label_of_the_model_is_a_one_line_error(tmp_path, capsys):
    """A typo in `keep` would otherwise drop every labelled document."""
    data = write_jsonl(tmp_path / "in.jsonl", [{"id": "a", "text": "once upon yesterday"}])
    model = train(tmp_path, records(60), "typo")
    pipeline = tmp_path / "p.yaml"
    pipeline.write_text(f"stages:\n  - classify: {{model_path: {model}, keep: [storyy]}}\n")
    code = main(["run", str(pipeline), str(data), "-o", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2, err
    assert "'storyy' is no label of" in err and "forum, recipe, story" in err
    assert "Traceback" not in err


def test_per_language_models_without_a_lang_column_stop_the_run(tmp_path, multiclass_model, capsys):
    """`models:` needs langid's column: without it no row could be classified, so the run stops
    with one line (exit 2) instead of erroring every document and exiting 0."""
    inputs = write_jsonl(tmp_path / "in.jsonl", records(4))
    pipeline = tmp_path / "p.yaml"
    pipeline.write_text(f"stages:\n  - classify: {{models: {{en: '{multiclass_model}'}}}}\n")
    args = ["run", str(pipeline), str(inputs), "-o", str(tmp_path / "out"), "--no-progress"]
    assert main([*args, "-w", "1"]) == 2
    assert "classify with `models` needs a `lang` column: run langid first" in (
        capsys.readouterr().err
    )
    assert not (tmp_path / "out" / "stats.json").exists()
