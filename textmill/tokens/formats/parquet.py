"""Parquet token files: `data/part-NNNNN.parquet`, one row per sequence with an `input_ids`
list column (uint32) and, for document rows, the document's `id`, `source` and `lang`; a
packed table keeps its `cu_seqlens` column. `datasets.load_dataset("parquet",
data_files="TOK/data/*.parquet")` reads it as it is."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

from textmill.io.writers import ParquetShardWriter
from textmill.tokens.formats.base import INPUT_IDS, flat_tokens

TOKENS_PER_FILE = 1 << 28  # ~1 GiB of uint32 before zstd: files small enough to shard on
FOLDER = "data"


class ParquetTokenWriter:
    format = "parquet"
    FIXED_FILES = ()  # its part files are named in the run manifest as they are written

    def __init__(self, out: Path, vocab_size: int, tokenizer_name: str):
        self.out = out
        self.files: list[str] = []
        self.writer: ParquetShardWriter | None = None
        self.tokens_in_file = 0
        self.sequences = 0

    def _next_file(self) -> ParquetShardWriter:
        name = f"{FOLDER}/part-{len(self.files):05d}.parquet"
        self.files.append(name)
        self.tokens_in_file = 0
        return ParquetShardWriter(self.out / name)

    def write(self, table: pa.Table) -> None:
        if table.num_rows == 0:
            return
        if self.writer is None or self.tokens_in_file >= TOKENS_PER_FILE:
            if self.writer is not None:
                self.writer.close()
            self.writer = self._next_file()
        ids = table[INPUT_IDS].cast(pa.list_(pa.uint32()))
        table = table.set_column(table.column_names.index(INPUT_IDS), INPUT_IDS, ids)
        self.writer.write(table)
        self.tokens_in_file += int(flat_tokens(table)[0].size)
        self.sequences += table.num_rows

    def close(self) -> dict:
        if self.writer is not None:
            self.writer.close()
        return {"files": list(self.files), "dtype": "uint32", "sequences": self.sequences}

    def abort(self) -> None:
        if self.writer is not None:
            self.writer.abort()
