"""`textmill tokenizer train`: a byte-level BPE trained on an even sample of a corpus.

The sample keeps each document whose id hashes below a rate (the byte budget over the inputs'
size), so it spreads over every input file instead of taking the first ones, and is the same on
every run; reading stops once the budget is reached."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.compute as pc
import xxhash

from textmill.document import ID, TEXT
from textmill.io import ReadOptions
from textmill.io.writers import publish, temporary_path
from textmill.tokens.reading import plan_inputs, read_documents
from textmill.tokens.tokenizer import train_bpe


def sample_texts(
    inputs: Sequence[str], sample_bytes: int, text_column: str = TEXT
) -> tuple[list[str], int]:
    """Texts (at most `sample_bytes` of UTF-8 in all) sampled evenly by document id."""
    shards, _ = plan_inputs(list(inputs), out=None)
    total = sum(s.size_bytes for s in shards) or 1
    rate = min(1.0, sample_bytes / total)
    threshold = int(rate * (1 << 64)) - 1
    texts: list[str] = []
    used = 0
    options = ReadOptions(text_field=text_column)
    for shard in shards:
        for batch in read_documents(shard, options):
            docs = batch.docs.filter(pc.invert(pc.is_null(batch.docs[TEXT])))
            if rate < 1.0:
                hashes = np.fromiter(
                    (xxhash.xxh64_intdigest(i.encode()) for i in docs[ID].to_pylist()), np.uint64
                )
                docs = docs.filter(hashes <= np.uint64(threshold))
            for text in docs[TEXT].to_pylist():
                size = len(text.encode("utf-8"))
                if used + size > sample_bytes and texts:
                    return texts, used
                texts.append(text)
                used += size
    return texts, used


def train_tokenizer_file(
    inputs: Sequence[str],
    out: Path,
    vocab_size: int,
    sample_bytes: int,
    *,
    text_column: str = TEXT,
) -> dict[str, Any]:
    """Train on a sample of `inputs` and write the tokenizer.json at `out`."""
    texts, used = sample_texts(inputs, sample_bytes, text_column)
    if not texts:
        from textmill.io import InputError

        raise InputError("no text to train a tokenizer on in the inputs")
    tokenizer = train_bpe(texts, vocab_size)
    out.parent.mkdir(parents=True, exist_ok=True)
    temporary = temporary_path(out)
    tokenizer.save(str(temporary))
    publish(temporary, out)
    return {"vocab_size": tokenizer.get_vocab_size(), "documents": len(texts), "bytes": used}
