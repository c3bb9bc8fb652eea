"""The Ray executor: same kept ids and counts as the local executor, distributed dedup, retries
after a worker dies, resume after a failed job or a killed driver, clean shutdown. One local
Ray per module."""

import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

ray = pytest.importorskip("ray")

from textmill.api import Pipeline  # noqa: E402
from textmill.executors._ray_dedup import distributed_reduce  # noqa: E402
from textmill.executors.local import LocalExecutor, RunError, RunSettings  # noqa: E402
from textmill.executors.ray import RayExecutor  # noqa: E402
from textmill.pipeline import (  # noqa: E402
    ClusterRule,  # noqa: E402
    GlobalStage,
    Mapper,
    StageOptions,
    register,
)
from textmill.stages.dedup._unionfind import roots, union_edges  # noqa: E402

SETTINGS = RunSettings(workers=2, progress=False, batch_size=10)
DEDUP = [("exact_dedup", {})]


@register("ray_test_die")
class Die(Mapper):
    """Kills its worker process on the shard named in `shard` while `switch` exists; with
    `once`, removes the switch first, so only the first attempt dies."""

    class Options(StageOptions):
        switch: str = ""
        shard: str = ""
        once: bool = True
        delay: float = 0.0  # seconds before dying, so shards running beside it can finish

    def map(self, batch):
        if os.path.exists(self.options.switch) and self.options.shard in batch["source"][0].as_py():
            if self.options.once:
                os.unlink(self.options.switch)
            time.sleep(self.options.delay)
            os._exit(1)
        return batch


@register("ray_test_where")
class Where(Mapper):
    """Records the Ray resources of the task that ran it ({} outside Ray workers)."""

    def map(self, batch):
        in_ray = ray._private.worker.global_worker.mode == ray.WORKER_MODE
        resources = ray.get_runtime_context().get_assigned_resources() if in_ray else {}
        assigned = json.dumps(resources, sort_keys=True)
        return batch.append_column("assigned", pa.array([assigned] * batch.num_rows))


def corpus(folder: Path, shards: int = 4, per_shard: int = 25) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for shard in range(shards):
        with open(folder / f"part-{shard}.jsonl", "w", encoding="utf-8") as out:
            for i in range(per_shard):
                text = f"document number {(shard * 7 + i) % 11}"
                out.write(json.dumps({"id": f"s{shard}-{i:02d}", "text": text}) + "\n")
    return folder


def kept_ids(out: Path) -> list[str]:
    return sorted(pq.read_table(out / "data")["id"].to_pylist())


def rejects(out: Path) -> list[tuple[str, str]]:
    table = pq.read_table(out / "rejects")
    return sorted(zip(table["id"].to_pylist(), table["reject_reason"].to_pylist(), strict=True))


def children_of_this_process() -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(stat[1]) == os.getpid() and stat[0] != "Z":
                found.append(int(entry))
    return found


def test_a_ray_started_by_the_executor_is_shut_down_with_no_process_left(tmp_path):
    assert not ray.is_initialized()
    before = set(children_of_this_process())
    stats = RayExecutor(DEDUP, SETTINGS).run([str(corpus(tmp_path / "in"))], tmp_path / "out")
    assert stats["kept"] == 11 and stats["reconciled"]
    assert not ray.is_initialized()
    assert set(children_of_this_process()) <= before


def test_exact_dedup_keeps_the_same_ids_reasons_and_counts_as_local(tmp_path, local_ray):
    inputs = [str(corpus(tmp_path / "in"))]
    local = LocalExecutor(DEDUP, SETTINGS).run(inputs, tmp_path / "local")
    distributed = RayExecutor(DEDUP, SETTINGS, partitions=3).run(inputs, tmp_path / "ray")
    assert kept_ids(tmp_path / "ray") == kept_ids(tmp_path / "local")
    assert len(kept_ids(tmp_path / "ray")) == 11  # eleven distinct texts
    assert rejects(tmp_path / "ray") == rejects(tmp_path / "local")
    assert ("s0-11", "exact_dedup:duplicate_of=s0-00") in rejects(tmp_path / "ray")
    for key in ("read", "kept", "rejected", "errored", "reconciled"):
        assert distributed[key] == local[key]
    assert distributed["read"] == 100 and distributed["rejected"] == 89
    assert distributed["stages"][0]["reasons"] == {"duplicate_of": 89}


def test_a_new_run_into_the_same_directory_applies_its_own_decisions(tmp_path, local_ray):
    """Ray workers outlive a run: what they remember of one run's decisions must not leak into
    the next run written to the same place."""
    import shutil

    inputs = corpus(tmp_path / "in")
    RayExecutor(DEDUP, SETTINGS).run([str(inputs)], tmp_path / "ray")
    for path in inputs.iterdir():  # same files and document ids, every text distinct now
        rows = [json.loads(line) for line in path.read_text("utf-8").splitlines()]
        lines = [json.dumps({"id": r["id"], "text": f"unique {r['id']}"}) for r in rows]
        path.write_text("\n".join(lines) + "\n", "utf-8")
    shutil.rmtree(tmp_path / "ray")
    stats = RayExecutor(DEDUP, SETTINGS).run([str(inputs)], tmp_path / "ray")
    assert stats["kept"] == 100 and stats["rejected"] == 0


def test_a_worker_killed_mid_run_is_retried_and_the_output_is_unchanged(tmp_path, local_ray):
    inputs = [str(corpus(tmp_path / "in"))]
    switch = tmp_path / "die"
    switch.touch()
    specs = [("ray_test_die", {"switch": str(switch), "shard": "part-2"}), *DEDUP]
    stats = RayExecutor(specs, SETTINGS).run(inputs, tmp_path / "ray")
    assert not switch.exists()  # the first attempt died
    LocalExecutor(DEDUP, SETTINGS).run(inputs, tmp_path / "local")
    assert kept_ids(tmp_path / "ray") == kept_ids(tmp_path / "local")
    assert stats["read"] == 100 and stats["reconciled"]


def test_a_failed_job_resumes_at_shard_granularity(tmp_path, local_ray):
    inputs = [str(corpus(tmp_path / "in"))]
    # the smallest shard starts last (largest first), so others can finish before it dies
    files = sorted((tmp_path / "in").iterdir())
    last = sorted(files, key=lambda p: -p.stat().st_size)[-1].stem
    switch = tmp_path / "die"
    switch.touch()
    die = {"switch": str(switch), "shard": last, "once": False, "delay": 2.0}
    specs = [("ray_test_die", die), *DEDUP]
    with pytest.raises(RunError, match="re-run to resume"):
        RayExecutor(specs, SETTINGS, max_retries=0).run(inputs, tmp_path / "ray")
    markers = sorted((tmp_path / "ray" / ".textmill" / "done" / "s0").glob("*.json"))
    assert 1 <= len(markers) <= 3 and not any(last in m.name for m in markers)
    finished = {m.name: m.stat().st_mtime_ns for m in markers}
    switch.unlink()
    stats = RayExecutor(specs, SETTINGS).run(inputs, tmp_path / "ray")
    assert {m: (tmp_path / "ray/.textmill/done/s0" / m).stat().st_mtime_ns for m in finished} == (
        finished
    )
    LocalExecutor(DEDUP, SETTINGS).run(inputs, tmp_path / "local")
    assert kept_ids(tmp_path / "ray") == kept_ids(tmp_path / "local")
    assert stats["read"] == 100 and stats["kept"] == 11 and stats["reconciled"]


DRIVER = """
import sys
sys.path.insert(0, {here!r})
import slow_stage  # registers ray_test_slow
from textmill.executors.local import RunSettings
from textmill.executors.ray import RayExecutor
RayExecutor(
    [("ray_test_slow", {{}}), ("exact_dedup", {{}})],
    RunSettings(workers=2, progress=False, batch_size=10),
).run([{inputs!r}], {out!r})
"""
SLOW_STAGE = """
import time
from textmill.pipeline import Mapper, register

@register("ray_test_slow")
class Slow(Mapper):
    def map(self, batch):
        time.sleep(0.3)
        return batch
"""


def test_a_killed_driver_resumes_at_shard_granularity(tmp_path):
    """The process running textmill dies (SIGKILL) mid-run, with its private Ray: running it
    again keeps the shards already done and reconciles the counts."""
    import signal
    import subprocess

    inputs = corpus(tmp_path / "in", shards=6)
    (tmp_path / "slow_stage.py").write_text(SLOW_STAGE, "utf-8")
    out = tmp_path / "ray"
    script = DRIVER.format(here=str(tmp_path), inputs=str(inputs), out=str(out))
    done = out / ".textmill" / "done" / "s0"
    driver = subprocess.Popen([sys.executable, "-c", script], stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not list(done.glob("*.json")) and time.monotonic() < deadline:  # not a temp file
        assert driver.poll() is None, "the run ended before it could be interrupted"
        time.sleep(0.1)
    driver.send_signal(signal.SIGKILL)
    driver.wait()
    finished = {m.name: m.stat().st_mtime_ns for m in done.glob("*.json")}
    assert 1 <= len(finished) < 6
    assert subprocess.run([sys.executable, "-c", script], stderr=subprocess.DEVNULL).returncode == 0
    assert {m: (done / m).stat().st_mtime_ns for m in finished} == finished  # not redone
    stats = json.loads((out / "stats.json").read_text("utf-8"))
    assert stats["read"] == 150 and stats["kept"] == 11 and stats["reconciled"]
    LocalExecutor(DEDUP, SETTINGS).run([str(inputs)], tmp_path / "local")
    assert kept_ids(out) == kept_ids(tmp_path / "local")


class ChainStage(GlobalStage):
    """Two key columns whose equalities chain documents across partitions (test stage)."""

    name = "ray_test_chain"

    def cluster_rule(self):
        def choose(members):
            table = members.sort_by([("cluster", "ascending"), ("id", "ascending")])
            return pa.table(
                {"id": table["id"], "reason": pa.array(table["cluster"]).cast(pa.string())}
            )

        schema = pa.schema([("id", pa.string()), ("reason", pa.string())])
        return ClusterRule(("k1", "k2"), (), choose, schema)


@pytest.mark.parametrize("sparse", [False, True], ids=["long chains", "one pair"])
def test_distributed_connected_components_match_union_find(tmp_path, local_ray, sparse):
    rng = np.random.default_rng(7)
    n = 600
    k1 = rng.integers(0, 350, n).astype(np.uint64)
    k2 = rng.integers(0, 350, n).astype(np.uint64)
    k2[rng.random(n) < 0.3] = 0  # some documents without a second key
    if sparse:  # one duplicate pair: most partitions of the star steps get no edge at all
        k1, k2 = np.arange(1, n + 1, dtype=np.uint64), np.zeros(n, np.uint64)
        k1[20] = k1[10]
    files = []
    for part, rows in enumerate(np.array_split(np.arange(n), 3)):
        path = tmp_path / f"sig-{part}.parquet"
        mask = k2[rows] == 0
        pq.write_table(
            pa.table(
                {
                    "doc_key": pa.array(rows, pa.int64()),
                    "id": [f"d{i:04d}" for i in rows],
                    "k1": pa.array(k1[rows]),
                    "k2": pa.array(k2[rows], mask=mask),
                }
            ),
            path,
        )
        files.append(path)
    target = tmp_path / "decisions.parquet"
    stage = ChainStage()
    distributed_reduce(stage, stage.cluster_rule(), files, target, partitions=3)
    got = {row["id"]: int(row["reason"]) for row in pq.read_table(target).to_pylist()}

    parent = np.arange(n, dtype=np.int64)
    for keys, valid in ((k1, np.ones(n, bool)), (k2, k2 != 0)):
        index = np.flatnonzero(valid)
        order = index[np.argsort(keys[index], kind="stable")]
        same = keys[order][1:] == keys[order][:-1]
        union_edges(parent, np.stack([order[:-1][same], order[1:][same]], axis=1))
    root = roots(parent)
    sizes = np.bincount(root, minlength=n)
    expected = {f"d{i:04d}": int(root[i]) for i in range(n) if sizes[root[i]] > 1}
    assert got == expected
    assert max(sizes) == 2 if sparse else max(sizes) > 20  # the graph does have long chains


def test_minhash_dedup_matches_local(tmp_path, local_ray):
    pytest.importorskip("textmill.stages.dedup.minhash")
    folder = tmp_path / "in"
    folder.mkdir()
    base = [
        f"the quick brown fox number {k} jumps over the lazy dog again and again" for k in range(6)
    ]
    for shard in range(3):
        with open(folder / f"p{shard}.jsonl", "w") as out:
            for i in range(20):
                text = base[(shard + i) % 6] + ("" if i % 3 else f" extra {i}")
                out.write(json.dumps({"id": f"m{shard}-{i:02d}", "text": text}) + "\n")
    specs = [("minhash_dedup", {})]
    LocalExecutor(specs, SETTINGS).run([str(folder)], tmp_path / "local")
    RayExecutor(specs, SETTINGS, partitions=2).run([str(folder)], tmp_path / "ray")
    assert kept_ids(tmp_path / "ray") == kept_ids(tmp_path / "local")
    assert rejects(tmp_path / "ray") == rejects(tmp_path / "local")
    assert len(rejects(tmp_path / "ray")) >= 30  # the repeated texts do go
    columns = ["id", "dup_cluster_id", "dup_cluster_size"]
    local = pq.read_table(tmp_path / "local" / "data", columns=columns).sort_by("id")
    assert pq.read_table(tmp_path / "ray" / "data", columns=columns).sort_by("id").equals(local)


def test_minhash_verification_links_the_same_pairs_on_ray_as_local(tmp_path, local_ray):
    # 20 bands of 1 row make nearly every overlapping pair a candidate, so the verification
    # on all hashes (J ≥ 0.7) decides most links: the Ray partitions must draw the same ones.
    rng = np.random.default_rng(5)
    vocabulary = [
        a + b + c + d for a in "bdfgklmnprst" for b in "aeiou" for c in "lmnrst" for d in "aeiou"
    ]
    folder = tmp_path / "in"
    folder.mkdir()
    for shard in range(3):
        with open(folder / f"v{shard}.jsonl", "w") as out:
            for i in range(30):
                base = np.random.default_rng(i % 6).choice(vocabulary, 120).tolist()
                changed = rng.random(120) < rng.choice([0.02, 0.1, 0.3, 0.6])
                words = [
                    rng.choice(vocabulary) if c else w for w, c in zip(base, changed, strict=True)
                ]
                out.write(json.dumps({"id": f"v{shard}-{i:02d}", "text": " ".join(words)}) + "\n")
    specs = [("minhash_dedup", {"bands": 20, "rows": 1, "verify_threshold": 0.7})]
    LocalExecutor(specs, SETTINGS).run([str(folder)], tmp_path / "local")
    RayExecutor(specs, SETTINGS, partitions=3).run([str(folder)], tmp_path / "ray")
    assert rejects(tmp_path / "ray") == rejects(tmp_path / "local")
    unverified = [("minhash_dedup", {"bands": 20, "rows": 1, "verify": False})]
    LocalExecutor(unverified, SETTINGS).run([str(folder)], tmp_path / "bands-only")
    dropped = len(rejects(tmp_path / "local"))
    assert 10 < dropped < len(rejects(tmp_path / "bands-only"))  # verification did decide


def test_bundled_sample_with_fineweb_keeps_the_same_ids_as_local(tmp_path, local_ray):
    from textmill.cli import sample_path

    pipeline = Pipeline.from_preset("fineweb")
    local = pipeline.run([sample_path()], tmp_path / "local", workers=2, progress=False)
    specs = [(spec.name, spec.options) for spec in pipeline.specs]
    distributed = RayExecutor(specs, RunSettings(workers=2, progress=False)).run(
        [str(sample_path())], tmp_path / "ray"
    )
    assert kept_ids(tmp_path / "ray") == kept_ids(tmp_path / "local")
    assert distributed["kept"] == local["kept"] > 0 and distributed["reconciled"]
    assert rejects(tmp_path / "ray") == rejects(tmp_path / "local")


# ---------------------------------------------------------------- paragraph and URL dedup

BOILERPLATE = [
    "Subscribe to our newsletter for more stories like this one.",
    "This site uses cookies. By reading on you accept them.",
    "Copyright 2024 Example News, all rights reserved.",
    "Share this article with your friends and family.",
]


def paragraph_corpus(folder: Path, shards: int = 3, per_shard: int = 16) -> Path:
    """Documents sharing boilerplate paragraphs across shards: some edited, some emptied, some
    left too short, one repeating a paragraph of its own."""
    folder.mkdir(parents=True, exist_ok=True)
    for shard in range(shards):
        with open(folder / f"part-{shard}.jsonl", "w", encoding="utf-8") as out:
            for i in range(per_shard):
                n = shard * per_shard + i
                tag = chr(97 + n // 26) + chr(97 + n % 26)  # digits normalise alike: letters
                pieces = [BOILERPLATE[(n + k) % 4] for k in range(n % 3)]
                if n % 5 == 0:
                    pieces.append(f"Story {tag}: the council met to talk about roads.")
                elif n % 5 == 1:
                    pieces.append(f"Short {tag}")  # under min_words once its boilerplate goes
                elif n % 5 == 2:
                    pieces.append(BOILERPLATE[n % 4].upper())  # only boilerplate: emptied
                else:
                    story = f"Story {tag} is about the river and the bridge over it."
                    pieces = [story, *pieces, story] if n % 7 == 0 else [*pieces, story]
                url = f"https://news.example/{n % 13}/" + ("?utm_source=x" if n % 2 else "")
                record = {"id": f"p{shard}-{i:02d}", "text": "\n\n".join(pieces), "url": url}
                out.write(json.dumps(record) + "\n")
    return folder


def kept_texts(out: Path, columns=("id", "text", "paragraphs_removed")) -> list[dict]:
    return pq.read_table(out / "data", columns=list(columns)).sort_by("id").to_pylist()


def same_counts(local: dict, distributed: dict) -> None:
    for key in ("read", "kept", "rejected", "errored", "reconciled"):
        assert distributed[key] == local[key], key
    assert [s["reasons"] for s in distributed["stages"]] == [s["reasons"] for s in local["stages"]]


def reduce_partitions(out: Path, stage: int = 0) -> int:
    return json.loads((out / ".textmill" / f"g{stage}" / "decisions.json").read_text())[
        "partitions"
    ]


@pytest.mark.parametrize(
    "options", [{"min_words": 3}, {"keep_first": False, "unit": "lines"}], ids=["first", "all"]
)
def test_paragraph_dedup_on_ray_edits_and_rejects_exactly_as_local(tmp_path, local_ray, options):
    inputs = [str(paragraph_corpus(tmp_path / "in"))]
    specs = [("paragraph_dedup", options)]
    local = LocalExecutor(specs, SETTINGS).run(inputs, tmp_path / "local")
    distributed = RayExecutor(specs, SETTINGS, partitions=3).run(inputs, tmp_path / "ray")
    assert kept_texts(tmp_path / "ray") == kept_texts(tmp_path / "local")
    assert rejects(tmp_path / "ray") == rejects(tmp_path / "local")
    same_counts(local, distributed)
    assert reduce_partitions(tmp_path / "ray") == 3  # not one task: three hash partitions
    edited = [row for row in kept_texts(tmp_path / "ray") if row["paragraphs_removed"]]
    assert len(edited) >= 15 and distributed["rejected"] >= 10


def test_paragraph_dedup_on_ray_keeps_the_first_occurrence_and_its_reasons(tmp_path, local_ray):
    inputs = [str(paragraph_corpus(tmp_path / "in"))]
    RayExecutor([("paragraph_dedup", {"min_words": 3})], SETTINGS, partitions=2).run(
        inputs, tmp_path / "ray"
    )
    texts = {row["id"]: row["text"] for row in kept_texts(tmp_path / "ray")}
    assert texts["p0-01"] == f"{BOILERPLATE[1]}\n\nShort ab"  # first with BOILERPLATE[1]
    assert texts["p0-14"] == "Story ao is about the river and the bridge over it."  # own repeat
    assert texts["p0-05"] == "Story af: the council met to talk about roads."
    reasons = dict(rejects(tmp_path / "ray"))
    assert reasons["p0-07"] == "paragraph_dedup:empty_after_paragraph_dedup"
    assert reasons["p0-11"] == "paragraph_dedup:too_short_after_paragraph_dedup"


def test_distributed_paragraph_reduce_gives_the_local_decision_rows(tmp_path, local_ray):
    from textmill.executors._ray_paragraph import paragraph_reduce
    from textmill.stages.dedup.paragraph import ParagraphDedup

    rng = np.random.default_rng(3)
    stage = ParagraphDedup(rows_per_partition=40)  # 300 rows: at least 8 partitions
    files = []
    for part in range(3):
        hashes = rng.integers(0, 60, 100).astype(np.uint64) << np.uint64(40)
        table = pa.table(
            {
                "doc_key": pa.array((part << 32) + np.arange(100) % 17, pa.int64()),
                "id": [f"d{part}-{i % 17:02d}" for i in range(100)],
                "paragraph": pa.array(np.arange(100) // 17, pa.int32()),
                "paragraph_hash": pa.array(hashes),
            }
        )
        pq.write_table(table, tmp_path / f"sig-{part}.parquet")
        files.append(tmp_path / f"sig-{part}.parquet")
    target = tmp_path / "decisions.parquet"
    assert paragraph_reduce(stage, files, target, partitions=2) == 8
    local = stage.reduce(files, tmp_path / "reduce").sort_by("doc_key")
    assert pq.read_table(target).sort_by("doc_key").equals(local)
    assert local.num_rows == 48  # of 51 documents, with 300 paragraphs over 60 hashes


def test_paragraph_dedup_on_ray_resumes_after_the_reduce(tmp_path, local_ray):
    inputs = [str(paragraph_corpus(tmp_path / "in"))]
    switch = tmp_path / "die"
    switch.touch()
    die = ("ray_test_die", {"switch": str(switch), "shard": "part-2", "once": False})
    specs = [("paragraph_dedup", {"min_words": 3}), die]
    with pytest.raises(RunError, match="re-run to resume"):
        RayExecutor(specs, SETTINGS, max_retries=0, partitions=2).run(inputs, tmp_path / "ray")
    decisions = tmp_path / "ray" / ".textmill" / "g0" / "decisions.parquet"
    written = decisions.stat().st_mtime_ns
    switch.unlink()
    distributed = RayExecutor(specs, SETTINGS, partitions=2).run(inputs, tmp_path / "ray")
    assert decisions.stat().st_mtime_ns == written  # the reduce is not redone
    local = LocalExecutor(specs, SETTINGS).run(inputs, tmp_path / "local")
    assert kept_texts(tmp_path / "ray") == kept_texts(tmp_path / "local")
    assert rejects(tmp_path / "ray") == rejects(tmp_path / "local")
    same_counts(local, distributed)


@pytest.mark.parametrize("keep", ["smallest_id", "longest"])
def test_url_dedup_on_ray_is_distributed_and_matches_local(tmp_path, local_ray, keep):
    inputs = [str(paragraph_corpus(tmp_path / "in"))]
    specs = [("url_dedup", {"keep": keep})]
    local = LocalExecutor(specs, SETTINGS).run(inputs, tmp_path / "local")
    distributed = RayExecutor(specs, SETTINGS, partitions=3).run(inputs, tmp_path / "ray")
    assert kept_ids(tmp_path / "ray") == kept_ids(tmp_path / "local")
    assert len(kept_ids(tmp_path / "ray")) == 13  # thirteen normalised URLs
    assert rejects(tmp_path / "ray") == rejects(tmp_path / "local")
    same_counts(local, distributed)
    assert reduce_partitions(tmp_path / "ray") == 3


# ---------------------------------------------------------------- Ray Data blocks and resources

WHERE_YAML = """
stages:
  - ray_test_where:
      resources: {textmill_test: 1, num_cpus: 0.5}
  - exact_dedup
"""


def test_per_stage_resources_from_yaml_reach_the_ray_tasks(tmp_path, local_ray):
    pipeline = Pipeline.from_yaml_text(WHERE_YAML)
    assert pipeline.specs[0].options == {} and pipeline.specs[0].resources == {
        "textmill_test": 1.0,
        "num_cpus": 0.5,
    }
    assert "textmill_test: 1.0" in pipeline.to_yaml()
    inputs = [str(corpus(tmp_path / "in"))]
    settings = {"workers": 2, "progress": False, "batch_size": 10}
    stats = pipeline.run(inputs, tmp_path / "ray", executor="ray", **settings)
    assigned = set(pq.read_table(tmp_path / "ray" / "data")["assigned"].to_pylist())
    assert [json.loads(a) for a in assigned] == [{"CPU": 0.5, "textmill_test": 1.0}]
    local = pipeline.run(inputs, tmp_path / "local", **settings)
    assert kept_ids(tmp_path / "ray") == kept_ids(tmp_path / "local")
    assert stats["kept"] == local["kept"] == 11 and stats["reconciled"]


def test_a_stage_asking_for_resources_the_cluster_lacks_fails_before_reading(tmp_path, local_ray):
    specs = [("ray_test_where", {}), *DEDUP]
    executor = RayExecutor(specs, SETTINGS, stage_resources={"ray_test_where": {"num_gpus": 1}})
    with pytest.raises(RunError, match="ray_test_where asks for GPU=1"):
        executor.run([str(corpus(tmp_path / "in"))], tmp_path / "ray")
    assert not list((tmp_path / "ray" / "data").iterdir())
    with pytest.raises(RunError, match="names no stage"):
        RayExecutor(specs, SETTINGS, stage_resources={"gpu_embed": {"num_gpus": 1}})


def test_small_blocks_give_many_parts_per_shard_and_the_local_files_row_for_row(
    tmp_path, local_ray, monkeypatch
):
    import textmill.executors.ray as ray_executor

    parts_seen = []

    class Counting(ray_executor.ShardTracker):
        def add(self, row):
            complete = super().add(row)
            if complete:
                parts_seen.append(len(self.parts[row["shard"]]))
            return complete

    monkeypatch.setattr(ray_executor, "ShardTracker", Counting)
    context = ray.data.DataContext.get_current()
    monkeypatch.setattr(context, "target_max_block_size", 1024)  # a block per read batch
    inputs = [str(corpus(tmp_path / "in"))]
    specs = [("ray_test_where", {}), *DEDUP]
    resources = {"ray_test_where": {"num_cpus": 0.5}}  # two map operators: blocks travel
    distributed = RayExecutor(specs, SETTINGS, stage_resources=resources).run(
        inputs, tmp_path / "ray"
    )
    local = LocalExecutor(specs, SETTINGS).run(inputs, tmp_path / "local")
    assert max(parts_seen) >= 3  # 25 rows read in batches of 10
    for sub in ("data", "rejects"):
        for path in sorted((tmp_path / "local" / sub).glob("*.parquet")):
            mine = pq.read_table(tmp_path / "ray" / sub / path.name).to_pylist()
            theirs = pq.read_table(path).to_pylist()
            for row in mine + theirs:
                row.pop("assigned", None)  # the Ray tasks' resources, {} locally
            assert mine == theirs, path.name  # same rows, same order
    same_counts(local, distributed)


def test_parts_of_an_unfinished_shard_are_discarded_on_resume(tmp_path, local_ray):
    inputs = [str(corpus(tmp_path / "in"))]
    switch = tmp_path / "die"
    switch.touch()
    specs = [("ray_test_die", {"switch": str(switch), "shard": "part-3", "once": False}), *DEDUP]
    with pytest.raises(RunError, match=r"part-3.*failed on Ray.*re-run to resume"):
        RayExecutor(specs, SETTINGS, max_retries=0).run(inputs, tmp_path / "ray")
    manifest = json.loads((tmp_path / "ray" / ".textmill" / "run.json").read_text())
    shard = next(name for name in manifest["shards"] if name.startswith("part-3"))
    stale = tmp_path / "ray" / ".textmill" / "work" / "parts" / "s0" / shard
    stale.mkdir(parents=True, exist_ok=True)
    ghost = {"id": ["ghost"], "text": ["a part from the attempt that died"], "_tm_batch": [0]}
    pq.write_table(pa.table(ghost | {"_tm_seq": [0]}), stale / "data-0000.parquet")
    switch.unlink()
    stats = RayExecutor(specs, SETTINGS).run(inputs, tmp_path / "ray")
    assert "ghost" not in kept_ids(tmp_path / "ray") and not stale.exists()
    LocalExecutor(DEDUP, SETTINGS).run(inputs, tmp_path / "local")
    assert kept_ids(tmp_path / "ray") == kept_ids(tmp_path / "local")
    assert stats["read"] == 100 and stats["kept"] == 11 and stats["reconciled"]


def test_a_shard_is_complete_only_when_its_written_rows_reach_the_read_count():
    from textmill.executors._ray_data import ShardTracker

    tracker = ShardTracker(1)
    ledger = json.dumps({"counters": {}, "report": None})
    assert not tracker.add({"shard": 0, "part": "a", "rows": 10, "expected": -1, "ledger": ledger})
    assert not tracker.add({"shard": 0, "part": "b", "rows": 5, "expected": 20, "ledger": ledger})
    # a retried block reports its part again: replaced, not added
    assert not tracker.add({"shard": 0, "part": "a", "rows": 10, "expected": -1, "ledger": ledger})
    assert tracker.add({"shard": 0, "part": "c", "rows": 5, "expected": -1, "ledger": ledger})
    assert len(tracker.ledgers(0)) == 3


def test_verified_grouping_survives_a_key_column_without_candidates():
    """Band columns where no two documents share a key, beside one where two do: the pair is
    still compared on its check vectors (an empty candidate list once broke the concatenation)."""
    from dataclasses import replace

    from textmill.executors._ray_dedup import CHECK, KEY, NODE, group

    vectors = np.zeros((3, 4), np.uint16)
    vectors[2] = 7  # node 2 agrees with nobody
    check = pa.array([v.tobytes() for v in vectors], pa.binary(8))

    def column(keys):
        return pa.table({KEY: pa.array(keys, pa.uint64()), NODE: np.arange(3), CHECK: check})

    rule = ClusterRule(("b0", "b1", "b2"), (), lambda t: t, pa.schema([]), "sig", 4, 8)
    pieces = [[column([1, 2, 3]), column([5, 5, 6]), column([9, 8, 7])]]
    hi, lo = group(pieces, rule)
    assert sorted(zip(hi.tolist(), lo.tolist(), strict=True)) == [(1, 0)]
    pieces = [[column([1, 2, 3]), column([4, 4, 4])]]  # node 2 is a candidate, not a match
    hi, lo = group(pieces, replace(rule, keys=("b0", "b1")))
    assert sorted(zip(hi.tolist(), lo.tolist(), strict=True)) == [(1, 0)]


def test_quality_top_fraction_on_ray_keeps_the_same_documents_as_local(tmp_path, local_ray):
    fasttext = pytest.importorskip("fasttext")
    if not hasattr(fasttext, "train_supervised"):
        pytest.skip("fasttext build cannot train")
    from textmill.quality.classifier import TrainOptions, train_classifier

    rng = np.random.default_rng(3)
    filler = [f"filler{i}" for i in range(200)]

    def text(good: int) -> str:
        words = [filler[int(j)] for j in rng.integers(0, len(filler), 15)]
        return " ".join(words + ["scholarly"] * good + ["casino"] * (6 - good))

    model = tmp_path / "quality.bin"
    train_classifier([text(6) for _ in range(150)], [text(0) for _ in range(150)], model,
                     TrainOptions(bucket=10_000))  # fmt: skip
    folder = tmp_path / "in"
    folder.mkdir()
    for shard in range(3):
        rows = [{"id": f"s{shard}-{i:02d}", "text": text(int(rng.integers(0, 7)))}
                for i in range(30)]  # fmt: skip
        (folder / f"part-{shard}.jsonl").write_text(
            "".join(json.dumps(row) + "\n" for row in rows), "utf-8"
        )
    specs = [("quality_score", {"model_path": str(model), "top_fraction": 0.25})]
    local = LocalExecutor(specs, SETTINGS).run([str(folder)], tmp_path / "local")
    distributed = RayExecutor(specs, SETTINGS).run([str(folder)], tmp_path / "ray")
    assert kept_ids(tmp_path / "ray") == kept_ids(tmp_path / "local")
    assert distributed["kept"] == local["kept"] >= 23  # ceil(0.25 × 90), ties kept


def test_a_reduce_step_that_cannot_be_scheduled_stops_with_an_error(local_ray, monkeypatch):
    """A task asking for a resource nobody has would wait forever; the driver says so instead."""
    import ray

    from textmill.executors._ray_wait import RayStalled, get_all

    monkeypatch.setenv("TEXTMILL_RAY_STALL_S", "1")
    never = ray.remote(resources={"no_such_node": 1})(lambda: 1).remote()
    with pytest.raises(RayStalled, match=r"dedup reduce: 1 Ray task\(s\) made no progress"):
        get_all(never, "dedup reduce")
    ray.cancel(never, force=True)
    assert get_all([ray.remote(lambda x: x).remote(i) for i in range(3)], "three") == [0, 1, 2]
