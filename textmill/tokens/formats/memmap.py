"""A flat token memmap: `tokens.bin` (uint16 when the vocabulary fits, else uint32, as
nanoGPT's `train.bin`) and `tokens.offsets.npy` (int64, N + 1 entries: sequence i is
`tokens[offsets[i]:offsets[i + 1]]`). documents.parquet beside it names each document's
id, source and language in the same order.

    tokens = np.memmap("TOK/tokens.bin", dtype=np.uint16, mode="r")
    offsets = np.load("TOK/tokens.offsets.npy")
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa

from textmill.tokens.formats.base import CU_SEQLENS_FILE, BinFile, Sidecar, flat_tokens, write_array
from textmill.tokens.tokenizer import token_dtype_for

BIN = "tokens.bin"
OFFSETS = "tokens.offsets.npy"


class MemmapWriter:
    format = "memmap"
    FIXED_FILES = (BIN, OFFSETS, CU_SEQLENS_FILE)

    def __init__(self, out: Path, vocab_size: int, tokenizer_name: str):
        self.out = out
        self.dtype = np.dtype(token_dtype_for(vocab_size))
        self.bin = BinFile(out / BIN, self.dtype)
        self.lengths: list[np.ndarray] = []
        self.sidecar = Sidecar(out)

    def write(self, table: pa.Table) -> None:
        tokens, lengths = flat_tokens(table)
        self.bin.append(tokens)
        self.lengths.append(lengths)
        self.sidecar.write(table)

    def close(self) -> dict:
        lengths = np.concatenate(self.lengths) if self.lengths else np.zeros(0, np.int64)
        offsets = np.zeros(lengths.size + 1, np.int64)
        np.cumsum(lengths, out=offsets[1:])
        write_array(offsets, self.out / OFFSETS)
        self.bin.close()
        files = [BIN, OFFSETS, *self.sidecar.close()]
        return {"files": files, "dtype": self.dtype.name, "sequences": int(lengths.size)}

    def abort(self) -> None:
        self.bin.abort()
        self.sidecar.abort()
