"""Book readers: PDF (three engines), hOCR, ALTO and folders of page files, on inputs the tests
write (fpdf2 and pypdf make the PDFs), and every bad input of issue 16 counted with its reason."""

from __future__ import annotations

import json
import os
import time
import warnings
from pathlib import Path

import pytest
from conftest import reconciled_run

from textmill.cli import main
from textmill.executors.local import RunSettings, SettingsError
from textmill.io import ReadOptions, detect_format, plan_shards, read_shard
from textmill.io.files import InputError, Shard
from textmill.io.ocr_xml import read_alto, read_hocr
from textmill.io.page_folders import read_page_folder
from textmill.io.pdf import ENGINES, OpenedPdf, pdf_date, read_pdfs, tesseract_available

warnings.filterwarnings("ignore", message="defusedxml could not be imported")
from fpdf import FPDF  # noqa: E402

HEADER = "THE HISTORY OF TESTING"
BODY = [
    "It was the best of tests, it was the worst of tests.\nThe second line of page one.",
    "Chapter two begins here with a hyphen-\nated word at the line end.",
    "The last page says goodbye.\nAnd one more line.",
]


def write_pdf(path: Path, bodies=BODY, *, title="A Book of Tests", author="Ann Author") -> Path:
    """A book with a running header, body lines and a page number on every page."""
    pdf = FPDF()
    pdf.set_title(title)
    pdf.set_author(author)
    pdf.set_creation_date(__import__("datetime").datetime(1999, 5, 17, 8, 30))
    pdf.set_font("Helvetica", size=12)
    for number, body in enumerate(bodies, 1):
        pdf.add_page()
        pdf.cell(0, 10, HEADER)
        pdf.ln()
        pdf.multi_cell(0, 8, body)
        pdf.ln()
        pdf.cell(0, 10, str(number))
    pdf.output(str(path))
    return path


def write_image_pdf(path: Path, words: str = "") -> Path:
    """One page holding only an image (a scan without a text layer), of `words` in large type."""
    from PIL import Image, ImageDraw, ImageFont

    image = Image.new("RGB", (1400, 300), "white")
    ImageDraw.Draw(image).text((40, 90), words, fill="black", font=ImageFont.load_default(90))
    pdf = FPDF()
    pdf.add_page()
    pdf.image(image, x=10, y=10, w=180)
    pdf.output(str(path))
    return path


def read_one(path: Path, **options):
    (batch,) = read_pdfs([str(path)], ReadOptions(**options))
    rows = batch.docs.select(["text", "metadata"]).to_pylist()
    for row in rows:
        row["metadata"] = json.loads(row["metadata"])
    return batch, rows


@pytest.mark.parametrize("engine", ["pypdfium2", "pdfplumber", "pypdf"])
def test_each_engine_reads_pages_split_by_form_feed_with_metadata(tmp_path, engine):
    batch, [row] = read_one(write_pdf(tmp_path / "book.pdf"), pdf_engine=engine)
    assert batch.errors == []
    pages = row["text"].split("\f")
    assert len(pages) == 3 and row["text"].count("\f") + 1 == 3
    for number, (page, body) in enumerate(zip(pages, BODY, strict=True), 1):
        assert page.startswith(HEADER) and page.endswith(f"{number}\n")
        for line in body.splitlines():
            assert line in page  # lines kept as the PDF has them, not unwrapped
    meta = row["metadata"]
    assert meta["reader"] == engine and meta["page_count"] == 3
    assert (meta["title"], meta["author"]) == ("A Book of Tests", "Ann Author")
    assert meta["creation_date"].startswith("1999-05-17T08:30") and meta["year"] == 1999
    assert meta["pages_without_text"] == []
    assert batch.counts["pdf:pages"] == 3 and batch.counts["pdf:pages_without_text"] == 0


def test_pdf_dates_become_iso_strings():
    assert pdf_date("D:20230110214659+01'00'") == "2023-01-10T21:46:59+01:00"
    assert pdf_date("D:20230110214659Z") == "2023-01-10T21:46:59+00:00"
    assert pdf_date("D:199905") == "1999-05" and pdf_date("D:1999") == "1999"
    assert pdf_date("D:20231399") is None and pdf_date(None) is None and pdf_date("junk") is None


def test_image_only_pages_are_listed_and_counted_never_silently_empty(tmp_path):
    mixed = tmp_path / "mixed.pdf"
    from pypdf import PdfWriter

    writer = PdfWriter()
    for part in (write_pdf(tmp_path / "a.pdf", BODY[:1]), write_image_pdf(tmp_path / "s.pdf")):
        writer.append(str(part))
    writer.write(str(mixed))
    batch, [row] = read_one(mixed)
    assert row["text"].split("\f")[1] == ""  # page 2 is there, empty, and said to be
    assert row["metadata"]["pages_without_text"] == [2]
    assert row["metadata"]["pages_image_only"] == [2]
    assert batch.counts["pdf:pages_image_only"] == 1
    # a file of scans only gives no document: an error that says why and what helps
    batch, rows = read_one(tmp_path / "s.pdf")
    assert rows == []
    [error] = batch.errors
    assert "no text on any of its 1 pages, 1 of them image-only" in error.message
    assert "--ocr" in error.message


@pytest.mark.skipif(not tesseract_available(), reason="tesseract is not installed")
def test_ocr_reads_image_only_pages_with_tesseract(tmp_path):
    batch, [row] = read_one(write_image_pdf(tmp_path / "s.pdf", "HELLO WORLD"), ocr_languages="eng")
    assert "HELLO" in row["text"].upper()
    assert row["metadata"]["ocr_pages"] == [1] and row["metadata"]["reader"] == "tesseract"
    assert batch.counts["pdf:pages_ocr"] == 1


def test_ocr_setting_without_tesseract_is_refused_up_front(monkeypatch):
    monkeypatch.setattr("textmill.io.pdf.shutil.which", lambda name: None)
    with pytest.raises(SettingsError, match="apt-get install tesseract-ocr"):
        RunSettings(ocr_languages="eng")
    with pytest.raises(SettingsError, match="pdf_engine must be one of"):
        RunSettings(pdf_engine="pdftotext")


def test_an_ocr_language_tesseract_lacks_is_refused_up_front(tmp_path, monkeypatch):
    monkeypatch.setattr("textmill.io.pdf.shutil.which", lambda name: "/usr/bin/tesseract")
    monkeypatch.setattr("textmill.io.pdf.tesseract_languages", lambda: frozenset({"eng", "osd"}))
    RunSettings(ocr_languages="eng")
    with pytest.raises(SettingsError, match="no 'xyz' .installed: eng, osd; .*tesseract-ocr-xyz"):
        RunSettings(ocr_languages="eng+xyz")
    write_pdf(tmp_path / "book.pdf")
    code = main(
        ["run", "--preset", "books", str(tmp_path), "-o", str(tmp_path / "out"), "--ocr", "deu"]
    )
    assert code == 2 and not (tmp_path / "out").exists()


def test_encrypted_broken_and_empty_pdfs_are_errors_with_their_reason(tmp_path):
    locked = FPDF()
    locked.set_encryption(owner_password="owner", user_password="secret")
    locked.add_page()
    locked.set_font("Helvetica", size=12)
    locked.cell(0, 10, "hidden")
    locked.output(str(tmp_path / "locked.pdf"))
    from pypdf import PdfWriter

    PdfWriter().write(str(tmp_path / "zero.pdf"))
    (tmp_path / "garbage.pdf").write_bytes(b"%PDF-1.4\n this is no PDF at all \n%%EOF\n")
    good = write_pdf(tmp_path / "good.pdf").read_bytes()
    (tmp_path / "truncated.pdf").write_bytes(good[: len(good) // 3])
    # a broken xref table: PDFium rebuilds it from the objects, the text is read
    start = good.rindex(b"xref")
    (tmp_path / "badxref.pdf").write_bytes(good[:start] + b"xref\n0 9\ngarbage\n" + good[-40:])
    (tmp_path / "empty.pdf").write_bytes(b"")
    for engine in ENGINES:
        names = ["locked", "zero", "garbage", "truncated", "badxref", "empty"]
        reads = list(
            read_pdfs([str(tmp_path / f"{n}.pdf") for n in names], ReadOptions(pdf_engine=engine))
        )
        messages = {
            n: " ".join(e.message for e in r.errors) for n, r in zip(names, reads, strict=True)
        }
        assert "encrypted" in messages["locked"], (engine, messages)
        assert "no pages" in messages["zero"] or "cannot" in messages["zero"], (engine, messages)
        assert messages["garbage"].startswith("not read"), (engine, messages)
        assert messages["truncated"], (engine, messages)  # an error, never a crash
        assert messages["empty"] == "not read: an empty file (0 bytes)", (engine, messages)
        for read in reads:  # each file: one document or file errors, nothing in between
            assert read.docs.num_rows + sum(e.counted for e in read.errors) == 1
    _, [row] = read_one(tmp_path / "badxref.pdf")
    assert BODY[0].splitlines()[0] in row["text"]


def test_a_2000_page_pdf_is_read_and_the_time_limit_stops_a_file_not_the_run(tmp_path):
    big = FPDF()
    big.set_font("Helvetica", size=10)
    for number in range(1, 2001):
        big.add_page()
        big.cell(0, 10, f"page {number} of the long book")
        for line in range(10):  # ~0.5 s to read on an idle core: well over the 0.1 s below
            big.ln()
            big.cell(0, 5, f"line {line} of the page")
    big.output(str(tmp_path / "big.pdf"))
    started = time.monotonic()
    batch, [row] = read_one(tmp_path / "big.pdf")
    assert row["metadata"]["page_count"] == 2000 and row["text"].count("\f") == 1999
    assert row["text"].split("\f")[1999].startswith("page 2000 of the long book\nline 0 of")
    assert time.monotonic() - started < 10
    paths = [str(tmp_path / "big.pdf"), str(write_pdf(tmp_path / "small.pdf"))]
    big_read, small_read = read_pdfs(paths, ReadOptions(pdf_time_limit_s=0.1))
    assert "over the 0.1 s per-file limit" in big_read.errors[0].message
    assert small_read.docs.num_rows == 1  # a fresh child went on with the next file


def _engine(page):
    """A fake engine whose page reader is `page` (monkeypatched in, inherited by the child)."""
    return lambda path: OpenedPdf({"Title": "x"}, 2, page, lambda: None)


def test_a_hanging_or_crashing_parser_is_stopped_per_file(tmp_path, monkeypatch):
    good = str(write_pdf(tmp_path / "good.pdf"))
    monkeypatch.setitem(ENGINES, "pypdf", _engine(lambda i: time.sleep(60)))
    started = time.monotonic()
    hung, _ = read_pdfs([good, good], ReadOptions(pdf_engine="pypdf", pdf_time_limit_s=0.3))
    assert time.monotonic() - started < 5
    assert "over the 0.3 s per-file limit" in hung.errors[0].message
    assert hung.errors[0].record == "page 1"  # the page the parser hung on
    monkeypatch.setitem(ENGINES, "pypdf", _engine(lambda i: os.kill(os.getpid(), 9)))
    crashed, again = read_pdfs([good, good], ReadOptions(pdf_engine="pypdf"))
    assert "killed by SIGKILL" in crashed.errors[0].message
    assert crashed.errors[0].record == "page 1"
    assert "killed by SIGKILL" in again.errors[0].message


def test_a_page_that_fails_is_an_error_naming_the_page_and_the_book_is_kept(tmp_path, monkeypatch):
    def page(index):
        if index == 1:
            raise ValueError("bad content stream")
        return "a line of text", False

    monkeypatch.setitem(ENGINES, "pypdf", _engine(page))
    batch, [row] = read_one(write_pdf(tmp_path / "b.pdf"), pdf_engine="pypdf")
    assert row["text"] == "a line of text\n\f"
    assert row["metadata"]["page_errors"] == [2] and row["metadata"]["pages_without_text"] == [2]
    [error] = batch.errors
    assert error.record == "page 2" and "bad content stream" in error.message
    assert error.records == 0  # it loses no document: the run still reconciles


HOCR = """<?xml version="1.0" encoding="UTF-8"?>
<html xmlns="http://www.w3.org/1999/xhtml"><head><title>x</title>
<meta name="ocr-system" content="tesseract 5.3.0"/></head><body>
<div class="ocr_page" title="bbox 0 0 100 100; ppageno 0">
 <p class="ocr_par">
  <span class="ocr_line" title="bbox 0 0 10 10">
   <span class="ocrx_word" title="bbox 0 0 1 1; x_wconf 90">Running</span>
   <span class="ocrx_word" title="bbox 0 0 1 1; x_wconf 70">head</span></span>
 </p>
 <p class="ocr_par">
  <span class="ocr_line"><span class="ocrx_word" title="x_wconf 80">A hyphen-</span></span>
  <span class="ocr_line"><span class="ocrx_word" title="x_wconf 100">ated</span>
   <span class="ocrx_word" title="x_wconf 60">word.</span></span>
 </p>
</div>
<div class="ocr_page" title="ppageno 1"></div>
<div class="ocr_page"><span class="ocr_line"><span class="ocrx_word">No</span>
 <span class="ocrx_word" title="x_wconf 300">confidences</span>
 <span class="ocrx_word">here</span></span></div>
</body></html>
"""

ALTO = """<?xml version="1.0" encoding="UTF-8"?>
<alto xmlns="http://www.loc.gov/standards/alto/ns-v4#"><Layout>
<Page ID="p1"><PrintSpace>
 <TextBlock><TextLine><String CONTENT="Kant" WC="0.9"/><SP/><String CONTENT="was" WC="0.5"/>
   <SP/><String CONTENT="en" WC="0.7"/><HYP CONTENT="-"/></TextLine>
  <TextLine><String CONTENT="lightened." WC="1.0"/></TextLine></TextBlock>
 <TextBlock><TextLine><String CONTENT="484"/></TextLine></TextBlock>
</PrintSpace></Page>
<Page ID="p2"><PrintSpace/></Page>
</Layout></alto>
"""


def test_hocr_keeps_pages_paragraphs_lines_and_word_confidences(tmp_path):
    path = tmp_path / "book.hocr"
    path.write_text(HOCR, "utf-8")
    assert detect_format(str(path)) == "hocr" and detect_format("x.hocr.html") == "hocr"
    (batch,) = read_hocr(str(path), ReadOptions())
    [row] = batch.docs.select(["text", "metadata"]).to_pylist()
    assert row["text"] == "Running head\n\nA hyphen-\nated word.\n\f\fNo confidences here\n"
    meta = json.loads(row["metadata"])
    assert meta["page_word_confidence"] == [0.8, None, None]
    assert meta["reader"] == "hocr" and meta["page_count"] == 3
    assert meta["pages_without_text"] == [2] and batch.counts["hocr:pages_without_text"] == 1
    assert batch.counts["hocr:bad_word_confidences"] == 1  # x_wconf 300: not in 0-100


def test_alto_is_recognised_by_namespace_and_keeps_hyphens_and_confidences(tmp_path):
    path = tmp_path / "page.xml"
    path.write_text(ALTO, "utf-8")
    other = tmp_path / "other.xml"
    other.write_text('<TEI xmlns="http://www.tei-c.org/ns/1.0"><text>not OCR</text></TEI>')
    assert detect_format(str(path)) == "alto" and detect_format(str(other)) is None
    (batch,) = read_alto(str(path), ReadOptions())
    [row] = batch.docs.select(["text", "metadata"]).to_pylist()
    assert row["text"] == "Kant was en-\nlightened.\n\n484\n\f"
    meta = json.loads(row["metadata"])
    assert meta["page_word_confidence"] == [0.775, None] and meta["reader"] == "alto"


def test_invalid_ocr_xml_is_an_error_naming_the_line_or_counted_with_its_reason(tmp_path):
    (tmp_path / "cut.xml").write_text(ALTO[: len(ALTO) // 2], "utf-8")
    (batch,) = read_alto(str(tmp_path / "cut.xml"), ReadOptions())
    [error] = batch.errors
    assert error.record.startswith("line ") and "invalid XML" in error.message
    assert batch.docs.num_rows == 0
    # hOCR is HTML by its spec: invalid XML is read as HTML, and said so
    (tmp_path / "cut.hocr").write_text(HOCR[: HOCR.index('<div class="ocr_page" title="ppageno 1')])
    (batch,) = read_hocr(str(tmp_path / "cut.hocr"), ReadOptions())
    [row] = batch.docs.select(["text", "metadata"]).to_pylist()
    assert "A hyphen-\nated word." in row["text"]
    assert "invalid XML at line" in json.loads(row["metadata"])["hocr_parse"]
    assert batch.counts["hocr:read_as_html"] == 1
    (tmp_path / "none.hocr").write_text("<html><body><p>no pages</p></body></html>")
    (batch,) = read_hocr(str(tmp_path / "none.hocr"), ReadOptions())
    assert "not hOCR: no element of class ocr_page" in batch.errors[0].message


def test_page_folders_are_one_book_in_natural_order_only_when_asked(tmp_path):
    book = tmp_path / "books" / "vol1"
    book.mkdir(parents=True)
    for number in (1, 2, 10):
        (book / f"page_{number}.txt").write_text(f"text of page {number}\n", "utf-8")
    (book / "page_3.txt").write_text("", "utf-8")
    (book / "README.md").write_text("about this scan\n", "utf-8")  # not a page: a document
    (tmp_path / "books" / "vol2").mkdir()
    (tmp_path / "books" / "vol2" / "0001.txt").write_bytes(b"caf\xe9\n")
    shards, _ = plan_shards([str(tmp_path / "books")], input_kind="pages")
    assert [s.format for s in shards] == ["page_txt", "text"] and len(shards[0].paths) == 2
    assert shards[1].paths == (str(book / "README.md"),)
    reads = list(read_shard(shards[0], ReadOptions()))
    [row] = reads[0].docs.select(["text", "metadata"]).to_pylist()
    assert row["text"] == "text of page 1\n\ftext of page 2\n\f\ftext of page 10\n"
    assert json.loads(row["metadata"])["pages_without_text"] == [3]
    assert reads[1].errors[0].record == "page 1 (0001.txt)"
    with pytest.raises(InputError, match="reads folders, one book each: give the folder of"):
        plan_shards([str(book / "page_1.txt")], input_kind="pages")
    files, _ = plan_shards([str(tmp_path / "books")])
    assert {s.format for s in files} == {"text"}  # without the setting: a file, a document
    (batch,) = read_page_folder(str(tmp_path / "books" / "vol2"), ReadOptions())
    assert "UTF-8" in batch.errors[0].message


def test_folders_of_hocr_or_alto_pages_are_one_book_each_only_when_asked(tmp_path):
    scans = tmp_path / "scans"
    for name, fmt, text in (("vol_a", "hocr", HOCR), ("vol_b", "alto.xml", ALTO)):
        (scans / name).mkdir(parents=True)
        for number in (2, 10):  # a page per file, as METS/ALTO and Tesseract runs publish them
            (scans / name / f"{number}.{fmt}").write_text(text, "utf-8")
    shards, _ = plan_shards([str(scans)], input_kind="pages")
    assert sorted(s.format for s in shards) == ["alto_pages", "hocr_pages"]
    books = {s.format: next(read_shard(s, ReadOptions())) for s in shards}
    [alto] = books["alto_pages"].docs.select(["id", "text", "metadata"]).to_pylist()
    page = "Kant was en-\nlightened.\n\n484\n"  # and an empty page after it, in each file
    assert alto["id"].endswith("vol_b") and alto["text"] == "\f".join([page, "", page, ""])
    assert json.loads(alto["metadata"])["page_word_confidence"] == [0.775, None] * 2
    assert books["hocr_pages"].counts["hocr:pages"] == 6
    plain, _ = plan_shards([str(scans)])
    assert sorted(s.format for s in plain) == ["alto", "hocr"] and len(plain[0].paths) == 2
    with pytest.raises(InputError, match="reads folders, one book each"):
        plan_shards([str(scans / "vol_b" / "2.alto.xml")], input_kind="pages")
    (scans / "vol_a" / "2.txt").write_text("the same page as plain text\n", "utf-8")
    with pytest.raises(InputError, match=r"vol_a holds pages in 2 formats \(txt, hocr\)"):
        plan_shards([str(scans)], input_kind="pages")


def test_textmill_run_on_a_folder_of_pdf_hocr_and_alto_reconciles(tmp_path, capsys):
    folder = tmp_path / "in"
    folder.mkdir()
    write_pdf(folder / "book.pdf")
    write_image_pdf(folder / "scan.pdf")
    (folder / "book.hocr").write_text(HOCR, "utf-8")
    (folder / "page.xml").write_text(ALTO, "utf-8")
    (folder / "broken.pdf").write_bytes(b"%PDF-1.7 nonsense")
    (folder / "notes.xml").write_text("<catalog><book>an .xml that is not ALTO</book></catalog>")
    out = tmp_path / "out"
    pipeline = tmp_path / "p.yaml"
    pipeline.write_text("stages:\n  - normalize\n")
    code = main(["run", str(pipeline), str(folder), "-o", str(out), "--no-progress", "-w", "1"])
    assert code == 0
    printed = capsys.readouterr().out
    assert "reconciled" in printed and "pdf:pages_image_only 1" in printed
    stats = json.loads((out / "stats.json").read_text())
    assert stats["read"] == 5 and stats["errored"] == 2 and stats["reconciled"]
    assert stats["reader_counts"]["pdf:pages"] == 4
    assert stats["reader_counts"]["hocr:pages"] == 3 and stats["reader_counts"]["alto:pages"] == 2
    errors = [json.loads(x) for p in (out / "errors").glob("*.jsonl") for x in p.open()]
    assert sorted(Path(e["file"]).name for e in errors) == ["broken.pdf", "scan.pdf"]
    assert stats["errored"] == sum(e["records"] for e in errors) and stats["kept"] == 3
    assert "note: 1 file not read (no format textmill reads: " in printed
    assert "notes.xml; stats.json unknown_files)" in printed
    assert "Readers: alto:pages 2, alto:pages_without_text 1" in (out / "report.html").read_text(
        "utf-8"
    )


def test_the_python_api_takes_the_reader_settings(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    write_pdf(folder / "book.pdf")
    (folder / "vol").mkdir()
    for number in range(1, 4):
        (folder / "vol" / f"{number:04}.txt").write_text(f"page {number}\n", "utf-8")
    stats, _ = reconciled_run(
        ["normalize"], [str(folder)], tmp_path / "out", pdf_engine="pypdf", input_kind="pages"
    )
    assert stats["kept"] == 2 and stats["reader_counts"]["pdf:pages"] == 3
    assert stats["reader_counts"]["page_txt:pages"] == 3


def test_a_shard_reader_that_raises_loses_only_its_files_named(tmp_path, monkeypatch):
    def broken(paths, options):
        yield from ()
        raise RuntimeError("boom")

    monkeypatch.setattr("textmill.io.pdf.read_pdfs", broken)
    shard = Shard("s", "pdf", ("a.pdf", "b.pdf"), 0, 0)
    reads = list(read_shard(shard, ReadOptions()))
    assert [r.errors[0].file for r in reads] == ["a.pdf", "b.pdf"]
    assert "boom" in reads[0].errors[0].message


def test_the_pdfplumber_engine_reads_columns_in_reading_order(tmp_path):
    left = "Left column first line.\nLeft column second line.\nLeft column third line."
    right = "Right column first line.\nRight column second line.\nRight column third line."
    pdf = FPDF()
    pdf.set_font("Helvetica", size=11)
    pdf.add_page()
    for x, column in ((110, right), (10, left)):  # the right column comes first in the stream
        pdf.set_xy(x, 20)
        pdf.multi_cell(85, 6, column)
    pdf.output(str(tmp_path / "columns.pdf"))
    _, [row] = read_one(tmp_path / "columns.pdf", pdf_engine="pdfplumber")
    assert row["text"].index("Left column third") < row["text"].index("Right column first")
    for line in (*left.splitlines(), *right.splitlines()):
        assert line in row["text"]  # column by column, not interleaved across the page


def test_a_pdf_behind_an_fsspec_url_is_read_from_its_bytes(tmp_path):
    import fsspec

    with fsspec.open("memory://books/book.pdf", "wb") as handle:
        handle.write(write_pdf(tmp_path / "book.pdf").read_bytes())
    (batch,) = read_pdfs(["memory://books/book.pdf"], ReadOptions())
    assert batch.errors == [] and batch.docs["text"][0].as_py().count("\f") == 2


def test_ocr_xml_size_limits_hold_its_text_not_its_markup(tmp_path):
    path = tmp_path / "book.hocr"
    path.write_text(HOCR, "utf-8")  # ~1 KB of markup for 50 bytes of text
    (batch,) = read_hocr(str(path), ReadOptions(max_document_bytes=100))
    assert batch.docs.num_rows == 1 and batch.errors == []
    (batch,) = read_hocr(str(path), ReadOptions(max_document_bytes=40))
    assert "exceeds max_document_bytes=40" in batch.errors[0].message
