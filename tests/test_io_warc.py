"""The WARC/WET/WAT reader on WARC bytes built here: record types, charsets, format quirks and
damaged input (truncated records, corrupt gzip members, short records)."""

from __future__ import annotations

import gzip
import json
import random
from pathlib import Path

import pyarrow as pa
import pytest

from textmill.io.base import ReadError, ReadOptions
from textmill.io.warc import read_warc

PAGE = b"<html><head><title>T</title></head><body><p>Hello page</p></body></html>"


def http_response(
    body: bytes,
    *,
    status: str = "200 OK",
    content_type: str = "text/html; charset=utf-8",
    headers: tuple[str, ...] = (),
    newline: str = "\r\n",
) -> bytes:
    lines = [f"HTTP/1.1 {status}", f"Content-Type: {content_type}", *headers]
    return (newline.join(lines) + newline + newline).encode("latin-1") + body


def warc_record(
    warc_type: str,
    block: bytes,
    number: int,
    *,
    uri: str = "http://example.com/",
    version: str = "1.0",
    content_type: str | None = None,
    extra: tuple[str, ...] = (),
    content_length: int | None = None,
) -> bytes:
    default_type = {
        "response": "application/http; msgtype=response",
        "request": "application/http; msgtype=request",
        "revisit": "application/http; msgtype=response",
        "conversion": "text/plain",
    }.get(warc_type, "application/warc-fields")
    lines = [
        f"WARC/{version}",
        f"WARC-Type: {warc_type}",
        f"WARC-Record-ID: <urn:uuid:00000000-0000-0000-0000-{number:012d}>",
        "WARC-Date: 2024-05-01T12:00:00Z",
        f"WARC-Target-URI: {uri}",
        f"Content-Type: {content_type or default_type}",
        *extra,
        f"Content-Length: {len(block) if content_length is None else content_length}",
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + block + b"\r\n\r\n"


def record_id(number: int) -> str:
    return f"urn:uuid:00000000-0000-0000-0000-{number:012d}"


def write_warc(tmp_path: Path, records: list[bytes], compression: str | None) -> str:
    """compression: None (plain), "record" (a gzip member per record) or "file" (one member)."""
    if compression == "record":
        data, name = b"".join(gzip.compress(r) for r in records), "test.warc.gz"
    elif compression == "file":
        data, name = gzip.compress(b"".join(records)), "test.warc.gz"
    else:
        data, name = b"".join(records), "test.warc"
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


def read_all(path: str, **options) -> tuple[pa.Table, list[ReadError], dict[str, int], int]:
    tables, errors, skipped, progress = [], [], {}, 0
    for batch in read_warc(path, ReadOptions(**options)):
        if batch.docs.num_rows:
            tables.append(batch.docs)
        errors += batch.errors
        for kind, count in batch.skipped.items():
            skipped[kind] = skipped.get(kind, 0) + count
        progress += batch.progress_bytes
    docs = pa.concat_tables(tables, promote_options="default") if tables else pa.table({})
    return docs, errors, skipped, progress


def pages(count: int, first: int = 1) -> list[bytes]:
    return [
        warc_record(
            "response",
            http_response(f"<html><body><p>page {n}</p></body></html>".encode()),
            n,
            uri=f"http://example.com/{n}",
        )
        for n in range(first, first + count)
    ]


def mixed_crawl() -> list[bytes]:
    return [
        warc_record("warcinfo", b"software: test\r\nformat: WARC 1.0\r\n", 1),
        warc_record("request", b"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n", 2),
        warc_record("response", http_response(PAGE), 3, uri="http://example.com/a"),
        warc_record("metadata", b"fetchTimeMs: 12\r\n", 4),
        warc_record("request", b"GET /b HTTP/1.1\r\n\r\n", 5),
        warc_record("revisit", http_response(b""), 6, extra=("WARC-Profile: identical",)),
        warc_record(
            "response",
            http_response(b"plain words here", content_type="text/plain"),
            7,
            uri="http://example.com/b.txt",
        ),
    ]


@pytest.mark.parametrize("compression", [None, "record", "file"])
def test_mixed_record_types_give_documents_for_responses_and_counts_for_the_rest(
    tmp_path, compression
):
    path = write_warc(tmp_path, mixed_crawl(), compression)
    docs, errors, skipped, progress = read_all(path)
    assert errors == []
    assert docs["id"].to_pylist() == [record_id(3), record_id(7)]
    assert docs["url"].to_pylist() == ["http://example.com/a", "http://example.com/b.txt"]
    assert docs["html"].to_pylist() == [PAGE.decode(), None]
    assert docs["text"].to_pylist() == [None, "plain words here"]
    assert skipped == {
        "warc:warcinfo": 1,
        "warc:request": 2,
        "warc:metadata": 1,
        "warc:revisit": 1,
    }
    assert progress == Path(path).stat().st_size


def test_metadata_keeps_warc_headers_http_status_and_charset(tmp_path):
    path = write_warc(tmp_path, mixed_crawl()[2:3], "record")
    docs, _, _, _ = read_all(path)
    metadata = json.loads(docs["metadata"][0].as_py())
    assert metadata == {
        "warc_record_id": record_id(3),
        "warc_date": "2024-05-01T12:00:00Z",
        "warc_type": "response",
        "content_type": "text/html",
        "charset": "utf-8",
        "charset_source": "http",
        "http_status": 200,
    }


def test_windows_1252_page_is_decoded_by_its_http_charset(tmp_path):
    text = "Café “quotes” – naïve €5"
    body = f"<html><body><p>{text}</p></body></html>".encode("cp1252")
    record = warc_record(
        "response", http_response(body, content_type="text/html; charset=windows-1252"), 1
    )
    docs, errors, _, _ = read_all(write_warc(tmp_path, [record], "record"))
    assert errors == []
    assert text in docs["html"][0].as_py()
    assert json.loads(docs["metadata"][0].as_py())["charset"] == "cp1252"


def test_latin1_label_decodes_as_windows_1252_like_browsers(tmp_path):
    body = "<p>“smart” quotes</p>".encode("cp1252")
    record = warc_record(
        "response", http_response(body, content_type="text/html; charset=ISO-8859-1"), 1
    )
    docs, _, _, _ = read_all(write_warc(tmp_path, [record], None))
    assert "“smart” quotes" in docs["html"][0].as_py()


def test_shift_jis_page_is_decoded_by_its_meta_charset(tmp_path):
    text = "日本語のウェブページです。①番目の段落。"  # ① exists only in Windows Shift_JIS (cp932)
    body = (
        '<html><head><meta http-equiv="Content-Type" content="text/html; charset=Shift_JIS">'
        f"</head><body><p>{text}</p></body></html>"
    ).encode("cp932")
    record = warc_record("response", http_response(body, content_type="text/html"), 1)
    docs, errors, _, _ = read_all(write_warc(tmp_path, [record], "record"))
    assert errors == []
    assert text in docs["html"][0].as_py()
    metadata = json.loads(docs["metadata"][0].as_py())
    assert (metadata["charset"], metadata["charset_source"]) == ("cp932", "meta")


def test_undeclared_non_utf8_page_falls_back_to_detection(tmp_path):
    text = "Привет, мир! Это обычная веб-страница на русском языке. " * 20
    body = f"<html><body><p>{text}</p></body></html>".encode("cp1251")
    record = warc_record("response", http_response(body, content_type="text/html"), 1)
    docs, errors, _, _ = read_all(write_warc(tmp_path, [record], "record"))
    assert errors == []
    assert "Привет, мир!" in docs["html"][0].as_py()
    assert json.loads(docs["metadata"][0].as_py())["charset_source"] == "detected"


def test_clueweb09_warc_0_18_record_with_lf_http_headers_is_read(tmp_path):
    body = "<html><head></head><body>ブラウニー ブリーフケース</body></html>".encode("euc-jp")
    http = http_response(
        body,
        content_type="text/html; charset=EUC-JP",
        headers=("Content-Encoding: gzip",),  # ClueWeb09 stored the body decoded anyway
        newline="\n",
    )
    records = [
        warc_record("warcinfo", b"software: Nutch 1.0-dev\n", 1, version="0.18"),
        warc_record(
            "response",
            http,
            2,
            version="0.18",
            uri="http://www.example.jp/",
            extra=("WARC-TREC-ID: clueweb09-ja0016-50-00000", "WARC-Identified-Payload-Type: "),
        ),
    ]
    records[1] = records[1].replace(b"2024-05-01T12:00:00Z", b"2008-10-294T05:21:46-0700")
    docs, errors, skipped, _ = read_all(write_warc(tmp_path, records, "record"))
    assert errors == []
    assert skipped == {"warc:warcinfo": 1}
    assert "ブラウニー ブリーフケース" in docs["html"][0].as_py()
    metadata = json.loads(docs["metadata"][0].as_py())
    assert metadata["warc_trec_id"] == "clueweb09-ja0016-50-00000"
    assert metadata["warc_date"] == "2008-10-294T05:21:46-0700"
    assert metadata["charset"] == "euc_jp"


def test_wet_conversion_record_becomes_text_with_its_language(tmp_path):
    text = "Escopete - Biquipedia\nUn escopete ye un animal.\n"
    records = [
        warc_record("warcinfo", b"isPartOf: CC-MAIN-2024-22\r\n", 1),
        warc_record(
            "conversion",
            text.encode(),
            2,
            uri="https://an.wikipedia.org/wiki/Escopete",
            extra=(
                "WARC-Identified-Content-Language: spa,arg",
                "WARC-Refers-To: <urn:uuid:11111111-0000-0000-0000-000000000000>",
            ),
        ),
    ]
    docs, errors, skipped, _ = read_all(write_warc(tmp_path, records, "record"))
    assert errors == []
    assert docs["text"].to_pylist() == [text]
    assert "html" not in docs.column_names
    metadata = json.loads(docs["metadata"][0].as_py())
    assert metadata["warc_identified_content_language"] == "spa,arg"
    assert metadata["warc_refers_to"] == "urn:uuid:11111111-0000-0000-0000-000000000000"
    assert metadata["warc_type"] == "conversion"


def test_wat_metadata_records_are_skipped_and_counted(tmp_path):
    records = [
        warc_record("metadata", b'{"Envelope": {}}', n, content_type="application/json")
        for n in range(1, 4)
    ]
    docs, errors, skipped, _ = read_all(write_warc(tmp_path, records, "record"))
    assert (docs.num_rows, errors, skipped) == (0, [], {"warc:metadata": 3})


@pytest.mark.parametrize("compression", [None, "record", "file"])
def test_truncated_last_record_is_an_error_and_earlier_records_are_kept(tmp_path, compression):
    records = pages(3)
    records[-1] = records[-1][:-60]  # cut inside the HTML body
    path = write_warc(tmp_path, records, compression)
    docs, errors, _, _ = read_all(path)
    assert docs["id"].to_pylist() == [record_id(1), record_id(2)]
    assert len(errors) == 1
    assert errors[0].record.startswith("record 3")
    assert record_id(3) in errors[0].record
    assert "truncated" in errors[0].message
    assert errors[0].file == path


def test_corrupt_gzip_member_is_reported_and_later_records_are_read(tmp_path):
    members = [gzip.compress(r) for r in pages(5)]
    damaged = bytearray(members[2])
    damaged[len(damaged) // 2 : len(damaged) // 2 + 8] = b"\xff" * 8
    members[2] = bytes(damaged)
    path = tmp_path / "damaged.warc.gz"
    path.write_bytes(b"".join(members))
    docs, errors, _, _ = read_all(str(path))
    assert docs["id"].to_pylist() == [record_id(n) for n in (1, 2, 4, 5)]
    offset = len(members[0]) + len(members[1])
    assert [e.record.split(" <")[0] for e in errors] == [f"record 3 (offset {offset:,})"]


def test_junk_between_gzip_members_loses_no_record(tmp_path):
    members = [gzip.compress(r) for r in pages(3)]
    path = tmp_path / "junk.warc.gz"
    path.write_bytes(members[0] + b"\x00junk bytes\x00" + members[1] + members[2])
    docs, errors, _, _ = read_all(str(path))
    assert docs["id"].to_pylist() == [record_id(n) for n in (1, 2, 3)]
    assert len(errors) == 1


def test_record_shorter_than_its_content_length_in_a_plain_file_is_reported(tmp_path):
    records = pages(4)
    short = http_response(b"<html>short</html>")
    records[1] = warc_record("response", short, 2, content_length=len(short) + 150)
    docs, errors, _, _ = read_all(write_warc(tmp_path, records, None))
    assert docs["id"].to_pylist() == [record_id(n) for n in (1, 3, 4)]
    assert len(errors) == 1
    assert errors[0].record.startswith("record 2 (offset ")
    assert "shorter than its Content-Length" in errors[0].message


def test_corrupt_whole_file_gzip_ends_cleanly_with_one_error(tmp_path):
    rng = random.Random(7)  # incompressible pages, so the damage lands mid-file
    records = [
        warc_record("response", http_response(b"<p>%s</p>" % rng.randbytes(600).hex().encode()), n)
        for n in range(1, 41)
    ]
    data = bytearray(gzip.compress(b"".join(records)))
    data[len(data) // 2 : len(data) // 2 + 16] = b"\x00" * 16
    path = tmp_path / "whole.warc.gz"
    path.write_bytes(bytes(data))
    docs, errors, _, _ = read_all(str(path))
    assert 0 < docs.num_rows < 40
    assert docs["id"].to_pylist() == [record_id(n) for n in range(1, docs.num_rows + 1)]
    assert len(errors) == 1
    assert errors[0].record.startswith(f"record {docs.num_rows + 1}")


def test_non_2xx_responses_are_skipped_and_counted_by_status(tmp_path):
    records = [
        warc_record("response", http_response(b"", status="301 Moved Permanently"), 1),
        warc_record("response", http_response(b"<html>gone</html>", status="404 Not Found"), 2),
        warc_record("response", http_response(b"<html>gone</html>", status="404 Not Found"), 3),
        warc_record("response", http_response(PAGE), 4),
    ]
    docs, errors, skipped, _ = read_all(write_warc(tmp_path, records, "record"))
    assert docs["id"].to_pylist() == [record_id(4)]
    assert skipped == {"warc:http_301": 1, "warc:http_404": 2}
    assert errors == []


def test_non_text_content_is_skipped_and_untyped_html_is_sniffed(tmp_path):
    records = [
        warc_record("response", http_response(b"\x89PNG\r\n", content_type="image/png"), 1),
        warc_record("response", http_response(b"{}", content_type="application/json"), 2),
        warc_record("response", http_response(b"<!DOCTYPE html><p>x</p>", content_type=""), 3),
    ]
    docs, _, skipped, _ = read_all(write_warc(tmp_path, records, "record"))
    assert docs["id"].to_pylist() == [record_id(3)]
    assert skipped == {"warc:non_text": 2}


def test_chunked_gzip_encoded_body_stored_as_sent_is_decoded(tmp_path):
    compressed = gzip.compress(PAGE)
    chunked = b"%x\r\n%s\r\n0\r\n\r\n" % (len(compressed), compressed)
    http = http_response(chunked, headers=("Transfer-Encoding: chunked", "Content-Encoding: gzip"))
    docs, errors, _, _ = read_all(write_warc(tmp_path, [warc_record("response", http, 1)], None))
    assert errors == []
    assert docs["html"].to_pylist() == [PAGE.decode()]


def test_document_over_max_document_bytes_is_an_error(tmp_path):
    big = b"<html><body>" + b"word " * 2000 + b"</body></html>"
    records = [warc_record("response", http_response(big), 1), *pages(1, first=2)]
    docs, errors, _, _ = read_all(write_warc(tmp_path, records, "record"), max_document_bytes=5000)
    assert docs["id"].to_pylist() == [record_id(2)]
    assert len(errors) == 1
    assert "exceeds max_document_bytes=5,000" in errors[0].message
    assert record_id(1) in errors[0].record


def test_empty_file_gives_no_documents(tmp_path):
    for name in ("empty.warc", "empty.warc.gz"):
        path = tmp_path / name
        path.write_bytes(b"" if name.endswith(".warc") else gzip.compress(b""))
        docs, errors, skipped, _ = read_all(str(path))
        assert (docs.num_rows, errors, skipped) == (0, [], {})


def test_file_that_is_not_a_warc_is_one_error(tmp_path):
    path = tmp_path / "notes.warc"
    path.write_bytes(b"these are just notes\nnot a WARC at all\n" * 50)
    docs, errors, _, _ = read_all(str(path))
    assert docs.num_rows == 0
    assert [e.record for e in errors] == ["record 1 (offset 0)"]


def test_batches_respect_batch_size(tmp_path):
    path = write_warc(tmp_path, pages(25), "record")
    sizes = [b.docs.num_rows for b in read_warc(path, ReadOptions(batch_size=10))]
    assert sizes == [10, 10, 5, 0] or sizes == [10, 10, 5]
