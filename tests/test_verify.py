"""`textmill verify` on a tiny budget: report structure, determinism, CLI wiring."""

from __future__ import annotations

import argparse
import json
import random
from dataclasses import replace

import numpy as np
import pytest

from textmill.cli.quality import register
from textmill.train.verify import Dataset, compare, options_for_size, parse_dataset, verify

torch = pytest.importorskip("torch")
pytest.importorskip("tokenizers")

WORDS = "the cat sat on a mat while her dog ran to the park and back again".split()  # noqa: SIM905


def write_jsonl(path, texts):
    path.write_text(
        "".join(json.dumps({"id": str(i), "text": t}) + "\n" for i, t in enumerate(texts))
    )
    return str(path)


def prose(seed: int, count: int = 200) -> list[str]:
    rng = random.Random(seed)
    return [" ".join(rng.choice(WORDS) for _ in range(40)) + "." for _ in range(count)]


def noise(seed: int, count: int = 60) -> list[str]:
    rng = random.Random(seed)
    alphabet = "qxzj#@%&0123456789"
    return ["".join(rng.choice(alphabet) for _ in range(200)) for _ in range(count)]


@pytest.fixture()
def files(tmp_path):
    return {
        "clean": write_jsonl(tmp_path / "clean.jsonl", prose(0)),
        "clean_copy": write_jsonl(tmp_path / "clean_copy.jsonl", prose(0)),
        "noise": write_jsonl(tmp_path / "noise.jsonl", noise(1)),
        "reference": write_jsonl(tmp_path / "reference.jsonl", prose(2, count=20)),
    }


TINY = replace(options_for_size("tiny"), threads=1)


def test_identical_datasets_give_identical_losses_and_report_structure(files, tmp_path):
    datasets = [
        Dataset("clean", [files["clean"]]),
        Dataset("copy", [files["clean_copy"]]),
        Dataset("noise", [files["noise"]]),
    ]
    report = verify(datasets, [files["reference"]], tmp_path / "out", TINY)
    saved = json.loads((tmp_path / "out" / "verify.json").read_text())
    assert saved["datasets"] == report["datasets"]
    by_name = {entry["name"]: entry for entry in saved["datasets"]}
    assert set(by_name) == {"clean", "copy", "noise"}
    for entry in saved["datasets"]:
        assert len(entry["losses"]) == len(TINY.seeds) == 2
        assert entry["loss_mean"] == pytest.approx(sum(entry["losses"]) / 2)
        assert entry["loss_std"] >= 0 and entry["losses"][0] != entry["losses"][1]
        assert len(entry["curve"]["steps"]) == len(entry["curve"]["loss_mean"])
    assert by_name["clean"]["losses"] == by_name["copy"]["losses"]
    # the reference is the same kind of text as `clean`: noise must lose, beyond the seed spread
    assert by_name["clean"]["loss_mean"] < by_name["noise"]["loss_mean"]
    noise_row = next(row for row in saved["comparisons"] if row["worse"] == "noise")
    assert noise_row["beyond_seed_spread"] and noise_row["better_in_every_seed"]
    assert saved["tokens_per_dataset"] == TINY.tokens_per_dataset
    assert saved["plot"] is None or (tmp_path / "out" / saved["plot"]).is_file()


def test_same_seed_reproduces_losses_across_runs(files, tmp_path):
    datasets = [Dataset("clean", [files["clean"]]), Dataset("noise", [files["noise"]])]
    options = replace(TINY, seeds=(7,))
    first = verify(datasets, [files["reference"]], tmp_path / "a", options)
    second = verify(datasets, [files["reference"]], tmp_path / "b", options)
    assert [d["losses"] for d in first["datasets"]] == [d["losses"] for d in second["datasets"]]


def test_compare_flags_differences_within_the_seed_spread():
    rows = compare(
        [
            {"name": "a", "loss_mean": 3.0, "loss_std": 0.2, "losses": [2.8, 3.2]},
            {"name": "b", "loss_mean": 3.1, "loss_std": 0.2, "losses": [3.0, 3.2]},
        ]
    )
    assert rows == [
        {
            "better": "a",
            "worse": "b",
            "loss_difference": pytest.approx(0.1),
            "paired_difference_std": pytest.approx(0.14142, rel=1e-3),
            "seed_spread": pytest.approx(0.4),
            "beyond_seed_spread": False,
            "better_in_every_seed": False,
        }
    ]


def test_dataset_argument_takes_a_name_or_the_file_stem():
    assert parse_dataset("raw=a.jsonl,b.jsonl") == Dataset("raw", ["a.jsonl", "b.jsonl"])
    assert parse_dataset("data/web_text.jsonl.gz") == Dataset(
        "web_text", ["data/web_text.jsonl.gz"]
    )


def test_verify_needs_two_datasets(files, tmp_path):
    with pytest.raises(ValueError, match="two or more"):
        verify([Dataset("clean", [files["clean"]])], [files["reference"]], tmp_path, TINY)


def cli(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="textmill")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.handler(args)


def test_cli_verify_and_select_seeds_write_their_reports(files, tmp_path, capsys):
    common = ["--reference", files["reference"], "--size", "tiny", "--seeds", "0", "--threads", "1"]
    assert cli("verify", f"clean={files['clean']}", f"noise={files['noise']}",
               "--out", str(tmp_path / "v"), *common) == 0  # fmt: skip
    assert json.loads((tmp_path / "v" / "verify.json").read_text())["best"] == "clean"
    assert cli("quality", "select-seeds", f"noise={files['noise']}", f"clean={files['clean']}",
               "--out", str(tmp_path / "s"), *common) == 0  # fmt: skip
    selection = json.loads((tmp_path / "s" / "seed_selection.json").read_text())
    assert selection["decision"]["chosen"] == "clean"
    assert [pool["name"] for pool in selection["evidence"]["pools"]] == ["noise", "clean"]
    assert "chosen: clean" in capsys.readouterr().out


def test_cli_reports_a_missing_input_without_a_traceback(tmp_path, capsys):
    code = cli("verify", "a=/nonexistent/a.jsonl", "b=/nonexistent/b.jsonl",
               "--reference", "/nonexistent/r.txt", "--out", str(tmp_path))  # fmt: skip
    assert code == 2
    assert "textmill verify:" in capsys.readouterr().err


def test_in_given_order_takes_the_shuffled_documents_in_their_own_order(tmp_path):
    from textmill.tokens.tokenizer import end_of_text_id, train_bpe
    from textmill.train.verify import _encode_stream, _in_given_order

    texts = [f"doc {i} " + " ".join(WORDS[: 1 + i % 9]) for i in range(40)]
    tokenizer = train_bpe(texts, 300)
    sequence = [int(i) for i in np.random.default_rng(0).permutation(len(texts))]
    budget = 150
    shuffled = _encode_stream(tokenizer, [texts[i] for i in sequence], budget)
    ordered = _in_given_order(tokenizer, texts, sequence, budget)
    assert len(ordered) == len(shuffled) == budget

    def documents(stream):
        pieces = np.split(stream, np.flatnonzero(stream == end_of_text_id(tokenizer)) + 1)
        return [tokenizer.decode(piece.tolist()) for piece in pieces if len(piece)]

    taken = documents(ordered)
    whole = [text for text in taken if text in texts]
    # every whole document is one the shuffled stream takes, and they come in file order
    assert set(whole) <= set(documents(shuffled)) | {texts[sequence[len(whole)]]}
    assert whole == sorted(whole, key=texts.index) and len(whole) >= len(taken) - 1


def test_verify_ordered_trains_on_the_given_order(files, tmp_path, capsys):
    # one dataset, two orders of it: prose then noise, and the same documents shuffled
    rows = prose(3, count=60) + noise(4, count=20)
    path = write_jsonl(tmp_path / "curriculum.jsonl", rows)
    common = ["--reference", files["reference"], "--size", "tiny", "--seeds", "0", "1",
              "--threads", "1", "--tokens", "3000"]  # fmt: skip
    out = tmp_path / "v"
    assert cli("verify", f"given={path}", f"shuffled={path}", "--ordered", "given",
               "--out", str(out), *common) == 0  # fmt: skip
    report = json.loads((out / "verify.json").read_text())
    by_name = {entry["name"]: entry for entry in report["datasets"]}
    assert by_name["given"]["order"] == "given" and by_name["shuffled"]["order"] == "shuffled"
    assert by_name["given"]["losses"] != by_name["shuffled"]["losses"]  # same data, same seeds
    assert cli("verify", f"a={path}", f"b={path}", "--ordered", "c", "--out", str(out),
               *common) == 2  # fmt: skip
    assert "--ordered c" in capsys.readouterr().err
