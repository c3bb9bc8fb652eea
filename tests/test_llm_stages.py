"""llm_rewrite and llm_score end to end: `textmill run` against a real OpenAI-protocol server on
127.0.0.1; failures become errored rows with the endpoint's message, invalid rewrites keep the
original and are counted, the dry run sends nothing, and a killed run resumes without
re-sending an answered request."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from conftest import reconciled_run, write_jsonl
from openai_server import FakeOpenAI

from textmill import Pipeline
from textmill.cli import main

PYTHON_ROWS = [
    {"id": f"py{i}", "text": f"def f{i}(x):\n  return x+{i}\n", "lang": "Python"} for i in range(6)
]
CODE_ROWS = [
    *PYTHON_ROWS,
    {"id": "js", "text": "function a() { return 1 }", "lang": "JavaScript"},
    {"id": "lower", "text": "def g(x):\n  return x\n", "lang": "python"},  # any case
    {"id": "bad", "text": "[[badpython]] x = 1\n", "lang": "Python"},
    {"id": "cut", "text": "[[truncate]] x = 1\n", "lang": "Python"},
    {"id": "down", "text": "[[500:99]] x = 1\n", "lang": "Python"},
    {"id": "junk", "text": "[[junk]] x = 1\n", "lang": "Python"},
]
FAST = {"max_retries": 2, "backoff_initial_s": 0.01, "model": "m"}


def code_stages(url: str) -> list:
    rewrite = {"languages": ["Python"], "extract": "code_block", "validators": ["python"]}
    return [
        ("llm_rewrite", rewrite | {"prompt": "swallowcode_sgcr", "status_column": "sgcr_status"}),
        ("llm_rewrite", rewrite | {"prompt": "swallowcode_scor", "status_column": "scor_status"}),
    ] | _endpoint(url)


def _endpoint(url: str):
    class With:
        def __ror__(self, stages):
            return [(n, o | {"llm": FAST | {"base_url": url}}) for n, o in stages]

    return With()


def kept(out: Path) -> dict[str, dict]:
    rows = pq.read_table(sorted((out / "data").glob("*.parquet"))).to_pylist()
    return {row["id"]: row for row in rows}


def test_swallowcode_rewrites_validate_and_count(tmp_path: Path):
    inputs = write_jsonl(tmp_path / "in" / "code.jsonl", CODE_ROWS)
    with FakeOpenAI() as fake:
        stages = code_stages(fake.base_url)
        stats = Pipeline(stages).run(inputs, tmp_path / "out", progress=False, workers=1)
    files = (tmp_path / "out" / "errors").glob("*.jsonl")
    errors = [json.loads(line) for path in files for line in path.read_text().splitlines()]
    assert stats["reconciled"] and stats["read"] == stats["kept"] + stats["errored"]
    rows = kept(tmp_path / "out")
    assert sorted(e["record"] for e in errors) == ["id down", "id junk"]
    assert any("HTTP 500: Error code: 500 - scripted 500" in e["message"] for e in errors)
    assert any("malformed response (not JSON" in e["message"] for e in errors)
    assert rows["py0"]["text"].startswith("def rewritten_") and "```" not in rows["py0"]["text"]
    assert rows["py0"]["text_original"] == PYTHON_ROWS[0]["text"]  # the code before SGCR
    assert rows["bad"]["text"] == "[[badpython]] x = 1\n"  # a rewrite must compile
    assert rows["bad"]["sgcr_status"] == "invalid_python"
    assert rows["cut"]["sgcr_status"] == "invalid_truncated"
    assert rows["js"]["sgcr_status"] == "skipped" and rows["js"]["text"] == CODE_ROWS[6]["text"]
    sgcr, scor = stats["stages"]
    assert sgcr["errored"] == 2 and stats["errored"] == 2 and stats["kept"] == 10
    assert sgcr["counters"]["rewritten"] == 7 and sgcr["counters"]["invalid_python"] == 1
    assert sgcr["counters"]["requests_sent"] == 9  # the failed two are not answers
    assert scor["counters"]["rewritten"] == 7 and scor["counters"]["invalid_python"] == 1
    assert fake.attempts["[[500:99]] x = 1"] == 0  # the marker sits inside the code prompt
    assert max(fake.answered.values()) == 1  # bisection re-sent nothing


def test_llm_score_column_unparsable_and_budget(tmp_path: Path):
    texts = ["A lesson on fractions.", "[[noscore]] ads", "Photosynthesis explained.", "more"]
    records = [{"id": str(i), "text": text} for i, text in enumerate(texts)]
    inputs = write_jsonl(tmp_path / "in.jsonl", records)
    with FakeOpenAI() as fake:
        endpoint = {"llm": FAST | {"base_url": fake.base_url, "concurrency": 1}}
        stages = [("llm_score", endpoint | {"max_requests": 3})]
        stats, _ = reconciled_run(stages, inputs, tmp_path / "out", workers=1)
    rows = kept(tmp_path / "out")
    statuses = [rows[str(i)]["llm_score_status"] for i in range(4)]
    assert statuses == ["scored", "unparsable", "scored", "budget_exhausted"]
    assert 0 <= rows["0"]["llm_score"] <= 5 and rows["1"]["llm_score"] is None
    counters = stats["stages"][0]["counters"]
    assert counters["unparsable"] == 1 and counters["budget_exhausted"] == 1
    assert fake.total_answered == 3


def test_dry_run_prints_cost_and_sends_nothing(tmp_path: Path, capsys):
    inputs = write_jsonl(tmp_path / "in.jsonl", PYTHON_ROWS)
    pipeline = tmp_path / "p.yaml"
    pipeline.write_text(
        "stages:\n  - llm_rewrite: {prompt: swallowmath}\n  - llm_score: {}\nllm:\n  model: m\n"
    )
    with FakeOpenAI() as fake:
        args = [str(pipeline), str(inputs), "-o", str(tmp_path / "out"), "--no-progress"]
        assert main(["run", *args, "--dry-run", "--llm-base-url", fake.base_url, "-w", "1"]) == 0
        assert fake.total_answered == 0 and not (tmp_path / "out").exists()
        lines = capsys.readouterr().out.splitlines()
        assert lines[1].split()[:5] == ["llm_rewrite", "m", "6", "6", "0"]
        assert lines[-1].startswith("total: 12 requests, ~")


def test_killed_run_resumes_without_resending_answers(tmp_path: Path):
    rows = [{"id": str(i), "text": f"paragraph {i} [[slow:0.05]]"} for i in range(60)]
    inputs = write_jsonl(tmp_path / "in.jsonl", rows)
    pipeline = tmp_path / "p.yaml"
    pipeline.write_text(
        "stages:\n  - llm_rewrite: {prompt: nemotron_distill}\nllm: {model: m, concurrency: 4}\n"
    )
    out = tmp_path / "out"
    with FakeOpenAI() as fake:
        args = [str(pipeline), str(inputs), "-o", str(out), "--llm-base-url", fake.base_url]
        args += ["--no-progress", "-w", "1"]
        process = subprocess.Popen(
            [sys.executable, "-m", "textmill", "run", *args],
            env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + 30
        while fake.total_answered < 20 and time.monotonic() < deadline:
            time.sleep(0.01)
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        time.sleep(0.2)  # let the server finish answering what was in flight
        answered_before = fake.total_answered
        assert 20 <= answered_before < 60
        assert main(["run", *args]) == 0  # resumed in this process
    stats = json.loads((out / "stats.json").read_text())
    assert stats["kept"] == 60 and stats["reconciled"]
    counters = stats["stages"][0]["counters"]
    # the resumed run sent only what the killed one had no answer for: at most the requests
    # in flight when it died (4) were answered by the server but never received
    assert counters["cache_hits"] + counters["requests_sent"] == 60
    assert fake.total_answered == answered_before + counters["requests_sent"]
    assert counters["cache_hits"] >= answered_before - 4
    assert sum(1 for n in fake.answered.values() if n > 1) <= 4


def test_endpoint_from_file_stage_and_flags():
    from textmill.config import PipelineConfigError, parse_pipeline

    text = (
        "stages:\n  - llm_score: {}\n  - llm_rewrite: {llm: {model: own}}\n  - exact_dedup: {}\n"
        "llm: {base_url: 'http://file/v1', model: file-model}\n"
    )
    specs = parse_pipeline(text, "p.yaml")
    assert specs[0].options["llm"] == {"base_url": "http://file/v1", "model": "file-model"}
    assert specs[1].options["llm"] == {"base_url": "http://file/v1", "model": "own"}
    assert "llm" not in specs[2].options
    flagged = Pipeline.from_yaml_text(text).with_endpoint("http://flag/v1", None)
    assert [s.options.get("llm", {}).get("base_url") for s in flagged.specs] == [
        "http://flag/v1",
        "http://flag/v1",
        None,
    ]
    with pytest.raises(PipelineConfigError, match="'llm.modle'. Did you mean 'model'"):
        parse_pipeline("stages: [llm_score]\nllm: {modle: x}\n", "p.yaml")
    with pytest.raises(PipelineConfigError, match="unknown prompt 'nope'"):
        Pipeline([("llm_rewrite", {"prompt": "nope"})])


def test_swallowmath_preset_end_to_end(tmp_path: Path):
    solution = "We factor $n^2-11n+24$ as $(n-3)(n-8)$, so $3 \\le n \\le 8$: $\\boxed{8}$."
    records = [
        {"id": "a", "text": solution},
        {"id": "dup", "text": solution},  # exact dedup runs first: no request paid twice
        {"id": "b", "text": "Posted by anon, 2014. Q: what is $2+2$? A: $4$. Share this!"},
    ]
    inputs = write_jsonl(tmp_path / "math.jsonl", records)
    with FakeOpenAI() as fake:
        pipeline = Pipeline.from_preset("swallowmath").with_endpoint(fake.base_url, "m")
        assert pipeline.dry_run(inputs, tmp_path / "out", workers=1)[0]["requests"] == 2
        assert fake.total_answered == 0
        stages = [(spec.name, spec.options) for spec in pipeline.specs]
        stats, _ = reconciled_run(stages, inputs, tmp_path / "out", workers=1)
    rows = kept(tmp_path / "out")
    assert sorted(rows) == ["a", "b"] and fake.total_answered == 2
    assert rows["a"]["text"].startswith("REWRITTEN ") and rows["a"]["text_original"] == solution
    assert stats["stages"][2]["counters"]["rewritten"] == 2
    assert "restore missing context" in next(iter(fake.attempts)).lower()


def test_an_endpoint_that_cannot_work_is_refused_before_the_run(tmp_path: Path, capsys):
    """No model, or a base URL that is no http(s) URL, could only fail row by row after every
    retry: one line, exit code 2, nothing written."""
    inputs = write_jsonl(tmp_path / "in.jsonl", PYTHON_ROWS[:1])
    pipeline = tmp_path / "p.yaml"
    pipeline.write_text("stages:\n  - llm_rewrite: {prompt: rephrase}\n")
    args = ["run", str(pipeline), str(inputs), "-o", str(tmp_path / "out"), "--no-progress"]
    assert main([*args, "--llm-base-url", "http://127.0.0.1:9/v1"]) == 2
    assert "line 2): no model: give --llm-model" in capsys.readouterr().err
    assert main([*args, "--llm-base-url", "localhost:8000/v1", "--llm-model", "m"]) == 2
    assert "'localhost:8000/v1' is not an http(s) URL" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
    with pytest.raises(ValueError, match="no model"):
        Pipeline([("llm_score", {})]).run(inputs, tmp_path / "out")


def test_dry_run_says_when_records_error_before_the_llm(tmp_path: Path, capsys):
    """A wrong text field errors every record: the dry run must say so, not just cost 0."""
    inputs = write_jsonl(tmp_path / "math.jsonl", [{"id": "a", "solution": "x = 2"}])
    args = ["run", "--preset", "swallowmath", str(inputs), "-o", str(tmp_path / "out")]
    assert main([*args, "--dry-run", "--llm-model", "m", "--no-progress"]) == 0
    note = capsys.readouterr().out.splitlines()[-1]
    assert note.startswith("note: 1 of 1 records errored") and "missing field 'text'" in note
    assert main([*args, "--dry-run", "--llm-model", "m", "--text-field", "solution"]) == 0
    assert "note:" not in capsys.readouterr().out


def test_dry_run_after_a_run_counts_chained_rewrites_as_cached(tmp_path: Path):
    """SCOR's prompts hold SGCR's rewrites: the dry run must apply SGCR's cached answers, or it
    prices SCOR on the original code and asks to pay again for a finished run."""
    inputs = write_jsonl(tmp_path / "in.jsonl", PYTHON_ROWS)
    with FakeOpenAI() as fake:
        pipeline = Pipeline(code_stages(fake.base_url))
        pipeline.run(inputs, tmp_path / "out", progress=False, workers=1)
        answered = fake.total_answered
        costs = pipeline.dry_run(inputs, tmp_path / "out", workers=1)
    assert answered == 12 and fake.total_answered == 12
    assert [(c["requests"], c["cached"]) for c in costs] == [(0, 6), (0, 6)]


def test_a_down_endpoint_stops_the_run_with_one_error_line(tmp_path: Path, capsys):
    """Nothing listens on the port: after `max_failed_batches` batches without an answer the run
    stops (exit 2, one line naming the endpoint) instead of erroring the whole corpus."""
    rows = [{"id": f"d{i}", "text": f"document number {i}"} for i in range(6)]
    inputs = write_jsonl(tmp_path / "in.jsonl", rows)
    pipeline = tmp_path / "p.yaml"
    pipeline.write_text(
        "stages:\n  - llm_score: {}\n"
        "llm: {model: m, max_retries: 0, max_failed_batches: 2, timeout_s: 2}\n"
    )
    args = ["run", str(pipeline), str(inputs), "-o", str(tmp_path / "out"), "--no-progress"]
    args += ["--llm-base-url", "http://127.0.0.1:9/v1", "-w", "1", "--batch-size", "2"]
    assert main(args) == 2
    err = [line for line in capsys.readouterr().err.splitlines() if "error" in line.lower()]
    errors = [line for line in err if line.startswith("textmill: error:")]
    assert len(errors) == 1 and "127.0.0.1:9/v1 answered no request of the last 2" in errors[0]
    assert not (tmp_path / "out" / "stats.json").exists()  # stopped, not finished with errors


def test_no_progress_silences_the_llm_progress_lines(tmp_path: Path, capfd):
    inputs = write_jsonl(tmp_path / "in.jsonl", PYTHON_ROWS[:2])
    pipeline = tmp_path / "p.yaml"
    pipeline.write_text("stages:\n  - llm_score: {}\nllm: {model: m}\n")
    with FakeOpenAI() as fake:
        args = ["run", str(pipeline), str(inputs), "--llm-base-url", fake.base_url, "-w", "1"]
        assert main([*args, "-o", str(tmp_path / "quiet"), "--no-progress"]) == 0
        assert "answered (" not in capfd.readouterr().err
        assert main([*args, "-o", str(tmp_path / "loud")]) == 0
        assert "llm_score [pid " in capfd.readouterr().err
