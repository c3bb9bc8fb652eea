"""PAGE-XML (PRImA PAGE, `PcGts`, 2009-2019 schemas): the format of OCR-D, Transkribus,
eScriptorium, Kraken, Calamari and most ground-truth sets. One document per file, like hOCR and
ALTO (textmill/io/ocr_xml.py shares the reading, limits and columns); the schema holds one page
per file, so a book is a folder of them, read as one with `input_kind="pages"`
(textmill/io/ocr_folders.py).

A page's text regions are read in the file's `ReadingOrder` (ordered groups by `index`, nested
groups in place, regions the order leaves out after it in document order), each line from its
`TextLine`'s `TextEquiv` (the lowest `index`), else its `Word`s', else the region's own text; a
blank line between regions. Regions whose `type` is page furniture (`header`, `footer`,
`page-number`, `catch-word`, `signature-mark`) are not text: the layout analysis said what they
are, so they go to `metadata.page_furniture` (page, type, text) and the count
`page_xml:furniture_lines` instead of being left to `running_headers`' guesswork. A `drop-capital`
region's letter is put back in front of the next region's first line ("A" + "ufklärung").
`TextEquiv@conf` (0-1) of words, else of lines, make `page_word_confidence`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from lxml import etree

from textmill.io.base import ReadBatch, ReadOptions
from textmill.io.ocr_xml import OcrPage, file_head, read_ocr_file, record_confidence

PAGE_NAMESPACE = b"schema.primaresearch.org/PAGE/gts/pagecontent"
FURNITURE_TYPES = frozenset({"header", "footer", "page-number", "catch-word", "signature-mark"})
"""PAGE's `TextTypeSimpleType` values for what a printer adds to every page, not the text."""
DROP_CAPITAL = "drop-capital"
_PAGE_ROOT = re.compile(rb"<(?:[\w.-]+:)?PcGts[\s>]")
_SPACES = re.compile(r"\s+")


def sniff_page_xml(path: str) -> bool:
    """Whether an .xml file is PAGE-XML: a `PcGts` root in PRImA's namespace in its first bytes."""
    head = file_head(path)
    return head is not None and _PAGE_ROOT.search(head) is not None and PAGE_NAMESPACE in head


def read_page_xml(path: str, options: ReadOptions) -> Iterator[ReadBatch]:
    """A PAGE-XML file as one document (module docstring)."""
    yield read_ocr_file(path, options, "page_xml", page_xml_pages)


def _local(element: etree._Element) -> str:
    return etree.QName(element.tag).localname if isinstance(element.tag, str) else ""


def _children(element: etree._Element, name: str) -> list[etree._Element]:
    return [child for child in element if _local(child) == name]


def page_xml_pages(root: etree._Element) -> list[OcrPage] | None:
    """The pages of a PAGE-XML tree, or None when it has no `Page`."""
    if _local(root) != "PcGts":
        return None
    pages = [element for element in root.iter() if _local(element) == "Page"]
    if not pages:
        return None
    return [_page(page) for page in pages]


def _page(page_element: etree._Element) -> OcrPage:
    page = OcrPage()
    regions = {
        element.get("id"): element
        for element in page_element.iter()
        if _local(element) == "TextRegion"
    }
    drop_capital = ""
    for region in _in_reading_order(page_element, regions):
        kind = region.get("type") or ""
        lines = _region_lines(region, page)
        if not lines:
            continue
        if kind in FURNITURE_TYPES:
            page.furniture += [(kind, line) for line in lines]
            continue
        if kind == DROP_CAPITAL:
            drop_capital += "".join(lines)
            continue
        if drop_capital:
            lines[0] = drop_capital + lines[0]
            drop_capital = ""
        if page.lines:
            page.lines.append("")  # a blank line between regions
        page.lines += lines
    if drop_capital:  # a drop capital with nothing after it is still text
        page.lines += ([""] if page.lines else []) + [drop_capital]
    return page


def _in_reading_order(
    page_element: etree._Element, regions: dict[str | None, etree._Element]
) -> list[etree._Element]:
    """Text regions in the `ReadingOrder`, then those it leaves out in document order. A region
    nested in another region is read on its own, so its parent's lines never repeat it."""
    ordered: list[str] = []
    for reading_order in _children(page_element, "ReadingOrder"):
        for group in reading_order:
            _walk_group(group, ordered)
    seen: set[str] = set()
    result = []
    for region_id in ordered + list(regions):
        if region_id in regions and region_id not in seen:
            seen.add(region_id)
            result.append(regions[region_id])
    return result


def _walk_group(group: etree._Element, ordered: list[str]) -> None:
    """An `OrderedGroup`'s members by `index` (an `UnorderedGroup`'s as written), nested groups
    in place; a group may itself point at a region (`regionRef`)."""
    if group.get("regionRef"):
        ordered.append(group.get("regionRef"))
    members = [child for child in group if _local(child).startswith(("Region", "Ordered", "Un"))]
    if _local(group).startswith("OrderedGroup"):
        members.sort(key=lambda child: _index(child.get("index")))
    for member in members:
        if _local(member).startswith("RegionRef"):
            ordered.append(member.get("regionRef"))
        else:
            _walk_group(member, ordered)


def _index(value: str | None) -> int:
    try:
        return int(value) if value is not None else 1 << 30
    except ValueError:
        return 1 << 30


def _text_equiv(element: etree._Element) -> tuple[str | None, str | None]:
    """(Unicode text, conf) of an element's first `TextEquiv` by `index`, or (None, None)."""
    equivs = _children(element, "TextEquiv")
    if not equivs:
        return None, None
    best = min(equivs, key=lambda equiv: _index(equiv.get("index")))
    unicode = next(iter(_children(best, "Unicode")), None)
    text = "".join(unicode.itertext()) if unicode is not None else None
    return text, best.get("conf")


def _region_lines(region: etree._Element, page: OcrPage) -> list[str]:
    lines = []
    text_lines = _children(region, "TextLine")
    for line in text_lines:
        text, conf = _text_equiv(line)
        words = _children(line, "Word")
        word_texts = [_text_equiv(word) for word in words]
        if text is None:
            text = " ".join(t for t, _ in word_texts if t)
        word_confs = [c for _, c in word_texts if c is not None]
        for value in word_confs or ([conf] if conf is not None and text.strip() else []):
            record_confidence(value, page)
        text = _SPACES.sub(" ", text).strip()
        if text:
            lines.append(text)
    if not text_lines:  # a region transcribed as a whole
        text, _ = _text_equiv(region)
        lines = [_SPACES.sub(" ", x).strip() for x in (text or "").splitlines()]
        lines = [line for line in lines if line]
    return lines
