"""`textmill order`: curricula by a column (plain or in K shuffled stages), written as a
textmill output whose order `textmill tokenize` keeps; the `readability` stage."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from textmill import api
from textmill.cli import main
from textmill.order import ORDER_STAGE, order


def scored_parquet(folder: Path, count: int = 30, files: int = 3) -> list[Path]:
    """`count` documents over `files` files, score = a shuffled 0..count-1, one null."""
    rng = np.random.default_rng(0)
    scores = rng.permutation(count).astype(float)
    paths = []
    folder.mkdir(parents=True, exist_ok=True)
    for part, rows in enumerate(np.array_split(np.arange(count), files)):
        values = [None if i == 5 else float(scores[i]) for i in rows]
        table = pa.table(
            {"id": [f"d{i}" for i in rows], "text": [f"doc{i} " + "x" * int(i) for i in rows],
             "score": pa.array(values, pa.float64())}
        )  # fmt: skip
        paths.append(folder / f"part-{part}.parquet")
        pq.write_table(table, paths[-1])
    return paths


def read_ordered(out: Path) -> pa.Table:
    return pq.read_table(sorted((out / "data").glob("*.parquet")))


def test_order_easy_to_hard_with_nulls_last_and_a_report(tmp_path):
    scored_parquet(tmp_path / "in")
    report = api.order(tmp_path / "in", tmp_path / "out", by="score", rows_per_file=7)
    table = read_ordered(tmp_path / "out")
    scores = table["score"].to_pylist()
    assert table.num_rows == report["documents"] == 30 and report["null_scores"] == 1
    assert scores[:-1] == sorted(scores[:-1]) and scores[-1] is None
    assert len(report["files"]) == 5  # 7 rows a file: part-00000 .. part-00004, in order
    saved = json.loads((tmp_path / "out" / "order.json").read_text())
    assert saved["by"] == "score" and saved["documents"] == 30
    descending = order(tmp_path / "in", tmp_path / "down", by="score", descending=True)
    assert read_ordered(tmp_path / "down")["score"].to_pylist()[:3] == [29.0, 28.0, 27.0]
    assert descending["score_range"] == [0.0, 29.0]


def test_order_in_stages_shuffles_inside_each_stage_reproducibly(tmp_path):
    scored_parquet(tmp_path / "in")
    report = order(tmp_path / "in", tmp_path / "a", by="score", stages=3, seed=1)
    table = read_ordered(tmp_path / "a")
    stages = table[ORDER_STAGE].to_pylist()
    scores = table["score"].to_pylist()
    assert stages[:-1] == sorted(stages[:-1]) and stages[-1] is None
    assert [s["documents"] for s in report["per_stage"]][:3] == [10, 10, 9]
    for stage in (1, 2, 3):
        inside = [s for s, k in zip(scores, stages, strict=True) if k == stage]
        assert inside != sorted(inside)  # shuffled inside
        if stage > 1:
            earlier = [s for s, k in zip(scores, stages, strict=True) if k == stage - 1]
            assert max(earlier) < min(inside)  # every stage harder than the one before
    order(tmp_path / "in", tmp_path / "b", by="score", stages=3, seed=1)
    assert read_ordered(tmp_path / "b").equals(table)  # same seed, same bytes
    order(tmp_path / "in", tmp_path / "c", by="score", stages=3, seed=2)
    assert read_ordered(tmp_path / "c")["id"].to_pylist() != table["id"].to_pylist()
    # ordering an ordered corpus again: the old stage column goes, a new one comes
    order(tmp_path / "a", tmp_path / "again", by="score", stages=2, descending=True)
    again = read_ordered(tmp_path / "again")
    assert again.column_names.count(ORDER_STAGE) == 1
    assert set(again[ORDER_STAGE].to_pylist()) == {1, 2, None}
    order(tmp_path / "a", tmp_path / "plain", by="score")
    assert ORDER_STAGE not in read_ordered(tmp_path / "plain").column_names


def test_order_by_length_and_bad_columns(tmp_path, capsys):
    scored_parquet(tmp_path / "in")
    order(tmp_path / "in", tmp_path / "len", by="length")
    lengths = [len(t) for t in read_ordered(tmp_path / "len")["text"].to_pylist()]
    assert lengths == sorted(lengths)
    assert main(["order", str(tmp_path / "in"), "-o", str(tmp_path / "x"), "--by", "nope"]) == 2
    assert "no such column" in capsys.readouterr().err
    assert main(["order", str(tmp_path / "in"), "-o", str(tmp_path / "y"), "--by", "id"]) == 2
    assert "not a number" in capsys.readouterr().err
    # an existing order is replaced only with --overwrite
    assert main(["order", str(tmp_path / "in"), "-o", str(tmp_path / "len"), "--by", "score"]) == 2
    args = ["order", str(tmp_path / "in"), "-o", str(tmp_path / "len"), "--by", "score"]
    assert main([*args, "--overwrite"]) == 0


def test_tokenize_keeps_the_order(tmp_path):
    from textmill.tokens.tokenizer import train_bpe

    scored_parquet(tmp_path / "in")
    order(tmp_path / "in", tmp_path / "ordered", by="score", stages=2, rows_per_file=4)
    tokenizer = tmp_path / "tokenizer.json"
    train_bpe([f"doc{i} " + "x" * i for i in range(30)] * 3, 300).save(str(tokenizer))
    args = ["--tokenizer", str(tokenizer), "--format", "memmap", "--workers", "1"]
    assert main(["tokenize", str(tmp_path / "ordered"), "-o", str(tmp_path / "tok"), *args]) == 0
    documents = pq.read_table(tmp_path / "tok" / "documents.parquet")
    expected = read_ordered(tmp_path / "ordered")["id"].to_pylist()
    assert documents["id"].to_pylist() == expected
    # Megatron's format with concat packing keeps it too
    megatron = ["--tokenizer", str(tokenizer), "--format", "megatron", "--pack", "16"]
    assert main(["tokenize", str(tmp_path / "ordered"), "-o", str(tmp_path / "meg"), *megatron,
                 "--workers", "1"]) == 0  # fmt: skip
    packed = pq.read_table(tmp_path / "meg" / "documents.parquet")
    assert packed["id"].to_pylist() == expected
    # and the tokens themselves: each document's span decodes to its text, in that order
    from tokenizers import Tokenizer

    decoder = Tokenizer.from_file(str(tokenizer))
    manifest = json.loads((tmp_path / "tok" / "manifest.json").read_text())
    tokens = np.memmap(tmp_path / "tok" / "tokens.bin", dtype=manifest["format_dtype"], mode="r")
    texts = read_ordered(tmp_path / "ordered")["text"].to_pylist()
    offsets = documents["offset"].to_numpy()
    counts = documents["tokens"].to_numpy()
    for text, start, count in zip(texts, offsets, counts, strict=True):
        span = tokens[start : start + count].tolist()
        assert (
            decoder.decode([t for t in span if t != decoder.token_to_id("<|endoftext|>")]) == text
        )


def test_readability_grades_and_order_by_it(tmp_path):
    pytest.importorskip("textstat")
    easy = "The cat sat. The dog ran. We had fun."
    hard = (
        "Notwithstanding considerable methodological heterogeneity, the investigators "
        "systematically characterised multidimensional socioeconomic determinants."
    )
    source = tmp_path / "in.jsonl"
    rows = [("hard", hard), ("easy", easy), ("fr", "Le chat est assis sur le tapis rouge."),
            ("blank", " ")]  # fmt: skip
    source.write_text("".join(json.dumps({"id": i, "text": t}) + "\n" for i, t in rows))
    stages = [("langid", {"min_score": 0.0}), "readability"]  # langid writes the `lang` column
    api.Pipeline(stages).run([source], tmp_path / "run", progress=False)
    run = pq.read_table(sorted((tmp_path / "run" / "data").glob("*.parquet")))
    grades = dict(zip(run["id"].to_pylist(), run["readability_grade"].to_pylist(), strict=True))
    assert grades["easy"] < grades["hard"]
    assert grades["fr"] is None and grades.get("blank") is None  # not English; no text
    order(tmp_path / "run", tmp_path / "out", by="readability_grade")
    assert read_ordered(tmp_path / "out")["id"].to_pylist()[:2] == ["easy", "hard"]


def test_a_failed_order_leaves_no_partial_output(tmp_path, monkeypatch):
    import textmill.order as module

    scored_parquet(tmp_path / "in")
    calls = []
    real = module._table

    def fails_on_the_third_batch(batch):
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("disk full")
        return real(batch)

    monkeypatch.setattr(module, "_table", fails_on_the_third_batch)
    with pytest.raises(RuntimeError, match="disk full"):
        order(tmp_path / "in", tmp_path / "out", by="score", rows_per_file=5)
    assert not list((tmp_path / "out").rglob("*.parquet"))
    monkeypatch.setattr(module, "_table", real)
    assert order(tmp_path / "in", tmp_path / "out", by="score")["documents"] == 30


def test_more_stages_than_documents_and_thousands_of_stages(tmp_path):
    """K beyond the number of scores is K-quantiles all the same: as many stages as there are
    distinct scores, not a query too deep for DuckDB's parser."""
    scored_parquet(tmp_path / "in")
    report = order(tmp_path / "in", tmp_path / "out", by="score", stages=2000)
    table = read_ordered(tmp_path / "out")
    assert report["documents"] == table.num_rows == 30
    assert len(report["per_stage"]) == 30  # 29 scored stages + the unscored row
    scores = table["score"].to_pylist()
    assert scores[:-1] == sorted(scores[:-1]) and scores[-1] is None


def test_the_cli_prints_each_stage_and_the_unscored_documents_apart(tmp_path, capsys):
    scored_parquet(tmp_path / "in")
    args = ["order", str(tmp_path / "in"), "-o", str(tmp_path / "o"), "--by", "score"]
    assert main([*args, "--stages", "3"]) == 0
    out = capsys.readouterr().out
    assert "  stage 3: 9 documents, score " in out
    assert "  no stage (no score), last: 1 documents" in out and "None" not in out


def test_a_missing_column_lists_only_the_input_columns(tmp_path, capsys):
    scored_parquet(tmp_path / "in")
    assert main(["order", str(tmp_path / "in"), "-o", str(tmp_path / "x"), "--by", "nope"]) == 2
    err = capsys.readouterr().err
    assert "numeric columns: score)" in err and "file_row_number" not in err


def test_a_memory_budget_that_is_no_size_is_a_one_line_error(tmp_path, capsys):
    scored_parquet(tmp_path / "in")
    args = ["order", str(tmp_path / "in"), "-o", str(tmp_path / "x"), "--by", "score"]
    assert main([*args, "--memory", "256"]) == 2  # DuckDB wants a unit
    assert main([*args, "--memory", "lots"]) == 2
    err = capsys.readouterr().err
    assert "--memory lots" in err and "Traceback" not in err
    assert main([*args, "--memory", "64MB"]) == 0  # the refused run left nothing in the way
