"""Folders of per-page OCR files (one book per folder): what OCR-D workspaces, Transkribus and
eScriptorium exports (one PAGE-XML file per page) and METS/ALTO digitisations (one ALTO file
per page) publish. Read with `input_kind="pages"` (`textmill run --input-kind pages`), like
folders of per-page `.txt` files: each folder's files of one OCR format are one document, its
pages in natural order of the file names (`p2.xml` before `p10.xml`), as the one-file readers
give them (textmill/io/ocr_xml.py, textmill/io/page_xml.py: reading order, furniture in
`page_furniture`, confidences). A file that fails (invalid XML, no page) is the book's error,
naming the page and the file: a book with a page missing is not silently shorter.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterator
from dataclasses import replace

import fsspec

from textmill.io.base import BatchBuilder, ReadBatch, ReadOptions
from textmill.io.files import detect_format
from textmill.io.ocr_xml import add_pages, alto_pages, hocr_pages, parse_ocr_file
from textmill.io.page_folders import natural_key
from textmill.io.page_xml import page_xml_pages

PARSERS = {"hocr": hocr_pages, "alto": alto_pages, "page_xml": page_xml_pages}
FOLDER_FORMATS = {f"{kind}_pages": kind for kind in PARSERS}
"""A folder of pages' format name (`page_xml_pages`) → the format of its files (`page_xml`)."""


def ocr_page_files(folder: str, kind: str) -> list[str]:
    """The files of OCR format `kind` directly in `folder` (hidden ones left out), in natural
    order of their names."""
    fs, _, (root,) = fsspec.get_fs_token_paths(folder)
    prefix = "" if "://" not in folder else folder.split("://", 1)[0] + "://"
    paths = [
        prefix + p
        for p in fs.ls(root, detail=False)
        if fs.isfile(p) and not posixpath.basename(p).startswith(".")
    ]
    paths = [p for p in paths if detect_format(p) == kind]
    return sorted(paths, key=lambda p: natural_key(posixpath.basename(p)))


def read_ocr_folder(folder: str, options: ReadOptions, kind: str) -> ReadBatch:
    """One folder of per-page OCR files of format `kind` as one document (module docstring)."""
    batch = BatchBuilder(folder, options)
    pages, read_as_html = [], 0
    for number, path in enumerate(ocr_page_files(folder, kind), 1):
        where = f"page {number:,} ({posixpath.basename(path)})"
        parsed = parse_ocr_file(path, options, kind, PARSERS[kind], batch, where)
        if parsed is None:
            error = batch.errors[-1]
            batch.errors[-1] = replace(error, message=f"{error.message}; the book is not read")
            return batch.flush()
        pages += parsed[0]
        read_as_html += parsed[1] is not None
    add_pages(batch, folder, kind, pages)
    if read_as_html:  # hOCR pages that were not well-formed XML (the one-file reader's counter)
        batch.counts["hocr:read_as_html"] = read_as_html
    return batch.flush()


def read_hocr_folder(folder: str, options: ReadOptions) -> Iterator[ReadBatch]:
    yield read_ocr_folder(folder, options, "hocr")


def read_alto_folder(folder: str, options: ReadOptions) -> Iterator[ReadBatch]:
    yield read_ocr_folder(folder, options, "alto")


def read_page_xml_folder(folder: str, options: ReadOptions) -> Iterator[ReadBatch]:
    yield read_ocr_folder(folder, options, "page_xml")
