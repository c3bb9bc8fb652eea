"""PAGE-XML reader: reading order, line / word / region text, furniture regions out of the
text and listed, drop capitals, confidences, and bad files counted, on files the tests write."""

from __future__ import annotations

import json

from conftest import reconciled_run

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
