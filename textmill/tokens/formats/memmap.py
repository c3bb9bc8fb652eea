"""A flat token memmap: `tokens.bin` (uint16 when the vocabulary fits, else uint32, as
nanoGPT's `train.bin`) and `tokens.offsets.npy` (int64, N + 1 entries: sequence i is
`tokens[offsets[i]:offsets[i + 1]]`). documents.parquet beside it names each document's
id, source and language in the same order.

    tokens = np.memmap("TOK/tokens.bin", dtype=np.uint16, mode="r")
    offsets = np.load("TOK/tokens.offsets.npy")
"""

from __future__ import annotations

import numpy as np

from textmill.tokens.formats.base import FlatTokenWriter, write_array

BIN = "tokens.bin"
OFFSETS = "tokens.offsets.npy"


class MemmapWriter(FlatTokenWriter):
    format = "memmap"
    BIN = BIN
    INDEX_FILES = (OFFSETS,)

    def write_index(self, lengths: np.ndarray) -> None:
        offsets = np.zeros(lengths.size + 1, np.int64)
        np.cumsum(lengths, out=offsets[1:])
        write_array(offsets, self.out / OFFSETS)
