"""The writer protocol every token format follows, and the helpers they share.

A writer receives the token table of TOKENS.md batch by batch, in output order, then `close()`.
A DOCUMENT table has one row per document (`input_ids`: its tokens, BOS/EOS included); a PACKED
table (a `cu_seqlens` column) has one row per training sequence. Either way a row is one
sequence in the format's own terms (a Megatron sequence, an index entry, a Parquet row), so
document boundaries are kept; a packed table's `cu_seqlens` go to `cu_seqlens.parquet` beside
the token files (the Parquet format keeps them as a column instead). Every file is written under
a temporary name and published by `close()`, so a killed tokenize never leaves half a file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import numpy as np
import pyarrow as pa

from textmill.io.writers import ParquetShardWriter, publish, temporary_path
from textmill.tokens.tokenizer import token_dtype_for

INPUT_IDS = "input_ids"
CU_SEQLENS = "cu_seqlens"
CU_SEQLENS_FILE = "cu_seqlens.parquet"


class TokenWriter(Protocol):
    format: str
    FIXED_FILES: tuple[str, ...]  # the files it may write whose names are known before it starts

    def write(self, table: pa.Table) -> None:
        """Append the rows of a document table or a packed table."""

    def close(self) -> dict:
        """Publish the files; return {"files": [names relative to TOK], "dtype": on-disk dtype,
        "sequences": rows written, ...}."""

    def abort(self) -> None:
        """Remove what was written so far."""


def flat_tokens(table: pa.Table) -> tuple[np.ndarray, np.ndarray]:
    """The rows' tokens as one uint32 array (no copy when the column is one chunk) and each
    row's length (int64)."""
    column = table[INPUT_IDS].combine_chunks()
    if isinstance(column, pa.ChunkedArray):  # an empty table
        column = pa.array([], pa.large_list(pa.uint32()))
    offsets = np.asarray(column.offsets.to_numpy(zero_copy_only=False), dtype=np.int64)
    values = column.values.to_numpy(zero_copy_only=False)
    values = values[offsets[0] : offsets[-1]]
    return values, np.diff(offsets)


class BinFile:
    """A flat token file of one dtype, appended with `tofile` and published on close."""

    def __init__(self, final_path: Path, dtype: np.dtype):
        self.final_path = final_path
        self.temporary = temporary_path(final_path)
        self.dtype = np.dtype(dtype)
        final_path.parent.mkdir(parents=True, exist_ok=True)
        self.handle = open(self.temporary, "wb")  # noqa: SIM115 - open until close()
        self.tokens = 0

    def append(self, tokens: np.ndarray) -> None:
        if tokens.size and int(tokens.max()) > np.iinfo(self.dtype).max:
            raise ValueError(f"token id {int(tokens.max())} does not fit {self.dtype.name}")
        tokens.astype(self.dtype, copy=False).tofile(self.handle)
        self.tokens += tokens.size

    def close(self) -> None:
        self.handle.close()
        publish(self.temporary, self.final_path)

    def abort(self) -> None:
        self.handle.close()
        self.temporary.unlink(missing_ok=True)


class Sidecar:
    """`cu_seqlens.parquet`: one row per packed sequence, its document boundaries."""

    def __init__(self, out: Path):
        self.writer = ParquetShardWriter(out / CU_SEQLENS_FILE)

    def write(self, table: pa.Table) -> None:
        if CU_SEQLENS in table.column_names:
            self.writer.write(table.select([CU_SEQLENS]))

    def close(self) -> list[str]:
        return [CU_SEQLENS_FILE] if self.writer.close() else []

    def abort(self) -> None:
        self.writer.abort()


class FlatTokenWriter:
    """The flat formats (Megatron, memmap, nanotron): every row's tokens back to back in one
    file, and an index of the rows' lengths that each format writes its own way on close."""

    format: str
    BIN: str
    INDEX_FILES: tuple[str, ...]

    def __init__(self, out: Path, vocab_size: int, tokenizer_name: str):
        self.out = out
        self.tokenizer_name = tokenizer_name
        self.dtype = self.token_dtype(vocab_size)
        self.bin = BinFile(out / self.BIN, self.dtype)
        self.lengths: list[np.ndarray] = []
        self.sidecar = Sidecar(out)

    FIXED_FILES: tuple[str, ...] = ()

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        cls.FIXED_FILES = (cls.BIN, *cls.INDEX_FILES, CU_SEQLENS_FILE)

    @staticmethod
    def token_dtype(vocab_size: int) -> np.dtype:
        return np.dtype(token_dtype_for(vocab_size))

    def write(self, table: pa.Table) -> None:
        tokens, lengths = flat_tokens(table)
        self.check_lengths(lengths)
        self.bin.append(tokens)
        self.lengths.append(lengths)
        self.sidecar.write(table)

    def check_lengths(self, lengths: np.ndarray) -> None:
        """Refuse rows the format's index cannot hold (nothing to refuse by default)."""

    def write_index(self, lengths: np.ndarray) -> None:
        raise NotImplementedError

    def close(self) -> dict:
        lengths = np.concatenate(self.lengths) if self.lengths else np.zeros(0, np.int64)
        self.bin.close()
        self.write_index(lengths)
        files = [self.BIN, *self.INDEX_FILES, *self.sidecar.close()]
        return {"files": files, "dtype": self.dtype.name, "sequences": int(lengths.size)}

    def abort(self) -> None:
        self.bin.abort()
        self.sidecar.abort()


def write_array(array: np.ndarray, final_path: Path) -> None:
    """One .npy file, published whole."""
    temporary = temporary_path(final_path)
    with open(temporary, "wb") as handle:
        np.save(handle, array)
    publish(temporary, final_path)
