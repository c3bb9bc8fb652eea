import json
import os
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from textmill.document import assign_keys


def write_jsonl(path: Path, records) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as out:
        for record in records:
            out.write((record if isinstance(record, str) else json.dumps(record)) + "\n")
    return path


@pytest.fixture
def jsonl_corpus(tmp_path: Path) -> Path:
    """Four small JSONL shards with exact duplicates across shards."""
    folder = tmp_path / "in"
    for shard in range(4):
        write_jsonl(
            folder / f"part-{shard}.jsonl",
            [
                {"id": f"s{shard}-{i}", "text": f"document number {(shard * 7 + i) % 11}"}
                for i in range(25)
            ],
        )
    return folder


def reconciled_run(stages: list, inputs, out: Path, **settings) -> tuple[dict, list[dict]]:
    """A real run: its counts reconcile, and `errored` adds up what each error loses (one when
    unknown). Returns stats and the errors/*.jsonl records."""
    from textmill import Pipeline

    stats = Pipeline(stages).run(inputs, out, progress=False, **settings)
    errors = [
        json.loads(line)
        for path in sorted((out / "errors").glob("*.jsonl"))
        for line in path.read_text("utf-8").splitlines()
    ]
    assert stats["reconciled"]
    assert stats["read"] == stats["kept"] + stats["rejected"] + stats["errored"]
    assert stats["errored"] == sum(1 if e["records"] is None else e["records"] for e in errors)
    return stats, errors


def run_global_stage(stage, shards: list[pa.Table], workdir: Path):
    """Map each shard to a signature file, reduce, apply — what an executor does, in one
    process, with the executor's `doc_key` (shard k, ordinal) given to each shard's rows.
    Returns (batch after apply, decision, decision table)."""
    shards = [assign_keys(shard, k, 0) for k, shard in enumerate(shards)]
    files = []
    for k, shard in enumerate(shards):
        path = workdir / "signatures" / f"shard-{k}.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(stage.signatures(shard), path)
        files.append(path)
    decisions = stage.reduce(files, workdir / "reduce")
    batch, decision = stage.apply(pa.concat_tables(shards), decisions)
    return batch, decision, decisions


@pytest.fixture(scope="module")
def local_ray():
    """A small local Ray for one test module (2 CPUs, a custom resource the resource tests
    ask for); workers import textmill from this checkout."""
    ray = pytest.importorskip("ray")
    stall = os.environ.get("TEXTMILL_RAY_STALL_S")
    os.environ["TEXTMILL_RAY_STALL_S"] = "180"  # a stuck reduce fails the test, never hangs CI
    ray.init(
        num_cpus=2,
        object_store_memory=80 * 1024**2,
        include_dashboard=False,
        log_to_driver=False,
        resources={"textmill_test": 1},
        runtime_env={"env_vars": {"PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}},
    )
    yield
    ray.shutdown()
    if stall is None:
        os.environ.pop("TEXTMILL_RAY_STALL_S", None)
    else:
        os.environ["TEXTMILL_RAY_STALL_S"] = stall
