"""PAGE-XML reader: reading order, line / word / region text, furniture regions out of the
text and listed, drop capitals, confidences, and bad files counted, on files the tests write."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest
from conftest import reconciled_run

from textmill.cli import main
from textmill.io import ReadOptions, detect_format
from textmill.io.page_xml import read_page_xml

NS = "http://schema.primaresearch.org/PAGE/gts/pagecontent/2019-07-15"


def line(text: str, conf: str | None = None) -> str:
    conf_attr = f' conf="{conf}"' if conf else ""
    return f"<TextLine><TextEquiv{conf_attr}><Unicode>{text}</Unicode></TextEquiv></TextLine>"


# Written out of reading order on purpose: the ReadingOrder, not the file, decides.
PAGE = f"""<?xml version="1.0" encoding="UTF-8"?>
<PcGts xmlns="{NS}"><Metadata><Creator>test</Creator></Metadata>
<Page imageFilename="p17.png" imageWidth="100" imageHeight="100">
 <ReadingOrder><OrderedGroup id="g0">
  <RegionRefIndexed index="3" regionRef="body"/>
  <RegionRefIndexed index="0" regionRef="head"/>
  <OrderedGroupIndexed id="g1" index="1">
   <RegionRefIndexed index="1" regionRef="title2"/>
   <RegionRefIndexed index="0" regionRef="title1"/>
  </OrderedGroupIndexed>
  <RegionRefIndexed index="2" regionRef="cap"/>
  <RegionRefIndexed index="4" regionRef="num"/>
 </OrderedGroup></ReadingOrder>
 <TextRegion id="body" type="paragraph">
  {line("ufklärung ist der Aus-", "0.9")}
  <TextLine><Word><TextEquiv conf="0.5"><Unicode>gang</Unicode></TextEquiv></Word>
   <Word><TextEquiv conf="0.7"><Unicode>des</Unicode></TextEquiv></Word>
   <Word><TextEquiv conf="0.9"><Unicode>Menschen.</Unicode></TextEquiv></Word></TextLine>
 </TextRegion>
 <TextRegion id="num" type="page-number">{line("17")}</TextRegion>
 <TextRegion id="cap" type="drop-capital">{line("A")}</TextRegion>
 <TextRegion id="title2" type="heading">
  <TextLine><TextEquiv index="2"><Unicode>Wos ist</Unicode></TextEquiv>
   <TextEquiv index="1"><Unicode>Was   ist</Unicode></TextEquiv></TextLine></TextRegion>
 <TextRegion id="title1" type="heading">{line("Beantwortung der Frage:")}</TextRegion>
 <TextRegion id="head" type="header">{line("Berlinische Monatsschrift.")}</TextRegion>
 <TextRegion id="note" type="footnote">
  <TextEquiv><Unicode>A note the order leaves out,
on two lines.</Unicode></TextEquiv></TextRegion>
</Page></PcGts>
"""


def read(path):
    (batch,) = read_page_xml(str(path), ReadOptions())
    rows = batch.docs.select(["text", "metadata"]).to_pylist()
    return batch, [(row["text"], json.loads(row["metadata"])) for row in rows]


def test_page_xml_reads_regions_in_reading_order_and_lists_furniture(tmp_path):
    path = tmp_path / "p17.xml"
    path.write_text(PAGE, "utf-8")
    assert detect_format(str(path)) == "page_xml"
    batch, [(text, meta)] = read(path)
    assert text == (
        "Beantwortung der Frage:\n\nWas ist\n\n"  # the nested group by its index, TextEquiv 1
        "Aufklärung ist der Aus-\ngang des Menschen.\n\n"  # drop capital put back, words joined
        "A note the order leaves out,\non two lines.\n"  # a region outside the order, at the end
    )
    assert meta["reader"] == "page_xml" and meta["page_count"] == 1
    assert meta["page_furniture"] == [
        {"page": 1, "type": "header", "text": "Berlinische Monatsschrift."},
        {"page": 1, "type": "page-number", "text": "17"},
    ]
    assert batch.counts["page_xml:furniture_lines"] == 2
    assert meta["page_word_confidence"] == [0.75]  # words' 0.5, 0.7, 0.9 and the line's 0.9


def test_page_xml_without_text_or_pages_or_well_formed_xml_is_an_error(tmp_path):
    empty = tmp_path / "segmented.page.xml"
    empty.write_text(
        f'<PcGts xmlns="{NS}"><Page><TextRegion id="r"><TextLine/></TextRegion></Page></PcGts>',
        "utf-8",
    )
    batch, rows = read(empty)
    assert rows == [] and "no text on any of its 1 pages" in batch.errors[0].message
    pageless = tmp_path / "pageless.xml"
    pageless.write_text(f'<PcGts xmlns="{NS}"><Metadata/></PcGts>', "utf-8")
    batch, _ = read(pageless)
    assert "not PAGE-XML: no PAGE-XML Page element" in batch.errors[0].message
    cut = tmp_path / "cut.xml"
    cut.write_text(PAGE[: len(PAGE) // 2], "utf-8")
    batch, _ = read(cut)
    assert batch.errors[0].record.startswith("line ") and "invalid XML" in batch.errors[0].message


def test_textmill_run_reads_page_xml_next_to_other_xml(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "p17.page.xml").write_text(PAGE, "utf-8")
    (folder / "cut.page.xml").write_text(PAGE[:400], "utf-8")
    (folder / "notes.xml").write_text("<catalog>not OCR</catalog>", "utf-8")
    stats, errors = reconciled_run(["normalize"], [str(folder)], tmp_path / "out")
    assert stats["read"] == 2 and stats["kept"] == 1 and stats["errored"] == 1
    assert stats["reader_counts"]["page_xml:furniture_lines"] == 2
    assert [e["file"].endswith("cut.page.xml") for e in errors] == [True]


def box(top: int) -> str:
    return f'<Coords points="0,{top} 900,{top} 900,{top + 40} 0,{top + 40}"/>'


# One page as layout analysis writes it (PAGE requires one Page per file, Coords on regions and
# lines): a typed header and page number, a paragraph of wrapped lines with a line-end hyphen.
BOOK_PAGE = f"""<?xml version="1.0" encoding="UTF-8"?>
<PcGts xmlns="{NS}"><Metadata><Creator>test</Creator><Created>2026-01-01T00:00:00</Created>
<LastChange>2026-01-01T00:00:00</LastChange></Metadata>
<Page imageFilename="fox_9.png" imageWidth="900" imageHeight="900">
 <TextRegion id="h" type="header">{box(0)}
  <TextLine id="h1">{box(0)}<TextEquiv conf="0.9"><Unicode>THE RED FOX</Unicode></TextEquiv></TextLine>
 </TextRegion>
 <TextRegion id="b" type="paragraph">{box(100)}
  <TextLine id="b1">{box(100)}<TextEquiv conf="0.95"><Unicode>The fox lives at the edge of the wood, in an earth dug un-</Unicode></TextEquiv></TextLine>
  <TextLine id="b2">{box(150)}<TextEquiv conf="0.95"><Unicode>der the roots of an oak, and comes out at dusk to hunt mice</Unicode></TextEquiv></TextLine>
  <TextLine id="b3">{box(200)}<TextEquiv conf="0.95"><Unicode>and beetles in the long grass of the meadow by the stream.</Unicode></TextEquiv></TextLine>
 </TextRegion>
 <TextRegion id="n" type="page-number">{box(800)}
  <TextLine id="n1">{box(800)}<TextEquiv conf="0.9"><Unicode>9</Unicode></TextEquiv></TextLine>
 </TextRegion>
</Page></PcGts>
"""  # noqa: E501


def test_the_books_preset_reads_a_page_xml_file_through_the_cli(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["run", "--help"])
    assert "page_xml" in " ".join(capsys.readouterr().out.split())  # the readers listed
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "fox_0009.xml").write_text(BOOK_PAGE, "utf-8")
    out = tmp_path / "out"
    args = ["run", "--preset", "books", str(folder), "-o", str(out), "--no-progress", "-w", "1"]
    assert main(args) == 0
    assert "read 1 = kept 1 + rejected 0 + errored 0  (reconciled" in capsys.readouterr().out
    stats = json.loads((out / "stats.json").read_text("utf-8"))
    assert stats["reader_counts"]["page_xml:furniture_lines"] == 2
    [row] = pq.read_table(out / "data").to_pylist()
    assert row["text"] == (  # header and page number out, "un-\nder" joined, lines unwrapped
        "The fox lives at the edge of the wood, in an earth dug under the roots of an oak, and "
        "comes out at dusk to hunt mice and beetles in the long grass of the meadow by the stream."
    )
    assert row["hyphens_joined"] == 1 and row["removed_lines"] == 0
    assert json.loads(row["metadata"])["page_furniture"] == [
        {"page": 1, "type": "header", "text": "THE RED FOX"},
        {"page": 1, "type": "page-number", "text": "9"},
    ]
    # the page's OCR confidence is every line's, furniture too (as hOCR's and ALTO's)
    assert row["ocr_confidence"] == pytest.approx((0.9 + 3 * 0.95 + 0.9) / 5)
    assert row["lang"] == "en" and row["ocr_quality"] <= row["ocr_confidence"] + 1e-6


def one_page(number: int, body: list[str], header: str = "THE RED FOX") -> str:
    """A page as a Transkribus or OCR-D export writes it, one file per page; the running header
    and the page number untyped (plain text regions), as an OCR engine's own layout gives them."""
    lines = "".join(
        f'<TextLine id="l{i}">{box(100 + 50 * i)}<TextEquiv conf="0.9"><Unicode>{text}</Unicode>'
        "</TextEquiv></TextLine>"
        for i, text in enumerate([header, *body, str(number)])
    )
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><PcGts xmlns="{NS}"><Metadata><Creator>t'
        "</Creator><Created>2026-01-01T00:00:00</Created><LastChange>2026-01-01T00:00:00"
        f'</LastChange></Metadata><Page imageFilename="{number}.png" imageWidth="900" '
        f'imageHeight="900"><TextRegion id="r" type="paragraph">{box(100)}{lines}</TextRegion>'
        "</Page></PcGts>"
    )


FOX_PAGES = [
    ["The fox lives at the edge of the wood, in an earth dug un-", "der an old oak tree."],
    ["Her cubs are born blind in early spring and stay below", "the ground for a month."],
    ["By autumn the young are grown and each one leaves to find", "a range of its own."],
]


def test_a_folder_of_page_xml_pages_is_one_book_with_input_kind_pages(tmp_path, capsys):
    book = tmp_path / "in" / "fox"
    book.mkdir(parents=True)
    for number, body in enumerate(FOX_PAGES, 1):  # written 10.xml, 2.xml, 3.xml: natural order
        name = "10" if number == 1 else str(number)
        (book / f"{name}.xml").write_text(one_page(number, body), "utf-8")
    (book / "notes.xml").write_text("<catalog>not OCR</catalog>", "utf-8")
    out = tmp_path / "out"
    args = ["run", "--preset", "books", str(tmp_path / "in"), "-o", str(out), "--no-progress"]
    assert main([*args, "-w", "1", "--input-kind", "pages"]) == 0
    assert "read 1 = kept 1 + rejected 0 + errored 0  (reconciled" in capsys.readouterr().out
    stats = json.loads((out / "stats.json").read_text("utf-8"))
    assert stats["reader_counts"]["page_xml:pages"] == 3
    [row] = pq.read_table(out / "data").to_pylist()
    assert row["id"].endswith("fox")
    pages = row["text"].split("\f")
    assert pages[0].startswith("Her cubs") and pages[2].startswith("The fox")  # 2, 3, 10
    assert "under an old oak" in pages[2]
    assert row["removed_lines"] == 6  # the header and the number of every page, across pages
    assert "FOX" not in row["text"]
    assert json.loads(row["metadata"])["page_count"] == 3


def test_a_bad_page_of_a_page_xml_book_is_the_books_error_naming_it(tmp_path):
    book = tmp_path / "fox"
    book.mkdir()
    (book / "1.xml").write_text(one_page(1, FOX_PAGES[0]), "utf-8")
    (book / "2.xml").write_text(one_page(2, FOX_PAGES[1])[:300], "utf-8")  # cut short
    stats, errors = reconciled_run(
        ["normalize"], [str(tmp_path)], tmp_path / "out", input_kind="pages"
    )
    assert stats["read"] == stats["errored"] == 1
    [error] = errors
    assert error["file"].endswith("fox") and error["record"].startswith("page 2 (2.xml), line ")
    assert "invalid XML" in error["message"] and error["message"].endswith("the book is not read")
