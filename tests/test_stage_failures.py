"""Whatever a stage raises on one record (mapper, filter, a global stage's signature and apply
phases; RecursionError and MemoryError too) becomes that record's error naming its file, record
and stage, never the run's, under both executors."""

import json
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from textmill.api import Pipeline
from textmill.pipeline import Decision, Filter, Mapper, register
from textmill.stages.dedup.exact import ExactDedup

TEXTS = {
    "fine-0": "a fine text",
    "fine-1": "another fine text",
    "dup-0": "the same text twice",
    "dup-1": "the same text twice",
    "bang": "mapper fails on this !",
    "recursion": "mapper recurses forever on RECURSE",
    "memory": "mapper runs out of memory on OOM",
    "filter": "filter fails on FILTER",
    "sign": "signatures fail on SIGN",
    "apply": "apply fails on APPLY",
}


def _rows_with(batch: pa.Table, marker: str) -> bool:
    return any(marker in (text or "") for text in batch["text"].to_pylist())


def _recurse(depth: int) -> int:
    return _recurse(depth + 1) + 1


@register("failure_test_mapper")
class FailingMapper(Mapper):
    """Raises ValueError, RecursionError or MemoryError on a batch holding a marked row."""

    def map(self, batch):
        if _rows_with(batch, "!"):
            raise ValueError("cannot handle '!'")
        if _rows_with(batch, "RECURSE"):
            _recurse(0)
        if _rows_with(batch, "OOM"):
            raise MemoryError("out of memory")
        return batch


@register("failure_test_filter")
class FailingFilter(Filter):
    def measure(self, batch):
        if _rows_with(batch, "FILTER"):
            raise KeyError("missing metric")
        return pa.table({"chars": pc.utf8_length(batch["text"])})

    def decide(self, metrics):
        return Decision.keep_all(metrics.num_rows)


@register("failure_test_always")
class AlwaysFailing(Mapper):
    def map(self, batch):
        raise RuntimeError("fails on every row")


@register("failure_test_dedup")
class FailingDedup(ExactDedup):
    """Exact dedup whose map phases fail on marked rows."""

    def signatures(self, batch):
        if _rows_with(batch, "SIGN"):
            raise ValueError("cannot sign")
        return super().signatures(batch)

    def apply(self, batch, decisions):
        if _rows_with(batch, "APPLY"):
            raise ValueError("cannot apply")
        return super().apply(batch, decisions)


STAGES = ["failure_test_mapper", "failure_test_filter", "failure_test_dedup"]
EXPECTED_ERRORS = {
    "bang": ("failure_test_mapper", "ValueError: cannot handle '!'"),
    "recursion": ("failure_test_mapper", "RecursionError"),
    "memory": ("failure_test_mapper", "MemoryError: out of memory"),
    "filter": ("failure_test_filter", "KeyError"),
    "sign": ("failure_test_dedup", "ValueError: cannot sign"),
    "apply": ("failure_test_dedup", "ValueError: cannot apply"),
}


def corpus(folder: Path) -> Path:
    folder.mkdir()
    items = list(TEXTS.items())
    for part in range(2):
        lines = [json.dumps({"id": i, "text": t}) for i, t in items[part::2]]
        (folder / f"part-{part}.jsonl").write_text("\n".join(lines) + "\n")
    return folder


def errors_of(out: Path) -> dict[str, dict]:
    errors = [json.loads(line) for f in (out / "errors").iterdir() for line in f.open()]
    return {error["record"].removeprefix("id "): error for error in errors}


def check_failures(stats: dict, out: Path) -> None:
    assert stats["reconciled"]
    assert (stats["read"], stats["errored"]) == (len(TEXTS), len(EXPECTED_ERRORS))
    assert (stats["kept"], stats["rejected"]) == (3, 1)  # fine-0, fine-1, dup-0; dup-1
    errors = errors_of(out)
    assert set(errors) == set(EXPECTED_ERRORS)
    for record, (stage, message) in EXPECTED_ERRORS.items():
        error = errors[record]
        assert error["stage"] == stage
        assert message in error["message"]
        assert Path(error["file"]).name == f"part-{list(TEXTS).index(record) % 2}.jsonl"


@pytest.mark.parametrize("workers", [1, 2])
def test_every_stage_kind_fails_per_record_under_the_local_executor(tmp_path, workers):
    inputs = corpus(tmp_path / "in")
    out = tmp_path / "out"
    stats = Pipeline(STAGES).run([inputs], out, workers=workers, progress=False, batch_size=4)
    check_failures(stats, out)
    assert sys.getrecursionlimit() < 100_000  # the recursion was real, and bounded


def test_every_stage_kind_fails_per_record_under_the_ray_executor(tmp_path, local_ray):
    inputs = corpus(tmp_path / "in")
    out = tmp_path / "out"
    stats = Pipeline(STAGES).run([inputs], out, executor="ray", progress=False)
    check_failures(stats, out)


def test_a_stage_failing_on_every_row_errors_every_row_and_the_run_finishes(tmp_path):
    inputs = corpus(tmp_path / "in")
    out = tmp_path / "out"
    stats = Pipeline(["failure_test_always"]).run([inputs], out, workers=1, progress=False)
    assert stats["reconciled"]
    assert (stats["read"], stats["kept"], stats["errored"]) == (len(TEXTS), 0, len(TEXTS))
    assert set(errors_of(out)) == set(TEXTS)
    assert (out / "stats.json").exists()
