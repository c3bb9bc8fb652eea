"""WARC, WET and WAT files: gzip per record, whole-file gzip, zstd, bz2 or plain; WARC/1.0,
1.1 and ClueWeb09's WARC/0.18.

FastWARC parses the records (fast, and lenient in quirks mode). HTTP is parsed here instead,
because ClueWeb09 ends HTTP header lines with a bare LF and keeps `Content-Encoding: gzip` on
bodies it stored decoded. When FastWARC stops on a corrupt gzip member or a broken header, the
reader reports the record, finds the next record that starts cleanly and carries on from there.
"""

from __future__ import annotations

import bz2
import io
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any

import fsspec
from fastwarc.warc import ArchiveIterator, WarcRecordType

from textmill.io.base import BatchBuilder, CountingReader, ReadBatch, ReadOptions
from textmill.io.textfiles import charset_from_content_type, decode_markup

try:  # optional: only for Content-Encoding: br bodies stored undecoded
    import brotli
except ImportError:  # pragma: no cover
    brotli = None

GZIP_MAGIC = b"\x1f\x8b\x08"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
BZ2_MAGIC = b"BZh"
HTML_TYPES = frozenset({"text/html", "application/xhtml+xml", "application/xhtml", "text/xhtml"})
PLAIN_TYPES = frozenset({"text/plain"})
GENERIC_TYPES = frozenset({"", "application/octet-stream", "unknown/unknown", "text/unknown"})
DOCUMENT_RECORDS = WarcRecordType.response | WarcRecordType.resource | WarcRecordType.conversion
EXTRA_METADATA = (  # kept in metadata when present (Common Crawl, ClueWeb09)
    "warc-identified-content-language",
    "warc-identified-payload-type",
    "warc-trec-id",
    "warc-refers-to",
)
CRAWLER_SCHEMES = ("metadata:", "dns:", "<metadata:", "<dns:")
HEADER_ALLOWANCE = 64 * 1024  # HTTP headers inside a record block, on top of the document
RESYNC_WINDOW = 1 << 20
INFLATE_CHUNK_BYTES = 64 * 1024
SALVAGE_STEP_BYTES = 256
_WARC_LINE = re.compile(rb"(?:^|\n)(WARC/\d+\.\d+\r?\n)")
_SNIFF_HTML = re.compile(
    rb"\s*(?:<!--.*?-->\s*)*<(?:!doctype\s+html|html|head|body)\b", re.I | re.S
)


@dataclass
class _Record:
    """What the reader keeps of a record until the next one parses (one-record lookahead)."""

    number: int
    offset: int | None
    kind: str
    headers: dict[str, str | None]  # WARC headers, names lower-cased
    block: bytes | None  # None for record types that never become documents
    length: int  # bytes actually present in the block
    declared: int | None  # Content-Length

    @property
    def where(self) -> str:
        place = f"record {self.number:,}"
        if self.offset is not None:
            place += f" (offset {self.offset:,})"
        record_id = self.headers.get("warc-record-id")
        return f"{place} {record_id}" if record_id else place


class _SeekableCounter(CountingReader):
    """A CountingReader FastWARC can use (it needs tell/seek); progress never goes backwards."""

    def __init__(self, raw: IO[bytes]):
        super().__init__(raw)
        self.furthest = 0

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = 0) -> int:
        self.position = self.raw.seek(offset, whence)
        return self.position

    def tell(self) -> int:
        return self.position

    def take_progress(self) -> int:
        self.furthest = max(self.furthest, self.position)
        delta, self.reported = self.furthest - self.reported, self.furthest
        return max(delta, 0)

    def size(self) -> int:
        here = self.raw.tell()
        end = self.raw.seek(0, 2)
        self.raw.seek(here)
        return end


class _Inflater(io.RawIOBase):
    """Streaming gunzip that stops cleanly at corrupt data, so every record before the damage
    is still read (FastWARC's own gunzip fails its whole buffer)."""

    def __init__(self, raw: _SeekableCounter):
        self.raw = raw
        self.inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        self.pending = memoryview(b"")
        self.position = 0
        self.error: zlib.error | None = None
        self.error_offset = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.position

    def seek(self, offset: int, whence: int = 0) -> int:
        if (offset, whence) in ((0, 1), (self.position, 0)):
            return self.position
        raise io.UnsupportedOperation("seek")

    def readinto(self, buffer) -> int:  # type: ignore[override]
        while not self.pending:
            if self.error is not None:
                return 0
            chunk = self.raw.read(INFLATE_CHUNK_BYTES)
            if not chunk:
                return 0
            before = self.inflater.copy()
            try:
                self.pending = memoryview(self._inflate(chunk))
            except zlib.error as exc:
                self.error, self.error_offset = exc, self.raw.position - len(chunk)
                self.pending = memoryview(self._salvage(before, chunk))
        size = min(len(buffer), len(self.pending))
        buffer[:size] = self.pending[:size]
        self.pending = self.pending[size:]
        self.position += size
        return size

    def _salvage(self, inflater, chunk: bytes) -> bytes:
        """What inflates from `chunk` before its corrupt spot, fed in small steps."""
        out = []
        for start in range(0, len(chunk), SALVAGE_STEP_BYTES):
            try:
                out.append(inflater.decompress(chunk[start : start + SALVAGE_STEP_BYTES]))
            except zlib.error:
                self.error_offset += start
                break
        return b"".join(out)

    def _inflate(self, chunk: bytes) -> bytes:
        out = [self.inflater.decompress(chunk)]
        while self.inflater.eof and self.inflater.unused_data:  # another gzip member follows
            rest = self.inflater.unused_data
            self.inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
            out.append(self.inflater.decompress(rest))
        return b"".join(out)


def read_warc(path: str, options: ReadOptions) -> Iterator[ReadBatch]:
    yield from _WarcReader(path, options).batches()


class _WarcReader:
    def __init__(self, path: str, options: ReadOptions):
        self.path = path
        self.builder = BatchBuilder(path, options)
        self.records_seen = 0
        self.last_failure: int | None = None

    def batches(self) -> Iterator[ReadBatch]:
        try:
            raw = fsspec.open(self.path, "rb").open()
        except OSError as exc:
            self.builder.error("file", f"cannot open ({type(exc).__name__}: {exc})")
            yield self.builder.flush()
            return
        self.counter = _SeekableCounter(raw)
        self.builder.counter = self.counter
        try:
            head = raw.read(4)
            raw.seek(0)
            self.compression = _compression(head)
            self.member_offsets = self.compression == "gzip" and self._gzip_per_record()
            start: int | None = 0
            while start is not None:
                start = yield from self._read_from(start)
            self.counter.furthest = self.counter.size()
        finally:
            self.counter.close()
        yield self.builder.flush()

    def _read_from(self, start: int) -> Iterator[ReadBatch]:
        """Read records from `start` until the end (returns None) or a failure (returns where
        reading can resume, or None when nothing after it can be read)."""
        self.counter.seek(start)
        stream: Any = self.counter
        inflater = None
        if self.compression == "bz2":
            stream = bz2.BZ2File(self.counter, "rb")
        elif self.compression == "gzip" and not self.member_offsets:
            stream = inflater = _Inflater(self.counter)  # keeps what precedes a corrupt spot
        records = iter(
            ArchiveIterator(stream, parse_http=False, quirks_mode=False, stream_detect=True)
        )
        pending: _Record | None = None
        while True:
            try:
                record = next(records)
                current = self._capture(record)
            except StopIteration:
                break
            except BaseException as exc:  # FastWARC panics surface as BaseException
                if not _is_parse_failure(exc):
                    raise
                return self._recover(start, pending, exc)
            if pending is not None:
                self._emit(pending)
                if self.builder.full:
                    yield self.builder.flush()
            pending = current
        if inflater is not None and inflater.error is not None:
            if pending is not None and pending.length >= (pending.declared or 0):
                self._emit(pending)
                pending = None
            number = pending.number if pending is not None else self.records_seen + 1
            return self._give_up(
                f"record {number:,}",
                f"corrupt gzip data at compressed offset {inflater.error_offset:,}: "
                f"{inflater.error}",
            )
        if pending is not None:
            self._emit(pending)
        return None

    def _capture(self, record) -> _Record:
        is_document = bool(record.record_type & DOCUMENT_RECORDS)
        if is_document:  # one call for all headers: HeaderMap.get costs a microsecond each
            headers = {name.lower(): value for name, value in record.headers.to_tuples()}
        else:
            headers = {
                "warc-record-id": record.record_id,
                "content-length": record.headers.get("Content-Length"),
            }
        kind = _type_name(record.record_type)
        if kind == "unknown":
            kind = (record.headers.get("WARC-Type") or "untyped").strip().lower()
        declared = _int_or_none(headers.get("content-length"))
        offset = record.stream_pos if self.member_offsets or self.compression is None else None
        keep_block = is_document and (
            declared is None
            or declared <= self.builder.options.max_document_bytes + HEADER_ALLOWANCE
        )
        if keep_block:
            block = record.reader.read()
            length = len(block)
        else:
            block, length = None, record.reader.consume()
        self.records_seen += 1
        return _Record(self.records_seen, offset, kind, headers, block, length, declared)

    # --- turning records into documents -------------------------------------------------

    def _emit(self, record: _Record) -> None:
        batch = self.builder
        if record.declared is None:
            batch.error(record.where, "record header is incomplete (no Content-Length)")
            return
        if record.length < record.declared:
            batch.error(
                record.where,
                f"record is truncated: {record.length:,} of {record.declared:,} bytes present",
            )
            return
        if record.kind == "untyped":
            batch.error(record.where, "record header has no readable WARC-Type")
            return
        if record.kind not in ("response", "resource", "conversion"):
            batch.skip(f"warc:{record.kind}")
            return
        if record.block is None:
            batch.error(record.where, batch.oversize_message(record.declared))
            return
        warc_type = _media_type(record.headers.get("content-type"))
        if record.kind == "response" and warc_type.startswith("application/http"):
            self._add_http(record)
        elif (record.headers.get("warc-target-uri") or "").startswith(CRAWLER_SCHEMES):
            batch.skip("warc:crawler_log")  # wget and Heritrix keep their logs as resources
        else:
            content_type = record.headers.get("content-type")
            self._add_payload(record, record.block, content_type, None)

    def _add_http(self, record: _Record) -> None:
        assert record.block is not None
        status, headers, body = _split_http(record.block)
        if status is None:
            self.builder.error(record.where, "response without an HTTP status line", record.block)
            return
        if not 200 <= status < 300:
            self.builder.skip(f"warc:http_{status}")
            return
        try:
            body = _undo_encodings(body, headers)
        except (OSError, zlib.error, ValueError, EOFError) as exc:
            self.builder.error(record.where, f"cannot undo Content-Encoding ({exc})")
            return
        self._add_payload(record, body, headers.get("content-type"), status)

    def _add_payload(
        self, record: _Record, body: bytes, content_type: str | None, status: int | None
    ) -> None:
        batch = self.builder
        if batch.too_large(len(body)):
            batch.error(record.where, batch.oversize_message(len(body)))
            return
        media_type = _media_type(content_type)
        if media_type in GENERIC_TYPES:
            media_type = _media_type(record.headers.get("warc-identified-payload-type"))
            if media_type in GENERIC_TYPES and _SNIFF_HTML.match(body, 0, 1024):
                media_type = "text/html"
        if media_type not in HTML_TYPES and media_type not in PLAIN_TYPES:
            batch.skip("warc:non_text")
            return
        if not body.strip():
            batch.skip("warc:empty")
            return
        declared = charset_from_content_type(content_type)
        declared_by = "http"
        if record.kind == "conversion" and declared is None:
            declared, declared_by = "utf-8", "wet"  # WET text is UTF-8 by definition
        content, codec, source = decode_markup(body, declared, declared_by)
        headers = record.headers
        metadata: dict[str, Any] = {
            "warc_record_id": _unbracket(headers.get("warc-record-id")),
            "warc_date": headers.get("warc-date"),
            "warc_type": record.kind,
            "content_type": media_type,
            "charset": codec,
            "charset_source": source,
        }
        if status is not None:
            metadata["http_status"] = status
        for header in EXTRA_METADATA:
            if headers.get(header):
                metadata[header.replace("-", "_")] = _unbracket(headers[header])
        doc_id = metadata["warc_record_id"] or _unbracket(headers.get("warc-trec-id"))
        url = _unbracket(headers.get("warc-target-uri"))
        html, text = (content, None) if media_type in HTML_TYPES else (None, content)
        batch.add(
            doc_id or f"{self.path}:{record.number}",
            text=text,
            html=html,
            url=url,
            metadata=metadata,
        )

    # --- getting past broken records ----------------------------------------------------

    def _recover(self, start: int, pending: _Record | None, exc: BaseException) -> int | None:
        """Report the record FastWARC stopped at; return the offset of the next clean record."""
        reason = f"{type(exc).__name__}: {exc}"
        failed = f"record {self.records_seen + 1:,}"
        if self.compression == "gzip" and self.member_offsets:
            if pending is not None:
                self._emit(pending)
            bad = start
            if pending is not None and pending.offset is not None:
                bad = self._member_end(pending.offset)
            if bad is None:
                return self._give_up(failed, reason)
            self._fail_once(bad, f"{failed} (offset {bad:,})", f"corrupt or unreadable ({reason})")
            return self._next_gzip_member(bad + 1)
        if self.compression is None:
            return self._recover_plain(start, pending, failed, reason)
        if pending is not None:
            self._emit(pending)
        return self._give_up(failed, reason)

    def _recover_plain(
        self, start: int, pending: _Record | None, failed: str, reason: str
    ) -> int | None:
        """In a plain file a short record swallows the next header; find where records restart."""
        if pending is None or pending.offset is None:
            self._fail_once(start, f"{failed} (offset {start:,})", f"unreadable ({reason})")
            return self._next_warc_header(start + 1)
        block_end = self._plain_block_end(pending)
        restart = self._next_warc_header(pending.offset + 1)
        if restart is not None and block_end is not None and restart < block_end:
            self.builder.error(
                pending.where,
                f"record is shorter than its Content-Length ({pending.declared:,}): the next "
                f"record starts at offset {restart:,}",
            )
            return restart
        self._emit(pending)
        bad = block_end if block_end is not None else pending.offset + 1
        self._fail_once(bad, f"{failed} (offset {bad:,})", f"unreadable ({reason})")
        restart = self._next_warc_header(bad)
        if restart is not None and restart - bad <= 8:  # the failed record's own header
            restart = self._next_warc_header(restart + 1)
        return restart

    def _fail_once(self, offset: int, where: str, message: str) -> None:
        """Report a failed record once, however often FastWARC stops at the same offset."""
        if offset != self.last_failure:
            self.builder.error(where, message)
            self.records_seen += 1
            self.last_failure = offset

    def _give_up(self, where: str, reason: str) -> None:
        self.builder.error(
            f"{where} onward", f"input is corrupt ({reason}); the rest of the file cannot be read"
        )

    def _gzip_per_record(self) -> bool:
        """Whether the file is gzip member per record (offsets mean something, recovery works)."""
        end = self._member_end(0, limit=RESYNC_WINDOW)
        if end is not None:
            return end < self.counter.size()
        return self._next_gzip_member(1, limit=RESYNC_WINDOW) is not None  # first one corrupt

    def _member_end(self, offset: int, limit: int | None = None) -> int | None:
        """Where the gzip member starting at `offset` ends, or None if it is not one."""
        raw = self.counter.raw
        raw.seek(offset)
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        consumed = 0
        try:
            while not inflater.eof:
                chunk = raw.read(64 * 1024)
                if not chunk or (limit is not None and consumed > limit):
                    return None
                inflater.decompress(chunk, 1 << 16)
                while inflater.unconsumed_tail and not inflater.eof:
                    inflater.decompress(inflater.unconsumed_tail, 1 << 16)
                consumed += len(chunk)
        except zlib.error:
            return None
        return offset + consumed - len(inflater.unused_data)

    def _next_gzip_member(self, offset: int, limit: int | None = None) -> int | None:
        """The next gzip member at or after `offset` that inflates to a WARC header."""
        raw = self.counter.raw
        stop = offset + limit if limit is not None else None
        while stop is None or offset < stop:
            raw.seek(offset)
            window = raw.read(RESYNC_WINDOW)
            if not window:
                return None
            found = window.find(GZIP_MAGIC)
            while found != -1:
                raw.seek(offset + found)
                try:
                    head = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(raw.read(4096), 16)
                except zlib.error:
                    head = b""
                if head.startswith(b"WARC/"):
                    return offset + found
                found = window.find(GZIP_MAGIC, found + 1)
            offset += max(len(window) - len(GZIP_MAGIC), 1)
        return None

    def _next_warc_header(self, offset: int) -> int | None:
        """The next line starting with `WARC/x.y` at or after `offset` in a plain file."""
        raw = self.counter.raw
        while True:
            raw.seek(max(offset - 1, 0))
            window = raw.read(RESYNC_WINDOW)
            if not window:
                return None
            base = max(offset - 1, 0)
            for match in _WARC_LINE.finditer(window):
                position = base + match.start(1)
                if position >= offset or (offset == 0 and position == 0):
                    return position
            if len(window) < RESYNC_WINDOW:
                return None
            offset = base + len(window) - 16

    def _plain_block_end(self, record: _Record) -> int | None:
        if record.offset is None or record.declared is None:
            return None
        raw = self.counter.raw
        raw.seek(record.offset)
        head = raw.read(64 * 1024)
        for separator in (b"\r\n\r\n", b"\n\n"):
            found = head.find(separator)
            if found != -1:
                return record.offset + found + len(separator) + record.declared
        return None


# --- helpers ---------------------------------------------------------------------------


def _compression(head: bytes) -> str | None:
    if head.startswith(GZIP_MAGIC[:2]):
        return "gzip"
    if head.startswith(ZSTD_MAGIC):
        return "zstd"
    if head.startswith(BZ2_MAGIC):
        return "bz2"
    return None


def _is_parse_failure(exc: BaseException) -> bool:
    if isinstance(exc, (KeyboardInterrupt, SystemExit, GeneratorExit, MemoryError)):
        return False
    return isinstance(exc, Exception) or type(exc).__name__ == "PanicException"


def _type_name(record_type: WarcRecordType) -> str:
    name = getattr(record_type, "name", None)
    return name if isinstance(name, str) and name else "unknown"


def _int_or_none(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _unbracket(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip()
    if value.startswith("<") and value.endswith(">"):
        value = value[1:-1]
    return value or None


def _media_type(content_type: str | None) -> str:
    return content_type.split(";", 1)[0].strip().lower() if content_type else ""


def _split_http(block: bytes) -> tuple[int | None, dict[str, str], bytes]:
    """Status, lower-cased headers and body; header lines may end in CRLF or a bare LF."""
    end, separator = block.find(b"\r\n\r\n"), 4
    bare = block.find(b"\n\n")
    if bare != -1 and (end == -1 or bare < end):
        end, separator = bare, 2
    if end == -1:
        end, separator = len(block), 0
    lines = block[:end].decode("latin-1").split("\n")
    parts = lines[0].split(None, 2)
    status = None
    if len(parts) >= 2 and parts[0].upper().startswith("HTTP/") and parts[1].isdigit():
        status = int(parts[1])
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        if colon:
            headers[name.strip().lower()] = value.strip()
    return status, headers, block[end + separator :]


def _undo_encodings(body: bytes, headers: dict[str, str]) -> bytes:
    """Undo chunking and compression that the crawler stored as sent. Crawlers that stored
    the decoded body but kept the header (ClueWeb09) are recognised by the missing magic."""
    if "chunked" in headers.get("transfer-encoding", "").lower():
        body = _dechunk(body)
    encoding = headers.get("content-encoding", "").strip().lower()
    if encoding in ("gzip", "x-gzip") and body.startswith(GZIP_MAGIC[:2]):
        return zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(body)
    if encoding == "deflate":
        for wbits in (zlib.MAX_WBITS, -zlib.MAX_WBITS):
            try:
                return zlib.decompress(body, wbits)
            except zlib.error:
                continue
    if encoding == "br" and brotli is not None:
        try:
            return brotli.decompress(body)
        except brotli.error:
            pass
    return body


def _dechunk(body: bytes) -> bytes:
    """Join HTTP/1.1 chunks; a body that is not validly chunked is returned unchanged."""
    parts: list[bytes] = []
    position = 0
    while True:
        line_end = body.find(b"\n", position)
        if line_end == -1:
            return body
        size_field = body[position:line_end].split(b";", 1)[0].strip()
        try:
            size = int(size_field, 16)
        except ValueError:
            return body
        if size == 0:
            return b"".join(parts)
        start = line_end + 1
        parts.append(body[start : start + size])
        position = start + size
        if body.startswith(b"\r\n", position):
            position += 2
        elif body.startswith(b"\n", position):
            position += 1
        elif position >= len(body):
            return b"".join(parts)  # truncated after the last chunk: keep what is there
        else:
            return body
