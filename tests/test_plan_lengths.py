"""Lengths for the planner from a textmill output and a user's tokenizer.json."""

import json

import pytest

from textmill.api import Pipeline
from textmill.cli import main
from textmill.plan.lengths import token_lengths

tokenizers = pytest.importorskip("tokenizers")


def word_tokenizer(path):
    """A word-level tokenizer.json (one token per whitespace-separated word)."""
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.WordLevel(unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    trainer = trainers.WordLevelTrainer(special_tokens=["[UNK]"])
    tokenizer.train_from_iterator(["alpha beta gamma"], trainer)
    tokenizer.save(str(path))
    return path


def test_token_lengths_of_a_run_output_follow_the_tokenizer(tmp_path):
    texts = ["alpha beta", "gamma " * 40, "alpha unknown words here"]
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.jsonl").write_text(
        "".join(json.dumps({"id": f"d{i}", "text": t}) + "\n" for i, t in enumerate(texts))
    )
    out = tmp_path / "out"
    Pipeline(["normalize"]).run([tmp_path / "in"], out, progress=False)
    lengths = token_lengths([out], word_tokenizer(tmp_path / "tokenizer.json"))
    assert sorted(lengths.tolist()) == [2, 4, 40]


def test_simulate_sp_takes_a_corpus_and_a_tokenizer(tmp_path):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.jsonl").write_text(
        "".join(
            json.dumps({"id": f"d{i}", "text": "alpha " * (50 * (i + 1))}) + "\n" for i in range(16)
        )
    )
    tokenizer = word_tokenizer(tmp_path / "tokenizer.json")
    code = main(
        [
            "simulate-sp",
            "--lengths",
            str(tmp_path / "in"),
            "--tokenizer",
            str(tokenizer),
            "--gpus",
            "8",
            "--batch",
            "16",
            "--steps",
            "1",
            "--max-context",
            "32K",
            "--no-milp",
            "--no-plot",
            "--out",
            str(tmp_path / "sim"),
        ]
    )
    assert code == 0
    plan = json.loads((tmp_path / "sim" / "plans.jsonl").read_text().splitlines()[0])
    planned = sorted(
        length
        for micro_batch in plan["micro_batches"]
        for group in micro_batch["groups"]
        for length in group["lengths"]
    )
    assert len(planned) == 16 and planned[0] >= 50  # rounded up to a multiple of 2N
