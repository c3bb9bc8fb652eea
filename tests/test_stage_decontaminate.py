"""The decontaminate stage: normalisation, n-gram boundaries, the three modes, the coverage rule,
the index file, the report and card, and CLI / YAML / Python parity."""

import gzip
import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import reconciled_run, write_jsonl

from textmill import Decontaminate, Pipeline
from textmill.cli import main
from textmill.pipeline import build_stage
from textmill.stages.safety.decon_index import DeconIndex
from textmill.text import decode
from textmill.text.ngrams import ngram_hashes, normalized_words

ITEM_WORDS = [f"w{i:02d}" for i in range(20)]  # twenty distinct words: 8 13-grams
ITEM = " ".join(ITEM_WORDS)
FILLER = "the quick brown fox jumps over a lazy dog near the river bank today"


def benchmark(tmp_path: Path, items: list[dict], name: str = "bench.jsonl") -> Path:
    return write_jsonl(tmp_path / name, items)


def stage(tmp_path: Path, **options) -> Decontaminate:
    path = benchmark(tmp_path, [{"question": ITEM, "answer": "forty two"}])
    return Decontaminate(benchmarks=[f"gsm8k:{path}"], **options)


def run(st: Decontaminate, texts: list[str | None]):
    out, decision = st.process(pa.table({"text": pa.array(texts, pa.large_string())}))
    return out, decision


def words_of(texts: list[str], lang: str = "en") -> list[np.ndarray]:
    words = normalized_words(decode(pa.array(texts)), lang)
    return [
        words.hashes[a:b]
        for a, b in zip(words.row_offsets[:-1], words.row_offsets[1:], strict=True)
    ]


def test_normalisation_ignores_case_punctuation_whitespace_width_and_accents():
    a, b = words_of(["Café,  WORLD!\n(naïve) ＡＢＣ ﬁne", "cafe world naive abc fine"])
    assert list(a) == list(b)
    c, d = words_of(["cafe\u0301 Ｗorld", "café world"])  # decomposed accent, full-width letter
    assert list(c) == list(d)


def test_words_split_per_language_and_positions_stay_in_the_original_text():
    text = "Hello, wörld — don't"
    words = normalized_words(decode(pa.array([text])))
    assert [text[s:e] for s, e in zip(words.starts, words.ends, strict=True)] == [
        "Hello",
        "wörld",
        "do",
        "n",
        "t",
    ]
    zh = normalized_words(decode(pa.array(["我爱北京天安门。"])), "zh")
    assert len(zh.hashes) >= 3  # jieba words (or the character n-gram fallback), not one


def test_ngrams_stay_within_a_row_and_need_n_words():
    words = normalized_words(decode(pa.array(["a b c", "d e", "f g h i"])))
    grams = ngram_hashes(words, 3)
    assert list(np.diff(grams.row_offsets)) == [1, 0, 2]


def test_a_document_holding_exactly_one_ngram_matches_and_one_word_less_does_not(tmp_path):
    st = stage(tmp_path)
    exact = " ".join(ITEM_WORDS[3:16])  # 13 words
    short = " ".join(ITEM_WORDS[3:15])  # 12 words
    out, decision = run(st, [f"{FILLER} {exact} {FILLER}", f"{FILLER} {short} {FILLER}"])
    assert decision.keep.tolist() == [False, True]
    assert decision.reasons.to_pylist() == ["benchmark=gsm8k", None]
    assert out["decon_ngrams"].to_pylist() == [1, 0]


def test_twelve_gram_is_selectable(tmp_path):
    st = stage(tmp_path, ngram=12)
    _, decision = run(st, [" ".join(ITEM_WORDS[3:15])])
    assert decision.keep.tolist() == [False]


def test_flag_mode_keeps_and_writes_benchmark_ngram_count_and_coverage(tmp_path):
    st = stage(tmp_path, mode="flag")
    item_ngrams = len(ITEM_WORDS + ["forty", "two"]) - 13 + 1  # 10
    out, decision = run(st, [f"Intro. {ITEM.upper()}!", FILLER, None])
    assert decision.keep.all()
    assert out["decon_benchmarks"].to_pylist() == [["gsm8k"], [], []]
    assert out["decon_items"].to_pylist() == [["gsm8k:line 1"], [], []]
    assert out["decon_ngrams"].to_pylist() == [8, 0, 0]
    assert out["decon_coverage"].to_pylist()[0] == pytest.approx(8 / item_ngrams)


def test_coverage_rule_counts_an_item_only_from_its_share_of_ngrams(tmp_path):
    st = stage(tmp_path, mode="flag", min_coverage=0.5)
    four = " ".join(ITEM_WORDS[:16])  # 4 of 10 n-grams
    six = " ".join(ITEM_WORDS[:18])  # 6 of 10
    out, _ = run(st, [four, six])
    assert out["decon_benchmarks"].to_pylist() == [[], ["gsm8k"]]
    assert out["decon_coverage"].to_pylist() == pytest.approx([0.0, 0.6])


def test_idf_weighting_discounts_ngrams_every_item_shares(tmp_path):
    shared = " ".join(f"s{i}" for i in range(16))  # 4 n-grams in every item
    items = [{"question": f"{shared} " + " ".join(f"u{k}x{i}" for i in range(4))} for k in range(9)]
    path = benchmark(tmp_path, [{**item, "answer": "a"} for item in items])
    plain = Decontaminate(benchmarks=[f"gsm8k:{path}"], mode="flag", min_coverage=0.4)
    weighted = Decontaminate(plain.options, idf=True)
    boilerplate = f"{FILLER} {shared} {FILLER}"  # 4 of each item's 9 n-grams, all shared
    assert plain.process(pa.table({"text": [boilerplate]}))[0]["decon_items"][0].as_py()
    out, _ = weighted.process(pa.table({"text": [boilerplate]}))
    assert out["decon_items"].to_pylist() == [[]]
    out, _ = weighted.process(pa.table({"text": [items[3]["question"] + " a"]}))
    assert out["decon_items"].to_pylist() == [["gsm8k:line 4"]]
    assert out["decon_coverage"].to_pylist() == [pytest.approx(1.0)]


def test_cut_removes_the_match_with_its_margin_and_keeps_the_rest(tmp_path):
    st = stage(tmp_path, mode="cut", margin=5)
    before, after = "A" * 30 + " keep this. ", " and this too " + "B" * 30
    text = before + ITEM + after
    out, decision = run(st, [text])
    assert decision.keep.tolist() == [True]
    start, end = len(before), len(before) + len(ITEM)
    assert out["text"][0].as_py() == "\n".join([text[: start - 5].strip(), text[end + 5 :].strip()])
    assert out["decon_cut"].to_pylist() == [1]


def test_cut_drops_a_document_split_into_more_than_max_pieces(tmp_path):
    st = stage(tmp_path, mode="cut", margin=0, max_pieces=3)
    gram = " ".join(ITEM_WORDS[:13])
    three_matches = f"one {gram} two {gram} three {gram} four"  # 4 pieces
    two_matches = f"one {gram} two {gram} three"  # 3 pieces
    out, decision = run(st, [three_matches, two_matches, gram])
    assert decision.keep.tolist() == [False, True, False]  # the last has nothing left
    assert decision.reasons.to_pylist() == ["benchmark=gsm8k", None, "benchmark=gsm8k"]
    assert out["text"][1].as_py() == "one\ntwo\nthree"
    assert out["decon_cut"].to_pylist() == [3, 2, 1]


def test_drop_reason_names_the_first_benchmark_in_the_order_given(tmp_path):
    a = benchmark(tmp_path, [{"problem": ITEM, "solution": "x"}], "a.jsonl")
    b = benchmark(tmp_path, [{"question": ITEM, "answer": "y"}], "b.jsonl")
    st = Decontaminate(benchmarks=[f"math:{a}", {"path": str(b), "layout": "gsm8k"}])
    out, decision = run(st, [ITEM])
    assert decision.reasons.to_pylist() == ["benchmark=math"]
    assert out["decon_benchmarks"].to_pylist() == [["math", "gsm8k"]]


def test_shipped_layouts_read_their_fields_and_ids(tmp_path):
    mmlu = benchmark(
        tmp_path,
        [{"id": "mmlu/x/0", "question": "Which is it?", "choices": ["alpha", "beta"]}],
        "mmlu.jsonl",
    )
    arc = benchmark(
        tmp_path,
        [{"id": "Q1", "question": "Pick one", "choices": {"text": ["red", "blue"]}}],
        "arc.jsonl",
    )
    from textmill.stages.safety.benchmarks import layout_names, parse_spec, read_benchmark

    assert {"gsm8k", "humaneval", "mmlu", "mbpp", "hellaswag", "arc", "triviaqa", "math"} <= set(
        layout_names()
    )
    m = read_benchmark(parse_spec(f"mmlu:{mmlu}"))
    assert m.texts == ["Which is it?\nalpha\nbeta"] and m.keys == ["mmlu/x/0"]
    r = read_benchmark(parse_spec(f"arc:{arc}"))
    assert r.texts == ["Pick one\nred\nblue"] and r.keys == ["Q1"]


def test_csv_and_parquet_benchmarks(tmp_path):
    csv_path = tmp_path / "b.csv"
    csv_path.write_text(f"question,answer\n{ITEM},x\n", "utf-8")
    parquet_path = tmp_path / "b.parquet"
    pq.write_table(pa.table({"problem": [ITEM], "solution": ["y"]}), parquet_path)
    for spec in (f"gsm8k:{csv_path}", f"math:{parquet_path}"):
        _, decision = run(Decontaminate(benchmarks=[spec]), [ITEM])
        assert decision.keep.tolist() == [False], spec


# ---------------------------------------------------------------- bad benchmark files


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        ([{"question": "q", "answer": "a"}, {"question": "only"}], "line 2: no field 'answer'"),
        ([{"question": " ", "answer": ""}], "line 1: empty item"),
        (['{"question": "q", "answer": "a"}', '{"question": broken'], "line 2: invalid JSON"),
        (["[1, 2]"], "line 1: not a JSON object"),
        ([{"question": "我爱北京天安门。你好吗？今天天气很好。", "answer": "是的"}], "lang 'en'"),
        ([], "no benchmark items"),
    ],
)
def test_bad_benchmark_files_name_file_and_line(tmp_path, lines, message):
    path = benchmark(tmp_path, lines)
    with pytest.raises(ValueError, match=message) as error:
        Decontaminate(benchmarks=[f"gsm8k:{path}"]).setup()
    assert str(path) in str(error.value)


def test_malformed_csv_and_unknown_file_types_are_named(tmp_path):
    csv_path = tmp_path / "b.csv"
    csv_path.write_text("question,answer\nq1,a1\nq2,a2,extra\n", "utf-8")
    with pytest.raises(ValueError, match=r"b\.csv, line 3: more cells than the header"):
        Decontaminate(benchmarks=[f"gsm8k:{csv_path}"]).setup()
    damaged = tmp_path / "b.jsonl.gz"
    damaged.write_bytes(gzip.compress(b'{"question": "q", "answer": "a"}\n' * 500)[:-40])
    with pytest.raises(ValueError, match=r"b\.jsonl\.gz: unreadable after line \d+"):
        Decontaminate(benchmarks=[f"gsm8k:{damaged}"]).setup()
    text = tmp_path / "b.txt"
    text.write_text("q", "utf-8")
    with pytest.raises(ValueError, match=r"b\.txt: unknown benchmark file type"):
        Decontaminate(benchmarks=[f"gsm8k:{text}"]).setup()


def test_a_benchmark_in_another_language_is_split_by_its_language(tmp_path):
    item = "我爱北京天安门。今天的天气非常好，我们一起去公园散步吧，然后吃午饭。"
    path = benchmark(tmp_path, [{"question": item, "answer": "好的"}])
    st = Decontaminate(benchmarks=[{"path": str(path), "layout": "gsm8k", "lang": "zh"}], ngram=5)
    out, decision = run(Decontaminate(st.options, lang="zh"), ["前言。" + item])
    assert decision.keep.tolist() == [False]


def test_rows_are_split_by_their_own_lang_column(tmp_path):
    item = "我爱北京天安门。今天的天气非常好，我们一起去公园散步吧，然后吃午饭。"
    path = benchmark(tmp_path, [{"question": item, "answer": "好的"}])
    st = Decontaminate(benchmarks=[{"path": str(path), "layout": "gsm8k", "lang": "zh"}], ngram=5)
    batch = pa.table({"text": [item, item, FILLER], "lang": ["zh", None, "en"]})
    _, decision = st.process(batch)
    assert decision.keep.tolist() == [False, True, True]  # read as English, it is one "word"


def test_unknown_layout_and_missing_source_are_option_errors(tmp_path):
    with pytest.raises(ValueError, match="unknown benchmark layout 'nope'"):
        Decontaminate(benchmarks=["nope:x.jsonl"])
    with pytest.raises(ValueError, match="either `benchmarks`"):
        Decontaminate()
    with pytest.raises(ValueError, match="not found"):
        Decontaminate(benchmarks=[f"gsm8k:{tmp_path / 'missing.jsonl'}"]).setup()


def test_a_bad_benchmark_file_fails_the_run_before_any_document_is_lost(tmp_path, capsys):
    corpus = write_jsonl(tmp_path / "in.jsonl", [{"id": "a", "text": FILLER}])
    bad = benchmark(tmp_path, [{"question": "q"}], "bad.jsonl")
    pipeline = tmp_path / "p.yaml"
    pipeline.write_text(f"stages:\n  - decontaminate: {{benchmarks: ['gsm8k:{bad}']}}\n")
    code = main(["run", str(pipeline), str(corpus), "-o", str(tmp_path / "out")])
    assert code == 2
    assert f"{bad}, line 1: no field 'answer'" in capsys.readouterr().err
    assert not list((tmp_path / "out").glob("data/*.parquet"))


# ---------------------------------------------------------------- index, CLI, parity, report


def test_index_file_round_trips_and_must_match_the_options(tmp_path, capsys):
    bench = benchmark(tmp_path, [{"question": ITEM, "answer": "x"}])
    index = tmp_path / "decon.npz"
    assert main(["decon", "index", f"gsm8k:{bench}", "-o", str(index)]) == 0
    assert "1 items" in capsys.readouterr().out
    loaded = DeconIndex.load(index)
    assert loaded.names == ["gsm8k"] and loaded.item_keys == ["line 1"]
    assert np.all(np.diff(loaded.hashes.astype(np.float64)) >= 0)
    _, decision = run(Decontaminate(index=str(index)), [ITEM, FILLER])
    assert decision.keep.tolist() == [False, True]
    with pytest.raises(ValueError, match="built with"):
        Decontaminate(index=str(index), ngram=12).setup()
    (tmp_path / "junk.npz").write_bytes(b"not an index")
    with pytest.raises(ValueError, match="not a decontamination index"):
        Decontaminate(index=str(tmp_path / "junk.npz")).setup()


def test_decon_index_cli_takes_fields_for_a_plain_file_and_exits_2_on_bad_input(tmp_path, capsys):
    plain = benchmark(tmp_path, [{"q": ITEM, "a": "x", "key": "k1"}], "mine.jsonl")
    out = tmp_path / "i.npz"
    assert main(["decon", "index", str(plain), "--fields", "q,a", "--id-field", "key",
                 "-o", str(out)]) == 0  # fmt: skip
    assert DeconIndex.load(out).item_keys == ["k1"]
    assert main(["decon", "index", str(plain), "-o", str(out)]) == 2
    assert "--fields" in capsys.readouterr().err
    assert main(["decon", "index", f"gsm8k:{plain}", "-o", str(out)]) == 2
    assert "no field 'question'" in capsys.readouterr().err


def test_every_option_is_shown_by_textmill_stages(capsys):
    assert main(["stages", "decontaminate"]) == 0
    shown = capsys.readouterr().out
    for option in Decontaminate.Options.model_fields:
        assert f"    {option} = " in shown


def test_cli_yaml_and_python_runs_agree_and_reconcile_with_the_card(tmp_path):
    bench = benchmark(
        tmp_path,
        [{"question": ITEM, "answer": "x"}, {"question": "never seen " * 10, "answer": "y"}],
    )
    docs = [
        {"id": "clean", "text": FILLER},
        {"id": "dirty", "text": f"{FILLER} {ITEM} {FILLER}"},
        {"id": "part", "text": f"{FILLER}. " + " ".join(ITEM_WORDS[:13]) + f" {FILLER}"},
    ]
    write_jsonl(tmp_path / "in" / "a.jsonl", docs[:2])  # two shards: the card merges them
    write_jsonl(tmp_path / "in" / "b.jsonl", docs[2:])
    corpus = tmp_path / "in"
    python_stats, _ = reconciled_run(
        [Decontaminate(benchmarks=[f"gsm8k:{bench}"])], [str(corpus)], tmp_path / "py"
    )
    yaml_file = tmp_path / "p.yaml"
    yaml_file.write_text(f"stages:\n  - decontaminate: {{benchmarks: ['gsm8k:{bench}']}}\n")
    (spec,) = Pipeline.from_yaml(yaml_file).specs
    assert (
        build_stage(spec.name, spec.options).options
        == Decontaminate(benchmarks=[f"gsm8k:{bench}"]).options
    )
    assert main(["run", str(yaml_file), str(corpus), "-o", str(tmp_path / "cli")]) == 0
    cli_stats = json.loads((tmp_path / "cli" / "stats.json").read_text())
    for stats in (python_stats, cli_stats):
        assert (stats["read"], stats["kept"], stats["rejected"]) == (3, 1, 2)
        assert stats["stages"][0]["reasons"] == {"benchmark": 2}
    for out in ("py", "cli"):
        rejects = pq.read_table(tmp_path / out / "rejects").to_pylist()
        assert sorted(r["id"] for r in rejects) == ["dirty", "part"]
        assert {r["reject_reason"] for r in rejects} == {"decontaminate:benchmark=gsm8k"}
        card = (tmp_path / out / "README.md").read_text()
        section = card.split("## Benchmark decontamination")[1].split("\n## ")[0]
        row = next(line for line in section.splitlines() if line.startswith("| gsm8k"))
        assert [c.strip() for c in row.strip("|").split("|")][2:] == ["2", "1", "2", "2", "0"]


def test_cut_mode_run_keeps_cut_documents_with_their_count(tmp_path):
    bench = benchmark(tmp_path, [{"question": ITEM, "answer": "x"}])
    corpus = write_jsonl(
        tmp_path / "in.jsonl",
        [
            {"id": "d", "text": f"{FILLER} " * 30 + ITEM + f" {FILLER}" * 30},
            {"id": "c", "text": FILLER},
        ],
    )
    stats, _ = reconciled_run(
        [Decontaminate(benchmarks=[f"gsm8k:{bench}"], mode="cut")], [str(corpus)], tmp_path / "o"
    )
    assert (stats["kept"], stats["rejected"]) == (2, 0)
    kept = {r["id"]: r for r in pq.read_table(tmp_path / "o" / "data").to_pylist()}
    assert kept["d"]["decon_cut"] == 1 and ITEM_WORDS[5] not in kept["d"]["text"]
    assert kept["c"]["decon_cut"] == 0
    card = (tmp_path / "o" / "README.md").read_text()
    assert "documents left in more than 10 pieces were dropped" in card
    html = (tmp_path / "o" / "report.html").read_text()
    assert '<td class="l">gsm8k</td><td>1</td><td>1</td><td>1</td><td>0</td><td>1</td>' in html


def test_bundled_sample_run_drops_the_page_holding_a_planted_benchmark_item(tmp_path):
    from textmill.cli.run import sample_path

    extracted, _ = reconciled_run(
        [("extract", {"engine": "resiliparse"})], [str(sample_path())], tmp_path / "plain"
    )
    pages = pq.read_table(tmp_path / "plain" / "data").to_pylist()
    page = max(pages, key=lambda p: len(p["text"]))
    words = page["text"].split()
    middle = len(words) // 2
    item = " ".join(words[middle : middle + 40])  # a passage of the longest page, as an item
    bench = benchmark(tmp_path, [{"question": item, "answer": "42"}])
    pipeline = tmp_path / "p.yaml"
    pipeline.write_text(
        "stages:\n  - extract: {engine: resiliparse}\n"
        f"  - decontaminate: {{benchmarks: ['gsm8k:{bench}']}}\n"
    )
    assert main(["run", str(pipeline), str(sample_path()), "-o", str(tmp_path / "out")]) == 0
    stats = json.loads((tmp_path / "out" / "stats.json").read_text())
    assert stats["reconciled"] and stats["read"] == extracted["read"]
    dropped = stats["stages"][1]["reasons"]["benchmark"]
    rejects = pq.read_table(tmp_path / "out" / "rejects").to_pylist()
    planted = [r for r in rejects if r["reject_reason"] == "decontaminate:benchmark=gsm8k"]
    assert page["id"] in {r["id"] for r in planted} and len(planted) == dropped
    card = (tmp_path / "out" / "README.md").read_text()
    row = next(line for line in card.splitlines() if line.startswith("| gsm8k"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[2:] == ["1", "1", str(dropped), str(dropped), "0"]
