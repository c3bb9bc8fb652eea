"""The Ray executor's distributed dedup reduces on small and sparse inputs (no duplicates, one
pair, all identical, an empty shard, one document, near-duplicates, no signatures at all) keep
the same documents, reasons and counts as the local executor, for 1, 3 and 7 partitions."""

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

ray = pytest.importorskip("ray")

from textmill.document import assign_keys  # noqa: E402
from textmill.executors._ray_dedup import distributed_reduce  # noqa: E402
from textmill.executors._ray_paragraph import paragraph_reduce  # noqa: E402
from textmill.executors.local import LocalExecutor, RunSettings  # noqa: E402
from textmill.executors.ray import RayExecutor  # noqa: E402
from textmill.pipeline import build_stage  # noqa: E402

SETTINGS = RunSettings(workers=2, progress=False, batch_size=7)
STAGES = {
    "exact": ("exact_dedup", {}),
    "minhash": ("minhash_dedup", {}),
    "minhash_t05": ("minhash_dedup", {"threshold": 0.5}),
    "url": ("url_dedup", {}),
    "paragraph": ("paragraph_dedup", {}),
    "paragraph_all": ("paragraph_dedup", {"keep_first": False}),  # every occurrence goes
}
VOCABULARY = [a + b + c for a in "bdfgklmnprst" for b in "aeiou" for c in "lmnrst"]


def words(seed: int, n: int = 40) -> list[str]:
    return np.random.default_rng(seed).choice(VOCABULARY, n).tolist()


def doc(doc_id: str, body: list[str], url: str | None = None, extra: str = "") -> dict:
    """Three paragraphs of the ~40 words (and an extra, shared one when given)."""
    paragraphs = [" ".join(body[:13]), " ".join(body[13:26]), " ".join(body[26:])]
    record = {"id": doc_id, "text": "\n\n".join([*paragraphs, *([extra] if extra else [])])}
    return record | ({"url": url} if url else {})


def distinct(shards: int = 3, per: int = 4) -> list[list[dict]]:
    return [
        [doc(f"s{s}-{i}", words(100 * s + i), f"https://a.example/{s}/{i}") for i in range(per)]
        for s in range(shards)
    ]


def one_pair() -> list[list[dict]]:
    shards = distinct()
    twin = shards[0][1]
    shards[1][2] = twin | {"id": "s1-2", "url": twin["url"] + "/?utm_source=x"}
    return shards


def identical() -> list[list[dict]]:
    """Nine documents a shard: two read batches of at most 7."""
    return [[doc(f"s{s}-{i}", words(7), "https://same.example/") for i in range(9)] for s in (0, 1)]


def empty_shard() -> list[list[dict]]:
    """The empty shard sorts between two others, so its signature file (if any) has no rows
    between non-empty ones."""
    shards = distinct(2, 4)
    shards[1][3] = shards[0][0] | {"id": "s1-3"}
    boiler = " ".join(words(999, 12))
    shards[1][0] = doc("s1-0", words(55), "https://a.example/0/2", extra=boiler)
    shards[0][2] = doc("s0-2", words(2), "https://a.example/0/2", extra=boiler)
    shards[1].append({"id": "s1-4", "text": "!!! ???"})  # no URL, nothing to hash
    return [shards[0], [], shards[1]]


def single() -> list[list[dict]]:
    return [[doc("only", words(3), "https://one.example/")]]


def near() -> list[list[dict]]:
    """Variants of two 40-word texts with one word changed: at the end (J ≈ 0.95 on 5-gram
    shingles) or in the middle (J ≈ 0.76), so the thresholds link some and not others."""
    shards = []
    for s in range(3):
        rows = []
        for i in range(4):
            body = words(i % 2)
            position = [39, 20, 5, 33][(s + i) % 4]
            body[position] = VOCABULARY[(7 * s + 3 * i) % len(VOCABULARY)]
            rows.append(doc(f"s{s}-{i}", body, f"https://n.example/{(s + i) % 3}"))
        shards.append(rows)
    return shards


def no_signatures() -> list[list[dict]]:
    """Nothing left after normalisation (no MinHash or paragraph hash) and no URL."""
    marks = ["!!! ???", "... ---", "*** ###"]
    return [
        [{"id": f"s{s}-{i}", "text": f"{marks[i]}\n\n{marks[(i + s) % 3]}"} for i in range(3)]
        for s in (0, 1)
    ]


CORPORA = {
    "distinct": distinct,
    "one_pair": one_pair,
    "identical": identical,
    "empty_shard": empty_shard,
    "single": single,
    "near": near,
    "no_signatures": no_signatures,
}


def write_corpus(folder: Path, name: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for k, rows in enumerate(CORPORA[name]()):
        lines = "".join(json.dumps(row) + "\n" for row in rows)
        (folder / f"part-{k}.jsonl").write_text(lines, "utf-8")
    return folder


def outcome(out: Path, stats: dict) -> dict:
    data = pq.read_table(out / "data")  # no columns when no file was written
    kept = sorted(data.to_pylist(), key=lambda row: row["id"])
    rejects = pq.read_table(out / "rejects")  # no columns when no file was written
    columns = [rejects[c].to_pylist() for c in ("id", "reject_reason")] if rejects.num_rows else []
    reasons = zip(*columns, strict=True)
    counts = {key: stats[key] for key in ("read", "kept", "rejected", "errored", "reconciled")}
    return {"kept": kept, "rejects": sorted(reasons), "counts": counts}


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> dict[str, str]:
    """Each corpus written once: both executors read the same files (same `source`)."""
    root = tmp_path_factory.mktemp("corpora")
    return {name: str(write_corpus(root / name, name)) for name in CORPORA}


@pytest.fixture(scope="module")
def local_outcomes(tmp_path_factory, inputs):
    """The local executor's outcome per (stage, corpus), computed once for every P."""
    cache: dict[tuple[str, str], dict] = {}
    root = tmp_path_factory.mktemp("local")

    def get(stage: str, corpus: str) -> dict:
        if (stage, corpus) not in cache:
            out = root / f"{stage}-{corpus}"
            stats = LocalExecutor([STAGES[stage]], SETTINGS).run([inputs[corpus]], out)
            cache[stage, corpus] = outcome(out, stats)
        return cache[stage, corpus]

    return get


# P = 7 everywhere (more partitions than documents in most corpora: partitions with no key, no
# edge, no member); P = 3 too where the corpus has pairs to spread.
CASES = [
    pytest.param(stage, corpus, p, id=f"{stage}-{corpus}-{p}")
    for stage in STAGES
    if stage != "paragraph_all"
    for corpus in CORPORA
    for p in ((3, 7) if corpus in ("one_pair", "empty_shard", "near") else (7,))
] + [pytest.param("paragraph_all", "identical", 3, id="paragraph_all-identical-3")]  # no kept row


@pytest.mark.parametrize(("stage", "corpus", "partitions"), CASES)
def test_ray_dedup_keeps_the_local_documents_on_small_inputs(
    tmp_path, local_ray, inputs, local_outcomes, stage, corpus, partitions
):
    executor = RayExecutor([STAGES[stage]], SETTINGS, partitions=partitions)
    stats = executor.run([inputs[corpus]], tmp_path / "ray")
    got, expected = outcome(tmp_path / "ray", stats), local_outcomes(stage, corpus)
    assert [row["id"] for row in got["kept"]] == [row["id"] for row in expected["kept"]]
    assert got["rejects"] == expected["rejects"]
    assert got["counts"] == expected["counts"]
    assert got["kept"] == expected["kept"]  # texts (paragraph edits) and cluster columns too


@pytest.mark.parametrize("partitions", [1, 7])
@pytest.mark.parametrize("stage", [s for s in STAGES if s != "paragraph_all"])
def test_distributed_reduce_matches_the_local_reduce_with_empty_and_keyless_signature_files(
    tmp_path, local_ray, stage, partitions
):
    """Signature files as the map could write them: rows, none at all (between two others, so
    the document numbering has an empty range), and rows with no key (no text, no URL)."""
    name, options = STAGES[stage]
    instance = build_stage(name, options)
    flat = [row for shard in near() for row in shard]
    keyless = [row for shard in no_signatures() for row in shard]
    files = []
    for k, rows in enumerate([flat[:6], [], flat[6:], keyless]):
        batch = pa.table(
            {
                "id": pa.array([r["id"] for r in rows], pa.string()),
                "text": pa.array([r["text"] for r in rows], pa.string()),
                "url": pa.array([r.get("url") for r in rows], pa.string()),
            }
        )
        batch = assign_keys(batch, k, 0)
        files.append(tmp_path / f"sig-{k}.parquet")
        pq.write_table(instance.signatures(batch), files[-1])
    expected = instance.reduce(files, tmp_path / "local").sort_by("doc_key")
    target = tmp_path / "decisions.parquet"
    if name == "paragraph_dedup":
        paragraph_reduce(instance, files, target, partitions)
    else:
        distributed_reduce(instance, instance.cluster_rule(), files, target, partitions)
    got = pq.read_table(target).sort_by("doc_key")
    assert got.to_pylist() == expected.to_pylist()
    assert stage == "exact" or expected.num_rows > 0  # near-duplicates do cluster


def test_the_corpora_do_reach_the_edges(local_outcomes):
    """What the comparisons above rest on (the local executor, no Ray): how many go where."""

    def rejected(stage: str, corpus: str) -> int:
        return local_outcomes(stage, corpus)["counts"]["rejected"]

    assert {rejected(stage, "distinct") for stage in STAGES} == {0}
    assert {rejected(stage, "no_signatures") for stage in STAGES} == {0}
    assert {rejected(stage, "one_pair") for stage in STAGES if stage != "paragraph_all"} == {1}
    assert rejected("exact", "identical") == 17 and rejected("paragraph_all", "identical") == 18
    assert rejected("url", "empty_shard") == 2 and rejected("exact", "empty_shard") == 1
    assert (rejected("exact", "near"), rejected("minhash", "near")) == (0, 8)
    assert rejected("minhash_t05", "near") == 10  # the lower threshold links more
    kept = local_outcomes("paragraph", "near")["kept"]
    assert sum(row["paragraphs_removed"] > 0 for row in kept) == 9  # repeated paragraphs cut
