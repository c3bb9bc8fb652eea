"""`--engine auto` (tokenize's default): tiktoken where it gives `tokenizers`' ids exactly, checked
on the tokenizer's shape, its every vocabulary entry, a character probe and the input's first
batch; `tokenizers` otherwise, the manifest saying which engine ran and why."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import write_jsonl

from textmill.cli import main
from textmill.tokens import engines
from textmill.tokens.tokenizer import load_tokenizer, train_bpe

TEXTS = [
    "Grüße aus Köln! Ça va très bien. don't   stop\n\n",
    "机器学习是人工智能的一个分支。한국어 문장입니다. اللغة العربية ١٢٣",
    "🦊🚀 family 👩‍👩‍👧 flags 🇫🇷 a\u00a0nbsp\u2028line\u3000wide \u0301mark"
    " a literal <|endoftext|>",
]


def _trained(tmp_path, name="bpe.json"):
    train_bpe(TEXTS * 10, 400).save(str(tmp_path / name))
    return tmp_path / name


def _tokenize(tmp_path, tokenizer, texts=TEXTS, engine=None, out="tok", extra=()):
    write_jsonl(
        tmp_path / "in" / "a.jsonl", [{"id": str(i), "text": t} for i, t in enumerate(texts)]
    )
    args = [
        "tokenize",
        str(tmp_path / "in"),
        "-o",
        str(tmp_path / out),
        "--tokenizer",
        str(tokenizer),
    ]
    assert main([*args, *extra, *(["--engine", engine] if engine else [])]) == 0
    manifest = json.loads((tmp_path / out / "manifest.json").read_text())
    return manifest, (tmp_path / out / "tokens.bin").read_bytes()


def test_auto_is_the_default_and_runs_tiktoken_with_the_same_ids(tmp_path):
    path = _trained(tmp_path)
    manifest, tokens = _tokenize(tmp_path, path)
    assert manifest["tokenizer"]["engine"] == "tiktoken"
    assert "auto: byte-level BPE" in manifest["tokenizer"]["engine_reason"]
    assert "first batch" in manifest["tokenizer"]["engine_reason"]
    reference, reference_tokens = _tokenize(tmp_path, path, engine="tokenizers", out="ref")
    assert reference["tokenizer"]["engine"] == "tokenizers" and tokens == reference_tokens
    assert reference["tokenizer"]["engine_reason"] == "asked for (engine 'tokenizers')"


def _edited(tmp_path, edit):
    spec = json.loads(_trained(tmp_path, "base.json").read_text())
    edit(spec)
    (tmp_path / "edited.json").write_text(json.dumps(spec))
    return tmp_path / "edited.json"


@pytest.mark.parametrize(
    ("edit", "why"),
    [
        (lambda s: s.update(normalizer={"type": "NFC"}), "it has a normalizer"),
        (
            lambda s: s.update(
                pre_tokenizer={
                    "type": "Metaspace",
                    "replacement": "▁",
                    "prepend_scheme": "always",
                    "split": True,
                }
            ),
            "its pre-tokenizer is not ByteLevel",
        ),  # fmt: skip
        (
            lambda s: s["pre_tokenizer"].update(add_prefix_space=True),
            "its pre-tokenizer is not ByteLevel",
        ),
        (
            lambda s: s["added_tokens"].append(
                {
                    "id": len(s["model"]["vocab"]),
                    "content": "hello",
                    "single_word": False,
                    "lstrip": False,
                    "rstrip": False,
                    "normalized": True,
                    "special": False,
                }
            ),
            "added token that is not special",
        ),  # fmt: skip
        (
            lambda s: s["added_tokens"].append(
                {
                    "id": len(s["model"]["vocab"]),
                    "content": "<|endoftext|>x",
                    "single_word": False,
                    "lstrip": False,
                    "rstrip": False,
                    "normalized": False,
                    "special": True,
                }
            ),
            "is inside another",
        ),  # fmt: skip
        (lambda s: s["model"].update(dropout=0.1), "sets dropout"),
        (lambda s: s["model"]["vocab"].pop("Ā"), "lacks 1 of the 256 byte tokens"),
    ],
)
def test_auto_refuses_tiktoken_for_what_it_does_not_model(tmp_path, edit, why):
    path = _edited(tmp_path, edit)
    tokenizer = load_tokenizer(path, engine="auto")
    assert tokenizer.fast is None and why in tokenizer.engine_reason
    assert tokenizer.describe()["engine"] == "tokenizers"


def _unreachable_merge_bpe(tmp_path):
    """A BPE whose merges never build `abc` (b+c merges first, a+bc is no merge), which
    tiktoken takes whole: the two engines differ on "abc"."""
    from tokenizers import Tokenizer, models, pre_tokenizers

    alphabet = list(engines.unicode_to_bytes())
    vocab = {c: i for i, c in enumerate(alphabet)}
    vocab.update({"bc": 256, "ab": 257, "abc": 258})
    merges = [("b", "c"), ("a", "b"), ("ab", "c")]
    engine = Tokenizer(models.BPE(vocab=vocab, merges=merges))
    engine.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    engine.save(str(tmp_path / "odd.json"))
    return tmp_path / "odd.json"


def test_auto_refuses_a_vocabulary_entry_its_merges_never_build(tmp_path):
    path = _unreachable_merge_bpe(tmp_path)
    forced = load_tokenizer(path, engine="tiktoken")
    reference = load_tokenizer(path, engine="tokenizers")
    assert forced.encode_batch(["abc"]) != reference.encode_batch(["abc"])  # why auto checks
    tokenizer = load_tokenizer(path, engine="auto")
    assert tokenizer.fast is None and "splits the vocabulary entry 'abc'" in tokenizer.engine_reason


def test_auto_falls_back_when_the_input_sample_differs(tmp_path, monkeypatch):
    """Where the static checks pass but the input's first batch encodes otherwise (here: the
    vocabulary check skipped), every document is tokenized by `tokenizers`."""
    path = _unreachable_merge_bpe(tmp_path)
    monkeypatch.setattr(
        engines,
        "fast_encoding",
        lambda source, reference: (engines.tiktoken_encoding(source), "ok"),
    )
    texts = ["xyz abcabc", "abc", "plain"]
    manifest, tokens = _tokenize(tmp_path, path, texts=texts, extra=["--no-eos"])
    assert manifest["tokenizer"]["engine"] == "tokenizers"
    assert "of the input otherwise" in manifest["tokenizer"]["engine_reason"]
    _, reference_tokens = _tokenize(
        tmp_path, path, texts=texts, engine="tokenizers", out="ref", extra=["--no-eos"]
    )
    assert tokens == reference_tokens
    assert np.frombuffer(tokens, np.uint16).size == manifest["tokens"]


def test_auto_checks_the_character_probe_and_a_sample_of_every_document(tmp_path):
    sample = engines.sample_of(["x" * 10_000, "", "short é"])
    assert sample[0] == "x" * engines.SAMPLE_DOC_CHARS and sample[1] == "short é"
    assert any("é" in text and "1" in text for text in sample[2:])  # each character in context
    path = _trained(tmp_path)
    tokenizer = load_tokenizer(path, engine="auto")
    assert engines.check_sample(tokenizer.fast, tokenizer.engine, TEXTS) is None


def test_a_sentencepiece_or_word_level_tokenizer_runs_on_its_own_library(tmp_path):
    from tokenizers import Tokenizer, models, pre_tokenizers

    engine = Tokenizer(models.WordLevel({"a": 0, "[UNK]": 1}, unk_token="[UNK]"))
    engine.pre_tokenizer = pre_tokenizers.Whitespace()
    engine.save(str(tmp_path / "word.json"))
    tokenizer = load_tokenizer(tmp_path / "word.json", engine="auto")
    assert tokenizer.fast is None and "its model is 'WordLevel'" in tokenizer.engine_reason


def test_a_first_batch_without_text_leaves_the_choice_to_the_next(tmp_path, monkeypatch):
    path = _unreachable_merge_bpe(tmp_path)
    monkeypatch.setattr(
        engines,
        "fast_encoding",
        lambda source, reference: (engines.tiktoken_encoding(source), "ok"),
    )
    tokenizer = load_tokenizer(path, engine="auto")
    assert tokenizer.encode_batch(["", ""]) == [[], []] and tokenizer.check_first_batch
    reference = load_tokenizer(path, engine="tokenizers")
    assert tokenizer.encode_batch(["abc"]) == reference.encode_batch(["abc"])
    assert tokenizer.fast is None and "of the input otherwise" in tokenizer.engine_reason
