"""Loading a user's tokenizer (tokenizer.json, a HF folder, a SentencePiece model), training one
with `textmill tokenizer train`, and the round trip decode(tokenize(text)) == text."""

from __future__ import annotations

import io
import json
import warnings
from pathlib import Path

import numpy as np
import pytest
from conftest import write_jsonl

from textmill.cli import main
from textmill.tokens.tokenizer import (
    TokenizerError,
    load_tokenizer,
    token_dtype_for,
    train_bpe,
)

SCRIPTS = {
    "latin": "Grüße aus Köln! Ça va très bien, merci. Ñandú and naïve café.",
    "cjk": "机器学习是人工智能的一个分支。日本語のテキスト。한국어 문장입니다.",
    "arabic": "اللغة العربية لغة جميلة، وهي من أقدم اللغات.",
    "emoji": "🦊🚀 family 👩‍👩‍👧 flags 🇫🇷🇯🇵 and a lone ⚙️",
    "mixed": "  leading spaces, \ttabs,\r\nCRLF and trailing  ",
}


def test_decode_of_tokenize_is_the_text_in_every_script(tmp_path):
    write_jsonl(tmp_path / "in" / "a.jsonl", [{"id": k, "text": v} for k, v in SCRIPTS.items()])
    assert main(["tokenizer", "train", str(tmp_path / "in"), "-o", str(tmp_path / "t.json"),
                 "--vocab-size", "300"]) == 0  # fmt: skip
    assert main(["tokenize", str(tmp_path / "in"), "-o", str(tmp_path / "tok"),
                 "--tokenizer", str(tmp_path / "t.json"), "--format", "memmap"]) == 0  # fmt: skip
    tokenizer = load_tokenizer(tmp_path / "t.json")
    tokens = np.memmap(tmp_path / "tok" / "tokens.bin", dtype=np.uint16, mode="r")
    offsets = np.load(tmp_path / "tok" / "tokens.offsets.npy")
    for i, text in enumerate(SCRIPTS.values()):
        ids = tokens[offsets[i] : offsets[i + 1]].tolist()
        assert ids[-1] == tokenizer.eos_id == 0
        assert tokenizer.decode(ids[:-1]) == text


def test_a_tokenizer_json_reports_its_identity(tmp_path):
    train_bpe(list(SCRIPTS.values()) * 5, 300).save(str(tmp_path / "mine.json"))
    tokenizer = load_tokenizer(tmp_path / "mine.json")
    assert tokenizer.name == "mine.json" and tokenizer.kind == "huggingface"
    import hashlib

    assert tokenizer.sha256 == hashlib.sha256((tmp_path / "mine.json").read_bytes()).hexdigest()
    assert tokenizer.eos_id == 0 and tokenizer.bos_id is None
    assert tokenizer.token_dtype is np.uint16


def test_a_hugging_face_folder_takes_its_special_tokens_from_the_config(tmp_path):
    from tokenizers import Tokenizer

    engine = train_bpe(list(SCRIPTS.values()) * 5, 300)
    engine.add_special_tokens(["<s>", "</s>", "<pad>", "<|im_end|>"])
    folder = tmp_path / "hf-tok"
    folder.mkdir()
    engine.save(str(folder / "tokenizer.json"))
    (folder / "tokenizer_config.json").write_text(
        json.dumps({"bos_token": "<s>", "eos_token": {"content": "<|im_end|>"}})
    )
    (folder / "special_tokens_map.json").write_text(json.dumps({"pad_token": "<pad>"}))
    tokenizer = load_tokenizer(folder)
    assert tokenizer.name == "hf-tok"
    assert tokenizer.bos_id == engine.token_to_id("<s>")
    assert tokenizer.eos_id == engine.token_to_id("<|im_end|>")  # the config wins over </s>
    assert tokenizer.pad_id == engine.token_to_id("<pad>")
    assert isinstance(tokenizer.engine, Tokenizer)
    # BOS and EOS both go around every document
    write_jsonl(tmp_path / "in" / "a.jsonl", [{"id": "a", "text": "hello"}])
    assert main(["tokenize", str(tmp_path / "in"), "-o", str(tmp_path / "tok"), "--bos",
                 "--tokenizer", str(folder), "--format", "parquet"]) == 0  # fmt: skip
    import pyarrow.parquet as pq

    (ids,) = pq.read_table(tmp_path / "tok" / "data").column("input_ids").to_pylist()
    assert ids[0] == tokenizer.bos_id and ids[-1] == tokenizer.eos_id
    assert tokenizer.decode(ids[1:-1]) == "hello"
    # a config naming a token the vocabulary lacks is an error, said once
    (folder / "tokenizer_config.json").write_text(json.dumps({"eos_token": "<nope>"}))
    with pytest.raises(TokenizerError, match="eos_token '<nope>'"):
        load_tokenizer(folder)


def test_a_sentencepiece_model_tokenizes_and_round_trips(tmp_path):
    import sentencepiece

    model = io.BytesIO()
    lines = [SCRIPTS[k] for k in ("latin", "arabic", "mixed") for _ in range(30)]
    sentencepiece.SentencePieceTrainer.train(
        sentence_iterator=iter(lines),
        model_writer=model,
        vocab_size=400,
        model_type="bpe",
        byte_fallback=True,
        normalization_rule_name="identity",
        remove_extra_whitespaces=False,
        character_coverage=1.0,
        minloglevel=2,
    )
    (tmp_path / "sp.model").write_bytes(model.getvalue())
    tokenizer = load_tokenizer(tmp_path / "sp.model")
    assert tokenizer.kind == "sentencepiece" and tokenizer.vocab_size == 400
    assert tokenizer.eos_id == 2 and tokenizer.bos_id == 1  # sentencepiece's defaults
    text = SCRIPTS["latin"]
    write_jsonl(tmp_path / "in" / "a.jsonl", [{"id": "a", "text": text}])
    assert main(["tokenize", str(tmp_path / "in"), "-o", str(tmp_path / "tok"), "--bos",
                 "--tokenizer", str(tmp_path / "sp.model")]) == 0  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from megatron.core.datasets.indexed_dataset import IndexedDataset
    # keep the dataset alive while reading: its __del__ unmaps what its arrays point into
    dataset = IndexedDataset(str(tmp_path / "tok" / "tokens"))
    ids = dataset[0].tolist()
    assert ids[0] == 1 and ids[-1] == 2
    assert tokenizer.decode(ids[1:-1]) == text


@pytest.mark.parametrize(
    "content",
    [b"{not json", b'{"model": {"type": "Nonsense"}}', b"\x00\x01binary", b""],
)
def test_a_tokenizer_that_does_not_load_is_one_line_and_exit_2(tmp_path, capsys, content):
    (tmp_path / "bad.json").write_bytes(content)
    write_jsonl(tmp_path / "in" / "a.jsonl", [{"id": "a", "text": "hello"}])
    code = main(["tokenize", str(tmp_path / "in"), "-o", str(tmp_path / "tok"),
                 "--tokenizer", str(tmp_path / "bad.json")])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2
    assert "bad.json: not a loadable tokenizer.json" in err and "Traceback" not in err
    assert not (tmp_path / "tok").exists()  # nothing written before the tokenizer loads


def test_missing_tokenizer_and_bad_model_file(tmp_path, capsys):
    write_jsonl(tmp_path / "in" / "a.jsonl", [{"id": "a", "text": "hello"}])
    assert main(["tokenize", str(tmp_path / "in"), "-o", str(tmp_path / "tok"),
                 "--tokenizer", str(tmp_path / "nope.json")]) == 2  # fmt: skip
    assert "no such tokenizer file or folder" in capsys.readouterr().err
    (tmp_path / "bad.model").write_bytes(b"not a protobuf")
    with pytest.raises(TokenizerError, match="not a loadable SentencePiece model"):
        load_tokenizer(tmp_path / "bad.model")
    (tmp_path / "empty-folder").mkdir()
    with pytest.raises(TokenizerError, match="must hold tokenizer.json"):
        load_tokenizer(tmp_path / "empty-folder")


def test_token_dtype_follows_the_vocabulary_and_refuses_past_2_32():
    assert token_dtype_for(65_536) is np.uint16
    assert token_dtype_for(65_537) is np.uint32
    assert token_dtype_for(1 << 32) is np.uint32
    with pytest.raises(TokenizerError, match="over 2\\*\\*32"):
        token_dtype_for((1 << 32) + 1)


def test_eos_asked_of_a_tokenizer_without_one(tmp_path, capsys):
    from tokenizers import Tokenizer, models, pre_tokenizers

    engine = Tokenizer(models.WordLevel({"a": 0, "b": 1, "[UNK]": 2}, unk_token="[UNK]"))
    engine.pre_tokenizer = pre_tokenizers.Whitespace()
    engine.save(str(tmp_path / "plain.json"))
    write_jsonl(tmp_path / "in" / "a.jsonl", [{"id": "a", "text": "a b"}])
    args = ["tokenize", str(tmp_path / "in"), "-o", str(tmp_path / "tok"),
            "--tokenizer", str(tmp_path / "plain.json")]  # fmt: skip
    assert main(args) == 2
    assert "has no EOS token" in capsys.readouterr().err
    assert main([*args, "--eos-token", "[UNK]"]) == 0
    assert main([*args, "--eos-token", "<missing>", "--overwrite"]) == 2
    assert "no token '<missing>'" in capsys.readouterr().err


def test_tokenizer_train_samples_and_refuses_to_overwrite(tmp_path, capsys):
    write_jsonl(
        tmp_path / "in" / "a.jsonl",
        [{"id": f"d{i}", "text": f"{SCRIPTS['latin']} {i}"} for i in range(200)],
    )
    out = tmp_path / "t.json"
    args = ["tokenizer", "train", str(tmp_path / "in"), "-o", str(out), "--vocab-size", "280"]
    assert main([*args, "--sample-bytes", "3000"]) == 0
    said = capsys.readouterr().out
    used = int(said.split(" documents")[0].rsplit(" ", 1)[1].replace(",", ""))
    assert 0 < used < 200  # a sample, not everything
    assert load_tokenizer(out).vocab_size <= 280
    assert main(args) == 2
    assert "exists; pass --overwrite" in capsys.readouterr().err
    assert main([*args, "--overwrite"]) == 0


def test_verify_still_trains_its_tokenizer_from_here():
    from textmill.train import verify

    assert verify.train_bpe is train_bpe
    assert not (Path(verify.__file__).parent / "tokenizer.py").exists()  # one copy only


def test_the_tiktoken_engine_gives_the_same_ids_and_refuses_other_shapes(tmp_path, monkeypatch):
    texts = [*SCRIPTS.values(), "a literal <|endoftext|> inside", "don't   stop\n\n", ""]
    train_bpe(texts * 10, 400).save(str(tmp_path / "bpe.json"))
    reference = load_tokenizer(tmp_path / "bpe.json")
    fast = load_tokenizer(tmp_path / "bpe.json", engine="tiktoken")
    assert (
        fast.describe()["engine"] == "tiktoken" and reference.describe()["engine"] == "tokenizers"
    )
    assert fast.encode_batch(texts) == reference.encode_batch(texts)
    for threads in ("1", "2"):
        monkeypatch.setenv("RAYON_NUM_THREADS", threads)
        flat, lengths = fast.encode_flat(texts)
        ref_flat, ref_lengths = reference.encode_flat(texts)
        assert flat.tolist() == ref_flat.tolist() and lengths.tolist() == ref_lengths.tolist()
    write_jsonl(
        tmp_path / "in" / "a.jsonl", [{"id": str(i), "text": t} for i, t in enumerate(texts)]
    )
    for engine in ("tokenizers", "tiktoken"):
        args = ["tokenize", str(tmp_path / "in"), "-o", str(tmp_path / engine)]
        assert main([*args, "--tokenizer", str(tmp_path / "bpe.json"), "--engine", engine]) == 0
    bins = [(tmp_path / e / "tokens.bin").read_bytes() for e in ("tokenizers", "tiktoken")]
    assert bins[0] == bins[1]
    # a tokenizer that is not a byte-level BPE is refused, not approximated
    from tokenizers import Tokenizer, models, pre_tokenizers

    engine = Tokenizer(models.WordLevel({"a": 0, "[UNK]": 1}, unk_token="[UNK]"))
    engine.pre_tokenizer = pre_tokenizers.Whitespace()
    engine.save(str(tmp_path / "word.json"))
    with pytest.raises(TokenizerError, match="tiktoken cannot run this tokenizer: its model is"):
        load_tokenizer(tmp_path / "word.json", engine="tiktoken")


def test_tokenizer_train_reads_inputs_under_the_current_folder(tmp_path, monkeypatch):
    """The README's `textmill tokenizer train demo-out/data ...`, run from the folder above."""
    write_jsonl(tmp_path / "demo-out" / "data" / "a.jsonl", [{"id": "a", "text": SCRIPTS["latin"]}])
    monkeypatch.chdir(tmp_path)
    args = ["tokenizer", "train", "demo-out/data", "-o", "tokenizer.json", "--vocab-size", "270"]
    assert main(args) == 0
    assert main(["tokenize", "demo-out/data", "-o", "tok/", "--tokenizer", "tokenizer.json"]) == 0
    assert (tmp_path / "tok" / "tokens.idx").read_bytes()[:9] == b"MMIDIDX\x00\x00"
