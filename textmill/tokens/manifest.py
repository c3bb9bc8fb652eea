"""TOK/manifest.json and TOK/documents.parquet: what a TOK folder holds, for people and for
the tools that build on it (mix reads only these two, and the tokens through `token_tables`).

manifest.json: `tokens`, `documents`, `tokenizer_sha256` (names scripts rely on), the tokenizer
(name, kind, vocab size, special ids, dtype), the format and its on-disk dtype, the counts that
reconcile (`read = documents + skipped + errored`, with `skipped` by reason), token and document
counts per source and per language, the inputs and the command that made it. The tokenizer
entry's `engine` is the library that encoded (tiktoken, tokenizers, sentencepiece) and
`engine_reason` why (what --engine auto checked, or what refused tiktoken).
documents.parquet: one row per document in output order: id, source, lang, tokens (count) and
offset (its first token in the flat token stream of the format's files).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from textmill import __version__
from textmill.document import ID, SOURCE

MANIFEST = "manifest.json"
DOCUMENTS = "documents.parquet"
SKIPPED = "skipped.parquet"
ERRORS = "errors.jsonl"
LANG = "lang"
INPUT_IDS = "input_ids"
DOCUMENT_INDEX_SCHEMA = pa.schema(
    [
        pa.field(ID, pa.string()),
        pa.field(SOURCE, pa.string()),
        pa.field(LANG, pa.string()),
        pa.field("tokens", pa.int64()),
        pa.field("offset", pa.int64()),
    ]
)
# the flat token file of each format, and how its dtype is read
BIN_FILES = {"megatron": "tokens.bin", "memmap": "tokens.bin", "nanotron": "tokens.ds"}


def group_counts(documents: pa.Table, column: str) -> dict[str, dict[str, int]]:
    """{value: {"documents": n, "tokens": t}} over documents.parquet's `column`."""
    grouped = (
        documents.select([column, "tokens"])
        .group_by(column)
        .aggregate([("tokens", "sum"), ("tokens", "count")])
    )
    out = {}
    for key, tokens, docs in zip(
        grouped[column].to_pylist(),
        grouped["tokens_sum"].to_pylist(),
        grouped["tokens_count"].to_pylist(),
        strict=True,
    ):
        out["null" if key is None else str(key)] = {"documents": int(docs), "tokens": int(tokens)}
    return dict(sorted(out.items()))


def build_manifest(
    *,
    totals: Any,
    tokenizer: Any,
    settings: Any,
    specials: Any,
    written: dict[str, Any],
    documents: pa.Table,
    inputs: list[str],
    unreadable: list[str],
    command: str,
    seconds: float,
) -> dict[str, Any]:
    skipped = dict(sorted(totals.skipped.items()))
    return {
        "tokens": totals.tokens,
        "documents": totals.tokenized,
        "tokenizer_sha256": tokenizer.sha256,
        "tokenizer": tokenizer.describe(),
        "format": settings.format,
        "format_dtype": written["dtype"],
        "sequences": written["sequences"],
        "files": sorted(written["files"]),
        "bos_id": specials.bos,
        "eos_id": specials.eos,
        "text_column": settings.text_column,
        "max_tokens_per_doc": settings.max_tokens_per_doc,
        "on_long": settings.on_long,
        "read": totals.read,
        "skipped": skipped,
        "errored": totals.errored,
        "truncated": totals.truncated,
        "reconciled": totals.read == totals.tokenized + sum(skipped.values()) + totals.errored,
        "non_document_records": dict(sorted(totals.reader_skipped.items())),
        "per_source": group_counts(documents, SOURCE),
        "per_language": group_counts(documents, LANG),
        "inputs": inputs,
        "unreadable_inputs": unreadable,
        "command": command,
        "textmill_version": __version__,
        "seconds": round(seconds, 3),
    }


def load_manifest(tok: str | Path) -> dict[str, Any]:
    path = Path(tok) / MANIFEST
    if not path.is_file():
        from textmill.io import InputError

        raise InputError(f"{tok}: not a finished tokenize output (no {MANIFEST})")
    return json.loads(path.read_text("utf-8"))


def documents_table(tok: str | Path) -> pa.Table:
    """TOK/documents.parquet."""
    return pq.read_table(Path(tok) / DOCUMENTS)


def token_tables(tok: str | Path, batch_rows: int = 65_536) -> Iterator[pa.Table]:
    """The documents of a (document-row) TOK folder back as token tables (id, source, lang,
    input_ids), in output order, whatever its format: the read side of the writers."""
    tok = Path(tok)
    manifest = load_manifest(tok)
    if manifest.get("packing"):
        from textmill.io import InputError

        raise InputError(
            f"{tok}: packed into sequences (tokenize --pack); its documents are pieces across "
            "rows (see pieces.parquet): read a TOK folder tokenized without --pack"
        )
    fmt = manifest["format"]
    if fmt == "parquet":
        for name in manifest["files"]:
            for batch in pq.ParquetFile(tok / name).iter_batches(batch_size=batch_rows):
                yield pa.Table.from_batches([batch])
        return
    # plain reads, not a memory map: a map's touched pages stay resident (and in RSS) until it
    # is closed, which for a multi-GB source is the whole file
    tokens_path = tok / BIN_FILES[fmt]
    dtype = np.dtype(manifest["format_dtype"])
    index = pq.ParquetFile(tok / DOCUMENTS)
    for batch in index.iter_batches(batch_size=batch_rows):
        offsets = batch.column("offset").to_numpy()
        lengths = batch.column("tokens").to_numpy()
        if not len(offsets):
            continue
        start, stop = int(offsets[0]), int(offsets[-1] + lengths[-1])
        values = np.fromfile(
            tokens_path, dtype=dtype, count=stop - start, offset=start * dtype.itemsize
        ).astype(np.uint32, copy=False)
        list_offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        yield pa.table(
            {
                ID: batch.column(ID),
                SOURCE: batch.column(SOURCE),
                LANG: batch.column(LANG),
                INPUT_IDS: pa.LargeListArray.from_arrays(list_offsets, values),
            }
        )
