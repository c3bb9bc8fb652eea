"""Token file formats, one module each, all behind `TokenWriter` (see base.py).

| format   | files                                  | read by                                     |
|----------|----------------------------------------|---------------------------------------------|
| megatron | tokens.bin + tokens.idx (MMIDIDX)      | Megatron-LM / megatron-core, NeMo, GPT-NeoX |
| memmap   | tokens.bin + tokens.offsets.npy        | numpy.memmap (nanoGPT-style loops)          |
| parquet  | data/part-NNNNN.parquet (`input_ids`)  | datasets, pyarrow, any PyTorch loop         |
| nanotron | tokens.ds + tokens.ds.index (+ .metadata) | datatrove / nanotron                 |
"""

from __future__ import annotations

import importlib
from pathlib import Path

from textmill.tokens.formats.base import TokenWriter

FORMATS = {
    "megatron": "textmill.tokens.formats.megatron:MegatronWriter",
    "memmap": "textmill.tokens.formats.memmap:MemmapWriter",
    "parquet": "textmill.tokens.formats.parquet:ParquetTokenWriter",
    "nanotron": "textmill.tokens.formats.nanotron:NanotronWriter",
}


def writer_class(fmt: str) -> type:
    module, name = FORMATS[fmt].split(":")
    return getattr(importlib.import_module(module), name)


def open_writer(fmt: str, out: Path, vocab_size: int, tokenizer_name: str) -> TokenWriter:
    """The writer of format `fmt` for TOK folder `out`."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown token format {fmt!r} (have: {', '.join(FORMATS)})")
    return writer_class(fmt)(out, vocab_size, tokenizer_name)


__all__ = ["FORMATS", "TokenWriter", "open_writer", "writer_class"]
