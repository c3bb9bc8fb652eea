"""A tokenized mixture from TOK sources: their tokens copied, never re-tokenized.

Each source's documents come back through `textmill.tokens.manifest.token_tables` (in
documents.parquet order, the order the plan counted them in), each selected row repeated as
often as the plan took it; tokenize's own arrangement (the seeded bounded-memory global shuffle,
packing) and format writers then write MIX/tokens, a TOK folder like any other.
"""

from __future__ import annotations

import shlex
import time
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from textmill.document import SOURCE
from textmill.io.writers import ParquetShardWriter, write_json_atomically
from textmill.mix.sampling import repeat_rows
from textmill.mix.spec import MixError

COPY_BATCH_ROWS = 8192  # documents per table read back (a 65,536-row table of 1 KB documents
# is ~70 MB of token ids, held a few times over while it is repeated and written)


def copy_selected_tokens(
    plan: Any, target: Path, state: Path, command: Sequence[str] | None
) -> dict[str, Any]:
    """Write the plan's documents from its TOK sources into the TOK folder `target`; returns
    its manifest (tokenize's fields: tokens, documents, tokenizer_sha256, ...)."""
    from textmill.tokens.arrange import Arrangement
    from textmill.tokens.formats import open_writer
    from textmill.tokens.manifest import (
        DOCUMENT_INDEX_SCHEMA,
        DOCUMENTS,
        LANG,
        MANIFEST,
        build_manifest,
        token_tables,
    )
    from textmill.tokens.tokenize import ShardCounts, Specials

    started = time.perf_counter()
    counter = plan.counter
    tokenizer = counter.tokenizer
    output = plan.spec.output
    settings = replace(
        counter.settings,
        shuffle_seed=plan.spec.seed if output.shuffle else None,
        shuffle_memory_bytes=output.shuffle_memory_bytes,
        pack=output.pack,
        packing=output.packing,
    )
    for source in plan.sources:
        if source.tok_manifest.get("packing") or source.tok_manifest.get("sequences") not in (
            None,
            source.tok_manifest["documents"],
        ):
            raise MixError(
                f"source {source.name!r}: {source.folder} is packed (its rows are sequences, "
                "not documents); mix its unpacked tokenize"
            )

    def selected(index: int) -> Iterator[pa.Table]:
        counts = plan.counts[index]
        start = 0
        for table in token_tables(plan.sources[index].folder, batch_rows=COPY_BATCH_ROWS):
            taken = counts[start : start + table.num_rows]
            start += table.num_rows
            if taken.any():
                yield repeat_rows(table, taken)

    names = [str(index) for index in range(len(plan.sources))]
    target.mkdir(parents=True, exist_ok=True)
    writer = open_writer(settings.format, target, tokenizer.vocab_size, tokenizer.name)
    documents = ParquetShardWriter(target / DOCUMENTS)
    arrangement = Arrangement.for_tokenize(settings, state, target, tokenizer)
    itemsize = np.dtype(tokenizer.token_dtype).itemsize
    try:
        ordered = arrangement.documents(
            names, lambda name: selected(int(name)), expected_bytes=plan.tokens * itemsize
        )
        for rows, index in arrangement.rows(ordered):
            writer.write(rows)
            documents.write(index)
        written = writer.close()
        written["files"] = [*written["files"], *arrangement.close()]
    except BaseException:
        writer.abort()
        documents.abort()
        arrangement.abort()
        raise
    if documents.close() is None:
        pq.write_table(DOCUMENT_INDEX_SCHEMA.empty_table(), target / DOCUMENTS)
    first = plan.sources[0].tok_manifest
    totals = ShardCounts(read=plan.documents, tokenized=plan.documents, tokens=plan.tokens)
    manifest = build_manifest(
        totals=totals,
        tokenizer=tokenizer,
        settings=settings,
        specials=Specials(first.get("bos_id"), first.get("eos_id")),
        written=written,
        documents=pq.read_table(target / DOCUMENTS, columns=[SOURCE, LANG, "tokens"]),
        inputs=[str(source.folder) for source in plan.sources],
        unreadable=[],
        command=shlex.join(command) if command else "textmill.mix.mix(...)",
        seconds=time.perf_counter() - started,
    )
    manifest.update(arrangement.stats())
    write_json_atomically(manifest, target / MANIFEST)
    return manifest
