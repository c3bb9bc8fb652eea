"""The toxicity stage: word lists on word boundaries (Scunthorpe passes), phrases, lists per
language, C4's any-word rule and data-juicer's flagged ratio, alt-profanity-check's scores, a
fastText model from `textmill classify train`, clear errors for bad lists and models, and a run
whose counts reconcile."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import reconciled_run, write_jsonl
from pydantic import ValidationError

from textmill.cli import main
from textmill.document import make_batch
from textmill.pipeline import build_stage
from textmill.quality.classifier import ModelFileError
from textmill.stages.safety._word_lists import WordListError


def batch(texts: list[str | None], langs: list[str | None] | None = None) -> pa.Table:
    table = make_batch([f"d{i}" for i in range(len(texts))], texts)
    return table if langs is None else table.append_column("lang", pa.array(langs, pa.string()))


def word_list(tmp_path: Path, name: str, *lines: str) -> str:
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return str(path)


def run(options: dict, table: pa.Table):
    stage = build_stage("toxicity", options)
    stage.setup()
    out, decision = stage.process(table)
    return out, decision.reasons.to_pylist()


# ---------------------------------------------------------------- word lists


def test_words_inside_other_words_pass_the_default_english_list():
    texts = [
        "Scunthorpe United beat Penistone Church in the cup.",
        "A cocktail class on assessing the Dickensian classics.",
        "What an ass.",
        "COCK-a-doodle? No: cock.",
    ]
    out, reasons = run({"c4_bad_words": True, "lang": "en"}, batch(texts))
    assert out["flagged_words"].to_pylist() == [0, 0, 1, 2]
    assert reasons == [None, None, "bad_words", "bad_words"]


def test_a_phrase_matches_only_its_words_in_a_row_whatever_the_case_and_punctuation(tmp_path):
    path = word_list(tmp_path, "phrases.txt", "# my phrases", "", "blue waffle", "hot dog stand")
    texts = [
        "He said: Blue   WAFFLE!",
        "blue and waffle",
        "the hot dog stand",
        "a hot dog, standing",
        "bluewaffle",
    ]
    options = {"word_lists": {"en": path}, "default_lists": False, "lang": "en"}
    out, _ = run({**options, "max_flagged_ratio": None}, batch(texts))
    assert out["flagged_words"].to_pylist() == [1, 0, 1, 0, 0]
    # a phrase covers all its words: 2 of "he said blue waffle"'s 4
    assert out["flagged_ratio"].to_pylist()[0] == pytest.approx(2 / 4)


def test_lists_apply_by_the_lang_column_and_a_star_list_to_every_language(tmp_path):
    german = word_list(tmp_path, "de.txt", "mistkerl")
    everywhere = word_list(tmp_path, "all.txt", "spamword")
    texts = [
        "Du Mistkerl!",  # de: its own list
        "Du Mistkerl!",  # en: the German word is not on the English lists
        "Что за хуй.",  # ru: the default LDNOOBW Russian list, after lower-casing Cyrillic
        "SPAMWORD ici",  # fr: only the * list... and the default French one
        "merde alors",  # fr default list
        "ein spamword",  # de: the * list too
        "kein Wort",  # xx: no list for this language but the * list
    ]
    langs = ["de", "en", "ru", "fr", "fr", "de", "xx"]
    options = {"word_lists": {"de": german, "*": everywhere}, "max_flagged_ratio": None}
    out, _ = run(options, batch(texts, langs))
    assert out["flagged_words"].to_pylist() == [1, 0, 1, 1, 1, 1, 0]


def test_rows_whose_language_has_no_list_are_not_checked():
    texts = ["ass", "ass"]
    out, reasons = run({"c4_bad_words": True}, batch(texts, ["en", "xx"]))
    assert out["flagged_words"].to_pylist() == [1, None]
    assert reasons == ["bad_words=en", None]


def test_c4_rule_drops_one_word_the_ratio_rule_only_a_dense_document(tmp_path):
    path = word_list(tmp_path, "w.txt", "darn")
    filler = " ".join(["fine"] * 99)
    texts = [f"darn {filler}", "darn darn fine fine fine fine fine fine fine fine", filler]
    base = {"word_lists": {"en": path}, "default_lists": False, "lang": "en"}
    out, c4 = run({**base, "c4_bad_words": True, "max_flagged_ratio": None}, batch(texts))
    assert c4 == ["bad_words", "bad_words", None]
    out, ratio = run(base, batch(texts))  # data-juicer's default: drop above 0.045
    assert out["flagged_ratio"].to_pylist() == pytest.approx([1 / 100, 2 / 10, 0.0])
    assert ratio == [None, "flagged_ratio", None]


def test_c4_and_ratio_rules_can_run_together_and_c4_is_named_first(tmp_path):
    path = word_list(tmp_path, "w.txt", "darn")
    options = {"word_lists": {"en": path}, "default_lists": False, "c4_bad_words": True}
    _, reasons = run({**options, "lang": "en"}, batch(["darn darn", "fine darn " + "ok " * 60]))
    assert reasons == ["bad_words", "bad_words"]


def test_segmented_languages_match_listed_words_by_their_segmenter(tmp_path):
    pytest.importorskip("jieba")
    path = word_list(tmp_path, "zh.txt", "傻逼")
    out, _ = run(
        {"word_lists": {"zh": path}, "default_lists": False, "max_flagged_ratio": None},
        batch(["你是个傻逼。", "今天天气很好。"], ["zh", "zh"]),
    )
    assert out["flagged_words"].to_pylist() == [1, 0]


# ---------------------------------------------------------------- classifiers


def test_alt_profanity_check_scores_the_batch_and_drops_at_its_half():
    pytest.importorskip("profanity_check")
    texts = ["you are a fucking idiot", "have a lovely day at the museum", "shut up bitch"]
    out, reasons = run(
        {"profanity_check": True, "max_flagged_ratio": None, "default_lists": False},
        batch([*texts, "you are a fucking idiot"], ["en", "en", "en", "de"]),
    )
    scores = out["profanity_score"].to_pylist()
    assert out.schema.field("profanity_score").type == pa.float32()
    assert scores[0] > 0.9 and scores[1] < 0.2 and scores[2] > 0.5
    assert scores[3] is None  # an English model does not judge German
    assert reasons == ["profanity_score=en", None, "profanity_score=en", None]


def labelled_records(count: int) -> list[dict]:
    """Two classes that differ by a marker word among shared filler."""
    filler = [f"word{i}" for i in range(60)]
    records = []
    for i in range(count):
        toxic = i % 2 == 0
        body = " ".join(filler[(i * 7 + j) % len(filler)] for j in range(12))
        marker = "grrrotten vilebad" if toxic else "sunnykind gentle"
        records.append({"id": f"r{i}", "text": f"{body} {marker} {marker}", "is_toxic": toxic})
    return records


@pytest.fixture(scope="module")
def toxicity_model(tmp_path_factory) -> Path:
    fasttext = pytest.importorskip("fasttext")
    if not hasattr(fasttext, "train_supervised"):
        pytest.skip("fasttext build cannot train")
    folder = tmp_path_factory.mktemp("classify")
    data = write_jsonl(folder / "labelled.jsonl", labelled_records(160))
    model = folder / "toxicity.bin"
    code = main(
        ["classify", "train", str(data), "--label-field", "is_toxic", "-o", str(model),
         "--bucket", "20000", "--epoch", "20"]
    )  # fmt: skip
    assert code == 0
    return model


def test_classify_train_learns_the_label_field_and_saves_the_positive_label(toxicity_model):
    metrics = json.loads(toxicity_model.with_name("toxicity.metrics.json").read_text())
    assert metrics["positive_label"] == "true"
    assert metrics["labels"] == {"true": 80, "false": 80}
    assert metrics["holdout_pos"] == 8 and metrics["auc"] > 0.95


def test_the_stage_scores_with_a_trained_model_and_drops_at_its_threshold(toxicity_model):
    texts = ["word1 word2 grrrotten vilebad", "word3 word4 sunnykind gentle", None]
    out, reasons = run(
        {"classifier_model": str(toxicity_model), "max_flagged_ratio": None, "lang": "en"},
        batch(texts),
    )
    scores = out["toxicity_score"].to_pylist()
    assert scores[0] > 0.5 > scores[1] and scores[2] == 0.0
    assert reasons == ["toxicity_score", None, None]


def test_classify_train_counts_and_names_records_without_their_label(tmp_path, capsys):
    records = labelled_records(40)
    del records[3]["is_toxic"]
    data = write_jsonl(tmp_path / "l.jsonl", records)
    model = tmp_path / "m.bin"
    code = main(["classify", "train", str(data), "--label-field", "is_toxic", "-o", str(model),
                 "--bucket", "20000"])  # fmt: skip
    assert code == 0
    err = capsys.readouterr().err
    assert "1 records without a label in 'is_toxic' left out (first: " in err
    assert "record r3)" in err
    metrics = json.loads(model.with_name("m.metrics.json").read_text())
    assert sum(metrics["labels"].values()) == 39


def test_classify_train_on_a_many_valued_field_trains_a_multiclass_model(tmp_path, capsys):
    records = [{**r, "is_toxic": ["hate", "offensive", "neither"][i % 3]} for i, r in
               enumerate(labelled_records(30))]  # fmt: skip
    data = write_jsonl(tmp_path / "l.jsonl", records)
    model = tmp_path / "m.bin"
    code = main(["classify", "train", str(data), "--label-field", "is_toxic", "-o", str(model),
                 "--bucket", "20000"])  # fmt: skip
    assert code == 0, capsys.readouterr().err
    metrics = json.loads(model.with_name("m.metrics.json").read_text())
    assert metrics["labels"] == {"hate": 10, "neither": 10, "offensive": 10}
    assert "positive_label" not in metrics  # no positive: per-label metrics instead


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"fine\n\xff\xfe bad\n", "line 2: not UTF-8 text"),
        (b"# only a comment\n\n", "no word or phrase in it"),
        (b"ok\nbad\x00word\n", "line 2: control character U+0000"),
    ],
)
def test_a_malformed_word_list_is_an_options_error_naming_file_and_line(tmp_path, content, message):
    path = tmp_path / "bad.txt"
    path.write_bytes(content)
    with pytest.raises(ValidationError, match=re.escape(message)) as error:
        build_stage("toxicity", {"word_lists": {"en": str(path)}})
    assert str(path) in str(error.value)


def test_an_entry_without_a_word_is_named_by_its_line_before_the_first_batch(tmp_path):
    path = word_list(tmp_path, "w.txt", "fine", "!!!")
    stage = build_stage("toxicity", {"word_lists": {"en": path}})
    with pytest.raises(WordListError, match=r"w\.txt, line 2: '!!!' has no word"):
        stage.setup()


def test_a_fixed_language_no_method_covers_is_refused_not_silently_unchecked(tmp_path):
    with pytest.raises(ValidationError, match="lang 'tlh': no word list"):
        build_stage("toxicity", {"lang": "tlh"})
    own = word_list(tmp_path, "tlh.txt", "petaQ")
    out, reasons = run({"lang": "tlh", "word_lists": {"tlh": own}, "c4_bad_words": True},
                       batch(["petaQ!", "nuqneH"]))  # fmt: skip
    assert reasons == ["bad_words", None]


def test_a_classifier_file_that_does_not_load_is_one_clear_error(tmp_path):
    broken = tmp_path / "broken.bin"
    broken.write_bytes(b"not a model at all")
    stage = build_stage("toxicity", {"classifier_model": str(broken)})
    with pytest.raises(ModelFileError, match="not a fastText model") as error:
        stage.setup()
    assert error.value.filename == str(broken)


def test_the_cli_reports_bad_lists_and_models_in_one_line_with_exit_code_2(tmp_path, capsys):
    data = write_jsonl(tmp_path / "in.jsonl", [{"id": "a", "text": "hello"}])
    (tmp_path / "bad.txt").write_bytes(b"\xff\n")
    (tmp_path / "broken.bin").write_bytes(b"nope")
    cases = {
        f"word_lists: {{en: {tmp_path / 'bad.txt'}}}": "bad.txt, line 1: not UTF-8 text",
        f"classifier_model: {tmp_path / 'broken.bin'}": "broken.bin: not a fastText model",
    }
    for number, (options, message) in enumerate(cases.items()):
        pipeline = tmp_path / f"p{number}.yaml"
        pipeline.write_text(f"stages:\n  - toxicity: {{{options}}}\n")
        out = str(tmp_path / f"out{number}")
        code = main(["run", str(pipeline), str(data), "-o", out, "--workers", "2"])  # a pool
        err = capsys.readouterr().err
        assert code == 2, err
        assert message in err and "Traceback" not in err


def test_stages_command_lists_every_option(capsys):
    from textmill.stages.safety.toxicity import Toxicity

    assert main(["stages", "toxicity"]) == 0
    shown = capsys.readouterr().out
    for option in Toxicity.Options.model_fields:
        assert f"    {option} = " in shown


def test_cli_yaml_and_python_runs_keep_and_drop_the_same_documents(tmp_path, capsys):
    from textmill import Pipeline, Toxicity

    records = [
        {"id": "clean", "text": "Scunthorpe is a town in Lincolnshire."},
        {"id": "swear", "text": "What an asshole."},
    ]
    data = write_jsonl(tmp_path / "in" / "part.jsonl", records)
    spec = tmp_path / "p.yaml"
    spec.write_text("stages:\n  - toxicity: {c4_bad_words: true, lang: en}\n", encoding="utf-8")
    assert main(["run", str(spec), str(data), "-o", str(tmp_path / "cli"), "--no-progress"]) == 0
    Pipeline([Toxicity(c4_bad_words=True, lang="en")]).run([str(data)], str(tmp_path / "py"))
    capsys.readouterr()
    for out in ("cli", "py"):
        kept = pq.read_table(tmp_path / out / "data")["id"].to_pylist()
        rejects = pq.read_table(tmp_path / out / "rejects").to_pylist()
        assert kept == ["clean"]
        assert [(r["id"], r["reject_reason"]) for r in rejects] == [("swear", "toxicity:bad_words")]


# ---------------------------------------------------------------- end to end


def test_a_run_drops_with_toxicity_reasons_and_its_counts_reconcile(tmp_path):
    records = [
        {"id": "clean", "text": "Scunthorpe is a town in Lincolnshire."},
        {"id": "swear", "text": "What an asshole."},
        {"id": "phrase", "text": "Search for blue waffle pictures."},
        {"id": "empty", "text": ""},
    ]
    data = write_jsonl(tmp_path / "in" / "part.jsonl", records)
    stages = [("toxicity", {"c4_bad_words": True, "lang": "en"})]
    stats, errors = reconciled_run(stages, [str(data)], tmp_path / "out")
    assert (stats["read"], stats["kept"], stats["rejected"]) == (4, 2, 2)
    assert stats["stages"][0]["reasons"] == {"bad_words": 2}
    rejects = pq.read_table(tmp_path / "out" / "rejects").to_pylist()
    assert sorted((r["id"], r["reject_reason"]) for r in rejects) == [
        ("phrase", "toxicity:bad_words"),
        ("swear", "toxicity:bad_words"),
    ]
    kept = pq.read_table(tmp_path / "out" / "data")
    assert sorted(kept["flagged_words"].to_pylist()) == [0, 0]
    report = (tmp_path / "out" / "report.html").read_text("utf-8")
    assert "toxicity: bad_words — 2 dropped" in report and "flagged_words = 1" in report
    card = (tmp_path / "out" / "README.md").read_text("utf-8")
    assert "Toxic content was filtered by the `toxicity` stage" in card
    assert "No toxicity filtering ran" not in card


def test_every_default_list_compiles_with_its_languages_splitter():
    from textmill.stages.safety._word_lists import DEFAULT_LIST_LANGUAGES, compiled_list

    for lang in DEFAULT_LIST_LANGUAGES:
        compiled = compiled_list(lang, (), True)
        assert compiled is not None and compiled.size > 20, lang


def test_the_prefilter_never_hides_a_match_the_word_splitter_finds(tmp_path):
    """Only rows the boundary-aware pattern finds are split into words: on texts that put
    listed words next to contractions, units, digits, emoji, CJK and punctuation, counts are
    those of splitting every row."""
    import numpy as np

    from textmill.stages.safety._word_lists import compiled_list, match_lists

    path = word_list(tmp_path, "w.txt", "na", "not", "km", "2 girls", "x1", "🖕", "sh!t", "傻逼")
    lists = [compiled_list("en", (path,), True)]
    pieces = "gonna cannot 10km 2girls 2 girls ax1 x1 🖕🖕 sh!t ass's 这是ass 傻逼 classy a.ss"
    pieces = [*pieces.split(), "ASS", "dick-head", "n't", "don't", "Ｘ1", "ｓｈ!ｔ", "2\u00a0girls"]
    rng = np.random.default_rng(0)
    texts = [" ".join(rng.choice(pieces, size=4)) for _ in range(300)] + pieces
    row_list = np.zeros(len(texts), dtype=np.int64)
    column = pa.array(texts, pa.large_string())
    fast = match_lists(column, "en", row_list, lists)
    slow = match_lists(column, "en", row_list, lists, use_prefilter=False)
    assert (fast[0] == slow[0]).all() and (fast[1] == slow[1]).all()
    assert fast[0].sum() > 100
