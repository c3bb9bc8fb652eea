"""PDF files: one document per file, its pages' text joined by "\\f" (pdftotext's page
separator: page i is `text.split("\\f")[i]`), with the PDF's metadata.

Three engines (`ReadOptions.pdf_engine`): `pypdfium2` (PDFium, the default: permissive licence
and ~33x pdfplumber's pages/s, BENCHMARKS.md), `pdfplumber` (pdfminer.six's layout analysis:
text boxes in reading order, so a two-column page reads column by column; slow) and `pypdf`
(pure Python). Pages without text are never silently empty: their numbers are listed in the
metadata (`pages_without_text`, and `pages_image_only` for the ones that hold an image: a scan
without a text layer) and counted (`pdf:pages_without_text`, `pdf:pages_image_only`); with
`ocr_languages` set, image-only pages are rendered by PDFium and read by Tesseract
(`ocr_pages`). A file with no text at all, an encrypted file, one with no pages or one PDFium
cannot repair is an error naming the file and why.

PDF parsers loop and crash on hostile files, so files are read in a forked child under a
per-file wall-clock limit (`pdf_time_limit_s`) that really stops native code
(`textmill.budget.map_rows_within_budget`): one child per chunk of files, and a file over the
limit or one that kills the child is that file's error only.
"""

from __future__ import annotations

import functools
import importlib
import io
import multiprocessing
import re
import shutil
import subprocess
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import fsspec

from textmill.budget import map_rows_within_budget
from textmill.document import make_batch
from textmill.io.base import ReadBatch, ReadError, ReadOptions

PDF_ENGINES = ("pypdfium2", "pdfplumber", "pypdf")
DEFAULT_PDF_ENGINE = ReadOptions.pdf_engine
DEFAULT_PDF_TIME_LIMIT_S = ReadOptions.pdf_time_limit_s
"""The default per-file limit: a 2,000-page book takes ~10 s with PDFium and ~220 s with
pdfplumber (9 pages/s on the shared PDFs); OCR costs seconds a page: raise it with OCR on."""
FILES_PER_CHILD = 32  # one fork (~20-70 ms) per this many files, not per file
OCR_DPI = 300  # Tesseract's documented sweet spot for body text
PAGE_SEPARATOR = "\f"
_LINE_BREAKS = re.compile(r"\r\n?|\f")


class PdfUnreadable(Exception):
    """A PDF that gives no document: the message says why, for the error file."""


@dataclass
class PdfPages:
    """What one engine read from one file (built in the child, pickled to the parent)."""

    texts: list[str]
    metadata: dict[str, Any]
    pages_image_only: list[int] = field(default_factory=list)  # 1-based
    ocr_pages: list[int] = field(default_factory=list)
    page_errors: dict[int, str] = field(default_factory=dict)


def tesseract_available() -> bool:
    return shutil.which("tesseract") is not None


@functools.cache
def tesseract_languages() -> frozenset[str] | None:
    """The language packs the installed Tesseract has (`tesseract --list-langs`), so that a
    missing one is refused before the run; None where Tesseract cannot say."""
    try:
        listed = subprocess.run(
            ["tesseract", "--list-langs"], capture_output=True, text=True, timeout=60
        )
    except (OSError, subprocess.SubprocessError):
        return None
    lines = listed.stdout.splitlines()
    if listed.returncode != 0 or not lines:
        return None
    return frozenset(line.strip() for line in lines[1:] if line.strip())


def clean_page_text(text: str) -> str:
    """Page text in the corpus shape: every line (the last too) ends with "\\n", no "\\f" inside
    a page (it would shift every later page). PDFium writes a hyphen it joined across a line
    break as U+0002: it becomes "-" and the line break again (de-hyphenation is the clean-up's
    job)."""
    text = _LINE_BREAKS.sub("\n", text.replace("\x00", "")).replace("\x02", "-\n")
    return text + "\n" if text.strip() and not text.endswith("\n") else text


def pdf_date(value: Any) -> str | None:
    """A PDF date string ("D:20230110214659+01'00'", any prefix of it) as ISO 8601."""
    if isinstance(value, bytes):
        value = value.decode("latin-1")
    if not isinstance(value, str):
        return None
    match = re.match(
        r"\s*(?:D:)?(\d{4})(\d\d)?(\d\d)?(\d\d)?(\d\d)?(\d\d)?\s*(?:([Zz+\-])(\d\d)?'?(\d\d)?'?)?",
        value,
    )
    if match is None:
        return None
    year, month, day, hour, minute, second, sign, tz_h, tz_m = match.groups()
    if month is None:
        return year
    try:
        moment = datetime(
            int(year), int(month), int(day or 1), int(hour or 0), int(minute or 0),
            int(second or 0),
        )  # fmt: skip
        if sign in ("+", "-") and tz_h:
            offset = timedelta(hours=int(tz_h), minutes=int(tz_m or 0))
            moment = moment.replace(tzinfo=timezone(offset if sign == "+" else -offset))
        elif sign in ("Z", "z"):
            moment = moment.replace(tzinfo=UTC)
    except ValueError:
        return None
    if day is None:
        return moment.strftime("%Y-%m")
    return moment.isoformat() if hour is not None else moment.date().isoformat()


def info_metadata(info: dict[str, Any], page_count: int, engine: str) -> dict[str, Any]:
    """The contract's metadata from a PDF Info dictionary (keys with or without "/")."""
    values = {str(k).lstrip("/"): v for k, v in (info or {}).items()}

    def text(key: str) -> str | None:
        value = values.get(key)
        if isinstance(value, bytes):
            value = value.decode("utf-16" if value[:2] in (b"\xfe\xff", b"\xff\xfe") else "latin-1")
        value = str(value).strip() if value is not None else ""
        return value.replace("\x00", "") or None

    metadata: dict[str, Any] = {"reader": engine, "page_count": page_count}
    for key, name in (("Title", "title"), ("Author", "author")):
        if text(key):
            metadata[name] = text(key)
    for key, name in (("CreationDate", "creation_date"), ("ModDate", "mod_date")):
        date = pdf_date(values.get(key))
        if date:
            metadata[name] = date
    year = metadata.get("creation_date", "")[:4]
    if year.isdigit():
        metadata["year"] = int(year)
    return metadata


# ------------------------------------------------------------------ engines (run in the child)


@dataclass
class OpenedPdf:
    """An engine's view of one open file: Info dictionary, page count, a page reader (0-based
    index -> text and whether an empty page holds an image) and how to close it."""

    info: dict[str, Any]
    count: int
    page: Callable[[int], tuple[str, bool]]
    close: Callable[[], None]


def _open_pypdfium2(path: str) -> OpenedPdf:
    import pypdfium2 as pdfium
    import pypdfium2.raw as pdfium_c

    try:
        document = pdfium.PdfDocument(_source(path))
    except pdfium.PdfiumError as exc:
        raise PdfUnreadable(_pdfium_failure(path, str(exc))) from None

    def page_text(index: int) -> tuple[str, bool]:
        page = document[index]
        try:
            textpage = page.get_textpage()
            text = textpage.get_text_bounded()
            textpage.close()
            images = not text.strip() and any(
                page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_IMAGE], max_depth=3)
            )
            return text, images
        finally:
            page.close()

    info = document.get_metadata_dict(skip_empty=True)
    return OpenedPdf(info, len(document), page_text, document.close)


def _source(path: str) -> str | io.BytesIO:
    """What an engine opens: a local path as it is, a URL (s3://, ...) as its bytes."""
    if "://" not in path or path.startswith("file://"):
        return path.removeprefix("file://")
    with fsspec.open(path, "rb") as handle:
        return io.BytesIO(handle.read())


def _is_empty(path: str) -> bool:
    fs, location = fsspec.core.url_to_fs(path)
    return fs.size(location) == 0


def _declares_encryption(path: str) -> bool:
    """Whether a PDF's trailer names an /Encrypt dictionary (asked only of files that failed)."""
    with fsspec.open(path, "rb") as handle:
        return b"/Encrypt" in handle.read()


def _pdfium_failure(path: str, message: str) -> str:
    """Why PDFium could not open a file. Its last-error code is process-wide and not reset by
    every failure (a file with no pages reports "Success", or the password error of the file
    before it), so encryption is told by the file's own /Encrypt entry."""
    if _declares_encryption(path):
        return "encrypted: it needs a password (PDFium)"
    if "PDFium: Success" in message or "password" in message.lower():
        return "PDFium cannot open it (no pages, or no usable document catalog)"
    return f"PDFium cannot open or repair it ({message})"


def _open_pdfplumber(path: str) -> OpenedPdf:
    import pdfplumber
    from pdfminer.layout import LTTextContainer

    try:
        pdf = pdfplumber.open(_source(path), laparams={})  # pdfminer's default LAParams: text boxes
        count = len(pdf.pages)
    except Exception as exc:  # noqa: BLE001 - pdfminer raises many types for broken files
        if _declares_encryption(path):  # pdfplumber wraps PDFPasswordIncorrect, message-less
            raise PdfUnreadable("encrypted: it needs a password") from None
        raise PdfUnreadable(f"pdfminer cannot parse it ({type(exc).__name__}: {exc})") from None

    def page_text(index: int) -> tuple[str, bool]:
        page = pdf.pages[index]
        try:
            boxes = [obj.get_text() for obj in page.layout if isinstance(obj, LTTextContainer)]
            text = "\n".join(box.rstrip("\n") + "\n" for box in boxes)  # a blank line between
            return text, not text.strip() and bool(page.images)
        finally:
            page.close()

    return OpenedPdf(pdf.metadata, count, page_text, pdf.close)


def _open_pypdf(path: str) -> OpenedPdf:
    import pypdf
    from pypdf.errors import FileNotDecryptedError, PdfReadError

    try:
        reader = pypdf.PdfReader(_source(path))
        if reader.is_encrypted and not reader.decrypt(""):
            raise PdfUnreadable("encrypted: it needs a password")
        count = len(reader.pages)
        info = dict(reader.metadata or {})
    except FileNotDecryptedError:
        raise PdfUnreadable("encrypted: it needs a password") from None
    except (PdfReadError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise PdfUnreadable(f"pypdf cannot parse it ({type(exc).__name__}: {exc})") from None

    def page_text(index: int) -> tuple[str, bool]:
        page = reader.pages[index]
        text = page.extract_text()
        return text, not text.strip() and bool(page.images)

    return OpenedPdf(info, count, page_text, lambda: None)


ENGINE_MODULES = {"pypdfium2": "pypdfium2", "pdfplumber": "pdfplumber", "pypdf": "pypdf"}
ENGINES = {"pypdfium2": _open_pypdfium2, "pdfplumber": _open_pdfplumber, "pypdf": _open_pypdf}


def extract_pdf(
    path: str,
    engine: str = DEFAULT_PDF_ENGINE,
    ocr: str | None = None,
    max_pages: int | None = None,
    at_page: Any = None,
) -> PdfPages:
    """Every page's text of one PDF (the first `max_pages`: a sample), in the child; raises
    PdfUnreadable for a file that gives no document. A page that raises is left empty and
    named in `page_errors`. `at_page` (a shared `multiprocessing.RawValue`) is set to the page
    being read (0 while opening), so that the parent can name the page a child hung on."""
    if at_page is not None:
        at_page.value = 0
    if _is_empty(path):  # each engine words it as a parse error ("Data format error")
        raise PdfUnreadable("an empty file (0 bytes)")
    opened = ENGINES[engine](path)
    try:
        if opened.count == 0:
            raise PdfUnreadable("it has no pages")
        result = PdfPages([], info_metadata(opened.info, opened.count, engine))
        for number in range(1, min(opened.count, max_pages or opened.count) + 1):
            if at_page is not None:
                at_page.value = number
            try:
                text, image_only = opened.page(number - 1)
            except Exception as exc:  # noqa: BLE001 - one page's failure is that page's error
                result.page_errors[number] = f"{type(exc).__name__}: {exc}"
                result.texts.append("")
                continue
            text = clean_page_text(text or "")
            if image_only:
                result.pages_image_only.append(number)
                if ocr:
                    text = clean_page_text(ocr_page(path, number, ocr))
                    if text.strip():
                        result.ocr_pages.append(number)
            result.texts.append(text)
        return result
    finally:
        opened.close()


def ocr_page(path: str, number: int, languages: str) -> str:
    """Tesseract's text of one page (1-based), rendered by PDFium at `OCR_DPI`."""
    import pypdfium2 as pdfium
    import pytesseract

    document = pdfium.PdfDocument(_source(path))
    try:
        image = document[number - 1].render(scale=OCR_DPI / 72).to_pil()
    finally:
        document.close()
    return pytesseract.image_to_string(image, lang=languages)


# ------------------------------------------------------------------ the reader (the parent)


def read_pdfs(paths: Sequence[str], options: ReadOptions) -> Iterator[ReadBatch]:
    """One document per PDF of a shard, each file read in a child under the time limit."""
    try:  # imported once here, not in every child
        importlib.import_module(ENGINE_MODULES[options.pdf_engine])
    except ImportError as exc:
        for path in paths:
            yield _error_batch(
                path, f"not read: {exc}; PDF input needs pip install textmill[books]"
            )
        return
    at_page = multiprocessing.RawValue("q", 0)  # shared memory, written by the child
    for start in range(0, len(paths), FILES_PER_CHILD):
        chunk = list(paths[start : start + FILES_PER_CHILD])
        outcomes = map_rows_within_budget(
            lambda path: _extract_or_reason(path, options, at_page),
            chunk,
            options.pdf_time_limit_s,
        )
        for path, outcome in zip(chunk, outcomes, strict=True):
            if outcome.failure is not None:
                why = outcome.failure.message
                if outcome.failure.timed_out:
                    why = f"reading took over the {options.pdf_time_limit_s:g} s per-file limit"
                # the page the child was on when it hung or died (0: opening the file)
                where = f"page {at_page.value:,}" if at_page.value else "file (opening it)"
                yield _error_batch(path, f"not read: {why}", where)
            elif isinstance(outcome.value, str):
                yield _error_batch(path, f"not read: {outcome.value}")
            else:
                yield pdf_batch(path, outcome.value, options)


def _extract_or_reason(path: str, options: ReadOptions, at_page: Any) -> PdfPages | str:
    try:
        return extract_pdf(path, options.pdf_engine, options.ocr_languages, at_page=at_page)
    except PdfUnreadable as exc:
        return str(exc)
    except OSError as exc:
        return f"cannot open ({type(exc).__name__}: {exc})"


def _error_batch(path: str, message: str, where: str = "file") -> ReadBatch:
    return ReadBatch(make_batch([], [], source=path), [ReadError(path, where, message)])


def pdf_batch(path: str, pages: PdfPages, options: ReadOptions) -> ReadBatch:
    """The file's document (or its error), the per-page errors (which lose no document: the
    page is empty and listed) and the page counters."""
    empty = [i for i, text in enumerate(pages.texts, 1) if not text.strip()]
    counts = {
        "pdf:pages": len(pages.texts),
        "pdf:pages_without_text": len(empty),
        "pdf:pages_image_only": len(pages.pages_image_only),
        "pdf:pages_ocr": len(pages.ocr_pages),
        "pdf:page_errors": len(pages.page_errors),
    }
    page_errors = [
        ReadError(path, f"page {number:,}", f"page text lost, page left empty ({why})", records=0)
        for number, why in sorted(pages.page_errors.items())
    ]
    if len(empty) == len(pages.texts):
        scans = len(pages.pages_image_only)
        hint = (
            f", {scans:,} of them image-only: a scan without a text layer"
            + ("" if options.ocr_languages else " (OCR them with --ocr LANGS)")
            if scans
            else ""
        )
        error = ReadError(path, "file", f"no text on any of its {len(empty):,} pages{hint}")
        return ReadBatch(make_batch([], [], source=path), [error, *page_errors], counts=counts)
    metadata = dict(pages.metadata)
    metadata["pages_without_text"] = empty
    if pages.pages_image_only:
        metadata["pages_image_only"] = pages.pages_image_only
    if pages.ocr_pages:
        metadata["ocr_pages"] = pages.ocr_pages
        text_pages = len(pages.texts) - len(empty)
        if len(pages.ocr_pages) == text_pages:  # all of its text came from Tesseract
            metadata["reader"] = "tesseract"
    if pages.page_errors:
        metadata["page_errors"] = sorted(pages.page_errors)
    text = PAGE_SEPARATOR.join(pages.texts)
    if len(text.encode("utf-8")) > options.max_document_bytes:
        error = ReadError(
            path,
            "file",
            f"document of {len(text.encode()):,} bytes exceeds max_document_bytes="
            f"{options.max_document_bytes:,}",
        )
        return ReadBatch(make_batch([], [], source=path), [error], counts=counts)
    docs = make_batch([path], [text], source=path, metadata=[metadata])
    return ReadBatch(docs, page_errors, counts=counts)
