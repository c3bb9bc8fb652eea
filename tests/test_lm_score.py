"""`textmill lm train` and the `lm_score` stage: a textmill LM and a tiny Hugging Face GPT-2,
band pruning and "informative and hard" selection over the run, out-of-distribution rows,
model folders that do not load."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import reconciled_run, run_global_stage

from textmill.cli import main
from textmill.stages.lm_score import LM_LOSS, LM_OOD, LM_TOKENS, NOISE, OUT_OF_BAND, LmScore
from textmill.train.lm import load_lm, summarize

torch = pytest.importorskip("torch")
pytest.importorskip("tokenizers")

WORDS = "the cat sat on a mat while her dog ran to the park and back again".split()  # noqa: SIM905


def prose(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(words)) + "."


def noise(rng: random.Random, chars: int = 120) -> str:
    return "".join(rng.choice("qxzj#@%&0123456789") for _ in range(chars))


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


@pytest.fixture(scope="module")
def lm_dir(tmp_path_factory) -> Path:
    """A tiny textmill LM trained by the CLI on prose (seconds)."""
    root = tmp_path_factory.mktemp("lm")
    rng = random.Random(0)
    reference = write_jsonl(
        root / "ref.jsonl", [{"id": str(i), "text": prose(rng, 40)} for i in range(300)]
    )
    out = root / "model"
    code = main(["lm", "train", str(reference), "-o", str(out), "--size", "tiny",
                 "--tokens", "12000", "--threads", "1", "--lang", "en"])  # fmt: skip
    assert code == 0
    return out


def test_lm_train_saves_weights_tokenizer_and_config(lm_dir, capsys):
    config = json.loads((lm_dir / "textmill_lm.json").read_text())
    assert (lm_dir / "model.pt").is_file() and (lm_dir / "tokenizer.json").is_file()
    assert config["langs"] == ["en"] and config["model"]["n_layer"] == 1
    assert config["tokens_trained"] > 0 and np.isfinite(config["heldout_loss"])
    # a second train into the same folder is refused without --overwrite
    assert main(["lm", "train", str(lm_dir), "-o", str(lm_dir), "--size", "tiny"]) == 2
    assert "not empty" in capsys.readouterr().err


def test_the_trained_lm_scores_prose_lower_than_noise(lm_dir):
    rng = random.Random(5)
    texts = [prose(rng, 30), noise(rng), "", None, prose(rng, 200)]
    scores = load_lm(lm_dir).score(texts, batch_size=4, max_tokens=64)
    assert scores.tokens[2] == scores.tokens[3] == 0 and np.isnan(scores.mean[2])
    assert scores.tokens[4] == 64  # a long document is cut at max_tokens, in windows of 32
    assert scores.mean[0] < scores.mean[1] and scores.mean[4] < scores.mean[1]
    assert np.all(scores.p90[[0, 1, 4]] >= scores.mean[[0, 1, 4]] - 1e-6)
    # batching does not change a document's loss (padding is never scored)
    one = load_lm(lm_dir).score(texts[:1], batch_size=1, max_tokens=64)
    assert one.mean[0] == pytest.approx(scores.mean[0], abs=1e-4)


def test_summarize_matches_numpy_per_document():
    rng = np.random.default_rng(0)
    owners = rng.integers(0, 4, 50)
    losses = rng.random(50)
    result = summarize(losses, owners, 5)
    for doc in range(4):
        mine = losses[owners == doc]
        assert result.mean[doc] == pytest.approx(mine.mean())
        assert result.p90[doc] == pytest.approx(np.quantile(mine, 0.9))
    assert result.tokens[4] == 0 and np.isnan(result.mean[4]) and np.isnan(result.p90[4])


def tiny_hf_model(folder: Path) -> Path:
    """A 2-layer GPT-2 with a tiny BPE, saved the way any Hugging Face model is."""
    from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

    from textmill.tokens.tokenizer import END_OF_TEXT, train_bpe

    rng = random.Random(1)
    bpe = train_bpe([prose(rng, 40) for _ in range(100)], 300)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=bpe, bos_token=END_OF_TEXT, eos_token=END_OF_TEXT
    )
    torch.manual_seed(0)
    config = GPT2Config(
        vocab_size=bpe.get_vocab_size(), n_positions=16, n_embd=32, n_layer=2, n_head=2,
        bos_token_id=0, eos_token_id=0,
    )  # fmt: skip
    GPT2LMHeadModel(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def test_a_hugging_face_causal_lm_scores_like_its_own_loss(tmp_path):
    folder = tiny_hf_model(tmp_path / "hf")
    rng = random.Random(2)
    texts = [prose(rng, 5), prose(rng, 40)]
    model = load_lm(folder)
    assert model.context == 16 and model.langs is None
    scores = model.score(texts, batch_size=2, max_tokens=200)
    # the first window's loss equals transformers' own (labels=input_ids) loss
    from transformers import AutoModelForCausalLM

    reference = AutoModelForCausalLM.from_pretrained(folder)
    ids = torch.tensor([[0, *model.tokenizer(texts[0])["input_ids"]]])
    assert ids.shape[1] <= 17
    with torch.no_grad():
        expected = float(reference(input_ids=ids, labels=ids).loss)
    assert scores.mean[0] == pytest.approx(expected, abs=1e-4)
    assert scores.tokens[1] > 16  # longer than the context: several windows


def test_lm_score_stage_with_a_hugging_face_model_and_languages(tmp_path):
    folder = tiny_hf_model(tmp_path / "hf")
    rng = random.Random(3)
    table = pa.table(
        {"id": ["a", "b", "c"], "text": [prose(rng, 10), prose(rng, 10), ""],
         "lang": ["en", "fr", None]}
    )  # fmt: skip
    stage = LmScore(model_path=str(folder), langs=["en"], batch_size=2)
    stage.setup()
    out, _, _ = run_global_stage(stage, [table], tmp_path / "work")
    assert out[LM_OOD].to_pylist() == [False, True, None]
    assert out[LM_TOKENS].to_pylist()[2] == 0 and out[LM_LOSS].to_pylist()[2] is None


def judged(stage: LmScore, losses, quality=None, ood=None) -> list:
    losses = np.asarray(losses, dtype=np.float64)
    ood = np.zeros(len(losses), bool) if ood is None else np.asarray(ood)
    return list(stage.reasons(losses, ood, None if quality is None else np.asarray(quality)))


def test_band_pruning_keeps_the_low_middle_or_high_fraction_of_the_run():
    losses = [float(x) for x in range(10)] + [np.nan]  # one unscored document: never dropped
    model = "unused"
    low = judged(LmScore(model_path=model, keep="low", fraction=0.3), losses)
    assert [i for i, r in enumerate(low) if r is None] == [0, 1, 2, 10]
    middle = judged(LmScore(model_path=model, keep="middle", fraction=0.4), losses)
    assert [i for i, r in enumerate(middle) if r is None] == [3, 4, 5, 6, 10]
    high = judged(LmScore(model_path=model, keep="high", fraction=0.2), losses)
    assert [i for i, r in enumerate(high) if r is None] == [8, 9, 10]
    assert set(high) == {None, OUT_OF_BAND}
    # out-of-distribution rows are left out of the cut, kept or dropped as asked
    ood = [False] * 9 + [True, False]
    kept = judged(LmScore(model_path=model, keep="high", fraction=0.2), losses, ood=ood)
    assert [i for i, r in enumerate(kept) if r is None] == [7, 8, 9, 10]
    dropped = judged(LmScore(model_path=model, keep="high", fraction=0.2, ood="drop"), losses,
                     ood=ood)  # fmt: skip
    assert dropped[9] == "lm_out_of_distribution"


def test_hard_selection_drops_what_the_quality_classifier_calls_junk():
    losses = [float(x) for x in range(10)]
    quality = [0.9] * 8 + [0.1, 0.2]  # the two hardest documents are junk to the classifier
    stage = LmScore(model_path="unused", keep="hard", fraction=0.25)
    reasons = judged(stage, losses, quality)
    assert [i for i, r in enumerate(reasons) if r is None] == [6, 7]  # 0.25 × 8 candidates
    assert reasons[8] == reasons[9] == NOISE
    # without a quality_score column the top noise_tail of losses is the junk
    reasons = judged(LmScore(model_path="unused", keep="hard", fraction=0.2, noise_tail=0.1),
                     losses)  # fmt: skip
    assert reasons[9] == NOISE and [i for i, r in enumerate(reasons) if r is None] == [7, 8]


def test_lm_score_in_a_run_cuts_over_the_whole_run_whatever_the_batching(lm_dir, tmp_path):
    rng = random.Random(4)
    rows = [{"id": str(i), "text": noise(rng) if i % 4 == 0 else prose(rng, 20 + i)}
            for i in range(40)]  # fmt: skip
    source = write_jsonl(tmp_path / "pool.jsonl", rows)
    kept_ids = []
    for batch_size in (7, 100):
        out = tmp_path / f"run{batch_size}"
        stage = ("lm_score", {"model_path": str(lm_dir), "keep": "low", "fraction": 0.5})
        stats, _ = reconciled_run([stage], [source], out, batch_size=batch_size)
        kept = pq.read_table(sorted((out / "data").glob("*.parquet")))
        assert stats["kept"] == kept.num_rows == 20
        kept_ids.append(sorted(kept["id"].to_pylist()))
        # the noise documents are all in the high-loss half that low-band pruning drops
        assert not {str(i) for i in range(0, 40, 4)} & set(kept_ids[-1])
    assert kept_ids[0] == kept_ids[1]


@pytest.mark.parametrize("make", ["missing", "empty", "broken_textmill", "broken_hf"])
def test_a_model_folder_that_does_not_load_is_exit_2(tmp_path, make, capsys):
    folder = tmp_path / "model"
    if make != "missing":
        folder.mkdir()
    if make == "broken_textmill":
        (folder / "textmill_lm.json").write_text("{not json")
    if make == "broken_hf":
        (folder / "config.json").write_text(json.dumps({"model_type": "gpt2"}))
    pipeline = tmp_path / "p.yaml"
    pipeline.write_text(f"stages:\n  - lm_score: {{model_path: {json.dumps(str(folder))}}}\n")
    source = write_jsonl(tmp_path / "in.jsonl", [{"id": "1", "text": "hello"}])
    code = main(["run", str(pipeline), str(source), "-o", str(tmp_path / "out"), "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2
    assert str(folder) in err and len(err.strip().splitlines()) == 1


def test_a_second_selection_reuses_the_scores_of_a_scored_run(lm_dir, tmp_path, monkeypatch):
    rng = random.Random(6)
    rows = [{"id": str(i), "text": prose(rng, 5 + i)} for i in range(12)]
    source = write_jsonl(tmp_path / "pool.jsonl", rows)
    scored = tmp_path / "scored"
    reconciled_run([("lm_score", {"model_path": str(lm_dir)})], [source], scored)
    direct = tmp_path / "direct"
    select = {"model_path": str(lm_dir), "keep": "middle", "fraction": 0.5}
    reconciled_run([("lm_score", select)], [source], direct)

    def no_model_call(self, batch):
        raise AssertionError("scored again")

    monkeypatch.setattr(LmScore, "measure", no_model_call)
    again = tmp_path / "again"
    reconciled_run([("lm_score", {**select, "reuse_scores": True})], [scored / "data"], again)
    ids = [pq.read_table(sorted((d / "data").glob("*.parquet")))["id"].to_pylist()
           for d in (direct, again)]  # fmt: skip
    assert sorted(ids[0]) == sorted(ids[1]) and len(ids[0]) == 6


def test_the_python_api_scores_texts_like_the_stage(lm_dir, tmp_path):
    import textmill

    rng = random.Random(7)
    texts = [prose(rng, 12), noise(rng), ""]
    table = textmill.lm_scores(texts, lm_dir, batch_size=2)
    stage = LmScore(model_path=str(lm_dir), batch_size=2)
    measured = stage.measure(pa.table({"text": texts}))
    assert table[LM_LOSS].to_pylist() == measured[LM_LOSS].to_pylist()
    assert table[LM_TOKENS].to_pylist()[2] == 0


def test_textmill_stages_describes_lm_score_and_readability(capsys):
    assert main(["stages", "lm_score"]) == 0 and main(["stages", "readability"]) == 0
    out = capsys.readouterr().out
    assert "lm_loss_p90" in out and "keep = None" in out and "readability_grade" in out


def test_textmill_stages_marks_a_required_option(capsys):
    assert main(["stages", "lm_score"]) == 0 and main(["stages", "topic"]) == 0
    out = capsys.readouterr().out
    assert "model_path (required)" in out and "PydanticUndefined" not in out


def test_a_non_empty_model_folder_is_refused_in_plain_words(tmp_path, capsys):
    (tmp_path / "slm").mkdir()
    (tmp_path / "slm" / "notes.txt").write_text("mine")
    (tmp_path / "ref.txt").write_text("one text\n")
    assert main(["lm", "train", str(tmp_path / "ref.txt"), "-o", str(tmp_path / "slm")]) == 2
    err = capsys.readouterr().err.strip()
    folder = tmp_path / "slm"
    assert err == f"textmill lm: {folder}: exists and is not empty; pass --overwrite to replace it"


def test_a_device_torch_cannot_use_is_a_one_line_error(tmp_path, lm_dir, capsys, monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)  # as on a CPU-only build
    data = tmp_path / "in.jsonl"
    data.write_text('{"id": "a", "text": "some words to score"}\n')
    pipeline = tmp_path / "p.yaml"
    pipeline.write_text(f"stages:\n  - lm_score: {{model_path: {lm_dir}, device: cuda}}\n")
    code = main(["run", str(pipeline), str(data), "-o", str(tmp_path / "out"), "--workers", "1"])
    err = capsys.readouterr().err
    assert code == 2, err
    assert "device cuda: this torch has no CUDA device" in err and "Traceback" not in err
    ref = tmp_path / "ref.jsonl"
    ref.write_text('{"text": "one text here"}\n{"text": "another text there"}\n')
    args = ["lm", "train", str(ref), "-o", str(tmp_path / "slm"), "--device", "gpu0"]
    assert main(args) == 2
    assert "device gpu0:" in capsys.readouterr().err
