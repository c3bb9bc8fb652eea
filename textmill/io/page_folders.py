"""Folders of per-page `.txt` files (one book per folder), the shape OCR pipelines and
digitisation projects publish (`0001.txt`, `0002.txt`, ...): read with `input_kind="pages"`
(`textmill run --input-kind pages`), where each folder holding `.txt` files is one document,
its pages in natural sort order of the file names (`2.txt` before `10.txt`) joined by "\\f".

Without that setting a `.txt` file stays one document of its own: a folder of numbered pages
cannot be told from a folder of numbered web pages by its names.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterator

import fsspec

from textmill.io.base import BatchBuilder, ReadBatch, ReadOptions, stream_failure
from textmill.io.files import STREAM_ERRORS, is_page_file, open_input
from textmill.io.textfiles import BOMS

_DIGITS = re.compile(r"(\d+)")


def natural_key(name: str) -> list[object]:
    """'p10.txt' after 'p2.txt': runs of digits compare as numbers."""
    return [int(part) if part.isdigit() else part.lower() for part in _DIGITS.split(name)]


def page_files(folder: str) -> list[str]:
    """The `.txt` files (compressed too) directly in `folder`, hidden ones left out, in natural
    order of their names."""
    fs, _, (root,) = fsspec.get_fs_token_paths(folder)
    prefix = "" if "://" not in folder else folder.split("://", 1)[0] + "://"
    names = [
        posixpath.basename(p)
        for p in fs.ls(root, detail=False)
        if fs.isfile(p) and is_page_file(p) and not posixpath.basename(p).startswith(".")
    ]
    return [prefix + posixpath.join(root, name) for name in sorted(names, key=natural_key)]


def read_page_folder(folder: str, options: ReadOptions) -> Iterator[ReadBatch]:
    """One folder of page files as one document (module docstring)."""
    batch = BatchBuilder(folder, options)
    texts: list[str] = []
    size = 0
    files = page_files(folder)
    for number, path in enumerate(files, 1):
        where = f"page {number:,} ({posixpath.basename(path)})"
        try:
            stream, _ = open_input(path, options.max_compression_ratio)
            try:
                data = stream.read(options.max_document_bytes + 1)
            finally:
                stream.close()
        except STREAM_ERRORS as exc:
            batch.error(where, f"{stream_failure(exc)}; the book is not read")
            yield batch.flush()
            return
        size += len(data)
        if size > options.max_document_bytes:
            batch.error("file", batch.oversize_message(size))
            yield batch.flush()
            return
        codec = next((c for bom, c in BOMS if data.startswith(bom)), "utf-8")
        try:
            text = data.decode(codec).lstrip("\ufeff")
        except UnicodeDecodeError as exc:
            batch.error(
                where,
                f"invalid {codec.upper()} at byte {exc.start:,} ({exc.reason}); the book is not "
                "read (page files must be UTF-8)",
                data[max(0, exc.start - 60) : exc.start + 60],
            )
            yield batch.flush()
            return
        texts.append(text.replace("\r\n", "\n").replace("\r", "\n").replace("\f", "\n"))
    empty = [i for i, text in enumerate(texts, 1) if not text.strip()]
    batch.counts = {"page_txt:pages": len(texts), "page_txt:pages_without_text": len(empty)}
    if not texts or len(empty) == len(texts):
        batch.error("file", f"no text in any of its {len(texts):,} page files")
    else:
        metadata = {"reader": "page_txt", "page_count": len(texts), "pages_without_text": empty}
        batch.add(folder, text="\f".join(texts), metadata=metadata)
    yield batch.flush()
