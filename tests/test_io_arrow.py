"""Arrow IPC files and Hugging Face save_to_disk folders, written by the real `datasets`."""

import json
from pathlib import Path

import datasets
import pyarrow as pa
import pytest
import zstandard

from textmill.api import Pipeline
from textmill.document import empty_batch
from textmill.io import InputError, ReadOptions, plan_shards, read_shard

datasets.disable_progress_bars()


def read_all(*paths, **options):
    shards, unknown = plan_shards([str(p) for p in paths])
    batches = [b for shard in shards for b in read_shard(shard, ReadOptions(**options))]
    docs = pa.concat_tables(
        [b.docs for b in batches] or [empty_batch()], promote_options="permissive"
    )
    return shards, unknown, docs, [e for b in batches for e in b.errors]


def texts(n: int, start: int = 0) -> list[str]:
    return [f"document {i} has words of its own." for i in range(start, start + n)]


def test_a_save_to_disk_folder_reads_its_arrow_shards_and_never_its_json(tmp_path):
    folder = tmp_path / "ds"
    rows = {
        "id": list(range(100)),
        "text": texts(100),
        "url": [f"http://x.test/{i}" for i in range(100)],
    }
    datasets.Dataset.from_dict(rows).save_to_disk(str(folder), num_shards=3)
    shards, unknown, docs, errors = read_all(folder)
    assert sorted(Path(p).name for s in shards for p in s.paths) == [
        f"data-0000{i}-of-00003.arrow" for i in range(3)
    ]
    assert (unknown, errors) == ([], [])
    assert sorted(docs["id"].to_pylist(), key=int) == [str(i) for i in range(100)]
    assert sorted(docs["text"].to_pylist()) == sorted(texts(100))
    assert docs["metadata"].null_count == 100  # no split known, nothing else to keep
    stats = Pipeline(["normalize"]).run([folder], tmp_path / "out", progress=False)
    assert (stats["read"], stats["kept"], stats["errored"], stats["reconciled"]) == (
        100,
        100,
        0,
        True,
    )


def test_a_dataset_dict_reads_every_split_and_tags_rows_with_it(tmp_path):
    folder = tmp_path / "dd"
    datasets.DatasetDict(
        {
            "train": datasets.Dataset.from_dict({"text": texts(5), "label": [1, 0, 1, 0, 1]}),
            "test": datasets.Dataset.from_dict({"text": texts(2, 5), "label": [0, 1]}),
        }
    ).save_to_disk(str(folder))
    for argument in (folder, tmp_path):  # the folder itself, or any folder above it
        shards, unknown, docs, errors = read_all(argument)
        assert (len(shards), unknown, errors) == (2, [], [])
        by_text = {row["text"]: json.loads(row["metadata"]) for row in docs.to_pylist()}
        assert by_text[texts(1)[0]] == {"label": 1, "split": "train"}
        assert by_text[texts(1, 5)[0]] == {"label": 0, "split": "test"}
        assert {Path(s).parent.name for s in docs["source"].to_pylist()} == {"train", "test"}


def test_the_split_a_dataset_was_saved_with_is_its_rows_split(tmp_path):
    folder = tmp_path / "val"
    split = datasets.Split.VALIDATION
    datasets.Dataset.from_dict({"text": texts(3)}, split=split).save_to_disk(str(folder))
    assert json.loads((folder / "state.json").read_text())["_split"] == "validation"
    _, _, docs, _ = read_all(folder)
    assert [json.loads(m) for m in docs["metadata"].to_pylist()] == [{"split": "validation"}] * 3


def test_a_split_column_in_the_data_wins_over_the_folder(tmp_path):
    folder = tmp_path / "own"
    rows = {"text": texts(2), "split": ["a", "b"]}
    datasets.DatasetDict({"train": datasets.Dataset.from_dict(rows)}).save_to_disk(str(folder))
    _, _, docs, _ = read_all(folder)
    assert [json.loads(m)["split"] for m in docs["metadata"].to_pylist()] == ["a", "b"]


def test_a_load_dataset_cache_folder_reads_its_arrow_files_with_their_splits(tmp_path):
    source = tmp_path / "docs.jsonl"
    source.write_text("".join(json.dumps({"text": t}) + "\n" for t in texts(4)))
    files = {"train": str(source), "test": str(source)}
    datasets.load_dataset("json", data_files=files, cache_dir=str(tmp_path / "cache"))
    shards, unknown, docs, errors = read_all(tmp_path / "cache")
    assert sorted(Path(p).name for s in shards for p in s.paths) == [
        "json-test.arrow",
        "json-train.arrow",
    ]
    assert errors == [] and all(p.endswith(".lock") for p in unknown)  # datasets' own locks
    splits = [json.loads(m)["split"] for m in docs["metadata"].to_pylist()]
    assert sorted(splits) == ["test"] * 4 + ["train"] * 4


def test_a_data_file_that_state_json_lists_but_is_missing_stops_the_plan(tmp_path):
    folder = tmp_path / "ds"
    datasets.Dataset.from_dict({"text": texts(10)}).save_to_disk(str(folder), num_shards=2)
    (folder / "data-00001-of-00002.arrow").unlink()
    with pytest.raises(InputError, match="lists data-00001-of-00002.arrow, which is missing"):
        plan_shards([str(folder)])


def test_a_state_json_outside_a_save_to_disk_folder_is_still_read_as_data(tmp_path):
    (tmp_path / "state.json").write_text(json.dumps({"text": "a document called state"}) + "\n")
    _, _, docs, errors = read_all(tmp_path)
    assert (docs["text"].to_pylist(), errors) == (["a document called state"], [])


def write_ipc(path: Path, table: pa.Table, *, file_format: bool, batch_rows: int) -> None:
    new = pa.ipc.new_file if file_format else pa.ipc.new_stream
    with new(str(path), table.schema) as writer:
        writer.write_table(table, max_chunksize=batch_rows)


@pytest.mark.parametrize("file_format", [False, True], ids=["stream", "file"])
def test_arrow_stream_and_file_formats_read_in_batches_of_the_batch_size(tmp_path, file_format):
    path = tmp_path / "docs.arrow"
    write_ipc(path, pa.table({"text": texts(25)}), file_format=file_format, batch_rows=25)
    _, _, docs, errors = read_all(path, batch_size=10)
    assert errors == []
    assert docs["text"].to_pylist() == texts(25)
    assert docs["id"].to_pylist() == [f"{path}:{i}" for i in range(25)]


@pytest.mark.parametrize("file_format", [False, True], ids=["stream", "file"])
def test_a_truncated_arrow_file_keeps_the_batches_before_the_cut(tmp_path, file_format):
    path = tmp_path / "cut.arrow"
    write_ipc(path, pa.table({"text": texts(100)}), file_format=file_format, batch_rows=10)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) * 2 // 3])
    _, _, docs, errors = read_all(path)
    assert 0 < docs.num_rows < 100
    assert docs["text"].to_pylist() == texts(docs.num_rows)
    assert [(e.record, e.records) for e in errors] == [(f"row {docs.num_rows} onward", None)]
    assert "unknown" in errors[0].message
    stats = Pipeline(["normalize"]).run([path], tmp_path / "out", progress=False)
    assert stats["read"] == docs.num_rows + 1 and stats["reconciled"]


def test_a_compressed_arrow_stream_is_read(tmp_path):
    plain = tmp_path / "plain.arrow"
    write_ipc(plain, pa.table({"text": texts(12)}), file_format=False, batch_rows=5)
    path = tmp_path / "docs.arrow.zst"
    path.write_bytes(zstandard.ZstdCompressor().compress(plain.read_bytes()))
    plain.unlink()
    _, _, docs, errors = read_all(path)
    assert (docs["text"].to_pylist(), errors) == (texts(12), [])


def test_an_int_text_column_is_a_schema_error_counting_every_row(tmp_path):
    path = tmp_path / "ints.arrow"
    write_ipc(path, pa.table({"text": list(range(30))}), file_format=False, batch_rows=7)
    _, _, docs, errors = read_all(path)
    assert docs.num_rows == 0
    assert [(e.record, e.records) for e in errors] == [("whole file", 30)]
    assert "column 'text' is int64, not a string type" in errors[0].message


def test_a_file_that_is_not_arrow_is_one_error(tmp_path):
    path = tmp_path / "fake.arrow"
    path.write_bytes(b"this is not an Arrow file at all")
    _, _, docs, errors = read_all(path)
    assert docs.num_rows == 0 and len(errors) == 1
    assert "not a readable Arrow IPC file" in errors[0].message and errors[0].records is None


def test_a_feather_file_is_read_as_arrow(tmp_path):
    from pyarrow import feather

    path = tmp_path / "docs.feather"
    feather.write_feather(pa.table({"id": [3, 4], "text": texts(2)}), str(path))  # lz4 buffers
    _, _, docs, errors = read_all(path)
    assert errors == []
    assert docs.select(["id", "text"]).to_pylist() == [
        {"id": "3", "text": texts(1)[0]},
        {"id": "4", "text": texts(2)[1]},
    ]
