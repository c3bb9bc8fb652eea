"""JSONL and Parquet readers, input expansion (dirs, globs, fsspec URLs) and JSONL output."""

import gzip
import json

import pyarrow as pa
import pyarrow.parquet as pq
import zstandard

from textmill.api import Pipeline
from textmill.io import ReadOptions, plan_shards, read_shard


def read_all(path, **options):
    shards, _ = plan_shards([str(path)])
    batches = [b for shard in shards for b in read_shard(shard, ReadOptions(**options))]
    docs = pa.concat_tables([b.docs for b in batches], promote_options="permissive")
    return docs, [e for b in batches for e in b.errors]


def test_jsonl_ids_urls_and_metadata(tmp_path):
    path = tmp_path / "a.jsonl.zst"
    records = [
        {"id": 7, "text": "first", "url": "http://x.test/1", "lang_hint": "en"},
        {"text": "second", "metadata": {"url": "http://x.test/2"}},
    ]
    payload = "".join(json.dumps(r) + "\n" for r in records).encode()
    path.write_bytes(zstandard.ZstdCompressor().compress(payload))
    docs, errors = read_all(path)
    assert errors == []
    assert docs["id"].to_pylist() == ["7", f"{path}:2"]
    assert docs["url"].to_pylist() == ["http://x.test/1", "http://x.test/2"]
    assert json.loads(docs["metadata"][0].as_py()) == {"url": "http://x.test/1", "lang_hint": "en"}


def test_jsonl_custom_field_names(tmp_path):
    path = tmp_path / "a.jsonl"
    path.write_text(json.dumps({"doc_id": "d1", "content": "hello", "link": "http://y"}) + "\n")
    docs, _ = read_all(path, text_field="content", id_field="doc_id", url_field="link")
    assert docs.select(["id", "text", "url"]).to_pylist() == [
        {"id": "d1", "text": "hello", "url": "http://y"}
    ]


def test_parquet_reads_text_or_html_and_packs_other_columns(tmp_path):
    path = tmp_path / "docs.parquet"
    pq.write_table(
        pa.table({"id": ["a", None], "text": ["alpha", "beta"], "score": [0.5, 0.7]}),
        path,
        row_group_size=1,
    )
    docs, errors = read_all(path, batch_size=1)
    assert errors == []
    assert docs["id"].to_pylist() == ["a", f"{path}:1"]
    assert docs["text"].to_pylist() == ["alpha", "beta"]
    assert [json.loads(m)["score"] for m in docs["metadata"].to_pylist()] == [0.5, 0.7]


def test_parquet_without_text_or_html_is_one_error_naming_the_file(tmp_path):
    path = tmp_path / "bad.parquet"
    pq.write_table(pa.table({"body": ["x"]}), path)
    docs, errors = read_all(path)
    assert docs.num_rows == 0
    assert errors[0].file == str(path) and "missing column 'text'" in errors[0].message


def test_a_file_that_is_not_parquet_is_an_error(tmp_path):
    path = tmp_path / "fake.parquet"
    path.write_bytes(b"not parquet at all")
    _, errors = read_all(path)
    assert "not a readable Parquet file" in errors[0].message


def test_globs_directories_and_file_urls_expand_to_the_same_shards(tmp_path):
    for name in ("a.jsonl", "b.jsonl.gz", "notes.xyz", ".hidden.jsonl"):
        (tmp_path / name).write_bytes(b"")
    by_dir, unknown = plan_shards([str(tmp_path)])
    by_glob, _ = plan_shards([str(tmp_path / "*.jsonl*")])
    by_url, _ = plan_shards([f"file://{tmp_path}"])
    names = [s.name for s in by_dir]
    assert len(names) == 2
    assert names == [s.name for s in by_glob] == [s.name for s in by_url]
    assert unknown == [str(tmp_path / "notes.xyz")]


def test_jsonl_output_mirrors_the_parquet_output(tmp_path):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.jsonl").write_text(
        "".join(json.dumps({"id": f"d{i}", "text": f"text {i % 3}"}) + "\n" for i in range(9))
    )
    out = tmp_path / "out"
    Pipeline(["exact_dedup"]).run([tmp_path / "in"], out, jsonl=True, progress=False)
    [jsonl] = list((out / "jsonl").glob("*.jsonl.gz"))
    rows = [json.loads(line) for line in gzip.decompress(jsonl.read_bytes()).splitlines()]
    assert [r["id"] for r in rows] == pq.read_table(out / "data")["id"].to_pylist()
    assert sorted(r["id"] for r in rows) == ["d0", "d1", "d2"]
