"""OCR output as OCR engines publish it: hOCR (`.hocr`, `.hocr.html`; Tesseract, OCRopus, hocr-
tools) and ALTO XML (`.xml` files whose root is ALTO's namespace, v1-v4). One document per file.

Both keep the page / block / line / word structure: `text` is the pages joined by "\\f", a
page's lines end with "\\n" as the OCR gave them, a blank line between blocks (hOCR `ocr_par`
or `ocr_carea`, ALTO `TextBlock`), words joined by one space (ALTO `HYP` kept at the line's end:
de-hyphenation is the clean-up's job). Word confidences (hOCR `x_wconf` 0-100, ALTO `WC` 0-1)
become `metadata.page_word_confidence`: one mean in [0, 1] per page, null for a page without
any. Invalid XML is the file's error naming the line; a page without text is listed
(`pages_without_text`) and counted (`hocr:pages_without_text`, `alto:pages_without_text`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from lxml import etree

from textmill.io.base import BatchBuilder, ReadBatch, ReadOptions, stream_failure
from textmill.io.files import STREAM_ERRORS, open_input

ALTO_NAMESPACES = (b"www.loc.gov/standards/alto", b"schema.ccs-gmbh.com/ALTO")
SNIFF_BYTES = 4096
MARKUP_PER_TEXT_BYTE = 32
"""hOCR / ALTO carry ~10-25 bytes of markup per byte of text (coordinates, ids, confidences:
the shared Tesseract hOCR and ALTO files hold 64 KB for 3 KB of text), so the file may be this
many times `max_document_bytes`; its text is held to `max_document_bytes` itself."""
HOCR_LINES = {"ocr_line", "ocrx_line", "ocr_header", "ocr_footer", "ocr_caption", "ocr_textfloat"}
HOCR_BLOCKS = {"ocr_par", "ocr_carea", "ocrx_block"}
_WCONF = re.compile(r"\bx_wconf\s+(-?[\d.]+)")
_SPACES = re.compile(r"\s+")
_ALTO_ROOT = re.compile(rb"<(?:[\w.-]+:)?alto[\s>]")


def sniff_alto(path: str) -> bool:
    """Whether an .xml file is ALTO: its first bytes hold an `<alto>` root and ALTO's namespace
    (PAGE-XML, TEI and other .xml files are not read as ALTO)."""
    head = file_head(path)
    return (
        head is not None
        and _ALTO_ROOT.search(head) is not None
        and any(ns in head for ns in ALTO_NAMESPACES)
    )


def file_head(path: str) -> bytes | None:
    """The first SNIFF_BYTES of a (possibly compressed) file, None when it cannot be read."""
    try:
        stream, _ = open_input(path)
        try:
            return stream.read(SNIFF_BYTES)
        finally:
            stream.close()
    except (*STREAM_ERRORS, ImportError):
        return None


@dataclass
class OcrPage:
    lines: list[str] = field(default_factory=list)
    confidences: list[float] = field(default_factory=list)
    bad_confidences: int = 0
    furniture: list[tuple[str, str]] = field(default_factory=list)
    """(region type, text) of lines the layout marks as page furniture (PAGE-XML `header`,
    `footer`, `page-number`, ...): kept out of `lines`, listed in the metadata."""

    def text(self) -> str:
        return "".join(line + "\n" for line in self.lines).strip("\n") + "\n" if self.lines else ""

    def mean_confidence(self) -> float | None:
        if not self.confidences:
            return None
        return round(sum(self.confidences) / len(self.confidences), 4)


def read_hocr(path: str, options: ReadOptions) -> Iterator[ReadBatch]:
    """An hOCR file as one document (module docstring)."""
    yield read_ocr_file(path, options, "hocr", hocr_pages)


def read_alto(path: str, options: ReadOptions) -> Iterator[ReadBatch]:
    """An ALTO XML file as one document (module docstring)."""
    yield read_ocr_file(path, options, "alto", alto_pages)


PageParser = Callable[[etree._Element], "list[OcrPage] | None"]
FORMAT_NAMES = {"hocr": "hOCR", "alto": "ALTO", "page_xml": "PAGE-XML"}
MISSING_PAGES = {
    "hocr": "no element of class ocr_page",
    "alto": "no ALTO Page element",
    "page_xml": "no PAGE-XML Page element",
}


def read_ocr_file(path: str, options: ReadOptions, kind: str, parse_pages: PageParser) -> ReadBatch:
    """One OCR XML file as one document: size limits, XML parsing (hOCR falls back to HTML),
    `parse_pages` for the format's structure, then the shared page columns and counts."""
    batch = BatchBuilder(path, options)
    parsed = parse_ocr_file(path, options, kind, parse_pages, batch)
    if parsed is not None:
        pages, html_because = parsed
        add_pages(batch, path, kind, pages)
        if html_because is not None:
            batch.counts["hocr:read_as_html"] = 1
            for metadata in batch.metadata:
                if metadata is not None:
                    metadata["hocr_parse"] = html_because
    return batch.flush()


def parse_ocr_file(
    path: str,
    options: ReadOptions,
    kind: str,
    parse_pages: PageParser,
    batch: BatchBuilder,
    where: str = "",
) -> tuple[list[OcrPage], str | None] | None:
    """The pages of one OCR XML file and, for hOCR read as HTML, why; or None once the file's
    error is in `batch` (`where` in front of its place: the page of a page folder). Without
    `where` the file is the document, and `batch` counts its bytes."""

    def fail(place: str, message: str) -> None:
        batch.error(f"{where}, {place}" if where and place != "file" else where or place, message)

    try:
        stream, counter = open_input(path, options.max_compression_ratio)
    except OSError as exc:
        fail("file", f"cannot open ({type(exc).__name__}: {exc})")
        return None
    if not where:
        batch.counter = counter
    limit = options.max_document_bytes * MARKUP_PER_TEXT_BYTE
    try:
        data = stream.read(limit + 1)
    except STREAM_ERRORS as exc:
        fail("file", stream_failure(exc))
        return None
    finally:
        stream.close()
    if len(data) > limit:
        fail(
            "file",
            f"larger than {MARKUP_PER_TEXT_BYTE} x max_document_bytes="
            f"{options.max_document_bytes:,} (its text would exceed max_document_bytes)",
        )
        return None
    html_because = None
    try:
        root = etree.fromstring(data, _parser())
    except etree.XMLSyntaxError as exc:
        line = getattr(exc, "lineno", None)
        place = f"line {line:,}" if line else "file"
        if kind != "hocr":
            fail(place, f"invalid XML ({exc.msg})")
            return None
        # hOCR is HTML by its spec: read it as HTML, and say so (metadata and a counter)
        html_because = f"invalid XML at {place} ({exc.msg}); read as HTML"
        root = _html_root(data)
    if root is None:
        fail("file", "invalid XML (no root element)")
        return None
    pages = parse_pages(root)
    if pages is None:
        fail("file", f"not {FORMAT_NAMES[kind]}: {MISSING_PAGES[kind]}")
        return None
    return pages, html_because


def _html_root(data: bytes) -> etree._Element | None:
    from lxml import html

    try:
        return html.fromstring(data)
    except (etree.ParserError, ValueError):
        return None


def _parser() -> etree.XMLParser:
    # no entity expansion from outside, no network: an input file is untrusted
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, recover=False)


def add_pages(batch: BatchBuilder, path: str, kind: str, pages: list[OcrPage]) -> None:
    """The pages as one document of `batch` (text, page metadata, counts), or its error."""
    texts = [page.text() for page in pages]
    empty = [i for i, text in enumerate(texts, 1) if not text.strip()]
    batch.counts = {f"{kind}:pages": len(pages), f"{kind}:pages_without_text": len(empty)}
    bad = sum(page.bad_confidences for page in pages)
    if bad:  # a confidence that is no number in its range: left out of the page's mean
        batch.counts[f"{kind}:bad_word_confidences"] = bad
    if len(empty) == len(pages):
        batch.error("file", f"no text on any of its {len(pages):,} pages")
        return
    text = "\f".join(texts)
    if batch.too_large(len(text.encode("utf-8"))):
        batch.error("file", batch.oversize_message(len(text.encode("utf-8"))))
        return
    metadata = {
        "reader": kind,
        "page_count": len(pages),
        "pages_without_text": empty,
        "page_word_confidence": [page.mean_confidence() for page in pages],
    }
    furniture = [
        {"page": number, "type": kind_of_region, "text": line}
        for number, page in enumerate(pages, 1)
        for kind_of_region, line in page.furniture
    ]
    if furniture:
        metadata["page_furniture"] = furniture
        batch.counts[f"{kind}:furniture_lines"] = len(furniture)
    batch.add(path, text=text, metadata=metadata)


def _local(tag: object) -> str:
    return etree.QName(tag).localname if isinstance(tag, str) else ""


# ------------------------------------------------------------------ hOCR


def hocr_pages(root: etree._Element) -> list[OcrPage] | None:
    """The pages of an hOCR tree, or None when it has no `ocr_page`."""
    page_elements = [e for e in root.iter() if "ocr_page" in _classes(e)]
    if not page_elements:
        return None
    return [_hocr_page(page) for page in page_elements]


def _classes(element: etree._Element) -> set[str]:
    value = element.get("class") if isinstance(element.tag, str) else None
    return set(value.split()) if value else set()


def _hocr_page(page_element: etree._Element) -> OcrPage:
    page = OcrPage()
    block = None
    for element in page_element.iter():
        if not (HOCR_LINES & _classes(element)):
            continue
        words = [w for w in element.iter() if "ocrx_word" in _classes(w)]
        if words:
            text = " ".join(_SPACES.sub(" ", "".join(w.itertext())).strip() for w in words)
            for word in words:
                _hocr_confidence(word.get("title") or "", page)
        else:
            text = "".join(element.itertext())
        text = _SPACES.sub(" ", text).strip()
        if not text:
            continue
        owner = next((a for a in element.iterancestors() if HOCR_BLOCKS & _classes(a)), None)
        if page.lines and owner is not block:
            page.lines.append("")  # a blank line between paragraphs / blocks
        block = owner
        page.lines.append(text)
    if not page.lines:  # a page without line elements: its text as it stands
        lines = ("".join(page_element.itertext())).splitlines()
        page.lines = [line for line in (_SPACES.sub(" ", x).strip() for x in lines) if line]
    return page


def _hocr_confidence(title: str, page: OcrPage) -> None:
    match = _WCONF.search(title)
    if match is None:
        return
    try:
        value = float(match.group(1))
    except ValueError:
        page.bad_confidences += 1
        return
    if 0 <= value <= 100:
        page.confidences.append(value / 100)
    else:
        page.bad_confidences += 1


# ------------------------------------------------------------------ ALTO


def alto_pages(root: etree._Element) -> list[OcrPage] | None:
    """The pages of an ALTO tree, or None when it has no `Page`."""
    page_elements = [e for e in root.iter() if _local(e.tag) == "Page"]
    if not page_elements:
        return None
    return [_alto_page(page) for page in page_elements]


def _alto_page(page_element: etree._Element) -> OcrPage:
    page = OcrPage()
    for block in page_element.iter():
        if _local(block.tag) != "TextBlock":
            continue
        if page.lines:
            page.lines.append("")
        for line in block.iter():
            if _local(line.tag) != "TextLine":
                continue
            text = ""
            for part in line:
                name = _local(part.tag)
                if name == "String":
                    text += (" " if text and not text.endswith(" ") else "") + (
                        part.get("CONTENT") or ""
                    )
                    record_confidence(part.get("WC"), page)
                elif name == "HYP":
                    text += part.get("CONTENT") or "-"
            text = _SPACES.sub(" ", text).strip()
            if text:
                page.lines.append(text)
        if page.lines and page.lines[-1] == "":
            page.lines.pop()
    return page


def record_confidence(value: str | None, page: OcrPage) -> None:
    """A word's or line's 0-1 confidence (ALTO's WC, PAGE-XML's conf), counted when malformed."""
    if value is None:
        return
    try:
        confidence = float(value)
    except ValueError:
        page.bad_confidences += 1
        return
    if 0 <= confidence <= 1:
        page.confidences.append(confidence)
    else:
        page.bad_confidences += 1
