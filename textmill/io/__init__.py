"""Readers and writers. `read_shard` dispatches on the shard's format; each format is one
module with one `read_*(path, options)` generator."""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Iterator

from textmill.document import assign_keys, make_batch
from textmill.io.base import ReadBatch, Reader, ReadError, ReadOptions
from textmill.io.files import InputError, Shard, detect_format, plan_shards

READERS = {
    "jsonl": "textmill.io.jsonl:read_jsonl",
    "parquet": "textmill.io.parquet:read_parquet",
    "arrow": "textmill.io.arrow:read_arrow",
    "warc": "textmill.io.warc:read_warc",
    "text": "textmill.io.textfiles:read_text_file",
    "html": "textmill.io.textfiles:read_html_file",
    "code": "textmill.io.code:read_source_tree",
    "pdf": "textmill.io.pdf:read_pdfs",
    "hocr": "textmill.io.ocr_xml:read_hocr",
    "alto": "textmill.io.ocr_xml:read_alto",
    "page_xml": "textmill.io.page_xml:read_page_xml",
    "page_txt": "textmill.io.page_folders:read_page_folder",
    "hocr_pages": "textmill.io.ocr_folders:read_hocr_folder",
    "alto_pages": "textmill.io.ocr_folders:read_alto_folder",
    "page_xml_pages": "textmill.io.ocr_folders:read_page_xml_folder",
}
SHARD_READERS = {"pdf"}
"""Readers given all of a shard's paths at once, with one batch back per path in order: the PDF
reader runs many files in one child process under its time limit (textmill/io/pdf.py)."""
RECORD_FORMATS = ("jsonl", "parquet", "arrow")  # what --input-kind code reads as The Stack


def reader_for(fmt: str):
    module_name, function = READERS[fmt].split(":")
    return getattr(importlib.import_module(module_name), function)


def read_shard(shard: Shard, options: ReadOptions) -> Iterator[ReadBatch]:
    reader = reader_for(shard.format)
    if options.input_kind == "code" and shard.format in RECORD_FORMATS:
        yield from _stack_records(reader, shard, options)
        return
    if shard.format in SHARD_READERS:
        yield from read_files_guarded(reader, shard.paths, options)
        return
    for path in shard.paths:
        yield from read_guarded(reader, path, options)


def _stack_records(reader: Reader, shard: Shard, options: ReadOptions) -> Iterator[ReadBatch]:
    """The-Stack-style records as code documents (`textmill.code`'s columns)."""
    from textmill.io.code import stack_columns, stack_read_options

    options = stack_read_options(options)
    for path in shard.paths:
        for read in read_guarded(reader, path, options):
            read.docs = stack_columns(read.docs)
            yield read


def read_files_guarded(reader, paths: tuple[str, ...], options: ReadOptions) -> Iterator[ReadBatch]:
    """A shard reader's batches (one per path, in order); an exception escaping it ends the
    shard, each file it had not given yet one error."""
    done = 0
    try:
        for batch in reader(paths, options):
            done += 1
            yield batch
    except Exception as exc:
        for path in paths[done:]:
            error = ReadError(path, "file", f"reading failed ({type(exc).__name__}: {exc})")
            yield ReadBatch(make_batch([], [], source=path), [error])


def read_guarded(reader: Reader, path: str, options: ReadOptions) -> Iterator[ReadBatch]:
    """A reader's batches; an exception escaping it (a bug, or input no reader foresaw) ends
    only this file, as one error after the records it gave, and the run goes on."""
    records = 0
    try:
        for batch in reader(path, options):
            records += batch.docs.num_rows + len(batch.errors)
            yield batch
    except Exception as exc:
        where = f"after record {records:,}" if records else "from the start"
        error = ReadError(
            path,
            where,
            f"reading failed ({type(exc).__name__}: {exc}); records {where} lost: unknown",
            records=None,
        )
        yield ReadBatch(make_batch([], [], source=path), [error])


def with_keys(reads: Iterable[ReadBatch], shard: Shard) -> Iterator[ReadBatch]:
    """The shard's batches with every document's `doc_key` (its ordinal in the shard): assigned
    here, where batches leave the readers, so no reader has to get it right."""
    ordinal = 0
    for read in reads:
        read.docs = assign_keys(read.docs, shard.index, ordinal)
        ordinal += read.docs.num_rows
        yield read


__all__ = [
    "InputError",
    "ReadBatch",
    "ReadError",
    "ReadOptions",
    "Shard",
    "detect_format",
    "plan_shards",
    "read_shard",
    "with_keys",
]
