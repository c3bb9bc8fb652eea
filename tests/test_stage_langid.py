import math
import shutil
import struct
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from textmill.document import make_batch
from textmill.lang.codes import lookup
from textmill.pipeline import build_stage
from textmill.stages.langid import LangId, bundled_lid_model_path

ENGLISH = (
    "The committee published its annual report on Tuesday, and the findings surprised "
    "many of the researchers who had followed the project closely."
)
FRENCH = (
    "Le comité a publié son rapport annuel mardi, et les conclusions ont surpris "
    "de nombreux chercheurs qui suivaient le projet de près."
)
GERMAN = (
    "Der Ausschuss hat am Dienstag seinen Jahresbericht veröffentlicht, und die Ergebnisse "
    "haben viele Forscher überrascht, die das Projekt genau verfolgt hatten."
)


def write_tiny_fasttext_model(path: Path, words, labels, word_vectors, label_vectors) -> None:
    """A supervised fastText model file (format version 12) written by hand: softmax loss, no
    subwords, no buckets, so prediction = softmax(label_vectors @ mean(word_vectors))."""
    dim = word_vectors.shape[1]
    data = bytearray(struct.pack("<ii", 793712314, 12))  # magic, version
    # dim ws epoch minCount neg wordNgrams loss(softmax=3) model(sup=3) bucket minn maxn lrUpdate
    data += struct.pack("<12i", dim, 5, 1, 1, 5, 1, 3, 3, 0, 0, 0, 100) + struct.pack("<d", 1e-4)
    entries = [(word, 0) for word in words] + [(label, 1) for label in labels]
    data += struct.pack("<iiiqq", len(entries), len(words), len(labels), len(entries), -1)
    for token, kind in entries:
        data += token.encode() + b"\0" + struct.pack("<qb", 1, kind)
    for matrix in (word_vectors, label_vectors):
        data += struct.pack("<?qq", False, *matrix.shape) + matrix.astype("<f4").tobytes()
    path.write_bytes(bytes(data))


@pytest.fixture
def tiny_glotlid_style_model(tmp_path: Path) -> Path:
    path = tmp_path / "tiny_lid.bin"
    write_tiny_fasttext_model(
        path,
        words=["hello", "bonjour", "salut"],
        labels=["__label__eng_Latn", "__label__fra_Latn"],
        word_vectors=np.array([[4.0, 0.0], [0.0, 4.0], [0.0, 1.0]]),
        label_vectors=np.array([[1.0, 0.0], [0.0, 1.0]]),
    )
    return path


def three_rows() -> pa.Table:
    return make_batch(["en", "fr", "de"], [ENGLISH, FRENCH, GERMAN.replace(", und", ",\nund")])


def test_bundled_lid176_labels_three_languages_with_high_scores():
    out, decision = LangId().process(three_rows())
    assert out["lang"].to_pylist() == ["en", "fr", "de"]
    assert out.schema.field("lang_score").type == pa.float32()
    assert all(score > 0.9 for score in out["lang_score"].to_pylist())
    assert decision.keep.tolist() == [True, True, True]


def test_languages_option_drops_other_languages_with_wrong_language():
    stage = build_stage("langid", {"languages": ["en", "de"]})
    out, decision = stage.process(three_rows())
    assert decision.keep.tolist() == [True, False, True]
    assert decision.reasons.to_pylist() == [None, "wrong_language", None]
    assert out.num_rows == 3  # the runner removes dropped rows, the stage only annotates


def test_min_score_drops_low_confidence_rows():
    stage = LangId(min_score=0.5)
    batch = make_batch(["a", "b", "c"], [ENGLISH, "1234 5678", None])
    out, decision = stage.process(batch)
    assert out["lang"][2].as_py() is None
    assert out["lang_score"][2].as_py() == 0.0
    assert out["lang_score"][1].as_py() == pytest.approx(0.1245, abs=1e-4)
    assert decision.reasons.to_pylist() == [None, "low_language_score", "low_language_score"]


def test_model_path_loads_a_glotlid_style_model_and_keeps_script_suffix(tiny_glotlid_style_model):
    stage = LangId(model_path=str(tiny_glotlid_style_model), languages=["fra"], min_score=0.6)
    batch = make_batch(["a", "b", "c"], ["hello hello", "bonjour\nsalut", "unknown words"])
    out, decision = stage.process(batch)
    softmax_top = math.exp(4) / (math.exp(4) + 1)
    softmax_mixed = math.exp(2.5) / (math.exp(2.5) + 1)  # mean of bonjour and salut: (0, 2.5)
    assert out["lang"].to_pylist() == ["eng_Latn", "fra_Latn", None]
    assert out["lang_score"].to_pylist() == pytest.approx(
        [softmax_top, softmax_mixed, 0.0], abs=1e-4
    )
    assert decision.reasons.to_pylist() == ["wrong_language", None, "low_language_score"]


def test_model_path_accepts_a_copy_of_lid176(tmp_path: Path):
    copied = tmp_path / "my_lid.ftz"
    shutil.copy(bundled_lid_model_path(), copied)
    out, _ = LangId(model_path=str(copied)).process(three_rows())
    assert out["lang"].to_pylist() == ["en", "fr", "de"]


def test_missing_model_path_names_the_path():
    with pytest.raises(FileNotFoundError, match="nowhere.bin"):
        LangId(model_path="/nowhere.bin").setup()


def test_existing_lang_columns_are_replaced_not_duplicated():
    batch = three_rows().append_column("lang", pa.array(["xx", "xx", "xx"]))
    out, _ = LangId().process(batch)
    assert out.column_names.count("lang") == 1
    assert out["lang"].to_pylist() == ["en", "fr", "de"]


def test_cld2_fallback_is_asked_only_for_short_unsure_texts(monkeypatch):
    import textmill.stages.langid as langid

    asked: list[str] = []

    def fake_cld2(text):
        asked.append(text)
        return "xx", 0.99

    monkeypatch.setattr(langid, "cld2_language", fake_cld2)
    stage = LangId(
        second_identifier="cld2", second_mode="fallback", second_below=1.01, second_max_chars=20
    )
    long_text = "The committee published its annual report on the state of the river."
    metrics = stage.measure(make_batch(["short", "long"], ["Guten Tag", long_text]))
    assert metrics["lang"].to_pylist() == ["xx", "en"]
    assert asked == ["Guten Tag"]


NORWEGIAN = (
    "Komiteen publiserte sin årlige rapport på tirsdag, og funnene overrasket mange av "
    "forskerne som hadde fulgt prosjektet nøye."
)


def test_lid176s_norwegian_is_nb_the_code_the_language_table_uses():
    # lid.176 says `no` for Bokmål; the table and FineWeb-2 (nob_Latn) say nb
    out, _ = LangId(min_score=0.0).process(make_batch(["nb"], [NORWEGIAN]))
    assert out["lang"].to_pylist() == ["nb"]
    assert lookup({"nob_Latn": 0.5}, "nb_Latn") == 0.5 and lookup({"nob": 0.4}, "nb") == 0.4
    assert lookup({"no": 0.3}, "nb") == 0.3  # a table keyed by the macro-language still applies
    assert lookup({"nb": 0.2}, "nn") is None  # Nynorsk is not Bokmål
    kept = build_stage("langid", {"languages": ["no"], "min_score": 0.0})
    assert kept.process(make_batch(["nb"], [NORWEGIAN]))[1].keep.tolist() == [True]


def test_cld2s_norwegian_is_nb_too():
    pytest.importorskip("pycld2")
    from textmill.stages.langid import cld2_language

    assert cld2_language(NORWEGIAN)[0] == "nb"


def test_the_multilingual_preset_uses_the_best_measured_identifier():
    # BENCHMARKS.md, language identification: the fastText → CLD2 cascade, 95.2% on sentences
    # against lid.176's 79.6%
    from textmill.api import Pipeline

    specs = {spec.name: spec.options for spec in Pipeline.from_preset("multilingual").specs}
    langid = specs["langid"]
    assert (langid["second_identifier"], langid["second_mode"]) == ("cld2", "fallback")
    assert (langid["second_below"], langid["second_max_chars"]) == (0.9, 300)
