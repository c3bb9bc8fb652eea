"""Every token format written by `textmill tokenize` and read back by its ecosystem's own
reader (megatron-core, numpy.memmap, datasets, datatrove's byte layout): the same ids and the
same document boundaries as encoding each text directly."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from conftest import write_jsonl

from textmill.cli import main
from textmill.tokens.manifest import token_tables
from textmill.tokens.tokenizer import load_tokenizer, train_bpe

TEXTS = [
    "The quick brown fox jumps over the lazy dog. " * 3,
    "Le cœur a ses raisons que la raison ne connaît point.",
    "机器学习是人工智能的一个分支，研究计算机如何学习。",
    "اللغة العربية لغة جميلة ولها تاريخ طويل.",
    "emoji 🦊🚀 and a ZWJ family 👩‍👩‍👧 plus tabs\tand\nnewlines",
    "日本語の文章も、ちゃんと往復できるはずです。",
]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> tuple[Path, Path, list[dict]]:
    root = tmp_path_factory.mktemp("formats")
    records = [
        {"id": f"d{i}", "text": text, "lang": ["en", "fr", "zh", "ar", "en", "ja"][i]}
        for i, text in enumerate(TEXTS)
    ]
    write_jsonl(root / "in" / "a.jsonl", records[:3])
    write_jsonl(root / "in" / "b.jsonl", records[3:])
    tokenizer = train_bpe(TEXTS * 20, 400)
    tokenizer.save(str(root / "tokenizer.json"))
    return root, root / "tokenizer.json", records


def expected_ids(tokenizer_path: Path, records: list[dict]) -> list[list[int]]:
    tokenizer = load_tokenizer(tokenizer_path)
    return [
        ids + [tokenizer.eos_id] for ids in tokenizer.encode_batch([r["text"] for r in records])
    ]


def tokenize(root: Path, tokenizer: Path, fmt: str) -> Path:
    out = root / f"tok-{fmt}"
    code = main([
        "tokenize", str(root / "in"), "-o", str(out), "--tokenizer", str(tokenizer),
        "--format", fmt,
    ])  # fmt: skip
    assert code == 0
    return out


def test_megatron_core_reads_the_indexed_dataset(corpus):
    root, tokenizer, records = corpus
    out = tokenize(root, tokenizer, "megatron")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from megatron.core.datasets.indexed_dataset import IndexedDataset

    dataset = IndexedDataset(str(out / "tokens"))
    assert len(dataset) == len(records)
    assert [dataset[i].tolist() for i in range(len(dataset))] == expected_ids(tokenizer, records)
    assert dataset.document_indices.tolist() == list(range(len(records) + 1))
    assert dataset[0].dtype == np.uint16
    documents = pq.read_table(out / "documents.parquet").to_pylist()
    assert [d["id"] for d in documents] == [r["id"] for r in records]
    assert [d["tokens"] for d in documents] == dataset.sequence_lengths.tolist()
    assert [d["lang"] for d in documents] == [r["lang"] for r in records]


def test_numpy_memmap_reads_the_flat_tokens(corpus):
    root, tokenizer, records = corpus
    out = tokenize(root, tokenizer, "memmap")
    tokens = np.memmap(out / "tokens.bin", dtype=np.uint16, mode="r")
    offsets = np.load(out / "tokens.offsets.npy")
    got = [tokens[offsets[i] : offsets[i + 1]].tolist() for i in range(len(offsets) - 1)]
    assert got == expected_ids(tokenizer, records)
    documents = pq.read_table(out / "documents.parquet")
    assert documents["offset"].to_pylist() == offsets[:-1].tolist()


def test_datasets_loads_the_parquet_tokens(corpus):
    import datasets

    root, tokenizer, records = corpus
    out = tokenize(root, tokenizer, "parquet")
    dataset = datasets.load_dataset(
        "parquet", data_files=str(out / "data" / "*.parquet"), split="train"
    )
    assert dataset["id"] == [r["id"] for r in records]
    assert dataset["input_ids"] == expected_ids(tokenizer, records)


def test_nanotron_files_follow_datatroves_layout(corpus):
    root, tokenizer, records = corpus
    out = tokenize(root, tokenizer, "nanotron")
    tokens = np.fromfile(out / "tokens.ds", dtype="<u2")  # datatrove: token_size 2 (vocab fits)
    ends = np.fromfile(out / "tokens.ds.index", dtype="<u8")
    starts = np.concatenate([[0], ends[:-1]]).astype(np.int64)
    ends = ends.astype(np.int64)
    got = [tokens[s:e].tolist() for s, e in zip(starts, ends, strict=True)]
    assert got == expected_ids(tokenizer, records)
    name, size = (out / "tokens.ds.metadata").read_text().splitlines()[0].rsplit("|", 1)
    assert size == "2" and (out / "tokens.ds.metadata").read_text().splitlines()[1] == str(
        int(ends[-1])
    )


@pytest.mark.parametrize("fmt", ["megatron", "memmap", "parquet", "nanotron"])
def test_token_tables_reads_every_format_back(corpus, fmt):
    root, tokenizer, records = corpus
    out = root / f"tok-{fmt}"
    if not out.exists():
        tokenize(root, tokenizer, fmt)
    tables = list(token_tables(out))
    ids = [row for t in tables for row in t["input_ids"].to_pylist()]
    assert ids == expected_ids(tokenizer, records)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["tokens"] == sum(map(len, ids))
    assert manifest["per_language"]["en"]["documents"] == 2


def test_a_vocabulary_past_uint16_is_stored_wider(tmp_path):
    """66,000 entries: memmap and nanotron store uint32, Megatron int32 (it has no uint32)."""
    from tokenizers import Tokenizer, models, pre_tokenizers

    vocab = {f"t{i}": i for i in range(66_000)}
    vocab["[UNK]"] = 66_000
    engine = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    engine.pre_tokenizer = pre_tokenizers.Whitespace()
    engine.add_special_tokens(["</s>"])
    engine.save(str(tmp_path / "wide.json"))
    write_jsonl(tmp_path / "in" / "a.jsonl", [{"id": "a", "text": "t65999 t1 t65535"}])
    for fmt, dtype in (("megatron", np.int32), ("memmap", np.uint32)):
        out = tmp_path / fmt
        assert main(["tokenize", str(tmp_path / "in"), "-o", str(out),
                     "--tokenizer", str(tmp_path / "wide.json"), "--format", fmt]) == 0  # fmt: skip
        manifest = json.loads((out / "manifest.json").read_text())
        assert manifest["tokenizer"]["dtype"] == "uint32"
        assert manifest["format_dtype"] == np.dtype(dtype).name
        assert np.fromfile(out / "tokens.bin", dtype=dtype).tolist() == [65999, 1, 65535, 66001]


@pytest.mark.parametrize("fmt", ["megatron", "memmap", "parquet", "nanotron"])
def test_writers_take_a_packed_table_and_keep_its_boundaries(tmp_path, fmt):
    """The hook the packer uses: one row per training sequence, `cu_seqlens` kept beside."""
    import pyarrow as pa

    from textmill.tokens.formats import open_writer

    packed = pa.table(
        {
            "input_ids": pa.array([[5, 6, 0, 7, 0], [8, 9, 10, 0, 3]], pa.large_list(pa.uint32())),
            "cu_seqlens": pa.array([[0, 3, 5], [0, 4, 4]], pa.list_(pa.int32())),
        }
    )
    writer = open_writer(fmt, tmp_path, vocab_size=400, tokenizer_name="t")
    writer.write(packed)
    written = writer.close()
    assert written["sequences"] == 2
    if fmt == "parquet":
        back = pq.read_table(tmp_path / written["files"][0])
        assert back["cu_seqlens"].to_pylist() == [[0, 3, 5], [0, 4, 4]]
    else:
        assert "cu_seqlens.parquet" in written["files"]
        cu = pq.read_table(tmp_path / "cu_seqlens.parquet")["cu_seqlens"].to_pylist()
        assert cu == [[0, 3, 5], [0, 4, 4]]
    if fmt == "megatron":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from megatron.core.datasets.indexed_dataset import IndexedDataset
        dataset = IndexedDataset(str(tmp_path / "tokens"))
        assert [dataset[i].tolist() for i in range(2)] == [[5, 6, 0, 7, 0], [8, 9, 10, 0, 3]]
