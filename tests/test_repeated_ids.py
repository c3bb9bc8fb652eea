"""Input ids are never trusted to be unique: decisions join on the run's own `doc_key`, so two
copies of a corpus dedup to one, a unique text that shares an id with a duplicate stays, and
the report says when ids repeat."""

import json
import shutil
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import write_jsonl

from textmill.api import Pipeline
from textmill.cli import main
from textmill.data import SAMPLE_WARC_PATH
from textmill.document import KEY, assign_keys, make_batch
from textmill.pipeline import Mapper, StageOptions, register
from textmill.report.ids import count_repeated_ids

VOCABULARY = [a + b + c for a in "bdfgklmnprst" for b in "aeiou" for c in "lmnrst"]


def prose(seed: int, n: int = 120) -> str:
    """Paragraphs of random words: distinct seeds share no 5-gram, so no stage links them."""
    picked = np.random.default_rng(seed).choice(VOCABULARY, n).tolist()
    return "\n\n".join(" ".join(picked[i : i + 30]) for i in range(0, n, 30))


TRUE_COPY, UNIQUE, OTHER = prose(1), prose(2), prose(3)


def shared_id_corpus(folder: Path) -> Path:
    """a: x (TRUE_COPY), y (OTHER); b: x (TRUE_COPY again: a real duplicate), x (UNIQUE: a
    different document that happens to share the id)."""
    write_jsonl(
        folder / "a.jsonl",
        [
            {"id": "x", "text": TRUE_COPY, "url": "https://e.org/1"},
            {"id": "y", "text": OTHER, "url": "https://e.org/3"},
        ],
    )
    write_jsonl(
        folder / "b.jsonl",
        [
            {"id": "x", "text": TRUE_COPY, "url": "https://e.org/1"},
            {"id": "x", "text": UNIQUE, "url": "https://e.org/2"},
        ],
    )
    return folder


def outcome(out: Path) -> tuple[list[tuple], list[tuple]]:
    """(kept (source file, id, text), rejected (source file, id, reason)), sorted."""
    data = pq.read_table(out / "data", columns=["source", "id", "text"]).to_pylist()
    rejects = pq.read_table(out / "rejects", columns=["source", "id", "reject_reason"])
    return (
        sorted((Path(r["source"]).name, r["id"], r["text"]) for r in data),
        sorted((Path(r["source"]).name, r["id"], r["reject_reason"]) for r in rejects.to_pylist()),
    )


@pytest.mark.parametrize(
    ("stage", "reason"),
    [
        ("exact_dedup", "exact_dedup:duplicate_of=x"),
        ("minhash_dedup", "minhash_dedup:duplicate_of=x"),
        ("url_dedup", "url_dedup:duplicate_url_of=x"),
        ("paragraph_dedup", "paragraph_dedup:empty_after_paragraph_dedup"),
    ],
)
def test_a_unique_text_sharing_an_id_with_a_duplicate_is_kept(tmp_path, stage, reason):
    inputs = shared_id_corpus(tmp_path / "in")
    stats = Pipeline([stage]).run([inputs], tmp_path / "out", workers=1, progress=False)
    kept, rejected = outcome(tmp_path / "out")
    assert kept == sorted(
        [("a.jsonl", "x", TRUE_COPY), ("a.jsonl", "y", OTHER), ("b.jsonl", "x", UNIQUE)]
    )
    assert rejected == [("b.jsonl", "x", reason)]  # the second copy, not the unique text
    assert (stats["read"], stats["kept"], stats["rejected"]) == (4, 3, 1)


def test_the_first_read_of_equal_ids_stays_and_rejects_name_its_key(tmp_path):
    inputs = shared_id_corpus(tmp_path / "in")
    Pipeline(["exact_dedup"]).run([inputs], tmp_path / "out", workers=1, progress=False)
    rejects = pq.read_table(tmp_path / "out" / "rejects")
    # shard b is the run's second shard (index 1), the duplicate its first document
    assert rejects[KEY].to_pylist() == [1 << 32]
    assert KEY not in pq.read_schema(next((tmp_path / "out" / "data").glob("*.parquet"))).names


def test_keys_and_outputs_do_not_depend_on_workers_or_batch_size(tmp_path):
    inputs = shared_id_corpus(tmp_path / "in")
    for extra in range(3):  # more shards, so two workers share them out
        write_jsonl(inputs / f"c{extra}.jsonl", [{"id": "x", "text": TRUE_COPY}])
    pipeline = Pipeline(["exact_dedup", "minhash_dedup"])
    runs = {}
    for workers, batch_size in ((1, 1000), (2, 1), (2, 3)):
        out = tmp_path / f"out-{workers}-{batch_size}"
        pipeline.run([inputs], out, workers=workers, batch_size=batch_size, progress=False)
        runs[workers, batch_size] = (
            outcome(out),
            pq.read_table(out / "rejects").sort_by(KEY)[KEY].to_pylist(),
        )
    first = runs[1, 1000]
    assert all(run == first for run in runs.values())
    assert len(first[0][0]) == 3 and len(first[1]) == 4  # three more copies of TRUE_COPY go


@register("test_interrupt_once")
class InterruptOnce(Mapper):
    """Raises KeyboardInterrupt (which no stage isolation catches) on the batch holding `text`
    while the `switch` file exists, and deletes it: a run killed mid-way (test stage)."""

    class Options(StageOptions):
        switch: str
        text: str

    def map(self, batch):
        switch = Path(self.options.switch)
        if switch.exists() and self.options.text in batch["text"].to_pylist():
            switch.unlink()
            raise KeyboardInterrupt
        return batch


def test_a_resumed_run_with_other_workers_and_batch_size_gives_the_same_output(tmp_path):
    inputs = shared_id_corpus(tmp_path / "in")
    write_jsonl(inputs / "c.jsonl", [{"id": "x", "text": TRUE_COPY}])
    switch = tmp_path / "switch"
    interrupt = ("test_interrupt_once", {"switch": str(switch), "text": UNIQUE})
    pipeline = Pipeline([interrupt, "exact_dedup", "minhash_dedup"])
    pipeline.run([inputs], tmp_path / "reference", workers=1, progress=False)
    switch.touch()
    with pytest.raises(KeyboardInterrupt):
        pipeline.run([inputs], tmp_path / "out", workers=1, batch_size=1, progress=False)
    assert not switch.exists()
    assert len(list((tmp_path / "out" / ".textmill" / "done" / "s0").glob("*.json"))) == 1
    stats = pipeline.run([inputs], tmp_path / "out", workers=2, batch_size=1000, progress=False)
    assert stats["reconciled"] and (stats["read"], stats["kept"]) == (5, 3)
    assert outcome(tmp_path / "out") == outcome(tmp_path / "reference")
    keys = [
        pq.read_table(tmp_path / out / "rejects").sort_by(KEY)[KEY] for out in ("out", "reference")
    ]
    assert keys[0].equals(keys[1])


def test_the_ray_executor_keeps_the_same_documents(tmp_path, local_ray):
    from textmill.executors.local import LocalExecutor, RunSettings
    from textmill.executors.ray import RayExecutor

    inputs = [str(shared_id_corpus(tmp_path / "in"))]
    specs = [("exact_dedup", {}), ("paragraph_dedup", {}), ("minhash_dedup", {})]
    settings = RunSettings(workers=2, progress=False, batch_size=1)
    local = LocalExecutor(specs, settings).run(inputs, tmp_path / "local")
    distributed = RayExecutor(specs, settings, partitions=2).run(inputs, tmp_path / "ray")
    assert outcome(tmp_path / "ray") == outcome(tmp_path / "local")
    assert outcome(tmp_path / "ray")[0][-1] == ("b.jsonl", "x", UNIQUE)
    assert distributed["repeated_ids"] == local["repeated_ids"]
    for key in ("read", "kept", "rejected", "errored"):
        assert distributed[key] == local[key]


def test_stats_report_and_card_say_that_ids_repeat(tmp_path):
    inputs = shared_id_corpus(tmp_path / "in")
    write_jsonl(inputs / "c.jsonl", [{"id": "<b>y</b>", "text": prose(4)}] * 2)
    Pipeline(["exact_dedup"]).run([inputs], tmp_path / "out", workers=1, progress=False)
    stats = json.loads((tmp_path / "out" / "stats.json").read_text())
    assert stats["repeated_ids"] == {
        "ids": 2,
        "documents": 5,
        "examples": [{"id": "x", "documents": 3}, {"id": "<b>y</b>", "documents": 2}],
    }
    html = (tmp_path / "out" / "report.html").read_text()
    card = (tmp_path / "out" / "README.md").read_text()
    for text in (html, card):
        assert "Input ids repeat: 2 ids occur more than once, on 5 documents" in text
        assert "<b>y</b>" not in text and "&lt;b&gt;y&lt;/b&gt;" in text
    assert "| ids occurring more than once | 2 |" in card


def test_unique_ids_give_no_note(tmp_path):
    write_jsonl(
        tmp_path / "in" / "a.jsonl", [{"id": "p", "text": OTHER}, {"id": "q", "text": UNIQUE}]
    )
    Pipeline(["exact_dedup"]).run([tmp_path / "in"], tmp_path / "out", workers=1, progress=False)
    stats = json.loads((tmp_path / "out" / "stats.json").read_text())
    assert stats["repeated_ids"] == {"ids": 0, "documents": 0, "examples": []}
    assert "Input ids repeat" not in (tmp_path / "out" / "report.html").read_text()


def test_counting_in_bounded_passes_gives_the_one_pass_count(tmp_path):
    ids = [f"d{i % 37}" for i in range(200)] + [f"u{i}" for i in range(300)]
    (tmp_path / "data").mkdir()
    (tmp_path / "rejects").mkdir()
    pq.write_table(pa.table({"id": ids[:250]}), tmp_path / "data" / "a.parquet")
    pq.write_table(pa.table({"id": ids[250:]}), tmp_path / "rejects" / "a.parquet")
    files = [tmp_path / "data" / "a.parquet", tmp_path / "rejects" / "a.parquet"]
    one = count_repeated_ids(files, tmp_path / "work")
    assert one == count_repeated_ids(files, tmp_path / "work", rows_per_pass=40)  # 13 passes
    assert (one["ids"], one["documents"]) == (37, 200)
    assert one["examples"][0] == {"id": "d0", "documents": 6}  # 200 = 37 × 5 + 15: d0-d14 ×6


def test_keys_are_shard_and_ordinal_and_refuse_to_overflow():
    batch = make_batch(["a", "a", "b"], ["x", "y", "z"])
    assert assign_keys(batch, 3, 10)[KEY].to_pylist() == [
        (3 << 32) + 10,
        (3 << 32) + 11,
        (3 << 32) + 12,
    ]
    assert assign_keys(assign_keys(batch, 3, 10), 0, 0)[KEY].to_pylist() == [0, 1, 2]
    with pytest.raises(ValueError, match="limits"):
        assign_keys(batch, 0, (1 << 32) - 2)


@pytest.fixture(scope="module")
def sample_runs(tmp_path_factory):
    """The fineweb preset on one copy of the bundled sample, and on two copies."""
    root = tmp_path_factory.mktemp("copies")
    for name, copies in (("one", ["a"]), ("two", ["a", "b"])):
        for copy in copies:
            (root / name).mkdir(exist_ok=True)
            shutil.copy(SAMPLE_WARC_PATH, root / name / f"{copy}.warc.gz")
        args = ["run", "--preset", "fineweb", str(root / name), "-o", str(root / f"out-{name}")]
        assert main([*args, "--workers", "2", "--no-progress"]) == 0
    return root / "out-one", root / "out-two"


def test_two_copies_of_the_sample_keep_what_one_copy_keeps(sample_runs):
    one, two = sample_runs
    first, second = (json.loads((out / "stats.json").read_text()) for out in sample_runs)
    assert second["read"] == 2 * first["read"] and second["reconciled"]
    assert second["kept"] == first["kept"] > 200
    # every document of b that reaches exact_dedup is a copy of a's: exact_dedup drops them all
    exact = [stage for stage in second["stages"] if stage["name"] == "exact_dedup"][0]
    once = [stage for stage in first["stages"] if stage["name"] == "exact_dedup"][0]
    assert exact["dropped"] == once["dropped"] + once["docs_in"]
    kept_one = pq.read_table(one / "data").drop_columns(["source"]).sort_by("id")
    kept_two = pq.read_table(two / "data").drop_columns(["source"]).sort_by("id")
    assert kept_two.equals(kept_one)  # the same documents, the same clusters
    assert {Path(s).name for s in pq.read_table(two / "data")["source"].to_pylist()} == {
        "a.warc.gz"
    }
    assert second["repeated_ids"]["ids"] == first["read"]  # every id twice
    assert first["repeated_ids"]["ids"] == 0
