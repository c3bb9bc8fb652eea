"""Megatron-LM's indexed dataset: `tokens.bin` (the tokens, back to back) and `tokens.idx`.

The index, as megatron-core's `indexed_dataset.py` reads it (little-endian):
`MMIDIDX\\x00\\x00`, version (uint64, 1), dtype code (uint8: 8 = uint16, 4 = int32), sequence
count (uint64), document count (uint64), then the sequence lengths (int32), the sequence
pointers (int64, byte offsets into .bin) and the document indices (int64, the sequence index
where each document starts, then the total: one sequence per document here, so 0, 1, ..., N).
Megatron has no uint32 code: a vocabulary past uint16 is stored as int32, as its own
`preprocess_data.py` does. Train with `--data-path TOK/tokens`.
"""

from __future__ import annotations

import struct

import numpy as np

from textmill.io.writers import publish, temporary_path
from textmill.tokens.formats.base import FlatTokenWriter
from textmill.tokens.tokenizer import UINT16_VOCAB, TokenizerError

INDEX_HEADER = b"MMIDIDX\x00\x00"
INDEX_VERSION = 1
DTYPE_CODES = {np.dtype(np.uint16): 8, np.dtype(np.int32): 4}
PREFIX = "tokens"


def megatron_dtype(vocab_size: int) -> np.dtype:
    if vocab_size <= UINT16_VOCAB:
        return np.dtype(np.uint16)
    if vocab_size <= 1 << 31:
        return np.dtype(np.int32)
    raise TokenizerError(
        f"vocabulary of {vocab_size:,} entries: Megatron's index stores tokens as int32 at most"
    )


class MegatronWriter(FlatTokenWriter):
    format = "megatron"
    BIN = f"{PREFIX}.bin"
    INDEX_FILES = (f"{PREFIX}.idx",)
    token_dtype = staticmethod(megatron_dtype)

    def check_lengths(self, lengths: np.ndarray) -> None:
        if lengths.size and int(lengths.max()) > np.iinfo(np.int32).max:
            raise ValueError("a sequence over 2**31 tokens does not fit Megatron's index")

    def write_index(self, lengths: np.ndarray) -> None:
        lengths = lengths.astype(np.int32)
        pointers = np.zeros(lengths.size, np.int64)
        np.cumsum(lengths[:-1], out=pointers[1:])
        pointers *= self.dtype.itemsize
        documents = np.arange(lengths.size + 1, dtype=np.int64)
        final = self.out / f"{PREFIX}.idx"
        temporary = temporary_path(final)
        with open(temporary, "wb") as index:
            index.write(INDEX_HEADER)
            index.write(struct.pack("<Q", INDEX_VERSION))
            index.write(struct.pack("<B", DTYPE_CODES[self.dtype]))
            index.write(struct.pack("<Q", lengths.size))
            index.write(struct.pack("<Q", documents.size))
            index.write(lengths.tobytes(order="C"))
            index.write(pointers.tobytes(order="C"))
            index.write(documents.tobytes(order="C"))
        publish(temporary, final)
