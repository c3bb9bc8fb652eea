"""WARC, WET and WAT files: gzip per record, whole-file gzip, zstd, bz2 or plain; WARC/1.0,
1.1 and ClueWeb09's WARC/0.18.

Records are framed here rather than by a WARC library, because a record's Content-Length
cannot be trusted: the reader checks every record against where the next one starts (a blank
line, then `WARC/x.y` or the end of the file; in a gzip-per-record file, the next gzip member).
A record whose length lies, whose header is broken or whose gzip member is corrupt becomes that
record's error, and reading resumes at the next `WARC/x.y` line or gzip member, so its
neighbours are kept and nothing is counted twice. Memory stays bounded: a record bigger than
`max_document_bytes` is streamed past, never held. HTTP is parsed here too, because ClueWeb09
ends HTTP header lines with a bare LF and keeps `Content-Encoding: gzip` on bodies it stored
decoded.
"""

from __future__ import annotations

import bisect
import bz2
import re
import zlib
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any

import fsspec

from textmill.io.base import (
    BatchBuilder,
    CompressionRatioError,
    CountingReader,
    ReadBatch,
    ReadOptions,
)
from textmill.io.files import (
    GZIP_MAGIC,
    SNIFF_BYTES,
    DecodedReader,
    ZstdReader,
    check_ratio,
    sniff_compression,
)
from textmill.io.textfiles import charset_from_content_type, decode_markup

try:  # optional: only for Content-Encoding: br bodies stored undecoded
    import brotli
except ImportError:  # pragma: no cover
    brotli = None

HTML_TYPES = frozenset({"text/html", "application/xhtml+xml", "application/xhtml", "text/xhtml"})
PLAIN_TYPES = frozenset({"text/plain"})
GENERIC_TYPES = frozenset({"", "application/octet-stream", "unknown/unknown", "text/unknown"})
DOCUMENT_KINDS = frozenset({"response", "resource", "conversion"})
EXTRA_METADATA = (  # kept in metadata when present (Common Crawl, ClueWeb09)
    "warc-identified-content-language",
    "warc-identified-payload-type",
    "warc-trec-id",
    "warc-refers-to",
)
CRAWLER_SCHEMES = ("metadata:", "dns:", "<metadata:", "<dns:")
HEADER_ALLOWANCE = 64 * 1024  # HTTP headers inside a record block, on top of the document
MAX_HEADER_BYTES = 64 * 1024  # a WARC header block longer than this is not one
MAX_LENGTH_DIGITS = 18  # a Content-Length beyond this is no file's (and int() stays cheap)
TRAILER_SLACK = 4  # CR/LF bytes tolerated between a block and the next `WARC/` line
READ_CHUNK_BYTES = 256 * 1024
INFLATE_CHUNK_BYTES = 1 << 20  # most bytes one inflate call may produce (bounds a gzip bomb)
INFLATE_FEED_BYTES = 4096  # compressed bytes per call: zlib copies what a member leaves
SCAN_CHUNK_BYTES = 1 << 20
RESYNC_WINDOW = 1 << 20
SALVAGE_STEP_BYTES = 256
_NEWLINES = re.compile(rb"[\r\n]*")
_CONTINUATION = re.compile(r"\r?\n[ \t]+")
_VERSION_LINE = re.compile(rb"WARC/\d{1,4}\.\d{1,4}\r?\n")
_SNIFF_HTML = re.compile(
    rb"\s*(?:<!--.*?-->\s*)*<(?:!doctype\s+html|html|head|body)\b", re.I | re.S
)


@dataclass
class _Record:
    """A framed record: its WARC headers and, for document records, its block."""

    number: int
    start: int  # in the decompressed stream
    offset: int | None  # in the stored file: plain files, and records that start a gzip member
    headers: dict[str, str]  # names lower-cased
    block: bytes | None = None

    @property
    def kind(self) -> str:
        return self.headers.get("warc-type", "").lower() or "untyped"

    @property
    def where(self) -> str:
        place = f"record {self.number:,}"
        if self.offset is not None:
            place += f" (offset {self.offset:,})"
        record_id = self.headers.get("warc-record-id")
        return f"{place} {record_id}" if record_id else place


@dataclass
class _Gap:
    """Where decompression lost bytes: corrupt gzip data, junk between members, a cut file."""

    position: int  # in the decompressed stream
    where: str
    message: str


class _SeekableCounter(CountingReader):
    """A CountingReader that can seek (to resync on the next gzip member); progress never goes
    backwards."""

    def __init__(self, raw: IO[bytes]):
        super().__init__(raw)
        self.furthest = 0

    def seek(self, offset: int) -> None:
        self.position = self.raw.seek(offset)

    def take_progress(self) -> int:
        self.furthest = max(self.furthest, self.position)
        delta, self.reported = self.furthest - self.reported, self.furthest
        return max(delta, 0)

    def size(self) -> int:
        here = self.raw.tell()
        end = self.raw.seek(0, 2)
        self.raw.seek(here)
        return end


class _Window:
    """The decompressed stream from `base` on, filled chunk by chunk as the framer asks."""

    def __init__(self, chunks: Iterator[bytes]):
        self.chunks = chunks
        self.data = bytearray()
        self.base = 0
        self.end = 0  # base + len(data)
        self.eof = False
        self.boundaries: list[int] = []  # where bytes were lost (ascending): a record may
        # start there, and no scan looks past one

    def fill(self, upto: int) -> bool:
        """Whether the stream holds bytes up to `upto` (reading them in if needed)."""
        while self.end < upto and not self.eof:
            chunk = next(self.chunks, None)
            if chunk is None:
                self.eof = True
            else:
                self.data += chunk
                self.end += len(chunk)
        return self.end >= upto

    def release(self, upto: int) -> None:
        """Forget bytes before `upto` (keeping one, for the line-start test)."""
        drop = upto - 1 - self.base
        if drop > 0:
            del self.data[:drop]
            self.base += drop

    def take(self, start: int, stop: int) -> bytes:
        return bytes(self.data[start - self.base : stop - self.base])

    def startswith(self, position: int, prefix: bytes) -> bool:
        index = position - self.base
        return self.data[index : index + len(prefix)] == prefix

    def find(self, needle: bytes, start: int, stop: int) -> int:
        index = self.data.find(needle, start - self.base, stop - self.base)
        return -1 if index == -1 else index + self.base

    def is_boundary(self, position: int) -> bool:
        index = bisect.bisect_left(self.boundaries, position)
        return index < len(self.boundaries) and self.boundaries[index] == position

    def skip_newlines(self, position: int) -> int:
        """The first byte at or after `position` that is not CR or LF (or the end)."""
        while True:
            position = _NEWLINES.match(self.data, position - self.base).end() + self.base
            if position < self.end or not self.fill(position + 1):
                return position

    def is_version_line(self, position: int) -> bool:
        return _VERSION_LINE.match(self.data, position - self.base) is not None

    def header_line(self, start: int, stop: int | None = None) -> int | None:
        """The first `WARC/x.y` line at or after `start`, or boundary after it, before `stop`;
        reads ahead as needed, with only the bytes being scanned in memory."""
        position = start
        while True:
            limit = self.end if stop is None else min(stop, self.end)
            index = bisect.bisect_right(self.boundaries, start)
            boundary = self.boundaries[index] if index < len(self.boundaries) else None
            if boundary is not None and boundary <= limit:
                limit = boundary
            match = _VERSION_LINE.search(self.data, position - self.base, limit - self.base)
            if match is not None:  # even mid-line: junk or a damaged byte may precede it
                return match.start() + self.base
            if boundary is not None and boundary == limit:
                return boundary
            if (stop is not None and limit >= stop) or self.eof:
                return None
            position = max(position, self.end - 24)  # a version line may straddle the chunks
            self.release(position)
            self.fill(self.end + SCAN_CHUNK_BYTES)

    def block_end_ok(self, end: int) -> int | None:
        """Where the next record begins if the block really ends at `end`, else None: after
        the spec's CRLF CRLF anything may follow (a damaged neighbour is its own error);
        otherwise only a few CR/LF bytes, then `WARC/`, a boundary or the end of the file."""
        self.fill(end + TRAILER_SLACK + 5)
        if self.startswith(end, b"\r\n\r\n"):
            return end + 4
        after = end
        while after < end + TRAILER_SLACK and self.take(after, after + 1) in (b"\r", b"\n"):
            after += 1
        if after >= self.end and self.eof:
            return self.end
        if self.startswith(after, b"WARC/") or self.is_boundary(after):
            return after
        return None


def read_warc(path: str, options: ReadOptions) -> Iterator[ReadBatch]:
    yield from _WarcReader(path, options).batches()


class _WarcReader:
    def __init__(self, path: str, options: ReadOptions):
        self.path = path
        self.options = options
        self.builder = BatchBuilder(path, options)
        self.keep_limit = options.max_document_bytes + HEADER_ALLOWANCE
        self.records_seen = 0
        self.gaps: deque[_Gap] = deque()
        self.members: deque[tuple[int, int]] = deque()  # (decompressed, stored) member starts
        self.plain = False

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
            head = raw.read(SNIFF_BYTES)
            raw.seek(0)
            size = self.counter.size()  # now: a decoder closes the file when it is done
            self.window = _Window(self._chunks(sniff_compression(head)))
            for _ in self._frame():
                if self.builder.full:
                    yield self.builder.flush()
            self.counter.furthest = size
        finally:
            self.counter.close()
        yield self.builder.flush()

    # --- the decompressed stream ----------------------------------------------------------

    def _chunks(self, compression: str | None) -> Iterator[bytes]:
        if compression == "gzip":
            return self._gzip_chunks()
        ratio = self.options.max_compression_ratio
        if compression == "zstd":  # frames cut short are an error, as in the JSONL reader
            return self._stream_chunks(ZstdReader(self.counter, ratio), "zstd")
        if compression == "bz2":
            decoded = DecodedReader(bz2.BZ2File(self.counter, "rb"), self.counter, ratio)
            return self._stream_chunks(decoded, "bz2")
        self.plain = True
        return self._stream_chunks(self.counter, "plain")

    def _stream_chunks(self, stream: Any, label: str) -> Iterator[bytes]:
        produced = 0
        try:
            while chunk := stream.read(READ_CHUNK_BYTES):
                produced += len(chunk)
                yield chunk
        except CompressionRatioError as exc:
            self._lost(produced, "end of file", str(exc), rest=True)
        except (OSError, EOFError, ValueError) as exc:
            self._lost(produced, "end of file", f"corrupt {label} data ({exc})", rest=True)

    def _gzip_chunks(self) -> Iterator[bytes]:
        """Inflate member after member; on corrupt data or junk, skip to the next member that
        holds a WARC record, recording what was lost where. Output is joined into chunks of
        about READ_CHUNK_BYTES (one framer call per chunk, not per member)."""
        counter = self.counter
        produced = 0  # decompressed bytes so far, the ones in `out` included
        out: list[bytes] = []
        out_size = 0
        data, used, data_at = b"", 0, 0  # compressed input, bytes of it inflated, its offset
        inflater, member_at, member_out = None, 0, 0
        while True:
            if out_size >= READ_CHUNK_BYTES:
                yield b"".join(out)
                out, out_size = [], 0
            if len(data) - used < len(GZIP_MAGIC):
                more = counter.read(READ_CHUNK_BYTES)
                data_at += used
                data, used = data[used:] + more, 0
                if not more:
                    if inflater is not None or data:
                        where = f"offset {member_at if inflater else data_at:,}"
                        self._lost(produced, where, "gzip data ends inside a member: file is cut")
                    break
                if len(data) < len(GZIP_MAGIC):
                    continue
            if inflater is None:
                if not data.startswith(GZIP_MAGIC, used):
                    at = data_at + used
                    restart = self._next_gzip_member(at)
                    size = "the rest of the file" if restart is None else f"{restart - at:,} bytes"
                    self._lost(produced, f"offset {at:,}", f"{size} that are not gzip data")
                    if restart is None:
                        break
                    counter.seek(restart)
                    data, used, data_at = b"", 0, restart
                    continue
                inflater, member_at, member_out = zlib.decompressobj(31), data_at + used, 0
                self.members.append((produced, member_at))
            feed = memoryview(data)[used : used + INFLATE_FEED_BYTES]
            try:
                inflated = inflater.decompress(feed, INFLATE_CHUNK_BYTES)
            except zlib.error as exc:
                salvaged = self._salvage(member_at, member_out)
                out.append(salvaged)
                produced += len(salvaged)
                restart = self._next_gzip_member(member_at + 1)
                self._lost(
                    produced,
                    f"offset {member_at:,}",
                    f"corrupt gzip member ({exc})",
                    rest=restart is None,
                )
                if restart is None:
                    break
                counter.seek(restart)
                data, used, data_at, inflater = b"", 0, restart, None
                continue
            if inflated:
                out.append(inflated)
                out_size += len(inflated)
                produced += len(inflated)
                member_out += len(inflated)
                try:
                    check_ratio(produced, counter, self.options.max_compression_ratio)
                except CompressionRatioError as exc:
                    self._lost(produced, f"offset {data_at + used:,}", str(exc), rest=True)
                    break
            left = inflater.unused_data if inflater.eof else inflater.unconsumed_tail
            used += len(feed) - len(left)
            if inflater.eof:
                inflater = None
        if out:
            yield b"".join(out)

    def _salvage(self, member_at: int, skip: int) -> bytes:
        """What inflates from the member at `member_at` before its corrupt spot, beyond the
        `skip` bytes already produced; fed in small steps so the damage is found precisely."""
        raw = self.counter.raw
        raw.seek(member_at)
        inflater = zlib.decompressobj(31)
        pieces, size = [], 0
        while size < skip + INFLATE_CHUNK_BYTES:
            step = raw.read(SALVAGE_STEP_BYTES)
            if not step:
                break
            try:
                piece = inflater.decompress(step, skip + INFLATE_CHUNK_BYTES - size)
            except zlib.error:
                break
            pieces.append(piece)
            size += len(piece)
        return b"".join(pieces)[skip:]

    def _lost(self, position: int, where: str, message: str, rest: bool = False) -> None:
        if rest:
            message += "; nothing after it can be read (records lost: unknown)"
        self.gaps.append(_Gap(position, where, message))
        self.window.boundaries.append(position)

    def _next_gzip_member(self, offset: int) -> int | None:
        """The next gzip member at or after `offset` that inflates to a WARC header."""
        raw = self.counter.raw
        while True:
            raw.seek(offset)
            window = raw.read(RESYNC_WINDOW)
            if len(window) < len(GZIP_MAGIC):
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
            offset += len(window) - len(GZIP_MAGIC) + 1

    # --- framing records ------------------------------------------------------------------

    def _frame(self) -> Iterator[None]:
        """Frame records one by one (yielding after each), never trusting a length blindly."""
        window = self.window
        position = 0
        while True:
            window.fill(position + 1)
            self._report_gaps(position)
            position = window.skip_newlines(position)
            if position >= window.end:
                self._report_gaps(window.end)
                return
            window.release(position)
            window.fill(position + 16)
            if window.is_version_line(position):
                position = self._read_record(position)
            else:
                position = self._skip_junk(position)
            yield

    def _report_gaps(self, position: int) -> None:
        while self.gaps and self.gaps[0].position <= position:
            gap = self.gaps.popleft()
            self.records_seen += 1
            self.builder.error(f"record {self.records_seen:,} ({gap.where})", gap.message)

    def _gap_inside(self, start: int, stop: int) -> _Gap | None:
        if self.gaps and start < self.gaps[0].position < stop:
            return self.gaps.popleft()
        return None

    def _stored_offset(self, position: int) -> int | None:
        if self.plain:
            return position
        members = self.members
        while members and members[0][0] < position:
            members.popleft()
        if members and members[0][0] == position:
            return members.popleft()[1]
        return None

    def _member_inside(self, start: int, stop: int) -> int | None:
        """A gzip member that starts a WARC record inside [start, stop): the block before it
        claims bytes of the next record."""
        for decompressed, _ in self.members:
            if decompressed >= stop:
                return None
            if decompressed > start and self.window.startswith(decompressed, b"WARC/"):
                return decompressed
        return None

    def _skip_junk(self, position: int) -> int:
        """Bytes that do not start a record are one error, up to the next `WARC/x.y` line."""
        offset = self._stored_offset(position)
        restart = self.window.header_line(position)
        stop = restart if restart is not None else self.window.end
        self.records_seen += 1
        place = f"record {self.records_seen:,}" + (
            f" (offset {offset:,})" if offset is not None else ""
        )
        what = "the rest of the file is" if restart is None else f"{stop - position:,} bytes are"
        self.builder.error(place, f"not a WARC record: {what} skipped up to the next record")
        return stop

    def _read_record(self, start: int) -> int:
        """Frame the record at `start`; return where the next one may start."""
        window = self.window
        self.records_seen += 1
        record = _Record(self.records_seen, start, self._stored_offset(start), {})
        header_end = self._header_end(start)
        if header_end is None:
            problem = (
                "record header is cut off by the end of the file"
                if window.eof and window.end - start < MAX_HEADER_BYTES
                else f"record header has no end within {MAX_HEADER_BYTES:,} bytes"
            )
            return self._fail(record, problem, start + 1)
        gap = self._gap_inside(start, header_end)
        if gap is not None:
            return self._fail(record, gap.message, None, restart=gap.position)
        block_start = header_end
        record.headers = _parse_headers(window.take(start, header_end))
        declared, problem = _content_length(record.headers.get("content-length"))
        if declared is None:
            return self._fail(record, problem, block_start)
        block_end = block_start + declared
        if declared > self.keep_limit:
            return self._skip_large(record, block_start, block_end)
        window.fill(block_end + TRAILER_SLACK + 5)
        gap = self._gap_inside(start, block_end if window.end >= block_end else window.end + 1)
        if gap is not None:
            return self._fail(record, gap.message, None, restart=gap.position)
        if window.end < block_end:
            restart = window.header_line(block_start)
            if restart is not None:
                return self._too_long(record, declared, restart)
            present = window.end - block_start
            problem = f"record is truncated: {present:,} of {declared:,} bytes present"
            return self._fail(record, problem, None, restart=window.end)
        restart = self._member_inside(block_start, block_end)
        if restart is not None:
            return self._too_long(record, declared, restart)
        after = window.block_end_ok(block_end)
        if after is None:
            restart = window.header_line(block_start)
            if restart is not None and restart < block_end:
                return self._too_long(record, declared, restart)
            problem = f"record is longer than its Content-Length ({declared:,})"
            return self._fail(record, problem, None, restart=restart)
        if record.kind in DOCUMENT_KINDS:
            record.block = window.take(block_start, block_end)
        try:
            self._emit(record)
        except Exception as exc:  # one record's bytes must never end the file (issue 18)
            self.builder.error(record.where, f"cannot read record ({type(exc).__name__}: {exc})")
        return after

    def _header_end(self, start: int) -> int | None:
        """Where the header block starting at `start` ends (after its blank line)."""
        window = self.window
        scanned = start
        while True:
            stop = min(window.end, start + MAX_HEADER_BYTES)
            crlf = window.find(b"\r\n\r\n", max(scanned - 3, start), stop)
            bare = window.find(b"\n\n", max(scanned - 1, start), stop if crlf == -1 else crlf)
            if bare != -1:
                return bare + 2
            if crlf != -1:
                return crlf + 4
            if stop >= start + MAX_HEADER_BYTES or window.eof:
                return None
            scanned = stop
            window.fill(window.end + READ_CHUNK_BYTES)

    def _skip_large(self, record: _Record, block_start: int, block_end: int) -> int:
        """Stream past a block too big to keep. A `WARC/x.y` line inside it means the length
        lies (a block that big is an error anyway, so an archived WARC inside it costs
        nothing), which is how a huge bogus Content-Length loses no later record."""
        window = self.window
        declared = block_end - block_start
        restart = window.header_line(block_start, block_end)
        if restart is not None and window.is_boundary(restart):
            gap = self._gap_inside(block_start, restart + 1)
            return self._fail(record, gap.message if gap else "bytes lost", None, restart=restart)
        if restart is not None:
            return self._too_long(record, declared, restart)
        if not window.fill(block_end):
            present = window.end - block_start
            problem = f"record is truncated: {present:,} of {declared:,} bytes present"
            return self._fail(record, problem, None, restart=window.end)
        after = window.block_end_ok(block_end)
        if after is None:
            problem = f"record is longer than its Content-Length ({declared:,})"
            return self._fail(record, problem, block_end)
        if record.kind in DOCUMENT_KINDS:
            self.builder.error(record.where, self.builder.oversize_message(declared))
        else:
            self.builder.skip(f"warc:{record.kind}")
        return after

    def _too_long(self, record: _Record, declared: int, restart: int) -> int:
        problem = (
            f"record is shorter than its Content-Length ({declared:,}): the next one starts inside"
        )
        return self._fail(record, problem, None, restart=restart)

    def _fail(
        self, record: _Record, problem: str, search_from: int | None, restart: int | None = None
    ) -> int:
        """Report `record`, with any lost bytes it covers; resume at `restart`, or at the next
        `WARC/x.y` line after `search_from`, or at the end of the file."""
        window = self.window
        if search_from is not None:
            restart = window.header_line(search_from)
        if restart is None:
            while not window.eof:  # nothing more to read: drain (bounded) to the end
                window.release(window.end)
                window.fill(window.end + READ_CHUNK_BYTES)
            restart = window.end
        while self.gaps and record.start < self.gaps[0].position <= restart:
            gap = self.gaps.popleft()
            problem += f"; {gap.where}: {gap.message}"
        self.builder.error(record.where, problem)
        return restart

    # --- turning records into documents -------------------------------------------------

    def _emit(self, record: _Record) -> None:
        batch = self.builder
        if record.kind == "untyped":
            batch.error(record.where, "record header has no readable WARC-Type")
            return
        if record.kind not in ("response", "resource", "conversion"):
            batch.skip(f"warc:{record.kind}")
            return
        assert record.block is not None
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
            body = _undo_encodings(body, headers, self.builder.options.max_document_bytes + 1)
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


# --- helpers ---------------------------------------------------------------------------


def _parse_headers(block: bytes) -> dict[str, str]:
    """WARC header fields, names lower-cased; a repeated field keeps its first value and a
    line starting with white space continues the field above it."""
    text = block.decode("utf-8", "replace")
    if "\n " in text or "\n\t" in text:
        text = _CONTINUATION.sub(" ", text)
    headers: dict[str, str] = {}
    for line in text.split("\n")[1:]:
        name, colon, value = line.partition(":")
        if colon and name:
            headers.setdefault(name.strip().lower(), value.strip())
    return headers


def _content_length(value: str | None) -> tuple[int | None, str]:
    if value is None:
        return None, "record header has no Content-Length"
    if not (value.isascii() and value.isdigit()) or len(value) > MAX_LENGTH_DIGITS:
        return None, f"Content-Length {value[:40]!r} is not a number of bytes"
    return int(value), ""


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


def _undo_encodings(body: bytes, headers: dict[str, str], limit: int) -> bytes:
    """Undo chunking and compression that the crawler stored as sent, inflating at most
    `limit` bytes (a compressed bomb stops there and is too large). Crawlers that stored the
    decoded body but kept the header (ClueWeb09) are recognised by the missing magic, and a
    gzip body the server sent without its header by the magic."""
    if "chunked" in headers.get("transfer-encoding", "").lower():
        body = _dechunk(body)
    encoding = headers.get("content-encoding", "").strip().lower()
    gzip_declared = encoding in ("gzip", "x-gzip") and body.startswith(GZIP_MAGIC[:2])
    if gzip_declared or (not encoding and body.startswith(GZIP_MAGIC)):  # servers forget it
        try:
            return zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(body, limit)
        except zlib.error:
            if gzip_declared:
                raise
            return body
    if encoding == "deflate":
        for wbits in (zlib.MAX_WBITS, -zlib.MAX_WBITS):
            try:
                return zlib.decompressobj(wbits).decompress(body, limit)
            except zlib.error:
                continue
    if encoding == "br" and brotli is not None:
        try:  # bounded as zlib's: a 2 KB body can expand to gigabytes
            return brotli.Decompressor().process(body, output_buffer_limit=limit)
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
