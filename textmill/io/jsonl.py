"""JSON Lines (plain, .gz, .zst): one document per line, split on \\n only."""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterator
from typing import Any

from textmill.document import HTML
from textmill.io.base import BatchBuilder, ReadBatch, ReadOptions
from textmill.io.files import open_input

DECOMPRESSION_ERRORS = (EOFError, OSError, zlib.error, ValueError)


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
    stream, counter = open_input(path)
    batch = BatchBuilder(path, options, counter)
    line_no = 0
    lines = iter(stream)
    try:
        while True:
            try:
                line = next(lines)
            except StopIteration:
                break
            except DECOMPRESSION_ERRORS as exc:
                batch.error(
                    f"line {line_no + 1:,} onward",
                    f"input ends early or is corrupt ({type(exc).__name__}: {exc}); "
                    "the rest of the file could not be read",
                )
                break
            line_no += 1
            _add_line(batch, path, line_no, line)
            if batch.full:
                yield batch.flush()
    finally:
        stream.close()
    yield batch.flush()


def _add_line(batch: BatchBuilder, path: str, line_no: int, line: bytes) -> None:
    where = f"line {line_no:,}"
    if not line.strip():
        batch.skip("jsonl:blank_line")
        return
    if batch.too_large(len(line)):
        batch.error(where, batch.oversize_message(len(line)), line)
        return
    try:
        record = json.loads(line.decode("utf-8"))
    except UnicodeDecodeError as exc:
        batch.error(where, f"invalid UTF-8 at byte {exc.start:,} of the line", line)
        return
    except json.JSONDecodeError as exc:
        batch.error(where, f"invalid JSON ({exc.msg} at column {exc.colno})", line)
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
        str(doc_id) if doc_id is not None else f"{path}:{line_no}",
        text=text,
        html=html,
        url=str(url) if url is not None else None,
        metadata=metadata or None,
    )
