"""JSON Lines (plain, .gz, .zst, .bz2): one document per line, split on \\n only.

Lines are read by bounded reads, so a line (or a decompression bomb with no newline) longer
than `max_document_bytes` is counted as that line's error without ever being held whole. A UTF-8
BOM at the start of a line (a file's first, or one that `cat` joined) is dropped.
"""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Iterator
from typing import IO, Any

from textmill.document import HTML
from textmill.io.base import BatchBuilder, ReadBatch, ReadOptions
from textmill.io.files import STREAM_ERRORS, open_input

SKIP_CHUNK_BYTES = 1 << 20  # what skipping an over-long line holds at a time
BOM = codecs.BOM_UTF8
SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")  # a line that may hold a lone one


def _first(record: dict[str, Any], key: str) -> Any:
    """A field by name, or by dotted path into nested objects (e.g. `metadata.url`)."""
    if key in record:
        return record[key]
    value: Any = record
    for part in key.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def read_jsonl(path: str, options: ReadOptions) -> Iterator[ReadBatch]:
    stream, counter = open_input(path, options.max_compression_ratio)
    batch = BatchBuilder(path, options, counter)
    line_no = 0
    lines = read_lines(stream, options.max_document_bytes)
    try:
        while True:
            try:
                line = next(lines)
            except StopIteration:
                break
            except STREAM_ERRORS as exc:
                batch.stream_error(f"line {line_no:,}" if line_no else None, exc)
                break
            line_no += 1
            if line_no == 1 and _opens_json_document(line):
                batch.error(
                    "line 1",
                    "one JSON document (an array, or an object over many lines), not JSON "
                    "Lines (one object per line): convert it with `jq -c '.[]'`; its records "
                    "lost: unknown",
                    line if isinstance(line, bytes) else None,
                    records=None,
                )
                break
            try:
                _add_line(batch, path, line_no, line)
            except Exception as exc:  # MemoryError, RecursionError...: the line's, not the run's
                excerpt = line if isinstance(line, bytes) else None
                message = f"cannot read the record ({type(exc).__name__}: {exc})"
                batch.error(f"line {line_no:,}", message, excerpt)
            if batch.full:
                yield batch.flush()
    finally:
        stream.close()
    yield batch.flush()


def _opens_json_document(line: bytes | int) -> bool:
    """Whether a file's first line begins one JSON document rather than JSON Lines: `[` or `{`
    alone (pretty-printed), or `[{` (an array of records). Read line by line, such a `.json`
    file would be as many errors as it has lines, whatever its record count."""
    if isinstance(line, int):
        return False
    head = line.removeprefix(BOM).strip()
    return head in (b"[", b"{") or (head.startswith(b"[") and head[1:].lstrip()[:1] == b"{")


def read_lines(stream: IO[bytes], limit: int) -> Iterator[bytes | int]:
    """The stream's lines, each read by at most `limit` + 1 bytes; a line longer than `limit`
    (not counting its \\n) comes as its length, an int, and is never held whole."""
    while line := stream.readline(limit + 1):
        if len(line) <= limit or line.endswith(b"\n"):
            yield line
            continue
        size = len(line)
        while part := stream.readline(SKIP_CHUNK_BYTES):
            if part.endswith(b"\n"):
                size += len(part) - 1
                break
            size += len(part)
        yield size


def _add_line(batch: BatchBuilder, path: str, line_no: int, line: bytes | int) -> None:
    where = f"line {line_no:,}"
    if isinstance(line, int):
        batch.error(where, batch.oversize_message(line))
        return
    if line.isspace():
        batch.skip("jsonl:blank_line")
        return
    try:
        record = json.loads(line.decode("utf-8"))
    except UnicodeDecodeError as exc:
        batch.error(where, f"invalid UTF-8 at byte {exc.start:,} of the line", line)
        return
    except json.JSONDecodeError as exc:
        if line.startswith(BOM):  # a file's first line (or a joined file's): read past it
            _add_line(batch, path, line_no, line[len(BOM) :])
            return
        batch.error(
            where, f"invalid JSON ({exc.msg.removesuffix(' at')} at column {exc.colno})", line
        )
        return
    except RecursionError:
        batch.error(where, "invalid JSON (nested too deeply to parse)", line)
        return
    except ValueError as exc:  # e.g. an integer of more than 4,300 digits
        batch.error(where, f"invalid JSON ({exc})", line)
        return
    if SURROGATE_ESCAPE.search(line) and (surrogate := _lone_surrogate(record)):
        batch.error(where, f"a string holds the lone UTF-16 surrogate {surrogate}", line)
        return
    if not isinstance(record, dict):
        batch.error(where, f"expected a JSON object, found {type(record).__name__}", line)
        return
    options = batch.options
    text, html = _first(record, options.text_field), record.get(HTML)
    if text is None and html is None:
        batch.error(where, f"missing field '{options.text_field}' (and no 'html')", line)
        return
    for name, value in ((options.text_field, text), (HTML, html)):
        if value is not None and not isinstance(value, str):
            batch.error(where, f"field '{name}' is {type(value).__name__}, not a string", line)
            return
    doc_id = _first(record, options.id_field)
    url = _first(record, options.url_field)
    if url is None:
        url = _first(record, "metadata.url")
    metadata = {
        k: v for k, v in record.items() if k not in (options.text_field, HTML, options.id_field)
    }
    batch.add(
        _as_text(doc_id) if doc_id is not None else f"{path}:{line_no}",
        text=text,
        html=html,
        url=_as_text(url) if url is not None else None,
        metadata=metadata or None,
    )


def _as_text(value: Any) -> str:
    """An id or URL that is no JSON string, as the JSON text it was (`true`, `[1, 2]`), not
    Python's spelling of it (`True`, `[1, 2]`, `{'a': 1}`)."""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _lone_surrogate(record: dict[str, Any]) -> str | None:
    """The first lone surrogate escape (`\\ud800`) in the record's strings, or None.

    Python's JSON decoder accepts one, but it is no Unicode text: UTF-8 (and so Arrow and
    Parquet) cannot hold it. The line is an error, as invalid UTF-8 bytes are, rather than
    silently changed text; orjson and serde_json, which peers read JSONL with, refuse it too.
    """
    try:
        json.dumps(record, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError as exc:
        return ascii(exc.object[exc.start])[1:-1]
    return None
