"""Paragraph (or line) deduplication across documents, CCNet-style, with bounded memory.

Map: every paragraph of normalised text becomes one row (doc key, doc id, paragraph index,
64-bit hash). Reduce: rows are spilled into partitions by the top bits of the hash, so each
partition is grouped on its own; within a partition, sorting by (hash, id, doc key, index) puts
the first occurrence (smallest id, then first read, then position) first and every later one is
marked for removal. The decision table lists, per affected document (by doc key), the indices of
its paragraphs to remove; apply cuts them out
of the text, so the output does not depend on worker count or arrival order. The Ray executor
shuffles the rows by hash and then by document instead of spilling, and applies the same two
functions (`repeated_occurrences`, `decisions_by_document`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import numba as nb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from pydantic import Field

from textmill.document import ID, KEY, TEXT
from textmill.pipeline import Decision, GlobalStage, StageOptions, register
from textmill.stages.dedup._minhash_kernels import (
    DIGIT,
    DROPPED,
    SEPARATOR,
    ZERO,
    normalisation_table,
)
from textmill.stages.dedup._partition import signature_partitions
from textmill.text import Chars, Spans, decode, encode, split_newline_runs, strip_spans
from textmill.text.hashing import DEFAULT_SEED, HASH_BASE, mix
from textmill.text.spans import whitespace_words

PARAGRAPH = "paragraph"
HASH = "paragraph_hash"
REMOVED_INDICES = "removed_paragraphs"
REMOVED_COUNT = "paragraphs_removed"
SIGNATURES_SCHEMA = pa.schema(
    [
        pa.field(KEY, pa.int64()),
        pa.field(ID, pa.string()),
        pa.field(PARAGRAPH, pa.int32()),
        pa.field(HASH, pa.uint64()),
    ]
)
DECISIONS_SCHEMA = pa.schema(
    [
        pa.field(KEY, pa.int64()),
        pa.field(ID, pa.string()),
        pa.field("reason", pa.string()),
        pa.field(REMOVED_INDICES, pa.list_(pa.int32())),
    ]
)
_SPACE = np.int64(ord(" "))


@nb.njit(cache=True)
def _normalised_hashes(codes, starts, ends, table, seed):
    """Per span: the hash of its normalised text, and whether anything was left to hash.

    Normalisation is MinHash's (datatrove's `simplify_text`, per `normalisation_table`): lower
    case, diacritics and format characters dropped, punctuation, symbols and whitespace as one
    space (none at the ends), each run of digits as "0". The hash is the span hash of that
    normalised string.
    """
    n = len(starts)
    hashes = np.zeros(n, dtype=np.uint64)
    has_hash = np.zeros(n, dtype=np.bool_)
    for j in range(n):
        h = np.uint64(0)
        started = False
        pending_space = False
        in_number = False
        for i in range(starts[j], ends[j]):
            cp = codes[i]
            value = table[cp] if cp < len(table) else cp
            if value == DROPPED:
                continue
            if value == DIGIT:
                if in_number:
                    continue
                value = ZERO
                in_number = True
            else:
                in_number = False
            if value == SEPARATOR:
                pending_space = started
                continue
            if pending_space:
                h = h * HASH_BASE + mix(_SPACE, seed)
                pending_space = False
            h = h * HASH_BASE + mix(value, seed)
            started = True
        hashes[j] = h
        has_hash[j] = started
    return hashes, has_hash


@nb.njit(cache=True)
def _cut_pieces(codes, offsets, starts, ends, piece_offsets, remove_offsets, remove_indices):
    """Rows with the listed pieces cut out; a kept piece keeps the separator that followed it,
    except the last kept piece, so blank-line structure survives. Returns (codes, offsets,
    pieces removed per row)."""
    n = len(offsets) - 1
    out = np.empty(len(codes), dtype=np.int32)
    out_offsets = np.zeros(n + 1, dtype=np.int64)
    removed = np.zeros(n, dtype=np.int32)
    k = 0
    for i in range(n):
        first, last = piece_offsets[i], piece_offsets[i + 1]
        count = last - first
        drop = np.zeros(count, dtype=np.bool_)
        for r in range(remove_offsets[i], remove_offsets[i + 1]):
            index = remove_indices[r]
            if 0 <= index < count and not drop[index]:
                drop[index] = True
                removed[i] += 1
        if removed[i] == 0:
            for c in range(offsets[i], offsets[i + 1]):
                out[k] = codes[c]
                k += 1
            out_offsets[i + 1] = k
            continue
        last_kept = -1
        for p in range(count):
            if not drop[p]:
                last_kept = p
        for p in range(count):
            if drop[p]:
                continue
            stop = ends[first + p] if p == last_kept else starts[first + p + 1]
            for c in range(starts[first + p], stop):
                out[k] = codes[c]
                k += 1
        out_offsets[i + 1] = k
    return out[:k], out_offsets, removed


@register("paragraph_dedup")
class ParagraphDedup(GlobalStage):
    """Removes paragraphs (or lines) already seen earlier in the corpus, CCNet-style.

    A paragraph's first occurrence (smallest document id, then first read, then position)
    stays; every later occurrence, in other documents or the same one, is cut out of the text.
    A document left without text, or under `min_chars`/`min_words`, is dropped; an edited one
    carries `paragraphs_removed` (0 when untouched). Pieces whose normalised text is empty (blank,
    punctuation only) are never duplicates.
    """

    class Options(StageOptions):
        # CCNet (Wenzek et al. 2020) dedups newline-separated lines; paragraphs are pieces
        # between blank lines (two or more newlines), as Gopher splits paragraphs.
        unit: Literal["paragraphs", "lines"] = "paragraphs"
        # True keeps each paragraph's first occurrence; CCNet's paper removes every
        # occurrence of a repeated line (cc_net's `deduplicate_two_pass`): set False for that.
        keep_first: bool = True
        # Nothing justifies a default minimum: only emptied documents are dropped. CCNet drops
        # documents under 300 characters (its `min_len`) before dedup.
        min_chars: int = Field(0, ge=0)
        min_words: int = Field(0, ge=0)
        # Reduce memory: rows per spill partition (~40 bytes each while grouped).
        rows_per_partition: int = Field(20_000_000, ge=1)
        seed: int = DEFAULT_SEED

    # ---------------------------------------------------------------- map

    def _pieces(self, chars: Chars) -> Spans:
        return split_newline_runs(chars, min_run=2 if self.options.unit == "paragraphs" else 1)

    def signatures(self, batch: pa.Table) -> pa.Table:
        chars = decode(batch[TEXT])
        spans = self._pieces(chars)
        hashes, has_hash = _normalised_hashes(
            chars.codes,
            spans.starts,
            spans.ends,
            normalisation_table(),
            np.uint64(self.options.seed),
        )
        counts = spans.counts()
        doc = np.repeat(np.arange(batch.num_rows), counts)
        position = np.arange(len(doc)) - np.repeat(spans.row_offsets[:-1], counts)
        chosen = np.flatnonzero(has_hash)
        rows = pa.array(doc[chosen])
        return pa.table(
            {
                KEY: pc.take(batch[KEY], rows),
                ID: pc.take(batch[ID], rows),
                PARAGRAPH: pa.array(position[chosen].astype(np.int32)),
                HASH: pa.array(hashes[chosen]),
            },
            schema=SIGNATURES_SCHEMA,
        )

    # ---------------------------------------------------------------- reduce

    def reduce(self, signature_files: Sequence[Path], workdir: Path) -> pa.Table:
        files = sorted(Path(f) for f in signature_files)
        if not files or all(pq.ParquetFile(f).metadata.num_rows == 0 for f in files):
            return DECISIONS_SCHEMA.empty_table()
        partitions = signature_partitions(
            files, HASH, self.options.rows_per_partition, Path(workdir)
        )
        removed = [repeated_occurrences(p, self.options.keep_first) for p in partitions]
        return decisions_by_document(pa.concat_tables(removed))

    # ---------------------------------------------------------------- apply

    def apply(self, batch: pa.Table, decisions: pa.Table) -> tuple[pa.Table, Decision]:
        n = batch.num_rows
        positions = pc.index_in(batch[KEY], value_set=decisions[KEY])
        affected = np.flatnonzero(pc.is_valid(positions).to_numpy(zero_copy_only=False))
        removed_count = np.zeros(n, dtype=np.int32)
        codes = np.zeros(n, dtype=np.int32)
        if len(affected):
            lists = pc.take(decisions[REMOVED_INDICES], positions.take(pa.array(affected)))
            lists = lists.combine_chunks() if isinstance(lists, pa.ChunkedArray) else lists
            chars = decode(pc.take(batch[TEXT], pa.array(affected)))
            spans = self._pieces(chars)
            new_codes, new_offsets, removed = _cut_pieces(
                chars.codes,
                chars.offsets,
                spans.starts,
                spans.ends,
                spans.row_offsets,
                lists.offsets.to_numpy().astype(np.int64),
                lists.flatten().to_numpy().astype(np.int64),
            )
            edited = Chars(new_codes, new_offsets, chars.valid)
            removed_count[affected] = removed
            codes[affected] = self._length_codes(edited)
            mask = np.zeros(n, dtype=bool)
            mask[affected] = True
            text = pc.replace_with_mask(
                batch[TEXT].combine_chunks(), pa.array(mask), encode(edited)
            )
            batch = batch.set_column(batch.column_names.index(TEXT), TEXT, text)
        codes[removed_count == 0] = 0
        column = pa.array(removed_count, pa.int32())
        if REMOVED_COUNT in batch.column_names:
            batch = batch.set_column(batch.column_names.index(REMOVED_COUNT), REMOVED_COUNT, column)
        else:
            batch = batch.append_column(REMOVED_COUNT, column)
        labels = ["empty_after_paragraph_dedup", "too_short_after_paragraph_dedup"]
        return batch, Decision.from_codes(codes, labels)

    def _length_codes(self, chars: Chars) -> np.ndarray:
        """1 where a row has no text left, 2 where it is under min_chars/min_words, else 0."""
        o = self.options
        whole = Spans(
            chars.offsets[:-1].copy(), chars.offsets[1:].copy(), np.arange(chars.num_rows + 1)
        )
        stripped = strip_spans(chars, whole)
        length = stripped.lengths()
        words, _ = whitespace_words(chars, whole)
        short = (length < o.min_chars) | (words < o.min_words)
        return np.where(length == 0, 1, np.where(short, 2, 0)).astype(np.int32)


def repeated_occurrences(rows: pa.Table, keep_first: bool = True) -> pa.Table:
    """(doc key, id, paragraph) of every occurrence after the first of a hash (with keep_first
    False: of every hash seen more than once). The one rule of the local and the Ray reduce;
    `rows` must hold every occurrence of each hash it holds (a hash partition of the signatures)."""
    rows = rows.sort_by(
        [(HASH, "ascending"), (ID, "ascending"), (KEY, "ascending"), (PARAGRAPH, "ascending")]
    )
    hashes = rows[HASH].to_numpy()
    same_as_previous = np.zeros(len(hashes), dtype=bool)
    same_as_previous[1:] = hashes[1:] == hashes[:-1]
    if keep_first:
        remove = same_as_previous
    else:
        same_as_next = np.zeros(len(hashes), dtype=bool)
        same_as_next[:-1] = same_as_previous[1:]
        remove = same_as_previous | same_as_next
    return rows.select([KEY, ID, PARAGRAPH]).filter(pa.array(remove))


def decisions_by_document(removed: pa.Table) -> pa.Table:
    """One decision row per document (by doc key): its removed paragraph indices, ascending.
    `removed` must hold every removed paragraph of each document it holds."""
    if removed.num_rows == 0:
        return DECISIONS_SCHEMA.empty_table()
    removed = removed.sort_by([(KEY, "ascending"), (PARAGRAPH, "ascending")])
    keys = removed[KEY].to_numpy()
    new_document = np.ones(len(keys), dtype=bool)
    new_document[1:] = keys[1:] != keys[:-1]
    starts = np.flatnonzero(new_document)
    offsets = pa.array(np.append(starts, len(keys)).astype(np.int32))
    indices = pa.ListArray.from_arrays(offsets, removed[PARAGRAPH].combine_chunks())
    firsts = pa.array(starts)
    return pa.table(
        {
            KEY: removed[KEY].take(firsts),
            ID: removed[ID].take(firsts),
            "reason": pa.nulls(len(starts), pa.string()),
            REMOVED_INDICES: indices,
        },
        schema=DECISIONS_SCHEMA,
    )
