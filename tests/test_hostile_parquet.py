"""Hostile Parquet files: every row ends kept or errored, an error that loses rows says how
many, and a readable row group after a bad one is still read."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import reconciled_run

import textmill
from textmill.document import empty_batch
from textmill.io import ReadOptions
from textmill.io.parquet import read_parquet


def read(path: Path, **options):
    batches = list(read_parquet(str(path), ReadOptions(**options)))
    tables = [b.docs for b in batches] or [empty_batch()]
    docs = pa.concat_tables(tables, promote_options="permissive")
    return docs, [e for b in batches for e in b.errors]


def run(path: Path, out: Path) -> tuple[dict, list[dict]]:
    """A real run over one file: the counts reconcile and errored adds up the errors' rows."""
    return reconciled_run(["normalize"], [path], out)


def texts(n: int, start: int = 0) -> list[str]:
    return [f"document {i} says something of its own." for i in range(start, start + n)]


def corrupt_row_group(path: Path, group: int, column: int, *, payload: bool) -> None:
    """Overwrite bytes of one column chunk: its page header, or the end of its page data."""
    chunk = pq.ParquetFile(path).metadata.row_group(group).column(column)
    offset = chunk.data_page_offset + (chunk.total_compressed_size - 24 if payload else 0)
    data = bytearray(path.read_bytes())
    data[offset : offset + 8] = b"\xff" * 8
    path.write_bytes(bytes(data))


def test_a_truncated_file_is_one_error_that_says_its_rows_are_unknown(tmp_path):
    path = tmp_path / "cut.parquet"
    pq.write_table(pa.table({"text": texts(500)}), path, row_group_size=100)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    stats, errors = run(path, tmp_path / "out")
    assert stats["read"] == 1 and stats["errored"] == 1
    assert errors[0]["records"] is None
    assert "not a readable Parquet file" in errors[0]["message"]
    assert "unknown" in errors[0]["message"]


@pytest.mark.parametrize(
    ("values", "type_name"),
    [
        (pa.array(list(range(40)), pa.int64()), "int64"),
        (pa.array([0.5] * 40, pa.float64()), "double"),
        (pa.array([["a", "b"]] * 40, pa.list_(pa.string())), "list<element: string>"),
        (pa.array([{"body": "x"}] * 40, pa.struct([("body", pa.string())])), "struct<body"),
    ],
    ids=["int64", "float64", "list", "struct"],
)
def test_a_text_column_that_is_not_a_string_is_a_schema_error_counting_every_row(
    tmp_path, values, type_name
):
    path = tmp_path / "typed.parquet"
    pq.write_table(
        pa.table({"id": [f"d{i}" for i in range(40)], "text": values}), path, row_group_size=7
    )
    stats, errors = run(path, tmp_path / "out")
    assert (stats["read"], stats["kept"], stats["errored"]) == (40, 0, 40)
    assert len(errors) == 1 and errors[0]["records"] == 40
    assert errors[0]["record"] == "whole file"
    assert f"column 'text' is {type_name}" in errors[0]["message"]
    assert "not a string type" in errors[0]["message"]
    assert "all 40 rows counted as errored" in errors[0]["message"]


def test_a_corrupt_page_loses_its_row_group_and_the_next_row_groups_are_read(tmp_path):
    for compression, payload in [("none", False), ("snappy", True), ("zstd", True)]:
        path = tmp_path / f"bad-{compression}.parquet"
        table = pa.table({"id": [f"d{i}" for i in range(30)], "text": texts(30)})
        pq.write_table(
            table, path, row_group_size=10, compression=compression, use_dictionary=False
        )
        corrupt_row_group(path, 1, 1, payload=payload)
        stats, errors = run(path, tmp_path / f"out-{compression}")
        assert (stats["read"], stats["kept"], stats["errored"]) == (30, 20, 10), compression
        assert [(e["record"], e["records"]) for e in errors] == [("row group 1 (rows 10-19)", 10)]
        assert "corrupt Parquet data" in errors[0]["message"]
        kept = pq.read_table(tmp_path / f"out-{compression}" / "data")["id"].to_pylist()
        assert sorted(kept) == sorted(f"d{i}" for i in [*range(10), *range(20, 30)])


def test_page_checksums_catch_corruption_that_still_decodes(tmp_path):
    """Uncompressed PLAIN pages decode whatever their bytes; a writer's CRC says they changed."""
    path = tmp_path / "crc.parquet"
    table = pa.table({"text": texts(20)})
    pq.write_table(
        table,
        path,
        row_group_size=10,
        compression="none",
        use_dictionary=False,
        write_page_checksum=True,
    )
    corrupt_row_group(path, 0, 0, payload=True)
    docs, errors = read(path)
    assert docs["text"].to_pylist() == texts(10, 10)
    assert [(e.record, e.records) for e in errors] == [("row group 0 (rows 0-9)", 10)]
    assert "CRC" in errors[0].message


def test_a_failure_inside_a_row_group_counts_only_the_rows_not_read(tmp_path):
    """A row group read in several batches: the batches before the bad page stay read."""
    path = tmp_path / "pages.parquet"
    table = pa.table({"text": texts(40)})
    pq.write_table(
        table,
        path,
        row_group_size=40,
        data_page_size=1,
        write_batch_size=10,
        compression="snappy",
        use_dictionary=False,
    )
    meta = pq.ParquetFile(path).metadata.row_group(0).column(0)
    data = bytearray(path.read_bytes())
    end = meta.data_page_offset + meta.total_compressed_size
    data[end - 24 : end - 16] = b"\xff" * 8  # the last of the four pages
    path.write_bytes(bytes(data))
    docs, errors = read(path, batch_size=10)
    assert 0 < docs.num_rows < 40 and docs.num_rows + errors[0].records == 40
    assert docs["text"].to_pylist() == texts(docs.num_rows)
    assert errors[0].record.startswith(f"row group 0 (rows {docs.num_rows}-39)")


def test_string_like_columns_are_text_and_an_integer_id_becomes_a_string(tmp_path):
    values = texts(4)
    path = tmp_path / "kinds.parquet"
    pq.write_table(
        pa.table(
            {
                "id": pa.array([1, 2, 3, 4], pa.int64()),
                "text": pa.array(values).dictionary_encode(),
                "html": pa.array(["<p>a</p>", None, None, None], pa.large_string()),
                "url": pa.array(["http://x.test/1", None, None, None]).dictionary_encode(),
            }
        ),
        path,
    )
    docs, errors = read(path)
    assert errors == []
    assert docs["id"].to_pylist() == ["1", "2", "3", "4"]
    assert docs["text"].to_pylist() == values
    assert docs.schema.field("text").type == pa.large_string()
    assert docs["html"].to_pylist() == ["<p>a</p>", None, None, None]
    assert docs["url"].to_pylist() == ["http://x.test/1", None, None, None]


def test_bytes_are_decoded_as_utf8_and_an_undecodable_row_is_its_own_error(tmp_path):
    path = tmp_path / "bytes.parquet"
    raw = [b"caf\xc3\xa9 au lait", b"\xff\xfe not utf-8", b"\xed\xa0\x80 lone surrogate", b"ok"]
    pq.write_table(pa.table({"text": pa.array(raw, pa.binary())}), path)
    stats, errors = run(path, tmp_path / "out")
    assert (stats["read"], stats["errored"]) == (4, 2)
    assert [(e["record"], e["records"]) for e in errors] == [("row 1", 1), ("row 2", 1)]
    assert all("column 'text' is not valid UTF-8" in e["message"] for e in errors)
    docs, _ = read(path)
    assert docs["text"].to_pylist() == ["café au lait", "ok"]


def test_a_string_column_holding_invalid_utf8_is_caught_row_by_row(tmp_path):
    """Parquet string columns are bytes on disk and pyarrow reads them unchecked."""
    raw = [b"fine text", b"bad \xff byte", b"fine again"]
    binary = pa.array(raw, pa.binary())
    hostile = pa.Array.from_buffers(pa.string(), len(raw), binary.buffers())
    path = tmp_path / "lying.parquet"
    pq.write_table(pa.table({"text": texts(3), "title": hostile}), path)
    docs, errors = read(path)
    assert [(e.record, e.message) for e in errors] == [
        ("row 1", "column 'title' is not valid UTF-8")
    ]
    assert docs["text"].to_pylist() == [texts(3)[0], texts(3)[2]]
    titles = [json.loads(m)["title"] for m in docs["metadata"].to_pylist()]
    assert titles == ["fine text", "fine again"]


def test_null_text_is_that_rows_error_unless_the_row_has_html(tmp_path):
    path = tmp_path / "nulls.parquet"
    pq.write_table(
        pa.table(
            {
                "text": ["one", None, None, "four"],
                "html": [None, "<p>two</p>", None, None],
            }
        ),
        path,
    )
    stats, errors = run(path, tmp_path / "out")
    assert (stats["read"], stats["errored"]) == (4, 1)
    assert [(e["record"], e["message"]) for e in errors] == [
        ("row 2", "'text' is null (and no 'html')")
    ]


def test_zero_rows_read_as_nothing_whatever_the_schema(tmp_path):
    for name, table in [
        ("empty.parquet", pa.table({"text": pa.array([], pa.string())})),
        ("empty-int.parquet", pa.table({"text": pa.array([], pa.int64())})),
    ]:
        pq.write_table(table, tmp_path / name)
        docs, errors = read(tmp_path / name)
        assert (docs.num_rows, errors) == (0, [])


def test_many_row_groups_are_all_read_in_order(tmp_path):
    path = tmp_path / "many.parquet"
    pq.write_table(pa.table({"text": texts(1000)}), path, row_group_size=3)
    assert pq.ParquetFile(path).metadata.num_row_groups == 334
    docs, errors = read(path, batch_size=100)
    assert errors == []
    assert docs["text"].to_pylist() == texts(1000)
    assert docs["id"].to_pylist() == [f"{path}:{i}" for i in range(1000)]


def test_html_instead_of_text(tmp_path):
    path = tmp_path / "pages.parquet"
    pq.write_table(pa.table({"html": ["<p>a</p>", "<p>b</p>"], "url": ["u1", "u2"]}), path)
    docs, errors = read(path)
    assert errors == []
    assert docs["html"].to_pylist() == ["<p>a</p>", "<p>b</p>"]
    assert docs["text"].to_pylist() == [None, None]


def test_an_id_column_that_is_not_a_label_is_a_schema_error(tmp_path):
    path = tmp_path / "ids.parquet"
    pq.write_table(pa.table({"id": [[1], [2]], "text": ["a", "b"]}), path)
    _, errors = read(path)
    assert [(e.record, e.records) for e in errors] == [("whole file", 2)]
    assert "column 'id' is list<element: int64>, not a string or integer type" in errors[0].message


def test_a_struct_metadata_column_and_a_source_column_are_kept_as_metadata(tmp_path):
    path = tmp_path / "meta.parquet"
    pq.write_table(
        pa.table({"text": ["a"], "metadata": [{"lang": "en"}], "source": ["crawl-7"]}), path
    )
    docs, errors = read(path)
    assert errors == []
    assert json.loads(docs["metadata"][0].as_py()) == {
        "metadata": {"lang": "en"},
        "source": "crawl-7",
    }
    assert docs["source"].to_pylist() == [str(path)]


def test_an_oversized_row_is_an_error_and_its_neighbours_are_read(tmp_path):
    path = tmp_path / "big.parquet"
    pq.write_table(pa.table({"html": ["<p>small</p>", "x" * 5000, "<p>also</p>"]}), path)
    docs, errors = read(path, max_document_bytes=1000)
    assert docs["html"].to_pylist() == ["<p>small</p>", "<p>also</p>"]
    assert [e.record for e in errors] == ["row 1"] and "exceeds" in errors[0].message


FOOTER_FUZZ = """
import io, sys
import pyarrow as pa, pyarrow.parquet as pq
from textmill.io import ReadOptions
from textmill.io.parquet import read_parquet

table = pa.table({"text": ["a", "b"], "meta": [{"b": ["x"]}, {"b": []}]})
buffer = io.BytesIO()
pq.write_table(table, buffer)
data = buffer.getvalue()
footer = int.from_bytes(data[-8:-4], "little")
path = sys.argv[1]
for offset in range(len(data) - 8 - footer, len(data) - 8):
    hostile = bytearray(data)
    hostile[offset] ^= 0x40
    with open(path, "wb") as out:
        out.write(hostile)
    read = list(read_parquet(path, ReadOptions()))
print("survived", len(range(len(data) - 8 - footer, len(data) - 8)))
"""


def test_no_single_byte_corruption_of_the_footer_crashes_the_reader(tmp_path):
    """pyarrow aborts the process (an uncaught C++ exception) on some corrupt column chunk
    metadata, e.g. a definition-level histogram of the wrong size; the reader must never
    touch what would abort, and every other failure is an error. Run in a child process so
    that an abort fails this test, not the test session."""
    script = tmp_path / "fuzz_footer.py"
    script.write_text(FOOTER_FUZZ)
    done = subprocess.run(
        [sys.executable, str(script), str(tmp_path / "hostile.parquet")],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(Path(textmill.__file__).parents[1])},
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.startswith("survived")
