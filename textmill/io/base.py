"""What every reader returns, and how inputs become shards.

A reader never raises for bad input: a record it cannot turn into a document becomes a
`ReadError` naming the file and the record, counted as errored, and reading goes on.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any

import pyarrow as pa

from textmill.document import make_batch

DEFAULT_MAX_DOCUMENT_BYTES = 16 * 1024 * 1024
DEFAULT_MAX_COMPRESSION_RATIO = 100.0
"""Real corpora expand 3-5x from gzip and up to ~10x from zstd -19 (the JSONL and WARC files in
our test data: 3.0-5.3x); 100x leaves room for very repetitive text, while a gzip bomb runs at
~1,000x and zstd or bz2 ones far beyond."""


class CompressionRatioError(OSError):
    """A compressed input that expands beyond `max_compression_ratio`: a decompression bomb."""


def stream_failure(exc: Exception) -> str:
    """What an exception from reading a (decompressed) input stream means, for the user."""
    if isinstance(exc, CompressionRatioError):
        return str(exc)
    return f"input ends early or is corrupt ({type(exc).__name__}: {exc})"


@dataclass(frozen=True)
class ReadError:
    """An input record that could not become a document."""

    file: str
    record: str  # "line 1,042", "record 17 (offset 12,345)", "end of file"
    message: str
    excerpt: str | None = None
    records: int | None = 1  # input records this error loses; None when nobody can know

    @property
    def counted(self) -> int:
        """What the error adds to `read` and `errored`: its records, or 1 when unknown."""
        return 1 if self.records is None else self.records

    def describe(self) -> str:
        return f"{self.file}, {self.record}: {self.message}"


@dataclass
class ReadBatch:
    """Documents read since the last batch, the records that failed, and what was skipped."""

    docs: pa.Table
    errors: list[ReadError] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)  # e.g. {"warc:request": 12}
    progress_bytes: int = 0  # raw input bytes consumed since the last batch
    counts: dict[str, int] = field(default_factory=dict)  # reader counters: {"pdf:pages": 12}


@dataclass(frozen=True)
class ReadOptions:
    batch_size: int = 1000
    max_document_bytes: int = DEFAULT_MAX_DOCUMENT_BYTES
    max_compression_ratio: float = DEFAULT_MAX_COMPRESSION_RATIO  # 0: no limit
    text_field: str = "text"
    code_text_field: str = "content"  # The-Stack-style records' text (input_kind "code")
    id_field: str = "id"
    url_field: str = "url"
    input_kind: str = "auto"  # auto | code | files | pages (textmill.io.files.INPUT_KINDS)
    pdf_engine: str = "pypdfium2"  # textmill.io.pdf.PDF_ENGINES
    pdf_time_limit_s: float | None = 300.0  # per PDF file, in a child process (None: no limit)
    ocr_languages: str | None = None  # Tesseract languages ("eng+deu") for image-only pages


class CountingReader(io.RawIOBase):
    """Wraps a raw (possibly compressed) file so readers can report bytes consumed."""

    def __init__(self, raw: IO[bytes]):
        self.raw = raw
        self.position = 0
        self.reported = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[override]
        data = self.raw.read(len(buffer))
        n = len(data)
        buffer[:n] = data
        self.position += n
        return n

    def take_progress(self) -> int:
        delta, self.reported = self.position - self.reported, self.position
        return delta

    def close(self) -> None:
        self.raw.close()
        super().close()


class BatchBuilder:
    """Accumulates documents row by row and flushes them as Arrow batches with errors."""

    def __init__(self, source: str, options: ReadOptions, counter: CountingReader | None = None):
        self.source = source
        self.options = options
        self.counter = counter
        self._reset()

    def _reset(self) -> None:
        self.ids: list[str] = []
        self.texts: list[str | None] = []
        self.htmls: list[str | None] = []
        self.urls: list[str | None] = []
        self.metadata: list[dict[str, Any] | None] = []
        self.errors: list[ReadError] = []
        self.skipped: dict[str, int] = {}
        self.counts: dict[str, int] = {}  # the reader's own counters (ReadBatch.counts)
        self.has_html = False

    def __len__(self) -> int:
        return len(self.ids)

    def add(
        self,
        doc_id: str,
        *,
        text: str | None = None,
        html: str | None = None,
        url: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        self.ids.append(doc_id)
        self.texts.append(text)
        self.htmls.append(html)
        self.has_html = self.has_html or html is not None
        self.urls.append(url)
        self.metadata.append(metadata)

    def error(
        self,
        record: str,
        message: str,
        excerpt: str | bytes | None = None,
        *,
        records: int | None = 1,
    ) -> None:
        if isinstance(excerpt, bytes):
            excerpt = excerpt[:200].decode("utf-8", "replace")
        elif excerpt is not None:
            excerpt = excerpt[:200]
        self.errors.append(ReadError(self.source, record, message, excerpt, records))

    def stream_error(self, position: str | None, exc: Exception) -> None:
        """The input stream failed after `position` ("line 1,042"; None: before any record):
        what was read before is kept, and what came after is one error of unknown size."""
        after = f"after {position}" if position else "from the start"
        self.error(after, f"{stream_failure(exc)}; records {after} lost: unknown", records=None)

    def skip(self, kind: str) -> None:
        self.skipped[kind] = self.skipped.get(kind, 0) + 1

    def too_large(self, size: int) -> bool:
        return size > self.options.max_document_bytes

    def oversize_message(self, size: int) -> str:
        return (
            f"document of {size:,} bytes exceeds max_document_bytes="
            f"{self.options.max_document_bytes:,}"
        )

    @property
    def full(self) -> bool:
        return len(self.ids) + len(self.errors) >= self.options.batch_size

    def flush(self) -> ReadBatch:
        try:
            docs = self._table(None)
        except Exception:  # one row Arrow cannot take must not lose the batch
            docs = self._table(self._good_rows())
        batch = ReadBatch(
            docs,
            self.errors,
            self.skipped,
            self.counter.take_progress() if self.counter else 0,
            self.counts,
        )
        self._reset()
        return batch

    def _table(self, rows: list[int] | None) -> pa.Table:
        def pick(values: list) -> list:
            return values if rows is None else [values[i] for i in rows]

        return make_batch(
            pick(self.ids),
            pick(self.texts),
            source=self.source,
            urls=pick(self.urls),
            metadata=pick(self.metadata),
            html=pick(self.htmls) if self.has_html else None,
        )

    def _good_rows(self) -> list[int]:
        """The rows that make a table on their own; each other row becomes an error (a last
        resort: readers check what they can per record, where they know its position)."""
        good = []
        for i, doc_id in enumerate(self.ids):
            try:
                self._table([i])
            except Exception as exc:
                self.error(f"document {ascii(doc_id)[:120]}", f"{type(exc).__name__}: {exc}")
            else:
                good.append(i)
        return good


Reader = Callable[[str, ReadOptions], Iterator[ReadBatch]]
