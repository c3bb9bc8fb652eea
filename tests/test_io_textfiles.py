"""One-document files: .txt must be UTF-8 (or carry a BOM), .html is decoded by its charset."""

from __future__ import annotations

import codecs
import gzip
import json

from textmill.io.base import ReadOptions
from textmill.io.textfiles import decode_markup, read_html_file, read_text_file


def read_one(reader, path, **options):
    batches = list(reader(str(path), ReadOptions(**options)))
    assert len(batches) == 1
    return batches[0]


def test_txt_file_becomes_one_text_document_with_the_path_as_id(tmp_path):
    path = tmp_path / "note.txt"
    path.write_bytes("Première ligne\nSecond line\n".encode())
    batch = read_one(read_text_file, path)
    assert batch.docs["id"].to_pylist() == [str(path)]
    assert batch.docs["text"].to_pylist() == ["Première ligne\nSecond line\n"]
    assert "html" not in batch.docs.column_names
    assert batch.errors == []
    assert batch.progress_bytes == path.stat().st_size


def test_txt_file_with_invalid_utf8_is_an_error_naming_file_and_byte(tmp_path):
    path = tmp_path / "latin.txt"
    path.write_bytes(b"plain start, then caf\xe9 in latin-1")
    batch = read_one(read_text_file, path)
    assert batch.docs.num_rows == 0
    assert len(batch.errors) == 1
    error = batch.errors[0]
    assert error.file == str(path)
    assert error.record == "byte 21"
    assert "invalid UTF-8" in error.message


def test_txt_file_with_utf16_bom_is_decoded(tmp_path):
    path = tmp_path / "wide.txt"
    path.write_bytes(codecs.BOM_UTF16_LE + "Grüße".encode("utf-16-le"))
    batch = read_one(read_text_file, path)
    assert batch.docs["text"].to_pylist() == ["Grüße"]


def test_gzipped_txt_file_is_read_through_open_input(tmp_path):
    path = tmp_path / "note.txt.gz"
    path.write_bytes(gzip.compress(b"compressed words"))
    batch = read_one(read_text_file, path)
    assert batch.docs["text"].to_pylist() == ["compressed words"]


def test_corrupt_gzipped_txt_file_is_an_error(tmp_path):
    path = tmp_path / "broken.txt.gz"
    path.write_bytes(gzip.compress(b"some words " * 100)[:-30])
    batch = read_one(read_text_file, path)
    assert batch.docs.num_rows == 0
    assert "ends early or is corrupt" in batch.errors[0].message


def test_file_over_max_document_bytes_is_an_error(tmp_path):
    path = tmp_path / "big.txt"
    path.write_bytes(b"x" * 3000)
    batch = read_one(read_text_file, path, max_document_bytes=1000)
    assert batch.docs.num_rows == 0
    assert batch.errors[0].message.startswith("document of 3,000 bytes exceeds")


def test_empty_file_is_skipped_not_an_error(tmp_path):
    path = tmp_path / "empty.txt"
    path.write_bytes(b"")
    batch = read_one(read_text_file, path)
    assert (batch.docs.num_rows, batch.errors, batch.skipped) == (0, [], {"text:empty_file": 1})


def test_html_file_becomes_an_html_document_decoded_by_its_meta_charset(tmp_path):
    path = tmp_path / "page.html"
    markup = '<html><head><meta charset="windows-1252"></head><body>“Café”</body></html>'
    path.write_bytes(markup.encode("cp1252"))
    batch = read_one(read_html_file, path)
    assert batch.docs["html"].to_pylist() == [markup]
    assert batch.docs["text"].to_pylist() == [None]
    assert json.loads(batch.docs["metadata"][0].as_py()) == {
        "charset": "cp1252",
        "charset_source": "meta",
    }


def test_html_file_without_declaration_that_is_not_utf8_is_detected(tmp_path):
    path = tmp_path / "page.htm"
    text = "Это обычная веб-страница на русском языке, без объявленной кодировки. " * 10
    path.write_bytes(f"<html><body><p>{text}</p></body></html>".encode("cp1251"))
    batch = read_one(read_html_file, path)
    assert batch.errors == []
    assert text in batch.docs["html"][0].as_py()


def test_declared_charset_that_does_not_fit_falls_through_to_one_that_does():
    markup = '<meta charset="windows-1252"><p>naïve</p>'
    assert decode_markup(markup.encode("cp1252"), "utf-8") == (markup, "cp1252", "meta")
    assert decode_markup(markup.encode(), "utf-8") == (markup, "utf-8", "http")
    assert decode_markup(b"<p>ok</p>", "no-such-charset") == ("<p>ok</p>", "utf-8", "utf-8")
    assert decode_markup(codecs.BOM_UTF8 + b"<p>ok</p>", "cp1252") == ("<p>ok</p>", "utf-8", "bom")
