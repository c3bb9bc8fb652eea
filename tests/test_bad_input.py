"""Bad input never kills a run: each case is reported with file and record, counted as
errored, and the counts reconcile."""

import gzip
import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from conftest import reconciled_run

GOOD = {"id": "good", "text": "A perfectly ordinary document."}


def run(inputs: Path, out: Path, **settings) -> tuple[dict, list[dict]]:
    return reconciled_run(["normalize", "exact_dedup"], [inputs], out, **settings)


def lines(*records) -> bytes:
    return b"".join(
        (r if isinstance(r, bytes) else json.dumps(r).encode()) + b"\n" for r in records
    )


def warc_record(record_id: str, url: str, html: str, *, cut: int = 0) -> bytes:
    body = html.encode()
    http = b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n\r\n" + body
    head = (
        "WARC/1.1\r\nWARC-Type: response\r\n"
        f"WARC-Record-ID: <urn:uuid:{record_id}>\r\nWARC-Target-URI: {url}\r\n"
        "WARC-Date: 2024-01-01T00:00:00Z\r\nContent-Type: application/http; msgtype=response\r\n"
        f"Content-Length: {len(http)}\r\n\r\n"
    ).encode()
    record = head + http + b"\r\n\r\n"
    return gzip.compress(record[: len(record) - cut] if cut else record, mtime=0)


def test_truncated_gzip_keeps_what_was_read_and_reports_the_rest(tmp_path):
    data = gzip.compress(lines(*({"id": f"d{i}", "text": f"text {i}"} for i in range(200))))
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "cut.jsonl.gz").write_bytes(data[: len(data) // 2])
    stats, errors = run(tmp_path / "in", tmp_path / "out")
    assert 0 < stats["kept"] < 200
    assert len(errors) == 1
    assert errors[0]["file"].endswith("cut.jsonl.gz")
    assert errors[0]["record"].startswith("after line ")
    assert "ends early or is corrupt" in errors[0]["message"]
    assert "lost: unknown" in errors[0]["message"]


def test_invalid_utf8_broken_json_and_missing_text_each_name_their_line(tmp_path):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "mixed.jsonl").write_bytes(
        lines(
            GOOD,
            b'{"id": "latin1", "text": "caf\xe9"}',
            b'{"id": "broken", "text": ',
            {"id": "no_text", "title": "x"},
            {"id": "good2", "text": "Another one."},
        )
    )
    stats, errors = run(tmp_path / "in", tmp_path / "out")
    assert stats["read"] == 5 and stats["kept"] == 2 and stats["errored"] == 3
    by_line = {e["record"]: e["message"] for e in errors}
    assert "invalid UTF-8" in by_line["line 2"]
    assert "invalid JSON" in by_line["line 3"]
    assert "missing field 'text'" in by_line["line 4"]
    assert all(e["file"].endswith("mixed.jsonl") for e in errors)


def test_truncated_warc_record_is_an_error_and_the_other_records_are_read(tmp_path):
    page = "<html><body><p>{}</p></body></html>"
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "crawl.warc.gz").write_bytes(
        warc_record("00000000-0000-0000-0000-000000000001", "http://a.test/", page.format("one"))
        + warc_record("00000000-0000-0000-0000-000000000002", "http://b.test/", page.format("two"))
        + warc_record(
            "00000000-0000-0000-0000-000000000003", "http://c.test/", page.format("three"), cut=30
        )
    )
    stats, errors = run(tmp_path / "in", tmp_path / "out")
    assert stats["kept"] == 2 and stats["errored"] == 1
    assert errors[0]["file"].endswith("crawl.warc.gz")
    assert "record 3" in errors[0]["record"]


def test_empty_files_are_read_as_nothing(tmp_path):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "empty.jsonl").write_bytes(b"")
    (tmp_path / "in" / "empty.jsonl.gz").write_bytes(gzip.compress(b""))
    (tmp_path / "in" / "ok.jsonl").write_bytes(lines(GOOD))
    stats, errors = run(tmp_path / "in", tmp_path / "out")
    assert stats["read"] == 1 and stats["kept"] == 1 and errors == []


def test_a_50_mb_document_is_reported_not_fatal(tmp_path):
    (tmp_path / "in").mkdir()
    huge = {"id": "huge", "text": "word " * (10 * 1024 * 1024)}
    (tmp_path / "in" / "big.jsonl").write_bytes(lines(GOOD, huge, {"id": "after", "text": "ok"}))
    stats, errors = run(tmp_path / "in", tmp_path / "out")
    assert stats["read"] == 3 and stats["kept"] == 2 and stats["errored"] == 1
    assert errors[0]["record"] == "line 2"
    assert "exceeds max_document_bytes" in errors[0]["message"]
    assert sorted(pq.read_table(tmp_path / "out" / "data")["id"].to_pylist()) == ["after", "good"]


@pytest.mark.parametrize("limit", [100 * 1024 * 1024])
def test_the_size_limit_is_a_setting(tmp_path, limit):
    (tmp_path / "in").mkdir()
    text = "word " * (4 * 1024 * 1024)
    (tmp_path / "in" / "big.jsonl").write_bytes(lines({"id": "big", "text": text}))
    stats, _ = run(tmp_path / "in", tmp_path / "out", max_document_bytes=limit)
    assert stats["kept"] == 1 and stats["errored"] == 0
