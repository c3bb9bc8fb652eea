"""The local executor end to end on JSONL inputs: accounting, dedup, resume, determinism."""

import json
import multiprocessing
import os
import signal
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from textmill.api import Pipeline
from textmill.executors.local import RunError
from textmill.pipeline import Decision, Filter, Mapper, StageOptions, register


@register("test_short_text")
class ShortText(Filter):
    """Drops texts under min_chars (test stage)."""

    class Options(StageOptions):
        min_chars: int = 18

    def measure(self, batch):
        return pa.table({"chars": pc.utf8_length(batch["text"])})

    def decide(self, metrics):
        return Decision.first_failing(
            ("too_short", pc.less(metrics["chars"], self.options.min_chars))
        )


@register("test_explode_on_bang")
class ExplodeOnBang(Mapper):
    """Raises on a batch containing '!' (test stage for failure isolation)."""

    def map(self, batch):
        if any("!" in (t or "") for t in batch["text"].to_pylist()):
            raise ValueError("cannot handle '!'")
        return batch


@register("test_slow")
class Slow(Mapper):
    """Sleeps per batch so a test can kill the run mid-way."""

    class Options(StageOptions):
        seconds: float = 0.3

    def map(self, batch):
        time.sleep(self.options.seconds)
        return batch


def kept_ids(out: Path) -> list[str]:
    return sorted(pq.read_table(out / "data")["id"].to_pylist())


def test_counts_reconcile_and_duplicates_go_to_rejects(jsonl_corpus, tmp_path):
    out = tmp_path / "out"
    stats = Pipeline(["test_short_text", "exact_dedup"]).run(
        [jsonl_corpus], out, workers=2, progress=False
    )
    assert stats["read"] == 100
    assert stats["read"] == stats["kept"] + stats["rejected"] + stats["errored"]
    assert stats["reconciled"] is True
    # "document number N" has 18 chars for N = 10 and 17 below: only value 10 survives,
    # and its copies collapse to one
    copies_of_10 = sum((shard * 7 + i) % 11 == 10 for shard in range(4) for i in range(25))
    assert stats["kept"] == 1
    assert stats["stages"][0]["reasons"] == {"too_short": 100 - copies_of_10}
    assert stats["stages"][1]["dropped"] == copies_of_10 - 1
    rejects = pq.read_table(out / "rejects")
    assert rejects.num_rows == 99
    reasons = set(pc.unique(rejects["reject_reason"]).to_pylist())
    assert "test_short_text:too_short" in reasons
    assert any(r.startswith("exact_dedup:duplicate_of=") for r in reasons)
    on_disk = json.loads((out / "stats.json").read_text())
    assert on_disk["kept"] == stats["kept"]


def test_same_kept_ids_whatever_the_worker_count(jsonl_corpus, tmp_path):
    one = tmp_path / "one"
    two = tmp_path / "two"
    pipeline = Pipeline([("test_short_text", {"min_chars": 5}), "exact_dedup"])
    pipeline.run([jsonl_corpus], one, workers=1, progress=False, batch_size=7)
    pipeline.run([jsonl_corpus], two, workers=2, progress=False, batch_size=10)
    assert kept_ids(one) == kept_ids(two)
    assert len(kept_ids(one)) == 11  # one per distinct text, the smallest id
    assert "s0-0" in kept_ids(one)


def test_a_failing_stage_errors_only_the_rows_that_fail(jsonl_corpus, tmp_path):
    (jsonl_corpus / "part-0.jsonl").write_text(
        "\n".join(
            json.dumps({"id": f"x{i}", "text": "fine" if i != 3 else "bad!"}) for i in range(8)
        )
        + "\n"
    )
    out = tmp_path / "out"
    stats = Pipeline(["test_explode_on_bang"]).run([jsonl_corpus], out, workers=1, progress=False)
    assert stats["errored"] == 1
    assert stats["read"] == 83
    assert stats["kept"] == 82
    assert stats["reconciled"]
    errors = [json.loads(line) for f in (out / "errors").iterdir() for line in f.open()]
    assert errors[0]["record"] == "id x3"
    assert errors[0]["stage"] == "test_explode_on_bang"
    assert "cannot handle '!'" in errors[0]["message"]


def test_rerun_of_a_finished_run_changes_nothing(jsonl_corpus, tmp_path):
    out = tmp_path / "out"
    pipeline = Pipeline(["exact_dedup"])
    first = pipeline.run([jsonl_corpus], out, workers=2, progress=False)
    second = pipeline.run([jsonl_corpus], out, workers=1, progress=False)
    for key in ("read", "kept", "rejected", "errored"):
        assert first[key] == second[key]


def test_another_pipeline_into_the_same_output_needs_overwrite(jsonl_corpus, tmp_path):
    out = tmp_path / "out"
    Pipeline(["exact_dedup"]).run([jsonl_corpus], out, progress=False)
    with pytest.raises(RunError, match="--overwrite"):
        Pipeline(["test_short_text"]).run([jsonl_corpus], out, progress=False)
    stats = Pipeline(["test_short_text"]).run([jsonl_corpus], out, progress=False, overwrite=True)
    assert stats["stages"][0]["name"] == "test_short_text"


def _run_in_child(inputs, out, workers, new_session=False):
    if new_session:
        os.setsid()  # so the kill takes the pool workers too, as a killed job would
    Pipeline([("test_slow", {"seconds": 0.15}), "exact_dedup"]).run(
        [inputs], out, workers=workers, progress=False, batch_size=5
    )


def test_killed_run_resumes_with_identical_output_and_nothing_twice(jsonl_corpus, tmp_path):
    reference = tmp_path / "reference"
    _run_in_child(jsonl_corpus, reference, 1)

    out = tmp_path / "out"
    child = multiprocessing.get_context("fork").Process(
        target=_run_in_child, args=(jsonl_corpus, out, 2, True)
    )
    child.start()
    done = out / ".textmill" / "done" / "s0"
    deadline = time.time() + 60
    while time.time() < deadline and not (done.exists() and len(os.listdir(done)) >= 1):
        time.sleep(0.02)
    os.killpg(child.pid, signal.SIGKILL)
    child.join()
    finished_before = len(os.listdir(done))
    assert 1 <= finished_before < 4, "the kill must land mid-way for this test to mean anything"

    stats = Pipeline([("test_slow", {"seconds": 0.15}), "exact_dedup"]).run(
        [jsonl_corpus], out, workers=1, progress=False, batch_size=5
    )
    assert stats["read"] == 100 and stats["reconciled"]
    assert kept_ids(out) == kept_ids(reference)
    rejects = pq.read_table(out / "rejects")
    assert rejects.num_rows == len(set(rejects["id"].to_pylist())) == 100 - len(kept_ids(out))
    assert not list(out.rglob(".*.tmp"))
