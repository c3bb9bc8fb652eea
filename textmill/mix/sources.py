"""A mix's sources, as columns: per document its group, its size and its rehydrate copies.

A source is a textmill output (OUT, or OUT/data), a folder of (or one) Parquet file of text,
or a TOK folder written by `textmill tokenize` (read through TOK/manifest.json and
TOK/documents.parquet only). Sizes are tokens: TOK's counts, or the spec's tokenizer run over
the text; a text source without a tokenizer is measured in UTF-8 bytes, and the manifest says so.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from textmill.document import METADATA, SOURCE, TEXT
from textmill.executors.output import Layout
from textmill.io.files import is_run_output
from textmill.mix.spec import NULL_GROUP, TOKENIZED_FORMATS, MixError, MixSpec, SourceSpec
from textmill.stages.rehydrate import COPIES

TOK_MANIFEST = "manifest.json"
TOK_DOCUMENTS = "documents.parquet"
TOK_REQUIRED = ("tokens", "documents", "tokenizer_sha256")
BATCH_ROWS = 65_536


@dataclass
class SourceDocs:
    """One source's documents, in a fixed order (files sorted, rows as stored)."""

    spec: SourceSpec
    kind: str  # "text" or "tok"
    files: list[Path]  # text: its Parquet files; tok: [TOK/documents.parquet]
    group_names: list[str]
    groups: np.ndarray  # int32 code into group_names, per document
    sizes: np.ndarray  # int64 tokens (or bytes), per document
    copies: np.ndarray  # int64 rehydrate copies (1 without rehydrate), per document
    tok_manifest: dict[str, Any] | None = None
    null_groups: int = 0  # documents whose grouping column was null
    columns: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.spec.label

    @property
    def folder(self) -> Path:
        return self.files[0].parent if self.kind == "tok" else Path(self.spec.path)


class Counter:
    """Sizes of texts: tokens of the spec's tokenizer, BOS/EOS included as `textmill tokenize`
    adds them, or UTF-8 bytes when the spec names no tokenizer. A text with no tokens (or no
    bytes) has size 0: tokenize skips it as empty, so a mix never takes it."""

    def __init__(self, spec: MixSpec):
        self.tokenizer = None
        self.unit = "bytes"
        self.extra = 0
        self.settings = None
        if spec.tokenizer:
            self.tokenizer = load_spec_tokenizer(spec.tokenizer)
            self.unit = "tokens"
            from textmill.tokens.tokenize import TokenizeSettings, resolve_specials
            from textmill.tokens.tokenizer import TokenizerError

            fmt = spec.output.format
            self.settings = TokenizeSettings(
                format=fmt if fmt in TOKENIZED_FORMATS else "megatron",
                bos=spec.output.add_bos,
                eos=spec.output.add_eos,
            )
            try:
                self.extra = resolve_specials(self.tokenizer, self.settings).count
            except TokenizerError as exc:
                raise MixError(f"tokenizer: {exc}") from None

    def sizes(self, texts: pa.ChunkedArray | pa.Array) -> np.ndarray:
        if self.tokenizer is None:
            lengths = pc.binary_length(pc.cast(pc.fill_null(texts, ""), pa.large_binary()))
            return np.asarray(lengths.to_numpy(zero_copy_only=False), dtype=np.int64)
        _, lengths = self.tokenizer.encode_flat(pc.fill_null(texts, "").to_pylist())
        lengths = np.asarray(lengths, dtype=np.int64)
        return np.where(lengths > 0, lengths + self.extra, 0)


def load_spec_tokenizer(path: str) -> Any:
    try:
        from textmill.tokens.tokenizer import TokenizerError, load_tokenizer
    except ImportError:
        raise MixError(
            "tokenizer: this textmill has no `textmill tokenize` (textmill.tokens); leave "
            "`tokenizer` out to measure text sources in bytes"
        ) from None
    if not Path(path).expanduser().exists():
        raise MixError(f"tokenizer: {path} does not exist")
    try:
        return load_tokenizer(path)
    except (TokenizerError, OSError, ValueError) as exc:
        raise MixError(f"tokenizer: {path} does not load ({exc})") from None


def is_tok_folder(path: Path) -> bool:
    return (path / TOK_MANIFEST).is_file() and (path / TOK_DOCUMENTS).is_file()


def text_files(source: SourceSpec) -> list[Path]:
    """The Parquet files of a text source, sorted; a clear error when there are none."""
    path = Path(source.path).expanduser()
    where = f"source {source.label!r}: {source.path}"
    if not path.exists():
        raise MixError(f"{where} does not exist")
    if path.is_file():
        if path.suffix != ".parquet":
            raise MixError(
                f"{where} is not Parquet: mix reads textmill outputs and TOK folders (run "
                "`textmill run` or `textmill tokenize` on it first)"
            )
        return [path]
    if is_run_output(path):
        files = Layout(path).written("data")
    elif path.name == "data" and is_run_output(path.parent):
        files = Layout(path.parent).written("data")
    else:
        files = sorted(path.rglob("*.parquet"))
    if not files:
        raise MixError(
            f"{where} holds no Parquet data: give a finished textmill output (OUT or OUT/data), "
            "Parquet files of text, or a TOK folder"
        )
    return files


def read_sources(spec: MixSpec, counter: Counter) -> list[SourceDocs]:
    return [read_source(source, spec, counter) for source in spec.sources]


def read_source(source: SourceSpec, spec: MixSpec, counter: Counter) -> SourceDocs:
    path = Path(source.path).expanduser()
    if path.is_dir() and is_tok_folder(path):
        return _read_tok(source, spec, path)
    return _read_text(source, spec, counter)


def _read_tok(source: SourceSpec, spec: MixSpec, path: Path) -> SourceDocs:
    where = f"source {source.label!r}: {path}"
    try:
        manifest = json.loads((path / TOK_MANIFEST).read_text("utf-8"))
    except (OSError, ValueError) as exc:
        raise MixError(f"{where}/{TOK_MANIFEST}: not readable JSON ({exc})") from None
    missing = [key for key in TOK_REQUIRED if key not in manifest]
    if missing:
        raise MixError(f"{where}/{TOK_MANIFEST}: not a TOK manifest (no {', '.join(missing)})")
    columns = pq.read_schema(path / TOK_DOCUMENTS).names
    wanted = ["tokens", COPIES if source.rehydrate else None]
    if source.group is None and spec.group_by:
        wanted.append(spec.group_by)
    if "tokens" not in columns:
        raise MixError(f"{where}/{TOK_DOCUMENTS}: no `tokens` column")
    if source.group is None and spec.group_by and spec.group_by not in columns:
        raise _unknown_column(source, spec.group_by, columns)
    # only the columns the plan needs: 10M documents' ids alone would take a GB
    documents = pq.read_table(path / TOK_DOCUMENTS, columns=[c for c in wanted if c in columns])
    sizes = np.asarray(documents["tokens"].to_numpy(), dtype=np.int64)
    copies = _copies(documents, source, where)
    names, groups, nulls = _groups(documents, source, spec, where)
    if int(sizes.sum()) != int(manifest["tokens"]) or len(sizes) != int(manifest["documents"]):
        raise MixError(
            f"{where}: {TOK_DOCUMENTS} holds {len(sizes):,} documents and {int(sizes.sum()):,} "
            f"tokens but the manifest says {manifest['documents']:,} and {manifest['tokens']:,}"
        )
    return SourceDocs(
        source, "tok", [path / TOK_DOCUMENTS], names, groups, sizes, copies, manifest, nulls,
        list(columns),
    )  # fmt: skip


def _read_text(source: SourceSpec, spec: MixSpec, counter: Counter) -> SourceDocs:
    files = text_files(source)
    where = f"source {source.label!r}"
    schema = pq.read_schema(files[0])
    if source.text_column not in schema.names:
        raise MixError(
            f"{where}: {files[0]} has no text column {source.text_column!r} "
            f"(columns: {', '.join(schema.names)}; set text_column)"
        )
    sizes, copies, group_parts = [], [], []
    for batch in iter_text_batches(files, source, spec):
        sizes.append(counter.sizes(batch[source.text_column]))
        copies.append(_copies(batch, source, where))
        group_parts.append(_group_values(batch, source, spec, where))
    values = (
        pa.chunked_array(group_parts, pa.string())
        if group_parts
        else pa.chunked_array([], pa.string())
    )
    names, groups, nulls = _encode(values, source, spec, where)
    return SourceDocs(
        source, "text", files, names, groups,
        _concat(sizes), _concat(copies), None, nulls, schema.names,
    )  # fmt: skip


def iter_text_batches(
    files: list[Path], source: SourceSpec, spec: MixSpec, columns: list[str] | None = None
) -> Iterator[pa.Table]:
    """The source's rows in order, in batches: the same order every time it is read."""
    wanted = None
    if columns is None:
        wanted = [source.text_column]
        if source.rehydrate:
            wanted.append(COPIES)
        if spec.group_by and source.group is None:
            wanted.append(spec.group_by)
    for path in files:
        file = pq.ParquetFile(path)
        names = file.schema_arrow.names
        if wanted is not None:
            if source.rehydrate and COPIES not in names:
                raise MixError(
                    f"source {source.label!r}: {path} has no {COPIES} column; run the "
                    "rehydrate stage (after minhash_dedup) or set rehydrate: false"
                )
            read = [c for c in wanted if c in names]
            if spec.group_by and spec.group_by in wanted and spec.group_by not in names:
                if METADATA not in names:
                    raise _unknown_column(source, spec.group_by, names)
                read.append(METADATA)
        else:
            read = columns
        for record_batch in file.iter_batches(batch_size=BATCH_ROWS, columns=read):
            yield pa.Table.from_batches([record_batch])


def _concat(parts: list[np.ndarray]) -> np.ndarray:
    return np.concatenate(parts).astype(np.int64) if parts else np.zeros(0, np.int64)


def _copies(table: pa.Table, source: SourceSpec, where: str) -> np.ndarray:
    if not source.rehydrate:
        return np.ones(table.num_rows, np.int64)
    if COPIES not in table.column_names:
        raise MixError(
            f"{where}: no {COPIES} column; run the rehydrate stage (after minhash_dedup) or "
            "set rehydrate: false"
        )
    copies = np.asarray(pc.fill_null(table[COPIES], 1).to_numpy(), dtype=np.int64)
    if (copies < 0).any():
        raise MixError(f"{where}: {COPIES} holds a negative count")
    return copies


def _group_values(table: pa.Table, source: SourceSpec, spec: MixSpec, where: str) -> pa.Array:
    """The group of each row, as strings (null where the column is null or absent)."""
    if source.group is not None:
        return pa.array([source.group] * table.num_rows, pa.string())
    if spec.group_by is None:
        return pa.array([source.label] * table.num_rows, pa.string())
    if spec.group_by in table.column_names:
        return pc.cast(table[spec.group_by], pa.string()).combine_chunks()
    # a column the reader kept in `metadata` (e.g. a JSONL field `domain`): parsed per row
    values = []
    for text in table[METADATA].to_pylist():
        value = json.loads(text).get(spec.group_by) if text else None
        values.append(None if value is None else str(value))
    return pa.array(values, pa.string())


def _groups(
    table: pa.Table, source: SourceSpec, spec: MixSpec, where: str
) -> tuple[list[str], np.ndarray, int]:
    values = _group_values(table, source, spec, where)
    return _encode(pa.chunked_array([values]), source, spec, where)


def _encode(
    values: pa.ChunkedArray, source: SourceSpec, spec: MixSpec, where: str
) -> tuple[list[str], np.ndarray, int]:
    nulls = values.null_count
    if spec.group_by and source.group is None and len(values) and nulls == len(values):
        raise MixError(
            f"{where}: no document has a value in the grouping column {spec.group_by!r} "
            f"(all {len(values):,} are null or lack it); give the source a `group`"
        )
    encoded = pc.fill_null(values, NULL_GROUP).combine_chunks().dictionary_encode()
    names = [str(name) for name in encoded.dictionary.to_pylist()]
    codes = np.asarray(encoded.indices.to_numpy(zero_copy_only=False), dtype=np.int32)
    return names, codes, nulls


def _unknown_column(source: SourceSpec, column: str, names: list[str]) -> MixError:
    return MixError(
        f"source {source.label!r}: unknown grouping column {column!r} (columns: "
        f"{', '.join(names)}; or give the source a `group`)"
    )


__all__ = ["Counter", "SourceDocs", "read_sources", "SOURCE", "TEXT"]
