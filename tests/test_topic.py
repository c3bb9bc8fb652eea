"""`textmill topic fit` and the `topic` stage: three obviously separate themes come back as
three topics named by their words, every shard gets the same ids from the saved file, the report
shows sizes and keywords, and a mix spec groups by `topic_id`."""

from __future__ import annotations

import random
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from conftest import reconciled_run, write_jsonl

from textmill.cli import main

pytest.importorskip("sklearn")

THEMES = {
    "football": "goal striker match league referee penalty stadium midfielder coach season",
    "cooking": "oven flour butter recipe bake sugar dough simmer garlic sauce",
    "astronomy": "telescope galaxy orbit planet nebula comet stellar cosmic asteroid moon",
}
COMMON = "the and with this that from very many some often about"


def corpus(count: int, seed: int) -> list[dict]:
    rng = random.Random(seed)
    records = []
    for i in range(count):
        theme = list(THEMES)[i % 3]
        words = rng.choices(THEMES[theme].split(), k=12) + rng.choices(COMMON.split(), k=8)
        rng.shuffle(words)
        records.append({"id": f"s{seed}-{i}", "text": " ".join(words), "theme": theme})
    return records


@pytest.fixture(scope="module")
def fitted(tmp_path_factory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("topics")
    write_jsonl(folder / "in" / "part-0.jsonl", corpus(60, 0))
    write_jsonl(folder / "in" / "part-1.jsonl", corpus(60, 1))
    model = folder / "topics.npz"
    assert main(["topic", "fit", str(folder / "in"), "-o", str(model), "--k", "3"]) == 0
    return folder, model


def test_three_separable_themes_are_recovered_and_named_by_their_words(fitted, capsys):
    from textmill.topics import TopicModel

    _, model_path = fitted
    model = TopicModel.load(model_path)
    assert sorted(model.sample_sizes) == [40, 40, 40]
    for words in model.keywords:
        # each topic's keywords are one theme's words, none of the words every theme shares
        themes = {name for name, vocab in THEMES.items() if set(words[:5]) <= set(vocab.split())}
        assert len(themes) == 1, words
    assert len({tuple(words[:3]) for words in model.keywords}) == 3


def test_the_stage_gives_every_shard_the_same_ids_and_the_report_lists_topics(fitted):
    folder, model = fitted
    out = folder / "out"
    stats, _ = reconciled_run(
        [("topic", {"model_path": str(model)})], [str(folder / "in")], out, batch_size=25
    )
    table = pa.concat_tables(pq.read_table(p) for p in sorted((out / "data").glob("*.parquet")))
    assert stats["kept"] == 120 and table["topic_id"].null_count == 0
    theme = [__import__("json").loads(m)["theme"] for m in table["metadata"].to_pylist()]
    ids = table["topic_id"].to_pylist()
    by_theme = {name: {i for i, t in zip(ids, theme, strict=True) if t == name} for name in THEMES}
    assert all(len(found) == 1 for found in by_theme.values())  # both shards, one id per theme
    assert len(set().union(*by_theme.values())) == 3
    keywords = table["topic_keywords"].cast(pa.string()).to_pylist()
    assert all(k.split(", ")[0] in THEMES[t] for k, t in zip(keywords, theme, strict=True))

    from textmill.report.build import write_report

    html, card = write_report(out)
    page = html.read_text("utf-8")
    assert 'id="topics"' in page and "40" in page
    first_words = [k.split(", ")[0] for k in set(keywords)]
    assert all(word in page for word in first_words)
    assert "## Topics" in card.read_text("utf-8")


def test_a_mix_spec_groups_by_topic_id(fitted):
    from textmill.mix import mix

    folder, model = fitted
    out = folder / "out-mix-source"
    reconciled_run([("topic", {"model_path": str(model)})], [str(folder / "in")], out)
    spec = {"sources": [{"path": str(out)}], "group_by": "topic_id",
            "weights": {"0": 2, "1": 1, "2": 1}, "tolerance": 0.05}  # fmt: skip
    manifest = mix(spec, folder / "mix")
    shares = {g["group"]: g["realized_share"] for g in manifest["groups"]}
    assert set(shares) == {"0", "1", "2"}
    assert shares["0"] == pytest.approx(0.5, abs=0.05)


def test_a_missing_topic_model_is_a_one_line_error_with_exit_code_2(tmp_path, capsys):
    data = write_jsonl(tmp_path / "in.jsonl", [{"id": "a", "text": "hello"}])
    pipeline = tmp_path / "p.yaml"
    pipeline.write_text(f"stages:\n  - topic: {{model_path: {tmp_path / 'none.npz'}}}\n")
    code = main(["run", str(pipeline), str(data), "-o", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2, err
    assert "none.npz: topic model does not exist" in err and "Traceback" not in err


def test_empty_and_wordless_texts_get_a_null_topic(fitted):
    from textmill.topics import TopicModel

    ids = TopicModel.load(fitted[1]).assign(pa.array(["", None, "12345 !!!", "galaxy orbit"]))
    assert ids.to_pylist()[:3] == [None, None, None] and pc.is_valid(ids[3]).as_py()


def test_keywords_skip_english_pronouns_and_survive_a_theme_two_clusters_share():
    """Two clusters about the same thing (feedback pages) keep their shared words as keywords
    rather than none, and English glue words (you, your, from) name no topic."""
    import numpy as np

    from textmill.topics import c_tf_idf

    texts = ["processing feedback form"] * 4 + ["processing feedback sent thanks"] * 4
    texts += ["you and your cats from my garden"] * 4
    assignment = np.array([0] * 4 + [1] * 4 + [2] * 4)
    keywords = c_tf_idf(texts, assignment, 3, 5)
    assert {"processing", "feedback"} <= set(keywords[0])
    assert {"processing", "feedback"} <= set(keywords[1]) and "thanks" in keywords[1]
    assert "cats" in keywords[2] and not {"you", "your", "from", "my"} & set(keywords[2])
