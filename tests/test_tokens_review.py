"""Found in review (issue 13): what tokenize must refuse or say before it does any work."""

from __future__ import annotations

import dataclasses
import os

import pytest
from conftest import write_jsonl

from textmill.tokens import tokenize as job
from textmill.tokens.tokenizer import TokenizerError, load_tokenizer, train_bpe


@pytest.fixture(scope="module")
def tokenizer_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("tok") / "tokenizer.json"
    train_bpe(["alpha beta gamma delta"] * 20, 270).save(str(path))
    return path


@pytest.mark.parametrize(
    ("vocab", "fmt", "message"),
    [
        ((1 << 32) + 1, "memmap", r"ids over 2\*\*32"),
        ((1 << 31) + 1, "megatron", "int32 at most"),
    ],
)
def test_a_vocabulary_too_large_for_the_format_is_refused_before_any_work(
    tmp_path, tokenizer_path, monkeypatch, vocab, fmt, message
):
    docs = tmp_path / "docs.jsonl"
    write_jsonl(docs, [{"id": "a", "text": "alpha beta"}])
    big = dataclasses.replace(load_tokenizer(tokenizer_path), vocab_size=vocab)
    monkeypatch.setattr(job, "tokenize_shard", lambda *a, **k: pytest.fail("tokenized first"))
    with pytest.raises(TokenizerError, match=message):
        job.run_tokenize([docs], tmp_path / "tok", big, job.TokenizeSettings(format=fmt))
    assert not (tmp_path / "tok").exists()


def test_a_tokenizer_json_given_from_a_parent_folder_is_named_by_its_file(
    tmp_path, tokenizer_path, monkeypatch
):
    nested = tmp_path / "work"
    nested.mkdir()
    monkeypatch.chdir(nested)
    relative = os.path.relpath(tokenizer_path, nested)
    (tmp_path / "tokenizer.json").write_bytes(tokenizer_path.read_bytes())
    assert load_tokenizer("../tokenizer.json").name == "tokenizer.json"  # was ".."
    assert load_tokenizer(relative).name == tokenizer_path.parent.name
    monkeypatch.chdir(tokenizer_path.parent)
    assert load_tokenizer(".").name == tokenizer_path.parent.name  # was ""


def test_the_summary_names_the_first_error_and_the_skipped_file(tmp_path, tokenizer_path, capsys):
    from textmill.cli import main

    docs = tmp_path / "docs.jsonl"
    write_jsonl(docs, [{"id": "a", "body": "alpha"}, {"id": "b", "text": ""}])
    argv = ["tokenize", str(docs), "-o", str(tmp_path / "tok"), "--tokenizer", str(tokenizer_path)]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "read 2 = tokenized 0 + skipped 1 (empty 1) + errored 1" in out
    assert f"errors: {tmp_path / 'tok' / 'errors.jsonl'} (first: " in out
    assert "line 1: missing field 'text'" in out
    assert f"skipped documents: {tmp_path / 'tok' / 'skipped.parquet'}" in out
