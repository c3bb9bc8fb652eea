"""Global shuffle: a permutation, the same bytes for the same seed however the work was split,
memory bounded by spilling, resumable per part."""

import io

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from textmill.tokens import shuffle as shuffle_module
from textmill.tokens.shuffle import (
    GlobalShuffle,
    ShuffleError,
    ShuffleOptions,
    bucket_count,
    shuffle_keys,
    shuffle_tables,
)

N_DOCS = 3000


def corpus(n=N_DOCS, seed=0) -> pa.Table:
    rng = np.random.default_rng(seed)
    lengths = rng.integers(0, 120, size=n)
    docs = [rng.integers(0, 60_000, size=k, dtype=np.uint32) for k in lengths]
    return pa.table(
        {
            "id": [f"doc-{i}" for i in range(n)],
            "source": [f"src{i % 3}" for i in range(n)],
            "lang": [None if i % 5 == 0 else "en" for i in range(n)],
            "input_ids": pa.array(docs, pa.large_list(pa.uint32())),
        }
    )


def parts_of(table: pa.Table, n_parts: int, batch: int = 97):
    """The corpus as n_parts shards of small batches, as n_parts workers would see it."""
    bounds = np.linspace(0, table.num_rows, n_parts + 1).astype(int)
    for k in range(n_parts):
        shard = table.slice(bounds[k], bounds[k + 1] - bounds[k])
        yield f"part-{k:03d}", shard.to_batches(max_chunksize=batch)


def shuffled_bytes(tables) -> bytes:
    sink = io.BytesIO()
    writer = None
    for table in tables:
        writer = writer or pq.ParquetWriter(sink, table.schema)
        writer.write_table(table)
    writer.close()
    return sink.getvalue()


def run(tmp_path, table, n_parts, name, **options):
    buckets = options.pop("buckets", None)
    opts = ShuffleOptions(**{"seed": 11, "batch_rows": 256, **options})
    tables = list(shuffle_tables(parts_of(table, n_parts), tmp_path / name, opts, buckets=buckets))
    return tables


def test_shuffle_is_a_permutation_nothing_lost_or_doubled(tmp_path):
    table = corpus()
    out = pa.concat_tables(run(tmp_path, table, 4, "s", buckets=8))
    assert out.num_rows == table.num_rows
    assert sorted(out.column("id").to_pylist()) == sorted(table.column("id").to_pylist())
    by_id = dict(zip(table.column("id").to_pylist(), table.to_pylist(), strict=True))
    for row in out.to_pylist():
        assert row == by_id[row["id"]]  # every column of the document travels with it
    assert out.schema.field("input_ids").type == pa.large_list(pa.uint32())
    # really shuffled: the input position is unrelated to the output position
    position = np.array([int(i.split("-")[1]) for i in out.column("id").to_pylist()])
    assert abs(np.corrcoef(position, np.arange(len(position)))[0, 1]) < 0.1


def test_same_seed_same_bytes_whatever_the_workers_buckets_and_budget(tmp_path):
    table = corpus()
    reference = shuffled_bytes(run(tmp_path, table, 1, "a", buckets=1))
    assert shuffled_bytes(run(tmp_path, table, 7, "b", buckets=4)) == reference
    assert shuffled_bytes(run(tmp_path, table, 3, "c", memory_bytes=40_000)) == reference
    other = shuffled_bytes(run(tmp_path, table, 3, "d", seed=12))
    assert other != reference


def test_output_tables_have_the_batch_rows_asked_for(tmp_path):
    sizes = [t.num_rows for t in run(tmp_path, corpus(), 5, "s", buckets=16)]
    assert sizes == [256] * (N_DOCS // 256) + [N_DOCS % 256]


def test_a_tiny_budget_spills_into_many_buckets_and_resplits_big_ones(tmp_path, monkeypatch):
    table = corpus()
    options = ShuffleOptions(seed=11, memory_bytes=60_000, batch_rows=256)
    assert bucket_count(table.nbytes, options) >= 16
    held = []
    original = GlobalShuffle._sorted

    def spy(self, pieces, workdir, depth):
        for bucket, order in original(self, pieces, workdir, depth):
            held.append((bucket.nbytes, depth))
            yield bucket, order

    monkeypatch.setattr(GlobalShuffle, "_sorted", spy)
    # K too small on purpose (as with an underestimated corpus): oversized buckets re-split
    out = list(shuffle_tables(parts_of(table, 2), tmp_path / "s", options, buckets=2))
    assert sum(t.num_rows for t in out) == N_DOCS
    assert len(held) > 8 and max(depth for _, depth in held) >= 1
    assert max(nbytes for nbytes, _ in held) <= 2 * options.bucket_bytes
    assert not list((tmp_path / "s").glob("split-*"))  # re-split spills are cleaned up


def test_a_killed_scatter_resumes_with_only_the_missing_parts(tmp_path):
    table = corpus()
    options = ShuffleOptions(seed=11, batch_rows=256)
    folder = tmp_path / "spill"
    parts = list(parts_of(table, 3))

    def dies(batches):
        yield batches[0]
        raise KeyboardInterrupt

    shuffle = GlobalShuffle.create_or_resume(folder, options, buckets=4)
    shuffle.scatter(*parts[0])
    with pytest.raises(KeyboardInterrupt):
        shuffle.scatter(parts[1][0], dies(parts[1][1]))
    assert shuffle.parts() == ["part-000"]
    assert not [p for p in folder.iterdir() if p.name.endswith(".tmp")]
    resumed = GlobalShuffle.create_or_resume(folder, options, buckets=64)
    assert resumed.buckets == 4 and resumed.done("part-000")
    calls = []
    for name, batches in parts:
        if not resumed.done(name):
            calls.append(name)
        resumed.scatter(name, batches)
    assert calls == ["part-001", "part-002"]
    fresh = run(tmp_path, table, 3, "fresh", buckets=4)
    assert shuffled_bytes(resumed.read()) == shuffled_bytes(fresh)
    # another seed does not reuse the spill
    assert GlobalShuffle.create_or_resume(folder, ShuffleOptions(seed=12)).parts() == []


def test_documents_without_ids_and_exact_duplicates_are_kept_and_spread(tmp_path):
    table = corpus(400)
    table = table.set_column(0, "id", pa.nulls(400, pa.string()))
    table = pa.concat_tables([table, table.slice(0, 50)])  # 50 exact duplicates
    key, tie = shuffle_keys(table, 11)
    assert len(np.unique(key)) >= 400 - 5  # empty documents share a key, nothing else
    assert np.array_equal(key, tie)  # no id: the key is the content key
    out = pa.concat_tables(run(tmp_path, table, 2, "s", buckets=8))
    assert out.num_rows == 450
    want = sorted(map(tuple, table.column("input_ids").to_pylist()))
    assert sorted(map(tuple, out.column("input_ids").to_pylist())) == want


def test_keys_depend_on_seed_source_and_id_only():
    table = corpus(50)
    key, _ = shuffle_keys(table, 1)
    other_tokens = table.set_column(
        3, "input_ids", pa.array([[1]] * 50, pa.large_list(pa.uint32()))
    )
    assert np.array_equal(shuffle_keys(other_tokens, 1)[0], key)
    assert not np.array_equal(shuffle_keys(table, 2)[0], key)
    moved = table.set_column(1, "source", pa.array(["elsewhere"] * 50))
    assert not np.array_equal(shuffle_keys(moved, 1)[0], key)
    # ("ab", "c") and ("a", "bc") are different documents
    a = pa.table(
        {"id": ["c"], "source": ["ab"], "input_ids": pa.array([[1]], pa.large_list(pa.uint32()))}
    )
    b = pa.table(
        {"id": ["bc"], "source": ["a"], "input_ids": pa.array([[1]], pa.large_list(pa.uint32()))}
    )
    assert shuffle_keys(a, 1)[0][0] != shuffle_keys(b, 1)[0][0]


def test_spill_narrows_token_ids_and_refuses_ids_that_do_not_fit(tmp_path):
    table = corpus(200)
    out = run(tmp_path, table, 2, "narrow", spill_token_type="uint16", buckets=2)
    assert sorted(pa.concat_tables(out).column("id").to_pylist()) == sorted(table["id"].to_pylist())
    wide = pa.table({"id": ["x"], "input_ids": pa.array([[70_000]], pa.large_list(pa.uint32()))})
    options = ShuffleOptions(seed=1, spill_token_type="uint16")
    with pytest.raises(ShuffleError, match="uint16"):
        list(shuffle_tables([("p", [wide])], tmp_path / "wide", options))
    assert shuffle_module.ShuffleError is ShuffleError
