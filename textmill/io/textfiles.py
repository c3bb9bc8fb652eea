"""Single-document files (.txt, .html and their compressed variants): one file, one document.

Also home of `decode_markup`, the charset detection that the WARC reader shares: declared
charsets first (BOM, HTTP header, `<meta>`), then strict UTF-8, then charset-normalizer; bytes
are decoded with errors="replace" only once a charset has been chosen.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterator
from functools import lru_cache

from resiliparse.parse.encoding import map_encoding_to_html5

from textmill.io.base import BatchBuilder, ReadBatch, ReadOptions, stream_failure
from textmill.io.files import STREAM_ERRORS, open_input

READ_CHUNK_BYTES = 1 << 20
META_SCAN_BYTES = 4096  # WHATWG prescans 1,024 bytes; real pages often bury <meta> deeper
DETECTION_SAMPLE_BYTES = 64 * 1024  # charset-normalizer is slow; a sample decides as well
BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
# What browsers really decode when a page names the older, smaller charset (WHATWG practice).
WEB_SUPERSETS = {
    "shift_jis": "cp932",
    "euc_kr": "cp949",
    "gbk": "gb18030",
    "gb2312": "gb18030",
    "big5": "big5hkscs",
    "latin_1": "cp1252",
    "iso8859-1": "cp1252",
    "ascii": "cp1252",
}
_META_CHARSET = re.compile(rb"""<meta[^>]{0,512}?charset\s*=\s*["']?\s*([\w.:-]+)""", re.I)
_HEADER_CHARSET = re.compile(r"""charset\s*=\s*["']?\s*([\w.:-]+)""", re.I)


@lru_cache(maxsize=512)
def codec_for_label(label: str | None) -> str | None:
    """The Python codec a browser would use for a charset label, or None if unknown."""
    if not label:
        return None
    name = map_encoding_to_html5(label.strip().strip("\"'").lower(), fallback_utf8=False)
    if name is None:
        return None
    try:
        name = codecs.lookup(name).name
    except LookupError:
        return None
    return WEB_SUPERSETS.get(name, name)


def charset_from_content_type(content_type: str | None) -> str | None:
    match = _HEADER_CHARSET.search(content_type) if content_type else None
    return match.group(1) if match else None


def meta_charset(data: bytes) -> str | None:
    """The charset a `<meta charset>` or `<meta http-equiv content-type>` names near the top."""
    match = _META_CHARSET.search(data, 0, META_SCAN_BYTES)
    return match.group(1).decode("ascii", "replace") if match else None


def decode_markup(
    data: bytes, declared: str | None = None, declared_by: str = "http"
) -> tuple[str, str, str]:
    """Text, codec and where the codec came from (bom, `declared_by`, meta, utf-8, detected,
    fallback).

    Declared charsets are tried strictly, in browser order; a page that fits none of them goes
    to charset-normalizer, and only the chosen codec decodes with replacement characters.
    """
    for bom, codec in BOMS:
        if data.startswith(bom):
            return data[len(bom) :].decode(codec, "replace"), codec, "bom"
    tried: list[str] = []
    for label, source in ((declared, declared_by), (meta_charset(data), "meta")):
        codec = codec_for_label(label)
        if codec is None or codec in tried:
            continue
        if source == "meta" and codec.startswith("utf_16"):
            codec = "utf-8"  # WHATWG: a <meta> readable as ASCII cannot really be UTF-16
        tried.append(codec)
        try:
            return data.decode(codec), codec, source
        except UnicodeDecodeError:
            continue
    if "utf-8" not in tried:
        try:
            return data.decode("utf-8"), "utf-8", "utf-8"
        except UnicodeDecodeError:
            pass
    detected = _detect_codec(data)
    if detected is not None:
        return data.decode(detected, "replace"), detected, "detected"
    codec = tried[0] if tried else "utf-8"
    return data.decode(codec, "replace"), codec, "fallback"


def _detect_codec(data: bytes) -> str | None:
    from charset_normalizer import from_bytes

    best = from_bytes(data[:DETECTION_SAMPLE_BYTES]).best()
    return codec_for_label(best.encoding) if best is not None else None


def read_text_file(path: str, options: ReadOptions) -> Iterator[ReadBatch]:
    """A .txt file (or .txt.gz, ...) as one `text` document; its bytes must be UTF-8."""
    yield _read_one(path, options, as_html=False)


def read_html_file(path: str, options: ReadOptions) -> Iterator[ReadBatch]:
    """An .html file as one `html` document, decoded by its BOM, `<meta>` or detection."""
    yield _read_one(path, options, as_html=True)


def _read_one(path: str, options: ReadOptions, *, as_html: bool) -> ReadBatch:
    batch = BatchBuilder(path, options)
    try:
        stream, counter = open_input(path, options.max_compression_ratio)
    except OSError as exc:
        batch.error("file", f"cannot open ({type(exc).__name__}: {exc})")
        return batch.flush()
    batch.counter = counter
    try:
        data, size = _read_capped(stream, options.max_document_bytes)
    except STREAM_ERRORS as exc:
        batch.error("file", stream_failure(exc))  # the file's one document
        return batch.flush()
    finally:
        stream.close()
    if data is None:
        batch.error("file", batch.oversize_message(size))
    elif not data.strip():
        batch.skip("html:empty_file" if as_html else "text:empty_file")
    elif as_html:
        html, codec, source = decode_markup(data)
        batch.add(path, html=html, metadata={"charset": codec, "charset_source": source})
    else:
        _add_text(batch, path, data)
    return batch.flush()


def _read_capped(stream, limit: int) -> tuple[bytes | None, int]:
    """The whole stream, or None and the size once it passes `limit` (without holding it)."""
    chunks: list[bytes] = []
    size = 0
    while chunk := stream.read(READ_CHUNK_BYTES):
        size += len(chunk)
        if size > limit:
            chunks.clear()
        else:
            chunks.append(chunk)
    return (b"".join(chunks), size) if size <= limit else (None, size)


def _add_text(batch: BatchBuilder, path: str, data: bytes) -> None:
    codec = "utf-8"
    for bom, bom_codec in BOMS:
        if data.startswith(bom):
            data, codec = data[len(bom) :], bom_codec
            break
    try:
        text = data.decode(codec)
    except UnicodeDecodeError as exc:
        batch.error(
            f"byte {exc.start:,}",
            f"invalid {codec.upper()} ({exc.reason}); plain-text files must be UTF-8",
            data[max(0, exc.start - 60) : exc.start + 60],
        )
        return
    batch.add(path, text=text, metadata={"charset": codec} if codec != "utf-8" else None)
