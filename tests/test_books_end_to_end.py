"""The `books` preset end to end from the files the book readers take: the sample books that
`textmill.data.make_books` writes (a PDF, an hOCR and an ALTO file, each page with a running
header, a page number, line-end hyphens and wrapped paragraphs) through `textmill run`."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq

from textmill.cli import main
from textmill.data import make_books


def test_the_books_preset_cleans_a_pdf_an_hocr_and_an_alto_file(tmp_path, capsys):
    folder = tmp_path / "in"
    make_books.write_all(folder)
    out = tmp_path / "out"
    args = ["run", "--preset", "books", str(folder), "-o", str(out), "--no-progress", "-w", "1"]
    code = main(args)
    assert code == 0
    printed = capsys.readouterr().out
    assert "read 3 = kept 3 + rejected 0 + errored 0  (reconciled" in printed
    stats = json.loads((out / "stats.json").read_text("utf-8"))
    assert stats["reconciled"] and stats["read"] == stats["kept"] == 3
    readers = stats["reader_counts"]
    assert readers["pdf:pages"] == readers["hocr:pages"] == readers["alto:pages"] == 4
    data = pa.concat_tables(pq.read_table(p) for p in sorted((out / "data").glob("*.parquet")))
    rows = {row["id"].rsplit("/", 1)[-1]: row for row in data.to_pylist()}
    assert sorted(rows) == ["bees.alto.xml", "mill.pdf", "sea.hocr"]
    for name, row in rows.items():
        headers = {"mill.pdf": "THE OLD MILL", "sea.hocr": "A YEAR AT SEA"}
        header = headers.get(name, "NOTES ON BEES")
        pages = row["text"].split("\f")
        assert len(pages) == 4, name  # pages kept, "\f"-separated
        assert header not in row["text"], name  # running header gone
        assert row["removed_lines"] == 8 and row["removed_page_numbers"] == 4, name
        for number, page in enumerate(pages, 1):
            assert "\n" not in page, (name, page)  # wrapped lines unwrapped, one paragraph
            assert not page.rstrip().endswith(str(number)), name  # page number gone
        assert row["verse_blocks"] == 0 and row["lines_joined"] == 8, name
        assert row["hyphens_joined"] >= 1 and "-\n" not in row["text"], name
        assert 0.9 < row["ocr_quality"] <= 1.0 and len(row["page_ocr_quality"]) == 4, name
        assert row["lang"] == "en" and row["page_langs"] == ["en"] * 4, name
    pdf, hocr, alto = rows["mill.pdf"], rows["sea.hocr"], rows["bees.alto.xml"]
    assert "walked down to the water, where" in pdf["text"] and "her grandfather had" in pdf["text"]
    assert "a crew of eleven men" in hocr["text"] and "whose duration tells" in alto["text"]
    # provenance: the PDF's metadata; the OCR files carry none
    assert (pdf["title"], pdf["author"], pdf["year"]) == ("The Old Mill", "A. Writer", 1888)
    assert hocr["title"] is None and alto["author"] is None
    # OCR confidence enters the score where the file has it (0.9 headers removed, 0.96 body)
    assert pdf["ocr_confidence"] is None and pdf["ocr_quality"] == 1.0
    for row in (hocr, alto):
        assert 0.94 < row["ocr_confidence"] < 0.96
        assert row["ocr_quality"] <= row["ocr_confidence"] + 1e-6
    card = (out / "README.md").read_text("utf-8")
    assert "`title`" in card and "`author`" in card
