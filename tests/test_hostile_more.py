"""Hostile inputs beyond issue 18's examples: file names, pipeline files, option values and
field values that each once ended a run, were silently accepted, or let invalid data out."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from conftest import reconciled_run, write_jsonl

from textmill.config import PipelineConfigError, load_pipeline_file, parse_pipeline


def test_a_file_name_that_is_not_utf8_is_skipped_and_named_not_a_traceback(tmp_path):
    folder = tmp_path / "in"
    write_jsonl(folder / "good.jsonl", [{"text": "kept"}])
    bad = os.fsencode(folder) + b"/caf\xe9.jsonl"  # a Latin-1 name
    with open(bad, "wb") as out:
        out.write(b'{"text": "unreachable"}\n')
    stats, _ = reconciled_run(["normalize"], [str(folder)], tmp_path / "out")
    assert stats["kept"] == 1
    assert stats["unknown_files"] == [f"{folder}/caf\\xe9.jsonl"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("stages:\n  - normalize: {}\nstages:\n  - exact_dedup: {}\n", "line 3: key 'stages'"),
        ("stages:\n  - gopher_quality: {min_words: 5, min_words: 9}\n", "key 'min_words'"),
        ("stages:\n  - langid: {min_score: .nan}\n", "finite number"),
        ("stages:\n  - gopher_quality: {max_symbol_word_ratio: .inf}\n", "finite number"),
        ("stages: &a\n  - normalize: {}\n  - normalize: *a\n", "must be a mapping"),
    ],
)
def test_repeated_keys_and_non_finite_numbers_are_refused(text, expected):
    with pytest.raises(PipelineConfigError, match=expected):
        parse_pipeline(text, "p.yaml")


def test_a_pipeline_file_that_is_not_utf8_is_a_clear_error(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_bytes(b"\xff\xfestages: []\n")
    with pytest.raises(PipelineConfigError, match="invalid UTF-8 at byte 0"):
        load_pipeline_file(path)


@pytest.mark.parametrize(
    ("stage", "expected"),
    [
        (("nosuch", {}), "unknown stage 'nosuch'"),
        (("normaliz", {}), "Did you mean 'normalize'"),
        ({"normalize": 5}, "must be a mapping"),
        ({"normalize": {}, "pii": {}}, "a stage is a Stage"),
        (["normalize"], "a stage is a Stage"),
    ],
)
def test_the_python_api_refuses_bad_stages_with_a_config_error(stage, expected):
    from textmill import Pipeline

    with pytest.raises(PipelineConfigError, match=expected):
        Pipeline([stage])


def test_the_python_api_takes_a_stage_as_the_pipeline_files_mapping(tmp_path):
    from textmill import Pipeline

    assert Pipeline([{"gopher_quality": {"min_words": 3}}]).specs[0].options == {"min_words": 3}


def test_nan_and_infinity_never_reach_the_output_as_invalid_json(tmp_path):
    import json

    import pyarrow as pa
    import pyarrow.parquet as pq

    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a.jsonl").write_text('{"text": "one", "score": NaN, "m": [Infinity]}\n')
    table = pa.table({"text": ["two"], "f": [float("nan")], "b": [b"\xff"]})
    pq.write_table(table, folder / "b.parquet")
    out = tmp_path / "out"
    stats, _ = reconciled_run(["normalize"], [str(folder)], out, jsonl=True)
    assert stats["kept"] == 2
    rows = pq.read_table(out / "data").to_pylist()
    strict = {"parse_constant": lambda name: pytest.fail(f"{name} in the output")}
    metadata = sorted((json.loads(r["metadata"], **strict) for r in rows), key=str)
    assert metadata == [{"f": None, "b": "b'\\xff'"}, {"score": None, "m": [None]}]
    import gzip

    lines = [
        line
        for path in (out / "jsonl").glob("*.jsonl.gz")
        for line in gzip.decompress(path.read_bytes()).decode().splitlines()
    ]
    assert len(lines) == 2
    for line in lines:
        json.loads(line, **strict)


def test_compression_is_read_from_the_content_not_the_name(tmp_path):
    import bz2
    import gzip

    import zstandard

    folder = tmp_path / "in"
    folder.mkdir()
    line = b'{"text": "hidden in a misnamed file"}\n'
    (folder / "gzip.jsonl").write_bytes(gzip.compress(line))
    (folder / "zstd.jsonl.gz").write_bytes(zstandard.ZstdCompressor().compress(line))
    (folder / "bz2.jsonl.zst").write_bytes(bz2.compress(line))
    (folder / "zstd.txt").write_bytes(zstandard.ZstdCompressor().compress(b"a text"))
    (folder / "bzh.txt").write_bytes(b"BZh9 is how this plain text starts")
    for name in ("empty.jsonl.bz2", "empty.jsonl.gz", "empty.jsonl.zst"):
        (folder / name).write_bytes(b"")
    stats, errors = reconciled_run(["normalize"], [str(folder)], tmp_path / "out")
    assert errors == []
    assert stats["kept"] == 5


@pytest.mark.parametrize(
    ("out", "settings", "expected"),
    [
        ("done/.textmill/inner", {}, "inside a textmill run's own .textmill folder"),
        ("done/data/inner", {}, "inside the output of the textmill run in"),
        ("done/rejects/inner", {}, "inside the output of the textmill run in"),
        (b"caf\xe9", {}, "name must be valid UTF-8"),
        ("new", {"batch_size": 10**23}, "batch_size must be below 2\\*\\*63"),
        ("new", {"max_document_bytes": 2**64}, "max_document_bytes must be below"),
    ],
)
def test_output_folders_and_settings_textmill_cannot_use_are_refused(
    tmp_path, out, settings, expected
):
    from textmill import Pipeline
    from textmill.executors.local import RunError, SettingsError

    folder = write_jsonl(tmp_path / "in" / "a.jsonl", [{"text": "x"}]).parent
    reconciled_run(["normalize"], [str(folder)], tmp_path / "done")
    target = os.fsdecode(os.fsencode(tmp_path) + b"/" + os.fsencode(out))
    with pytest.raises((RunError, SettingsError), match=expected):
        Pipeline(["normalize"]).run([str(folder)], target, progress=False, **settings)
    assert not os.path.exists(target)


def test_an_http_body_sent_as_gzip_without_its_header_is_inflated(tmp_path):
    import gzip

    from test_io_warc import http_response, read_all, warc_record, write_warc

    html = b"<html><body><p>the page behind the missing header</p></body></html>"
    records = [
        warc_record("response", http_response(gzip.compress(html)), 1),
        warc_record("response", http_response(b"\x1f\x8b\x08 not really gzip"), 2),
    ]
    docs, errors, _, _ = read_all(write_warc(tmp_path, records, "record"))
    assert errors == []
    first, second = docs["html"].to_pylist()
    assert first == html.decode()
    assert second.endswith(" not really gzip")  # not gzip after all: kept as it came


def test_a_brotli_bomb_in_an_http_body_is_an_oversize_error_not_gigabytes(tmp_path):
    import brotli
    from test_io_warc import http_response, read_all, warc_record, write_warc

    compressor = brotli.Compressor(quality=1)
    bomb = b"".join(compressor.process(b"\0" * (1 << 24)) for _ in range(16)) + compressor.finish()
    block = http_response(bomb, headers=("Content-Encoding: br",))
    path = write_warc(tmp_path, [warc_record("response", block, 1)], None)
    docs, errors, _, _ = read_all(path, max_document_bytes=1000)
    assert docs.num_rows == 0 and len(errors) == 1
    inflated = int(errors[0].message.split()[2].replace(",", ""))
    assert 1000 < inflated < 64 << 20  # stopped near the limit, not at the 256 MiB it holds


@pytest.mark.parametrize("damage", ["stats", "data"])
def test_report_on_a_damaged_output_is_one_line_and_exit_2(tmp_path, capsys, damage):
    import json

    from textmill.cli import main

    folder = write_jsonl(tmp_path / "in" / "a.jsonl", [{"text": "x"}]).parent
    out = tmp_path / "out"
    reconciled_run(["normalize"], [str(folder)], out)
    if damage == "stats":
        stats = json.loads((out / "stats.json").read_text())
        stats.update(read="many", stages=[{"name": 5}])
        (out / "stats.json").write_text(json.dumps(stats))
    else:
        next((out / "data").glob("*.parquet")).write_bytes(b"not parquet")
    assert main(["report", str(out)]) == 2
    assert "is damaged" in capsys.readouterr().err


def test_a_jsonl_id_or_url_that_is_no_string_keeps_its_json_spelling(tmp_path):
    import pyarrow.parquet as pq

    records = [
        {"id": True, "text": "a", "url": 5},
        {"id": {"x": [1, None]}, "text": "b", "url": {"host": "é"}},
        {"id": 1.5, "text": "c"},
    ]
    folder = write_jsonl(tmp_path / "in" / "a.jsonl", records).parent
    reconciled_run(["normalize"], [str(folder)], tmp_path / "out")
    rows = pq.read_table(tmp_path / "out" / "data").to_pylist()
    assert [(r["id"], r["url"]) for r in rows] == [
        ("true", "5"),
        ('{"x": [1, null]}', '{"host": "é"}'),
        ("1.5", None),
    ]


def test_a_pipeline_file_of_many_megabytes_is_refused_before_it_is_parsed(tmp_path):
    from textmill.config import MAX_PIPELINE_BYTES

    path = tmp_path / "p.yaml"
    path.write_text("stages:\n  - normalize: {}\n# " + "x" * MAX_PIPELINE_BYTES + "\n")
    with pytest.raises(PipelineConfigError, match="a pipeline file of 4,194,3"):
        load_pipeline_file(path)


def test_a_json_error_message_says_at_once(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a.jsonl").write_bytes(b'{"text": "nul \x00 inside"}\r\n{"text": "ok"}\r\n')
    stats, errors = reconciled_run(["normalize"], [str(folder)], tmp_path / "out")
    assert stats["kept"] == 1
    assert errors[0]["message"] == "invalid JSON (Invalid control character at column 15)"


def test_a_json_file_that_is_one_document_is_one_error_of_unknown_size(tmp_path):
    import json

    folder = tmp_path / "in"
    folder.mkdir()
    records = [{"text": f"record {i}"} for i in range(5)]
    (folder / "pretty.json").write_text(json.dumps(records, indent=2))
    (folder / "compact.json").write_text(json.dumps(records) + "\n")
    (folder / "object.json").write_text(json.dumps({"data": records}, indent=1))
    (folder / "lines.jsonl").write_text("[1, 2]\n" + json.dumps(records[0]) + "\n")
    stats, errors = reconciled_run(["normalize"], [str(folder)], tmp_path / "out")
    whole = sorted(Path(e["file"]).name for e in errors if e["records"] is None)
    assert whole == ["compact.json", "object.json", "pretty.json"]
    assert stats["kept"] == 1 and stats["errored"] == 4  # the JSONL's list line is its own


def test_reading_a_runs_data_into_that_run_says_why_nothing_is_read(tmp_path):
    from textmill import Pipeline
    from textmill.io.files import InputError

    folder = write_jsonl(tmp_path / "in" / "a.jsonl", [{"text": "x"}]).parent
    out = tmp_path / "out"
    reconciled_run(["normalize"], [str(folder)], out)
    with pytest.raises(InputError, match="the output of this run, which it never reads"):
        Pipeline(["normalize"]).run([str(out / "data")], out, progress=False, overwrite=True)
    assert len(list((out / "data").glob("*.parquet"))) == 1
