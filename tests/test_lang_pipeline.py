"""The adapted pipeline keeps Chinese and Japanese that English thresholds drop; per-language
routing; the calibrate -> YAML -> run round trip."""

from __future__ import annotations

import json
import random

import pyarrow as pa
import yaml

from textmill.api import Pipeline
from textmill.cli.lang import register
from textmill.lang.fineweb2 import fineweb2_options
from textmill.pipeline import build_stage

CHINESE = "\n".join(
    [
        "我们的城市在河的两岸，春天的时候，岸边的树都开了花。",
        "每天早上，老人们在公园里散步，孩子们在学校里读书。",
        "这个城市有很多历史建筑，其中最有名的是一座古老的石桥。",
        "据说这座桥是在一千年前建成的，到现在还可以使用。",
        "很多游客来这里参观，他们喜欢在桥上拍照，也喜欢品尝当地的小吃。",
        "晚上的时候，河边的灯都亮了，人们在岸边聊天、唱歌和跳舞。",
        "政府计划在明年修建一个新的博物馆，用来展示城市的历史和文化。",
    ]
)
JAPANESE = "\n".join(
    [
        "私たちの町は川の近くにあり、春になると桜の花がたくさん咲きます。",
        "毎朝、お年寄りは公園を散歩して、子どもたちは学校で勉強しています。",
        "この町には古い建物が多く、その中で一番有名なのは石の橋です。",
        "この橋は千年前に作られたと言われていますが、今でも使うことができます。",
        "多くの観光客がここを訪れて、橋の上で写真を撮ったり、名物を食べたりします。",
        "夜になると川沿いの明かりがつき、人々は話したり歌ったりして楽しみます。",
        "市は来年、町の歴史と文化を紹介する新しい博物館を建てる予定です。",
    ]
)
# Thresholds in FineWeb-2's config format, as a user's configs/{lang}_{script}.yml gives them
ADAPTED = {
    "zh": {"stopwords": ["的", "在", "是", "了", "和", "有"], "max_avg_word_length": 5},
    "ja": {"stopwords": ["の", "に", "を", "は", "て", "が"], "max_avg_word_length": 6},
}
COMMON = {
    "language_score": 0.6, "dup_line_frac": 0.3, "top_n_grams": [[2, 0.25], [3, 0.2], [4, 0.17]],
    "dup_n_grams": [[5, 0.2], [6, 0.18], [7, 0.17], [8, 0.15], [9, 0.14], [10, 0.13]],
    "line_punct_thr": 0.1, "new_line_ratio": 0.2, "max_non_alpha_words_ratio": 0.7,
    "min_avg_word_length": 1,
}  # fmt: skip
FILTERS = ("gopher_repetition", "fineweb_quality", "gopher_quality")


def adapted(lang: str) -> dict:
    return fineweb2_options({**COMMON, **ADAPTED[lang]})


def batch(texts, langs=None):
    columns = {"id": [str(i) for i in range(len(texts))], "text": texts}
    if langs is not None:
        columns["lang"] = langs
    return pa.table(columns)


def reasons(stage_name, options, table):
    _, decision = build_stage(stage_name, options).process(table)
    return decision.reasons.to_pylist()


def test_english_thresholds_drop_chinese_and_japanese_prose():
    table = batch([CHINESE, JAPANESE])
    assert reasons("gopher_quality", {}, table) == ["too_few_words", "too_few_words"]


def test_adapted_thresholds_keep_the_same_chinese_and_japanese_prose():
    for lang, text in (("zh", CHINESE), ("ja", JAPANESE)):
        for name in FILTERS:
            options = {"lang": lang, **adapted(lang)[name]}
            assert reasons(name, options, batch([text])) == [None], (lang, name)


def test_auto_language_routes_each_row_to_its_thresholds_and_names_it_in_reasons():
    options = {
        "lang": "auto",
        "by_language": {"zh": adapted("zh")["gopher_quality"], "en": {}},
        "fallback": {"min_stop_words": None, "min_mean_word_length": None},
    }
    english = (
        "The river runs through the town and the old bridge has stood for a thousand years. " * 4
    )
    table = batch([CHINESE, JAPANESE, english, "short text"], ["zh", "ja", "en", "sw"])
    assert reasons("gopher_quality", options, table) == [
        None,
        None,  # Japanese has no entry: the generic fallback, without stop words, keeps it
        None,
        "too_few_words=fallback:sw",
    ]
    # GlotLID-style labels find the same entries
    glot = batch([CHINESE], ["cmn_Hani"])
    assert reasons("gopher_quality", options, glot) == [None]


def test_multilingual_preset_validates_and_english_keeps_fineweb_thresholds():
    pipeline = Pipeline.from_preset("multilingual")
    specs = {spec.name: spec.options for spec in pipeline.specs}
    filters = specs["corpus_thresholds"]["filters"]
    assert list(filters) == list(FILTERS)
    assert all(filters[name]["by_language"] == {"en": {}} for name in FILTERS)
    assert specs["corpus_thresholds"]["reference"] == "en"
    assert specs["langid"]["min_score_by_language"] == {"en": 0.65}


def test_language_tables_added_to_the_multilingual_preset_reach_the_wrapped_filters():
    from textmill.lang.presets import multilingual_stages

    tables = {"langid": {"min_score": 0.7}, "gopher_quality": {"min_stop_words": 2}}
    stages = multilingual_stages({"fr": tables})
    pipeline = Pipeline([next(iter(item.items())) for item in stages])
    specs = {spec.name: spec.options for spec in pipeline.specs}
    by_language = specs["corpus_thresholds"]["filters"]["gopher_quality"]["by_language"]
    assert by_language == {"en": {}, "fr": {"min_stop_words": 2}}
    assert specs["langid"]["min_score_by_language"] == {"en": 0.65, "fr": 0.7}


def _reference_docs(seed: int, count: int) -> list[str]:
    rng = random.Random(seed)
    vocabulary = str.split(
        "le la les un une des de du et à en pour dans sur avec par que qui ne pas plus est sont "
        "était ville rivière pont maison jardin école enfant parent ami travail matin soir "
        "histoire musée voyage route marché pain fromage musique livre lettre saison printemps "
        "hiver été automne montagne village habitant famille fête repas chemin lumière nuit"
    )
    docs = []
    for _ in range(count):
        lines = []
        for _ in range(rng.randint(6, 10)):
            words = rng.choices(vocabulary, k=rng.randint(9, 16))
            lines.append(" ".join(words).capitalize() + ".")
        docs.append("\n".join(lines))
    return docs


def test_calibrate_writes_a_preset_that_run_accepts_and_keeps_its_reference(tmp_path):
    import argparse

    reference = tmp_path / "reference.jsonl"
    reference.write_text(
        "".join(
            json.dumps({"id": str(i), "text": t}) + "\n"
            for i, t in enumerate(_reference_docs(1, 60))
        )
    )
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command"))
    preset = tmp_path / "fr.yaml"
    args = parser.parse_args(["calibrate", "--lang", "fr", str(reference), "-o", str(preset)])
    assert args.handler(args) == 0

    document = yaml.safe_load(preset.read_text())
    quality = next(s["gopher_quality"] for s in document["stages"] if "gopher_quality" in s)
    assert quality["lang"] == "fr" and len(quality["stop_words"]) == 20
    assert {"le", "la", "de"} & set(quality["stop_words"])
    assert "calibrate" in document["description"]

    fresh = tmp_path / "fresh.jsonl"
    fresh.write_text(
        "".join(
            json.dumps({"id": f"n{i}", "text": t}) + "\n"
            for i, t in enumerate(_reference_docs(2, 40))
        )
    )
    stats = Pipeline.from_yaml(preset).run([str(fresh)], tmp_path / "out", progress=False)
    assert stats["read"] == 40 and stats["reconciled"]
    assert stats["kept"] >= 28  # >= 95% of the reference passes each calibrated filter
