"""rehydrate: FineWeb-2's simple table, the data-driven table, and materialised copies."""

import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import write_jsonl

from textmill.api import Pipeline
from textmill.cli import main
from textmill.document import make_batch
from textmill.stages.rehydrate import (
    FINEWEB2_TABLE,
    Rehydrate,
    copies_for,
    materialize,
    read_rehydration_table,
    rehydration_table,
    removal_counts_from_run,
    write_rehydration_table,
)


def with_sizes(sizes):
    batch = make_batch([f"d{i}" for i in range(len(sizes))], ["text"] * len(sizes))
    return batch.append_column("dup_cluster_size", pa.array(sizes, pa.int64()))


def test_fineweb2_simple_table():
    sizes = np.array([1, 2, 3, 4, 5, 99, 100, 999, 1000, 50_000])
    assert copies_for(sizes, FINEWEB2_TABLE).tolist() == [1, 2, 3, 3, 5, 5, 8, 8, 1, 1]


def test_stage_writes_copies_column_and_treats_missing_size_as_unique():
    out = Rehydrate().map(with_sizes([1, 3, None, 150]))
    assert out["rehydrate_copies"].to_pylist() == [1, 3, 1, 8]
    assert out.num_rows == 4


def test_inline_table_and_table_file_replace_the_default(tmp_path):
    inline = Rehydrate(table={1: 1, 10: 4}).map(with_sizes([1, 9, 10, 11]))
    assert inline["rehydrate_copies"].to_pylist() == [1, 1, 4, 4]
    path = write_rehydration_table({1: 2, 3: 7}, tmp_path / "table.json")
    assert read_rehydration_table(path) == {1: 2, 3: 7}
    from_file = Rehydrate(table_path=str(path)).map(with_sizes([1, 2, 3]))
    assert from_file["rehydrate_copies"].to_pylist() == [2, 2, 7]


def test_options_reject_two_tables_and_zero_copies():
    with pytest.raises(ValueError):
        Rehydrate(table={1: 1}, table_path="t.json")
    with pytest.raises(ValueError):
        Rehydrate(table={1: 0})


def test_missing_cluster_size_column_is_an_error_naming_minhash():
    with pytest.raises(ValueError, match="minhash_dedup"):
        Rehydrate().map(make_batch(["a"], ["x"]))


def test_data_driven_table_maps_rates_linearly_then_smooths():
    # Rates 0.4, 0.2, 0.1, 0.3, 0.5 by size; global rate 810 / 2000 = 0.405. Size 5 is above it
    # (1 copy), size 3 has the lowest rate (10 copies), the others lie in between.
    docs = {1: 1000, 2: 100, 3: 100, 4: 100, 5: 700}
    removed = {1: 400, 2: 20, 3: 10, 4: 30, 5: 350}
    rates = {s: removed[s] / docs[s] for s in docs}
    assert sum(removed.values()) / sum(docs.values()) == pytest.approx(0.405)
    linear = {s: 1 + 9 * max(0.0, (0.405 - rates[s]) / (0.405 - 0.1)) for s in docs}
    window = [
        [1, 2, 3],  # window 5 centred on size 1: itself and the two after
        [1, 2, 3, 4],
        [1, 2, 3, 4, 5],
        [2, 3, 4, 5],
        [3, 4, 5],
    ]
    expected = {
        size: int(np.floor(np.mean([linear[s] for s in sizes]) + 0.5))
        for size, sizes in zip(sorted(docs), window, strict=True)
    }
    assert rehydration_table(docs, removed) == expected
    assert expected == {1: 6, 2: 6, 3: 5, 4: 6, 5: 5}


def test_data_driven_table_without_smoothing_hits_both_ends():
    table = rehydration_table({1: 10, 2: 10, 3: 10}, {1: 5, 2: 0, 3: 1}, window=1)
    assert table == {1: 1, 2: 10, 3: 6}  # global rate 0.2; size 3: 1 + 9 * (0.1 / 0.2)


def test_materialize_repeats_rows_with_suffixed_ids(tmp_path):
    table = with_sizes([1, 2, 4]).append_column("rehydrate_copies", pa.array([1, 2, 3], pa.int32()))
    (tmp_path / "data").mkdir()
    pq.write_table(table, tmp_path / "data" / "part-0.parquet")
    pq.write_table(table, tmp_path / "data" / "not-textmills.parquet")  # a user's file: left alone
    (tmp_path / ".textmill").mkdir()
    (tmp_path / ".textmill" / "run.json").write_text('{"shards": ["part-0"], "segments": 1}')
    assert materialize(tmp_path) == 6
    copies = pq.read_table(tmp_path / "rehydrated" / "part-0.parquet")
    assert copies["id"].to_pylist() == ["d0", "d1", "d1#copy1", "d2", "d2#copy1", "d2#copy2"]


def test_run_with_minhash_then_rehydrate_then_removal_counts(tmp_path):
    text = " ".join(["the", "river", "of", "time", "and", "the", "sea", "to", "home"] * 3)
    records = [{"id": f"dup-{i}", "text": text} for i in range(3)]
    records += [{"id": "solo", "text": "the history of the town and the people who lived there"}]
    records += [{"id": "tiny", "text": "too short"}]
    write_jsonl(tmp_path / "in" / "part-0.jsonl", records)
    out = tmp_path / "out"
    stats = Pipeline(["minhash_dedup", ("gopher_quality", {"min_words": 5}), "rehydrate"]).run(
        tmp_path / "in", out, workers=1, progress=False
    )
    assert stats["kept"] == 2
    kept = pq.read_table(out / "data").sort_by("id")
    assert kept["id"].to_pylist() == ["dup-0", "solo"]
    assert kept["rehydrate_copies"].to_pylist() == [3, 1]
    docs, removed = removal_counts_from_run(out)
    assert docs == {1: 2, 3: 1} and removed == {1: 1}  # "tiny" failed gopher_quality
    assert main(["rehydrate", str(out)]) == 0  # the CLI spelling of materialize(out)
    assert pq.read_table(out / "rehydrated").num_rows == 4
    assert json.loads((out / "stats.json").read_text())["kept"] == 2
