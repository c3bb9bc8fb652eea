"""A two-language mixture from tiny text sources (`textmill run` outputs) to a tokenized,
shuffled (and packed) mixture, read back by numpy.memmap and datasets (megatron-core reads
the Megatron format in the tokenize tests)."""

import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from conftest import reconciled_run, write_jsonl

from textmill.cli import main
from textmill.mix import mix

FRENCH = ["le", "chat", "mange", "la", "souris", "dans", "la", "maison", "verte"]
ENGLISH = ["the", "quick", "brown", "fox", "jumps", "over", "the", "lazy", "dog"]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    """Two textmill outputs (fr, en) and a byte-level BPE trained on them."""
    from textmill.tokens.tokenizer import train_bpe

    root = tmp_path_factory.mktemp("mixcorpus")
    rng = np.random.default_rng(0)
    texts = []
    for lang, words, count in (("fr", FRENCH, 300), ("en", ENGLISH, 900)):
        records = [
            {
                "id": f"{lang}{i}",
                "text": " ".join(rng.choice(words, int(rng.integers(5, 40)))) + f" {i}",
                "lang": lang,
            }
            for i in range(count)
        ]
        texts += [r["text"] for r in records]
        write_jsonl(root / "in" / lang / "part-0.jsonl", records)
        reconciled_run(["exact_dedup"], [str(root / "in" / lang)], root / lang)
    train_bpe(texts, 400).save(str(root / "tokenizer.json"))
    return root


def spec(corpus: Path, fmt: str, seed: int = 0) -> dict:
    return {
        "sources": [{"path": str(corpus / "fr")}, {"path": str(corpus / "en")}],
        "group_by": "lang",
        "weights": {"fr": 0.5, "en": 0.5},
        "tokenizer": str(corpus / "tokenizer.json"),
        "seed": seed,
        "output": {"format": fmt},
    }


def test_a_two_language_megatron_mixture_holds_the_requested_ratio(corpus, tmp_path):
    from textmill.tokens.tokenizer import load_tokenizer

    manifest = mix(spec(corpus, "megatron"), tmp_path / "mix")
    tok = tmp_path / "mix" / "tokens"
    tok_manifest = json.loads((tok / "manifest.json").read_text())
    assert tok_manifest["tokens"] == manifest["tokens"]
    assert tok_manifest["documents"] == manifest["documents"]
    documents = pq.read_table(tok / "documents.parquet").to_pydict()
    tokens = np.memmap(tok / "tokens.bin", dtype=np.dtype(tok_manifest["format_dtype"]), mode="r")
    tokenizer = load_tokenizer(corpus / "tokenizer.json")
    by_lang = {"fr": 0, "en": 0}
    for doc_id, offset, length in zip(
        documents["id"], documents["offset"], documents["tokens"], strict=True
    ):
        ids = tokens[offset : offset + length]
        assert ids[-1] == tokenizer.eos_id
        text = tokenizer.decode(ids[:-1].tolist())
        words = set(text.split()) - set(str(i) for i in range(1000))
        lang = doc_id[:2]
        assert words <= set(FRENCH if lang == "fr" else ENGLISH), (doc_id, text)
        by_lang[lang] += int(length)
    total = sum(by_lang.values())
    assert total == manifest["tokens"]
    for lang in ("fr", "en"):
        assert by_lang[lang] / total == pytest.approx(0.5, abs=0.005)
        group = next(g for g in manifest["groups"] if g["group"] == lang)
        assert group["realized_tokens"] == by_lang[lang]
    # fr is the smaller: all of it, once; the mixture is shuffled across the sources
    assert next(g for g in manifest["groups"] if g["group"] == "fr")["epochs"] == 1.0
    langs = [i[:2] for i in documents["id"]]
    assert langs != sorted(langs) and langs != sorted(langs, reverse=True)


def test_a_parquet_mixture_reads_with_datasets_and_is_deterministic(corpus, tmp_path, capsys):
    datasets = pytest.importorskip("datasets")
    path = tmp_path / "spec.yaml"
    path.write_text(json.dumps(spec(corpus, "parquet", seed=4)))  # JSON is YAML
    assert main(["mix", str(path), "-o", str(tmp_path / "one")]) == 0
    printed = capsys.readouterr().out
    assert "realized tokens" in printed and "-> " in printed
    mix(spec(corpus, "parquet", seed=4), tmp_path / "two")
    files = sorted(
        str(p) for p in (tmp_path / "one" / "tokens").rglob("*.parquet") if "data" in p.parts
    )
    loaded = datasets.load_dataset("parquet", data_files=files, split="train")
    manifest = json.loads((tmp_path / "one" / "manifest.json").read_text())
    assert sum(len(ids) for ids in loaded["input_ids"]) == manifest["tokens"]
    again = sorted(
        str(p) for p in (tmp_path / "two" / "tokens").rglob("*.parquet") if "data" in p.parts
    )
    assert [
        pq.read_table(f).equals(pq.read_table(g)) for f, g in zip(files, again, strict=True)
    ] == [True] * len(files)


def test_a_tokenized_mixture_can_be_blended_by_megatron(corpus, tmp_path):
    """The TOK folder of a mix is a Megatron dataset: a blend line over two of them."""
    mix({**spec(corpus, "megatron"), "weights": {"fr": 1, "en": 0}}, tmp_path / "fr")
    mix({**spec(corpus, "megatron"), "weights": {"fr": 0, "en": 1}}, tmp_path / "en")
    blend = mix(
        {
            "sources": [
                {"path": str(tmp_path / "fr" / "tokens"), "name": "fr"},
                {"path": str(tmp_path / "en" / "tokens"), "name": "en"},
            ],
            "weights": {"fr": 0.3, "en": 0.7},
            "output": {"format": "blend"},
        },
        tmp_path / "blend",
    )
    words = blend["output"]["blend"].split()
    assert [float(w) for w in words[0::2]] == pytest.approx([0.3, 0.7])
    assert words[1].endswith("fr/tokens/tokens") and words[3].endswith("en/tokens/tokens")


def test_a_packed_mixture_keeps_the_mixture_counts(corpus, tmp_path):
    data = spec(corpus, "memmap")
    data["output"] |= {"pack": 64, "packing": "best-fit"}
    manifest = mix(data, tmp_path / "mix")
    tok = json.loads((tmp_path / "mix" / "tokens" / "manifest.json").read_text())
    assert (tok["documents"], tok["tokens"]) == (manifest["documents"], manifest["tokens"])
    assert manifest["output"]["pack"] == 64 and manifest["output"]["packing"] == "best-fit"
    sequences = np.memmap(tmp_path / "mix" / "tokens" / "tokens.bin", dtype=np.uint16, mode="r")
    assert len(sequences) % 64 == 0 and len(sequences) >= manifest["tokens"]


def test_tok_sources_mix_into_a_tokenized_mixture_by_copying_their_tokens(corpus, tmp_path):
    from textmill.tokens.api import tokenize
    from textmill.tokens.manifest import token_tables

    tokenizer = str(corpus / "tokenizer.json")
    for lang in ("fr", "en"):
        tokenize(
            [str(corpus / lang)], tmp_path / f"{lang}-tok", tokenizer=tokenizer, format="memmap"
        )
    data = {
        "sources": [{"path": str(tmp_path / "fr-tok")}, {"path": str(tmp_path / "en-tok")}],
        "weights": {"fr-tok": 0.25, "en-tok": 0.75},
        "max_epochs": 2,
        "budget": 40_000,
        "tokenizer": tokenizer,
        "output": {"format": "parquet"},
    }
    manifest = mix(data, tmp_path / "mix")
    assert manifest["output"]["tokens_from"] == "TOK sources (copied)"
    shares = {g["group"]: g["realized_share"] for g in manifest["groups"]}
    assert shares == pytest.approx({"fr-tok": 0.25, "en-tok": 0.75}, abs=0.005)
    source_ids = {}
    for lang in ("fr", "en"):
        for table in token_tables(tmp_path / f"{lang}-tok"):
            source_ids |= dict(
                zip(table["id"].to_pylist(), table["input_ids"].to_pylist(), strict=True)
            )
    mixed = pa_concat(token_tables(tmp_path / "mix" / "tokens"))
    assert mixed.num_rows == manifest["documents"]
    assert sum(len(ids) for ids in mixed["input_ids"].to_pylist()) == manifest["tokens"]
    for doc_id, ids in zip(mixed["id"].to_pylist(), mixed["input_ids"].to_pylist(), strict=True):
        assert ids == source_ids[doc_id.split("#copy")[0]]  # the source's tokens, unchanged
    assert any("#copy1" in i for i in mixed["id"].to_pylist())  # fr upsampled to ~2 epochs


def pa_concat(tables):
    import pyarrow as pa

    return pa.concat_tables(list(tables))
