"""`textmill tokenize --pack/--shuffle-seed` end to end: every format's packed output read back
by its ecosystem's reader, every document's tokens once, the same bytes for the same seed."""

import json
import random

import numpy as np
import pyarrow.parquet as pq
import pytest

from textmill.cli import main
from textmill.tokens.api import tokenize

SEQ_LEN = 128
WORDS = [
    "the",
    "quick",
    "brown",
    "fox",
    "jumps",
    "over",
    "a",
    "lazy",
    "dog",
    "while",
    "data",
    "and",
    "models",
    "learn",
    "tokens",
]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """Two JSONL shards of documents from 1 to ~600 tokens, and a byte-level BPE."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    folder = tmp_path_factory.mktemp("packed")
    rng = random.Random(0)
    texts = []
    for shard in range(2):
        with open(folder / f"part-{shard}.jsonl", "w") as handle:
            for i in range(120):
                text = " ".join(rng.choice(WORDS) for _ in range(rng.choice([1, 5, 40, 120, 300])))
                texts.append(text)
                handle.write(json.dumps({"id": f"s{shard}-{i}", "text": text}) + "\n")
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=300,
        special_tokens=["<|endoftext|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tokenizer.train_from_iterator(texts, trainer)
    tokenizer.save(str(folder / "tokenizer.json"))
    inputs = [str(folder / "part-0.jsonl"), str(folder / "part-1.jsonl")]
    reference = folder / "plain"
    tokenize(inputs, reference, tokenizer=str(folder / "tokenizer.json"), format="memmap")
    return folder, inputs, reference


def documents_by_id(tok) -> dict[str, np.ndarray]:
    """An unpacked TOK folder's documents (memmap format) by id."""
    index = pq.read_table(tok / "documents.parquet").to_pydict()
    offsets = np.load(tok / "tokens.offsets.npy")
    tokens = np.memmap(tok / "tokens.bin", dtype=np.uint16, mode="r")
    return {
        doc_id: np.array(tokens[offsets[i] : offsets[i + 1]])
        for i, doc_id in enumerate(index["id"])
    }


def rebuilt_documents(tok, rows: np.ndarray) -> dict[str, np.ndarray]:
    """Every document of a packed TOK folder from its rows, pieces.parquet and
    documents.parquet; checks cu_seqlens against the pieces on the way."""
    ids = pq.read_table(tok / "documents.parquet").column("id").to_pylist()
    pieces = pq.read_table(tok / "pieces.parquet").to_pandas()
    parts: dict[str, list] = {}
    for piece in pieces.sort_values(["document", "start"]).itertuples():
        run = rows[piece.sequence, piece.offset : piece.offset + piece.tokens]
        parts.setdefault(ids[piece.document], []).append(run)
    return {doc_id: np.concatenate(runs) for doc_id, runs in parts.items()}


def check_cu_seqlens(cu_seqlens: list[list[int]], tok) -> None:
    pieces = pq.read_table(tok / "pieces.parquet").to_pandas()
    for row, bounds in enumerate(cu_seqlens):
        mine = pieces[pieces.sequence == row].sort_values("offset")
        assert bounds[:-1] == mine.offset.tolist()
        assert np.diff(bounds).tolist() == mine.tokens.tolist()
        assert bounds[-1] <= SEQ_LEN


def test_packed_megatron_output_opens_in_megatron_core_with_every_token_once(corpus, tmp_path):
    indexed_dataset = pytest.importorskip("megatron.core.datasets.indexed_dataset")
    folder, inputs, reference = corpus
    tok = tmp_path / "tok"
    manifest = tokenize(
        inputs,
        tok,
        tokenizer=str(folder / "tokenizer.json"),
        format="megatron",
        pack=SEQ_LEN,
        packing="best-fit",
        shuffle_seed=5,
    )
    dataset = indexed_dataset.IndexedDataset(str(tok / "tokens"))
    assert len(dataset) == manifest["sequences"] == manifest["packing"]["sequences"]
    assert (dataset.sequence_lengths == SEQ_LEN).all()
    rows = np.stack([dataset[i] for i in range(len(dataset))])
    cu_seqlens = pq.read_table(tok / "cu_seqlens.parquet").column("cu_seqlens").to_pylist()
    check_cu_seqlens(cu_seqlens, tok)
    want = documents_by_id(reference)
    got = rebuilt_documents(tok, rows)
    assert got.keys() == want.keys()
    for doc_id, tokens in want.items():
        np.testing.assert_array_equal(got[doc_id], tokens)
    # best-fit splits only the documents longer than a sequence
    pieces = pq.read_table(tok / "pieces.parquet").to_pandas()
    firsts = pieces[pieces.start == 0].sort_values("document")
    offsets = pq.read_table(tok / "documents.parquet").column("offset").to_numpy()
    np.testing.assert_array_equal(offsets, firsts.sequence * SEQ_LEN + firsts.offset)
    split = set(pieces[pieces.start > 0].document)
    lengths = pq.read_table(tok / "documents.parquet").column("tokens").to_numpy()
    assert split == set(np.flatnonzero(lengths > SEQ_LEN))
    packing = manifest["packing"]
    assert packing["reconciled"] and packing["tokens"] == manifest["tokens"]
    assert packing["pad_id"] == 0  # no pad token: the EOS, <|endoftext|>
    padding = rows.size - sum(b[-1] for b in cu_seqlens)
    assert packing["padding_tokens"] == padding
    assert manifest["shuffle"]["seed"] == 5
    # shuffled: documents.parquet is not in input order, and the spill is gone
    order = pq.read_table(tok / "documents.parquet").column("id").to_pylist()
    assert order != pq.read_table(reference / "documents.parquet").column("id").to_pylist()
    assert not (tok / ".textmill" / "shuffle").exists()


def test_packed_memmap_is_the_concatenation_cut_every_seq_len(corpus, tmp_path):
    folder, inputs, reference = corpus
    tok = tmp_path / "tok"
    manifest = tokenize(
        inputs, tok, tokenizer=str(folder / "tokenizer.json"), format="memmap", pack=SEQ_LEN
    )
    rows = np.memmap(tok / "tokens.bin", dtype=np.uint16, mode="r").reshape(-1, SEQ_LEN)
    stream = np.memmap(reference / "tokens.bin", dtype=np.uint16, mode="r")
    assert rows.shape[0] == -(-len(stream) // SEQ_LEN)
    np.testing.assert_array_equal(rows.reshape(-1)[: len(stream)], stream)
    assert (rows.reshape(-1)[len(stream) :] == manifest["packing"]["pad_id"]).all()
    assert (np.diff(np.load(tok / "tokens.offsets.npy")) == SEQ_LEN).all()
    # concat keeps input order: each document's offset is its place in the stream
    plain = pq.read_table(reference / "documents.parquet").column("offset").to_pylist()
    assert pq.read_table(tok / "documents.parquet").column("offset").to_pylist() == plain
    check_cu_seqlens(
        pq.read_table(tok / "cu_seqlens.parquet").column("cu_seqlens").to_pylist(), tok
    )


def test_packed_parquet_loads_with_datasets_with_cu_seqlens_and_position_ids(corpus, tmp_path):
    datasets = pytest.importorskip("datasets")
    folder, inputs, reference = corpus
    tok = tmp_path / "tok"
    tokenize(
        inputs,
        tok,
        tokenizer=str(folder / "tokenizer.json"),
        format="parquet",
        pack=SEQ_LEN,
        packing="best-fit",
    )
    loaded = datasets.load_dataset(
        "parquet", data_files=str(tok / "data" / "*.parquet"), split="train"
    )
    assert set(loaded.column_names) >= {"input_ids", "cu_seqlens", "position_ids"}
    rows = np.array(loaded["input_ids"])
    assert rows.shape[1] == SEQ_LEN
    for row in loaded:
        bounds = row["cu_seqlens"]
        starts = [p for p, value in enumerate(row["position_ids"]) if value == 0]
        assert starts == [b for b in bounds if b < SEQ_LEN]
    got = rebuilt_documents(tok, rows)
    for doc_id, tokens in documents_by_id(reference).items():
        np.testing.assert_array_equal(got[doc_id], tokens)


def test_same_seed_same_bytes_whatever_the_shuffle_memory(corpus, tmp_path):
    folder, inputs, _ = corpus
    outputs, buckets = [], []
    for name, memory in (("a", 1 << 30), ("b", 1 << 16)):
        tok = tmp_path / name
        manifest = tokenize(
            inputs,
            tok,
            tokenizer=str(folder / "tokenizer.json"),
            pack=SEQ_LEN,
            packing="best-fit",
            shuffle_seed=9,
            shuffle_memory_bytes=memory,
            pack_window_tokens=4 * SEQ_LEN * 10,
        )
        names = ["tokens.bin", "tokens.idx", "cu_seqlens.parquet", "pieces.parquet"]
        outputs.append([(tok / n).read_bytes() for n in names])
        outputs[-1].append(pq.read_table(tok / "documents.parquet"))
        buckets.append(manifest["shuffle"]["buckets"])
    assert outputs[0] == outputs[1]
    assert buckets[0] == 1 and buckets[1] >= 4  # the small budget spilled to several buckets


def test_cli_prints_packing_stats_and_simulate_sp_reads_the_packed_lengths(
    corpus, tmp_path, capsys
):
    folder, inputs, _ = corpus
    tok = tmp_path / "tok"
    args = ["tokenize", *inputs, "-o", str(tok), "--tokenizer", str(folder / "tokenizer.json")]
    assert (
        main([*args, "--pack", str(SEQ_LEN), "--packing", "best-fit", "--shuffle-seed", "1"]) == 0
    )
    printed = capsys.readouterr().out
    assert "packed (best-fit)" in printed and "padding" in printed and "shuffled" in printed
    pieces = pq.read_table(tok / "pieces.parquet").column("tokens").to_numpy()
    code = main(
        [
            "simulate-sp",
            "--lengths",
            str(tok),
            "--gpus",
            "8",
            "--max-context",
            "4K",
            "--batch",
            str(len(pieces) // 2),
            "--steps",
            "2",
            "--no-milp",
            "--no-plot",
            "--out",
            str(tmp_path / "sim"),
        ]
    )
    assert code == 0
    report = json.loads((tmp_path / "sim" / "simulate.json").read_text())
    assert report["steps"] == 2
    rounded = -(-pieces // 16) * 16  # simulate-sp rounds lengths up to 2 * GPUs
    assert report["per_step"][0]["tokens"] == int(rounded[: len(pieces) // 2].sum())


def test_bad_packing_options_are_user_errors(corpus, tmp_path, capsys):
    folder, inputs, _ = corpus
    args = [
        "tokenize",
        *inputs,
        "-o",
        str(tmp_path / "t"),
        "--tokenizer",
        str(folder / "tokenizer.json"),
    ]
    assert main([*args, "--packing", "best-fit"]) == 2
    assert "--packing best-fit needs --pack SEQ_LEN" in capsys.readouterr().err
    assert main([*args, "--pack", "64", "--pack-window-tokens", "8"]) == 2
    assert "shorter than one sequence" in capsys.readouterr().err


def test_a_tokenize_killed_while_reading_the_shuffle_resumes_without_scattering_again(
    corpus, tmp_path, monkeypatch
):
    from textmill.tokens import shuffle

    folder, inputs, _ = corpus
    options = {
        "tokenizer": str(folder / "tokenizer.json"),
        "pack": SEQ_LEN,
        "packing": "best-fit",
        "shuffle_seed": 4,
    }
    clean = tmp_path / "clean"
    tokenize(inputs, clean, **options)
    original_read = shuffle.GlobalShuffle.read
    scattered = []
    original_scatter = shuffle.GlobalShuffle.scatter

    def killed(self, *args, **kwargs):
        raise KeyboardInterrupt

    def counted(self, part, tables):
        if not self.done(part):
            scattered.append(part)
        return original_scatter(self, part, tables)

    monkeypatch.setattr(shuffle.GlobalShuffle, "scatter", counted)
    monkeypatch.setattr(shuffle.GlobalShuffle, "read", killed)
    tok = tmp_path / "tok"
    with pytest.raises(KeyboardInterrupt):
        tokenize(inputs, tok, **options)
    assert len(scattered) == 2 and not (tok / "manifest.json").exists()
    monkeypatch.setattr(shuffle.GlobalShuffle, "read", original_read)
    tokenize(inputs, tok, **options)
    assert len(scattered) == 2  # the re-run scattered nothing again
    for name in ("tokens.bin", "tokens.idx", "cu_seqlens.parquet", "pieces.parquet"):
        assert (tok / name).read_bytes() == (clean / name).read_bytes()


def test_a_packed_folder_is_not_read_back_as_documents(corpus, tmp_path):
    from textmill.io import InputError
    from textmill.tokens.manifest import token_tables

    folder, inputs, _ = corpus
    tok = tmp_path / "tok"
    tokenize(inputs, tok, tokenizer=str(folder / "tokenizer.json"), pack=SEQ_LEN)
    with pytest.raises(InputError, match="pieces.parquet"):
        next(token_tables(tok))


def test_the_cli_defaults_are_the_library_defaults():
    from textmill.cli import tokens_arrange
    from textmill.tokens import pack, shuffle

    assert tokens_arrange.DEFAULT_WINDOW_TOKENS == pack.DEFAULT_WINDOW_TOKENS
    assert tokens_arrange.DEFAULT_MEMORY_BYTES == shuffle.DEFAULT_MEMORY_BYTES


def test_shuffled_documents_without_packing_keep_their_tokens_and_offsets(corpus, tmp_path):
    folder, inputs, reference = corpus
    tok = tmp_path / "tok"
    manifest = tokenize(
        inputs, tok, tokenizer=str(folder / "tokenizer.json"), format="memmap", shuffle_seed=2
    )
    assert "packing" not in manifest and manifest["shuffle"]["seed"] == 2
    got, want = documents_by_id(tok), documents_by_id(reference)
    assert list(got) != list(want) and sorted(got) == sorted(want)
    for doc_id, tokens in want.items():
        np.testing.assert_array_equal(got[doc_id], tokens)
    index = pq.read_table(tok / "documents.parquet").to_pydict()
    assert index["offset"] == list(np.cumsum([0, *index["tokens"][:-1]]))
