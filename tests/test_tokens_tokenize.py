"""The tokenize job: counts that reconcile, skipped and errored documents, resume after a kill,
a textmill output read without its rejects, the output folder rules and the Python API."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import write_jsonl

import textmill
from textmill.cli import main
from textmill.executors.output import RunError
from textmill.tokens import tokenize as job
from textmill.tokens.manifest import token_tables
from textmill.tokens.tokenizer import load_tokenizer, train_bpe


@pytest.fixture(scope="module")
def tokenizer_path(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("tokenizer") / "tokenizer.json"
    words = [
        "alpha",
        "beta",
        "gamma",
        "delta",
        "epsilon",
        "zeta",
        "eta",
        "theta",
        "iota",
        "kappa",
        "lambda",
        "mu",
    ]
    train_bpe([" ".join(words[i:] + words[:i]) for i in range(len(words))] * 10, 300).save(
        str(path)
    )
    return path


def manifest_of(out: Path) -> dict:
    return json.loads((out / "manifest.json").read_text())


def tokenize_cli(inputs, out, tokenizer, *extra) -> int:
    return main(["tokenize", *map(str, inputs), "-o", str(out), "--tokenizer", str(tokenizer),
                 *extra])  # fmt: skip


def test_empty_long_and_broken_records_are_counted_and_reconcile(tmp_path, tokenizer_path):
    long_text = "alpha beta gamma " * 40
    write_jsonl(
        tmp_path / "in" / "a.jsonl",
        [
            {"id": "ok", "text": "alpha beta", "lang": "en", "source": "wiki"},
            {"id": "empty", "text": ""},
            {"id": "long", "text": long_text},
            "{this is not json",
            {"id": "no-text", "body": "x"},
            {"id": "ok2", "text": "gamma delta", "lang": "fr", "source": "web"},
        ],
    )
    out = tmp_path / "tok"
    assert tokenize_cli([tmp_path / "in"], out, tokenizer_path, "--max-tokens-per-doc", "20") == 0
    manifest = manifest_of(out)
    assert manifest["documents"] == 2
    assert manifest["skipped"] == {"empty": 1, "over_max_tokens": 1}
    assert manifest["errored"] == 2  # the line that is not JSON and the record without text
    assert manifest["read"] == 6 and manifest["reconciled"]
    assert manifest["per_source"] == {
        "web": {"documents": 1, "tokens": manifest["per_language"]["fr"]["tokens"]},
        "wiki": {"documents": 1, "tokens": manifest["per_language"]["en"]["tokens"]},
    }
    skipped = pq.read_table(out / "skipped.parquet").to_pylist()
    assert {(r["id"], r["reason"]) for r in skipped} == {
        ("empty", "empty"),
        ("long", "over_max_tokens"),
    }
    assert [r["tokens"] for r in skipped if r["id"] == "long"][0] > 20
    errors = [json.loads(line) for line in (out / "errors.jsonl").read_text().splitlines()]
    assert len(errors) == 2 and all("a.jsonl" in e["file"] for e in errors)
    # truncate instead: the long document is kept, cut to 20 tokens with its EOS
    out2 = tmp_path / "tok2"
    args = ("--max-tokens-per-doc", "20", "--on-long", "truncate", "--format", "parquet")
    assert tokenize_cli([tmp_path / "in"], out2, tokenizer_path, *args) == 0
    manifest = manifest_of(out2)
    assert manifest["skipped"] == {"empty": 1} and manifest["truncated"] == 1
    rows = {r["id"]: r["input_ids"] for t in token_tables(out2) for r in t.to_pylist()}
    tokenizer = load_tokenizer(tokenizer_path)
    assert len(rows["long"]) == 20 and rows["long"][-1] == tokenizer.eos_id
    assert rows["long"][:-1] == tokenizer.encode_batch([long_text])[0][:19]


def test_the_summary_line_reconciles(tmp_path, tokenizer_path, capsys):
    write_jsonl(
        tmp_path / "in" / "a.jsonl", [{"id": "a", "text": "alpha"}, {"id": "b", "text": ""}]
    )
    assert tokenize_cli([tmp_path / "in"], tmp_path / "tok", tokenizer_path) == 0
    out = capsys.readouterr().out
    assert "read 2 = tokenized 1 + skipped 1 (empty 1) + errored 0  (reconciled)" in out


def test_a_killed_tokenize_resumes_with_the_shards_it_finished(
    tmp_path, tokenizer_path, monkeypatch
):
    for shard in range(3):
        write_jsonl(
            tmp_path / "in" / f"part-{shard}.jsonl",
            [{"id": f"{shard}-{i}", "text": f"alpha beta {'gamma ' * i}"} for i in range(30)],
        )
    fresh = tmp_path / "fresh"
    assert tokenize_cli([tmp_path / "in"], fresh, tokenizer_path) == 0

    real = job.tokenize_shard
    calls: list[str] = []

    def dies_on_the_second_shard(tok, shard, *args):
        calls.append(shard.name)
        if len(calls) == 2:
            raise KeyboardInterrupt  # a Ctrl-C (or kill) in the middle of the run
        return real(tok, shard, *args)

    monkeypatch.setattr(job, "tokenize_shard", dies_on_the_second_shard)
    out = tmp_path / "resumed"
    # in this process, where the calls are seen (test_tokens_workers.py kills worker runs)
    assert tokenize_cli([tmp_path / "in"], out, tokenizer_path, "--workers", "1") == 130
    assert not (out / "manifest.json").exists() and not (out / "tokens.bin").exists()
    first = calls[0]
    calls.clear()

    def counted(tok, shard, *args):
        calls.append(shard.name)
        return real(tok, shard, *args)

    monkeypatch.setattr(job, "tokenize_shard", counted)
    assert tokenize_cli([tmp_path / "in"], out, tokenizer_path, "--workers", "1") == 0
    assert first not in calls and len(calls) == 2  # the finished shard is not redone
    for name in ("tokens.bin", "tokens.idx", "documents.parquet"):
        assert (out / name).read_bytes() == (fresh / name).read_bytes(), name
    assert manifest_of(out)["documents"] == 90 and manifest_of(out)["reconciled"]


def test_a_textmill_output_is_read_through_its_data_never_its_rejects(tmp_path, tokenizer_path):
    run = tmp_path / "run-out"
    (run / ".textmill").mkdir(parents=True)
    (run / ".textmill" / "run.json").write_text("{}")
    kept = pa.table(
        {
            "id": ["k1", "k2"],
            "text": ["alpha beta", "gamma"],
            "source": ["crawl-a", "crawl-b"],
            "lang": ["en", "de"],
        }
    )
    (run / "data").mkdir()
    pq.write_table(kept, run / "data" / "shard.parquet")
    (run / "rejects").mkdir()
    pq.write_table(
        pa.table({"id": ["r1"], "text": ["rejected text"]}), run / "rejects" / "x.parquet"
    )
    out = tmp_path / "tok"
    assert tokenize_cli([run], out, tokenizer_path, "--format", "memmap") == 0
    documents = pq.read_table(out / "documents.parquet").to_pylist()
    assert [(d["id"], d["source"], d["lang"]) for d in documents] == [
        ("k1", "crawl-a", "en"),
        ("k2", "crawl-b", "de"),
    ]
    manifest = manifest_of(out)
    assert set(manifest["per_language"]) == {"en", "de"}
    # the text column can be another one
    pq.write_table(pa.table({"id": ["c"], "content": ["alpha alpha"]}), tmp_path / "c.parquet")
    out2 = tmp_path / "tok2"
    assert (
        tokenize_cli([tmp_path / "c.parquet"], out2, tokenizer_path, "--text-column", "content")
        == 0
    )
    tokenizer = load_tokenizer(tokenizer_path)
    (ids,) = [r["input_ids"] for t in token_tables(out2) for r in t.to_pylist()]
    assert tokenizer.decode(ids[:-1]) == "alpha alpha"


def test_tok_folder_rules(tmp_path, tokenizer_path, capsys):
    write_jsonl(tmp_path / "in" / "a.jsonl", [{"id": "a", "text": "alpha"}])
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "notes.txt").write_text("mine")
    assert tokenize_cli([tmp_path / "in"], busy, tokenizer_path) == 2
    assert "holds files textmill did not write" in capsys.readouterr().err
    out = tmp_path / "tok"
    assert tokenize_cli([tmp_path / "in"], out, tokenizer_path) == 0
    # the same command again is a no-op resume; other options need --overwrite
    assert tokenize_cli([tmp_path / "in"], out, tokenizer_path) == 0
    assert tokenize_cli([tmp_path / "in"], out, tokenizer_path, "--format", "parquet") == 2
    assert "--overwrite" in capsys.readouterr().err
    assert (
        tokenize_cli([tmp_path / "in"], out, tokenizer_path, "--format", "parquet", "--overwrite")
        == 0
    )
    assert not (out / "tokens.bin").exists() and (out / "data" / "part-00000.parquet").is_file()
    assert (out / "manifest.json").is_file()
    # a `textmill run` output is not tokenize's to replace
    run = tmp_path / "run-out"
    (run / ".textmill").mkdir(parents=True)
    (run / ".textmill" / "run.json").write_text(json.dumps({"shards": []}))
    assert tokenize_cli([tmp_path / "in"], run, tokenizer_path, "--overwrite") == 2
    assert "not of tokenize" in capsys.readouterr().err


def test_the_python_api_is_the_same_job(tmp_path, tokenizer_path):
    write_jsonl(tmp_path / "in" / "a.jsonl", [{"id": "a", "text": "alpha beta"}])
    manifest = textmill.tokenize(
        tmp_path / "in", tmp_path / "tok", tokenizer=tokenizer_path, format="memmap", bos=False
    )
    assert manifest["documents"] == 1 and manifest["tokenizer_sha256"]
    assert manifest == manifest_of(tmp_path / "tok")
    tokens = np.memmap(tmp_path / "tok" / "tokens.bin", dtype=np.uint16, mode="r")
    assert tokens.size == manifest["tokens"]
    with pytest.raises(RunError, match="unknown tokenize option 'shuffle'"):
        textmill.tokenize(tmp_path / "in", tmp_path / "x", tokenizer=tokenizer_path, shuffle=1)
    with pytest.raises(RunError, match="unknown --format"):
        textmill.tokenize(tmp_path / "in", tmp_path / "x", tokenizer=tokenizer_path, format="npz")
    with pytest.raises(RunError, match="leaves no room"):
        textmill.tokenize(
            tmp_path / "in", tmp_path / "x", tokenizer=tokenizer_path, max_tokens_per_doc=1
        )
    result = textmill.train_tokenizer(tmp_path / "in", tmp_path / "t.json", vocab_size=270)
    assert result["documents"] == 1 and (tmp_path / "t.json").is_file()


def test_an_input_with_no_documents_still_writes_a_readable_empty_dataset(tmp_path, tokenizer_path):
    write_jsonl(tmp_path / "in" / "a.jsonl", [{"id": "e", "text": ""}])
    out = tmp_path / "tok"
    assert tokenize_cli([tmp_path / "in"], out, tokenizer_path) == 0
    manifest = manifest_of(out)
    assert manifest["documents"] == 0 and manifest["skipped"] == {"empty": 1}
    assert pq.read_table(out / "documents.parquet").num_rows == 0
    assert (out / "tokens.bin").stat().st_size == 0


def test_bad_parquet_rows_and_files_are_errors_not_crashes(tmp_path, tokenizer_path):
    folder = tmp_path / "in"
    folder.mkdir()
    bad_utf8 = pa.array([b"alpha", b"\xff\xfe broken", b"beta"], pa.binary())
    pq.write_table(
        pa.table({"id": ["a", "b", "c"], "text": bad_utf8, "lang": ["en", "en", None]}),
        folder / "rows.parquet",
    )
    pq.write_table(
        pa.table({"id": ["n"], "text": pa.array([None], pa.string())}), folder / "null.parquet"
    )
    (folder / "broken.parquet").write_bytes(b"PAR1 this is not parquet at all PAR1")
    pq.write_table(pa.table({"id": ["x"], "body": ["no text column"]}), folder / "schema.parquet")
    out = tmp_path / "tok"
    assert tokenize_cli([folder], out, tokenizer_path) == 0
    manifest = manifest_of(out)
    assert manifest["documents"] == 2 and manifest["reconciled"]
    assert manifest["errored"] >= 4  # the bad row, the null text, the broken file, the schema
    assert manifest["per_language"] == {
        "en": {"documents": 1, "tokens": manifest["per_language"]["en"]["tokens"]},
        "null": {"documents": 1, "tokens": manifest["per_language"]["null"]["tokens"]},
    }
    messages = (out / "errors.jsonl").read_text()
    assert "not valid UTF-8" in messages and "broken.parquet" in messages


def test_a_tokenize_killed_while_finishing_leaves_nothing_behind(
    tmp_path, tokenizer_path, monkeypatch
):
    write_jsonl(tmp_path / "in" / "a.jsonl", [{"id": "a", "text": "alpha beta"}])
    out = tmp_path / "tok"

    def killed(**_):
        raise KeyboardInterrupt

    monkeypatch.setattr(job, "build_manifest", killed)
    assert tokenize_cli([tmp_path / "in"], out, tokenizer_path) == 130
    assert (out / "tokens.bin").is_file() and not (out / "manifest.json").exists()
    monkeypatch.undo()
    args = ("--format", "parquet", "--overwrite")
    assert tokenize_cli([tmp_path / "in"], out, tokenizer_path, *args) == 0
    assert not (out / "tokens.bin").exists() and not (out / "tokens.idx").exists()
    assert sorted(p.name for p in out.iterdir()) == [
        ".textmill",
        "data",
        "documents.parquet",
        "manifest.json",
    ]
