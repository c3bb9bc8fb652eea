"""Review of the decontaminate and toxicity stages (issue 14): hostile inputs a new user hits."""

from __future__ import annotations

import json

import pytest

from textmill.stages.safety.benchmarks import BenchmarkError, BenchmarkSpec, read_benchmark

QUESTION = "What is the capital city of France and why is it so famous around the world today"


@pytest.mark.parametrize(
    "body",
    [
        # an unbalanced quote used to swallow every later line into one cell, silently
        f'question,answer\n"{QUESTION}",Paris\n"unterminated, quote\n"{QUESTION}",x\n',
        f'question,answer\n"{QUESTION}",Paris\n"open at the end of the file\n',
    ],
)
def test_unbalanced_csv_quote_is_an_error_naming_the_line(tmp_path, body):
    path = tmp_path / "bench.csv"
    path.write_text(body, encoding="utf-8")
    with pytest.raises(BenchmarkError, match=r"bench\.csv, line \d+: malformed CSV"):
        read_benchmark(BenchmarkSpec(path=str(path), layout="gsm8k"))


def test_quoted_csv_cells_with_commas_still_read(tmp_path):
    path = tmp_path / "bench.csv"
    path.write_text(f'question,answer\n"{QUESTION}, really","Paris, France"\n', encoding="utf-8")
    bench = read_benchmark(BenchmarkSpec(path=str(path), layout="gsm8k"))
    assert bench.texts == [f"{QUESTION}, really\nParis, France"]


def _labelled(path, extra_lines):
    rows = [json.dumps({"text": f"sample {i}", "toxic": bool(i % 2)}) for i in range(20)]
    path.write_text("\n".join(rows[:10] + extra_lines + rows[10:]) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{broken", "line 11: invalid JSON"),
        ('{"text": null, "toxic": true}', "line 11: missing field"),
    ],
)
def test_classify_train_names_an_unreadable_labelled_record(tmp_path, capsys, line, message):
    # such records were dropped without a word: the model trained on fewer labels than given
    from textmill.cli import main

    path = _labelled(tmp_path / "labels.jsonl", [line])
    code = main(
        ["classify", "train", str(path), "--label-field", "toxic", "-o", str(tmp_path / "m.bin")]
    )
    assert code == 2
    err = capsys.readouterr().err
    assert "labels.jsonl" in err and message in err and "Traceback" not in err
    assert not (tmp_path / "m.bin").exists()


def test_card_describes_the_decon_and_toxicity_columns(tmp_path):
    # the card's column table left every decon_* and toxicity column without a description
    from conftest import reconciled_run, write_jsonl

    bench = write_jsonl(tmp_path / "bench.jsonl", [{"question": QUESTION, "answer": "Paris"}])
    corpus = write_jsonl(
        tmp_path / "in.jsonl",
        [{"id": "a", "text": f"Notes. {QUESTION} Paris. " + "Filler words here. " * 30}],
    )
    stages = [
        ("decontaminate", {"benchmarks": [f"gsm8k:{bench}"], "mode": "cut", "margin": 0}),
        ("toxicity", {}),
    ]
    stats, _ = reconciled_run(stages, [str(corpus)], tmp_path / "out")
    assert stats["kept"] == 1
    card = (tmp_path / "out" / "README.md").read_text("utf-8")
    for column in ("decon_items", "decon_cut", "flagged_words", "flagged_ratio"):
        line = next(line for line in card.splitlines() if line.startswith(f"| `{column}` |"))
        assert not line.endswith("|  |"), line


ZH_ITEM = "小明有五个苹果，他给了小红两个苹果，请问小明现在还剩下几个苹果？"


@pytest.mark.parametrize("via_index", [False, True])
def test_chinese_benchmark_matches_a_chinese_corpus_without_a_lang_column(tmp_path, via_index):
    # the corpus used to be split as English (a sentence is one "word"): no item could match
    from conftest import reconciled_run, write_jsonl

    from textmill.stages.safety.benchmarks import parse_spec
    from textmill.stages.safety.decon_index import Normalization, build_index

    bench = write_jsonl(tmp_path / "zh.jsonl", [{"question": ZH_ITEM, "answer": "三个"}])
    spec = {"path": str(bench), "layout": "gsm8k", "lang": "zh"}
    corpus = write_jsonl(
        tmp_path / "in.jsonl",
        [
            {"id": "hit", "text": f"网络文本。{ZH_ITEM}三个。谢谢。"},
            {"id": "miss", "text": "今天天气很好。"},
        ],
    )
    options: dict = {"benchmarks": [spec], "mode": "drop", "ngram": 5}
    if via_index:
        index = build_index([parse_spec(spec)], Normalization(5, True, True))
        index.save(str(tmp_path / "zh.npz"))
        options = {"index": str(tmp_path / "zh.npz"), "mode": "drop", "ngram": 5}
    stats, _ = reconciled_run([("decontaminate", options)], [str(corpus)], tmp_path / "out")
    assert (stats["kept"], stats["rejected"]) == (1, 1)


def test_decon_index_names_an_unknown_layout(tmp_path, capsys):
    # `gsm8K:FILE` used to answer "give a layout ... or --fields", hiding the typo
    from textmill.cli import main

    bench = tmp_path / "b.jsonl"
    bench.write_text(json.dumps({"question": QUESTION, "answer": "Paris"}) + "\n", "utf-8")
    assert main(["decon", "index", f"gsm8K:{bench}", "-o", str(tmp_path / "i.npz")]) == 2
    assert "unknown benchmark layout 'gsm8K'" in capsys.readouterr().err


def test_word_list_entry_without_a_word_is_one_line_not_a_traceback(tmp_path, capsys):
    # '!!!' passed the options check and failed in setup with a traceback (a bare ValueError)
    from conftest import write_jsonl

    from textmill.cli import main

    words = tmp_path / "words.txt"
    words.write_text("badword\n!!!\n", encoding="utf-8")
    pipeline = tmp_path / "p.yaml"
    pipeline.write_text(
        f"stages:\n  - toxicity: {{word_lists: {{en: {words}}}, default_lists: false}}\n", "utf-8"
    )
    corpus = write_jsonl(tmp_path / "in.jsonl", [{"id": "a", "text": "a badword here"}])
    code = main(["run", str(pipeline), str(corpus), "-o", str(tmp_path / "out"), "-w", "1"])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert "words.txt, line 2: '!!!' has no word" in err
