"""Pack tokenized documents into fixed-length training sequences, keeping document boundaries.

Two methods, on the document token table of TOKENS.md (one row per document, `input_ids`):

- `concat`: concatenate every document in order and cut every SEQ_LEN tokens, the common
  default (GPT-2/Megatron style). A document may span sequences; cu_seqlens says where each
  piece starts. The last, partial sequence is padded (`final="pad"`) or dropped and counted
  (`final="drop"`).
- `best-fit`: best-fit-decreasing bin packing (Ding et al. 2024, "Fewer Truncations Improve
  Language Modeling"): only documents longer than SEQ_LEN are split, into SEQ_LEN chunks and a
  remainder; every piece goes, longest first, into the open sequence whose free space fits it
  most tightly; padding fills what is left. Packing works on windows of `window_tokens` tokens
  (the paper packs bounded buffers too), so memory stays bounded on any corpus. Within a window,
  sequences come out in a seeded random order (best-fit-decreasing fills the first bins with the
  longest documents; training should not see them in that order).

Each packed row holds exactly SEQ_LEN tokens and `cu_seqlens`: document boundaries from 0 to the
number of real tokens (flash-attn varlen convention). A `pieces` table says where each piece of
each document went, so nothing is lost silently and `simulate-sp` can read the lengths attention
really sees. Windows are cut by document count and tokens, never by input batch boundaries, so
the same documents give the same sequences however they were batched.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Literal

import numba as nb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

PackingMethod = Literal["concat", "best-fit"]
PACKING_METHODS: tuple[str, ...] = ("concat", "best-fit")
FINAL_SEQUENCE = ("pad", "drop")
DEFAULT_WINDOW_TOKENS = 1 << 25  # 32M tokens: 128 MB of uint32 ids held by one best-fit window

PACKED_SCHEMA = pa.schema(
    [pa.field("input_ids", pa.list_(pa.uint32())), pa.field("cu_seqlens", pa.list_(pa.int32()))]
)
PIECES_SCHEMA = pa.schema(
    [
        pa.field("document", pa.int64()),  # ordinal of the document in the input stream
        pa.field("start", pa.int64()),  # first token of the piece inside its document
        pa.field("tokens", pa.int32()),  # length of the piece
        pa.field("sequence", pa.int64()),  # packed row that holds it
        pa.field("offset", pa.int32()),  # first token of the piece inside that row
    ]
)


class PackError(ValueError):
    """Packing options or input a user must fix."""


@dataclass(frozen=True)
class PackOptions:
    """How to pack: SEQ_LEN, the method, the pad id, what to do with concat's last sequence,
    the best-fit window (tokens held at once) and the seed of the row order in a window."""

    seq_len: int
    method: PackingMethod = "concat"
    pad_id: int = 0
    final: Literal["pad", "drop"] = "pad"
    window_tokens: int = DEFAULT_WINDOW_TOKENS
    seed: int = 0

    def __post_init__(self) -> None:
        if self.seq_len < 1:
            raise PackError(f"--pack {self.seq_len}: the sequence length must be at least 1")
        if self.method not in PACKING_METHODS:
            raise PackError(
                f"--packing {self.method}: unknown method (have: {', '.join(PACKING_METHODS)})"
            )
        if self.final not in FINAL_SEQUENCE:
            raise PackError(f"final={self.final!r}: 'pad' or 'drop'")
        if self.window_tokens < self.seq_len:
            raise PackError(
                f"window_tokens {self.window_tokens:,} is shorter than one sequence "
                f"({self.seq_len:,})"
            )
        if not 0 <= self.pad_id < 2**32:
            raise PackError(f"pad id {self.pad_id}: not a uint32 token id")


@dataclass
class PackedBatch:
    """Packed rows (PACKED_SCHEMA) and where every piece of every document went."""

    sequences: pa.Table
    pieces: pa.Table


def _log2_histogram() -> np.ndarray:
    return np.zeros(65, dtype=np.int64)


def log2_bins(lengths: np.ndarray) -> np.ndarray:
    """Bin of each length: 0 for 0, k+1 for 2^k <= n < 2^(k+1)."""
    lengths = np.asarray(lengths, dtype=np.int64)
    bins = np.zeros(len(lengths), dtype=np.int64)
    positive = lengths > 0
    bins[positive] = np.floor(np.log2(lengths[positive])).astype(np.int64) + 1
    # float log2 can round 2^k - 1 up for huge k; correct against exact powers of two
    too_high = positive & (np.left_shift(1, np.maximum(bins - 1, 0)) > lengths)
    bins[too_high] -= 1
    return bins


def histogram_json(counts: np.ndarray) -> list[dict]:
    """Non-empty log2 bins as [{"min": lo, "max": hi, "count": n}] (hi inclusive)."""
    rows = []
    for b in np.flatnonzero(counts):
        lo, hi = (0, 0) if b == 0 else (1 << (b - 1), (1 << b) - 1)
        rows.append({"min": int(lo), "max": int(hi), "count": int(counts[b])})
    return rows


@dataclass
class PackStats:
    """What packing did, reconciled: every document token is in a sequence or counted dropped."""

    method: str
    seq_len: int
    documents: int = 0
    empty_documents: int = 0
    split_documents: int = 0  # documents whose tokens land in more than one sequence
    tokens: int = 0  # document tokens in
    packed_tokens: int = 0  # real (non-pad) tokens in sequences
    padding_tokens: int = 0
    dropped_tokens: int = 0  # concat with final="drop": the last partial sequence
    dropped_pieces: int = 0
    sequences: int = 0
    pieces: int = 0
    document_lengths: np.ndarray = field(default_factory=_log2_histogram)
    piece_lengths: np.ndarray = field(default_factory=_log2_histogram)
    pieces_per_sequence: np.ndarray = field(default_factory=_log2_histogram)

    def add_documents(self, lengths: np.ndarray) -> None:
        self.documents += len(lengths)
        self.empty_documents += int(np.count_nonzero(lengths == 0))
        self.tokens += int(lengths.sum())
        self.document_lengths += np.bincount(log2_bins(lengths), minlength=65)

    def add_pieces(self, lengths: np.ndarray, rows: np.ndarray, n_rows: int) -> None:
        self.pieces += len(lengths)
        self.packed_tokens += int(lengths.sum())
        self.piece_lengths += np.bincount(log2_bins(lengths), minlength=65)
        per_row = np.bincount(rows, minlength=n_rows)
        self.pieces_per_sequence += np.bincount(log2_bins(per_row), minlength=65)
        self.sequences += n_rows
        self.padding_tokens += n_rows * self.seq_len - int(lengths.sum())

    @property
    def reconciled(self) -> bool:
        return self.tokens == self.packed_tokens + self.dropped_tokens

    def to_json(self) -> dict:
        slots = self.sequences * self.seq_len
        real_documents = self.documents - self.empty_documents
        return {
            "method": self.method,
            "seq_len": self.seq_len,
            "sequences": self.sequences,
            "documents": self.documents,
            "empty_documents": self.empty_documents,
            "tokens": self.tokens,
            "packed_tokens": self.packed_tokens,
            "padding_tokens": self.padding_tokens,
            "padding_pct": round(100 * self.padding_tokens / slots, 4) if slots else 0.0,
            "dropped_tokens": self.dropped_tokens,
            "dropped_pieces": self.dropped_pieces,
            "split_documents": self.split_documents,
            "split_documents_pct": (
                round(100 * self.split_documents / real_documents, 4) if real_documents else 0.0
            ),
            "pieces": self.pieces,
            "reconciled": self.reconciled,
            "document_length_histogram": histogram_json(self.document_lengths),
            "piece_length_histogram": histogram_json(self.piece_lengths),
            "pieces_per_sequence_histogram": histogram_json(self.pieces_per_sequence),
        }

    def summary(self) -> str:
        """One line for the terminal."""
        j = self.to_json()
        line = (
            f"packed {j['tokens']:,} tokens of {j['documents']:,} documents into "
            f"{j['sequences']:,} sequences of {self.seq_len:,} ({self.method}): "
            f"{j['padding_pct']:.2f}% padding, {j['split_documents_pct']:.2f}% of documents split"
        )
        if self.dropped_tokens:
            line += f", {self.dropped_tokens:,} tokens of the last partial sequence dropped"
        return line


def document_tokens(table: pa.Table) -> tuple[np.ndarray, np.ndarray]:
    """(flat uint32 token ids, int64 length per document) of a table's `input_ids`; a null
    list counts as an empty document."""
    if isinstance(table, pa.RecordBatch):
        table = pa.Table.from_batches([table])
    if "input_ids" not in table.column_names:
        raise PackError("the token table has no `input_ids` column")
    column = table.column("input_ids")
    if not (pa.types.is_list(column.type) or pa.types.is_large_list(column.type)):
        raise PackError(f"`input_ids` is {column.type}, not a list of token ids")
    array = column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)
    lengths = pc.fill_null(pc.list_value_length(array), 0).to_numpy(zero_copy_only=False)
    flat = array.flatten()
    if flat.null_count:
        raise PackError("`input_ids` holds a null token id")
    values = flat.to_numpy(zero_copy_only=False)
    if values.dtype != np.uint32:
        if len(values) and (values.min() < 0 or values.max() >= 2**32):
            raise PackError("`input_ids` holds a value that is not a uint32 token id")
        values = values.astype(np.uint32)
    return values, lengths.astype(np.int64)


# ---- best-fit decreasing over a segment tree of free capacities --------------------------


@nb.njit(cache=True)
def _first_at_least(tree, leaves, lo):
    """Smallest capacity c >= lo with a bin open, or -1 (tree[leaves + c] = bins with c free)."""
    i = leaves + lo
    if tree[i] > 0:
        return lo
    while i > 1:
        if i % 2 == 0 and tree[i + 1] > 0:
            i += 1
            while i < leaves:
                i = 2 * i if tree[2 * i] > 0 else 2 * i + 1
            return i - leaves
        i //= 2
    return -1


@nb.njit(cache=True)
def _tree_add(tree, leaves, capacity, delta):
    i = leaves + capacity
    while i >= 1:
        tree[i] += delta
        i //= 2


@nb.njit(cache=True)
def best_fit_decreasing(lengths, seq_len):
    """Bin and offset of each piece (lengths sorted longest first, each 1..seq_len): the open
    bin with the least free space that still fits, else a new bin. O(n log seq_len)."""
    n = len(lengths)
    leaves = 1
    while leaves < seq_len + 1:
        leaves *= 2
    tree = np.zeros(2 * leaves, dtype=np.int64)
    head = np.full(seq_len + 1, -1, dtype=np.int64)  # bins with c free: a linked stack
    next_bin = np.empty(n, dtype=np.int64)
    free = np.empty(n, dtype=np.int64)
    bins = np.empty(n, dtype=np.int64)
    offsets = np.empty(n, dtype=np.int64)
    n_bins = 0
    for k in range(n):
        length = lengths[k]
        capacity = _first_at_least(tree, leaves, length)
        if capacity < 0:
            b = n_bins
            n_bins += 1
            free[b] = seq_len
        else:
            b = head[capacity]
            head[capacity] = next_bin[b]
            _tree_add(tree, leaves, capacity, -1)
        bins[k] = b
        offsets[k] = seq_len - free[b]
        free[b] -= length
        left = free[b]
        if left > 0:
            next_bin[b] = head[left]
            head[left] = b
            _tree_add(tree, leaves, left, 1)
    return bins, offsets, n_bins


@nb.njit(cache=True)
def _gather_rows(tokens, src_starts, lengths, rows, offsets, n_rows, seq_len, pad_id):
    out = np.full(n_rows * seq_len, pad_id, dtype=np.uint32)
    for k in range(len(lengths)):
        dst = rows[k] * seq_len + offsets[k]
        src = src_starts[k]
        for j in range(lengths[k]):
            out[dst + j] = tokens[src + j]
    return out


def _cu_seqlens(rows: np.ndarray, offsets: np.ndarray, lengths: np.ndarray, n_rows: int):
    """cu_seqlens list array from pieces sorted by (row, offset): each row's piece starts, then
    its number of real tokens."""
    counts = np.bincount(rows, minlength=n_rows)
    ends = np.bincount(rows, weights=lengths, minlength=n_rows).astype(np.int64)
    list_offsets = np.zeros(n_rows + 1, dtype=np.int64)
    np.cumsum(counts + 1, out=list_offsets[1:])
    values = np.empty(list_offsets[-1], dtype=np.int32)
    is_end = np.zeros(list_offsets[-1], dtype=bool)
    is_end[list_offsets[1:] - 1] = True
    values[is_end] = ends
    values[~is_end] = offsets
    return pa.LargeListArray.from_arrays(pa.array(list_offsets), pa.array(values)).cast(
        pa.list_(pa.int32())
    )


def _packed_table(flat_rows: np.ndarray, cu: pa.Array, n_rows: int, seq_len: int) -> pa.Table:
    offsets = pa.array(np.arange(n_rows + 1, dtype=np.int64) * seq_len)
    ids = pa.LargeListArray.from_arrays(offsets, pa.array(flat_rows, pa.uint32()))
    return pa.Table.from_arrays([ids.cast(pa.list_(pa.uint32())), cu], schema=PACKED_SCHEMA)


def _pieces_table(document, start, length, row, offset) -> pa.Table:
    return pa.Table.from_arrays(
        [
            pa.array(document, pa.int64()),
            pa.array(start, pa.int64()),
            pa.array(length, pa.int32()),
            pa.array(row, pa.int64()),
            pa.array(offset, pa.int32()),
        ],
        schema=PIECES_SCHEMA,
    )


class Packer:
    """Feed document tables with `add`, then `finish`; both yield PackedBatch objects.
    `stats` holds the counts once finished."""

    def __init__(self, options: PackOptions):
        self.options = options
        self.stats = PackStats(method=options.method, seq_len=options.seq_len)
        self._next_document = 0  # ordinal of the next document fed
        self._next_row = 0  # index of the next packed row emitted
        self._windows = 0
        # pending documents: chunks of (flat tokens, lengths, first ordinal); concat's carry is
        # the tail of the last partial row in the same form, with per-segment starts
        self._pending: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []
        self._pending_tokens = 0
        self._last_split_document = -1
        self._buffer: np.ndarray | None = None

    def pack(self, tables: Iterable[pa.Table]) -> Iterator[PackedBatch]:
        """Every table, then the end of the stream."""
        for table in tables:
            yield from self.add(table)
        yield from self.finish()

    def add(self, table: pa.Table) -> Iterator[PackedBatch]:
        tokens, lengths = document_tokens(table)
        self.stats.add_documents(lengths)
        ordinals = np.arange(self._next_document, self._next_document + len(lengths))
        self._next_document += len(lengths)
        starts = np.zeros(len(lengths), dtype=np.int64)  # segment start inside its document
        if self.options.method == "concat":
            self._pending.append((tokens, lengths, ordinals, starts))
            self._pending_tokens += len(tokens)
            yield from self._concat(final=False)
        else:
            yield from self._best_fit_add(tokens, lengths, ordinals)

    def finish(self) -> Iterator[PackedBatch]:
        if self.options.method == "concat":
            yield from self._concat(final=True)
        elif self._pending:
            yield from self._best_fit_window()

    def _take_pending(
        self, reuse_buffer: bool = False
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The pending documents as one set of arrays. With reuse_buffer (best-fit, whose
        output is a fresh gather), the tokens go to a buffer kept from window to window: a
        fresh 128 MB array per window costs its page faults."""
        parts = self._pending
        self._pending, self._pending_tokens = [], 0
        if len(parts) == 1:
            return parts[0]
        total = sum(len(p[0]) for p in parts)
        if reuse_buffer:
            if self._buffer is None or len(self._buffer) < total:
                self._buffer = np.empty(max(total, self.options.window_tokens), np.uint32)
            tokens = self._buffer[:total]
            np.concatenate([p[0] for p in parts], out=tokens)
        else:
            tokens = np.concatenate([p[0] for p in parts])
        rest = (np.concatenate([p[i] for p in parts]) for i in range(1, 4))
        return (tokens, *rest)  # type: ignore[return-value]

    # -- concat ---------------------------------------------------------------------------

    def _concat(self, final: bool) -> Iterator[PackedBatch]:
        seq_len = self.options.seq_len
        if self._pending_tokens < seq_len and not (final and self._pending_tokens):
            if final:
                self._pending = []
            return
        tokens, seg_lengths, seg_docs, seg_starts = self._take_pending()
        total = len(tokens)
        full_rows = total // seq_len
        keep_partial = final and total % seq_len and self.options.final == "pad"
        n_rows = full_rows + (1 if keep_partial else 0)
        packed_end = total if keep_partial else full_rows * seq_len
        # pieces: the stream cut at every segment boundary and every row boundary
        seg_bounds = np.concatenate([[0], np.cumsum(seg_lengths)])
        cuts = np.union1d(seg_bounds, np.arange(0, total + 1, seq_len))
        a, b = cuts[:-1], cuts[1:]
        segment = np.searchsorted(seg_bounds, a, side="right") - 1
        doc = seg_docs[segment]
        start_in_doc = seg_starts[segment] + (a - seg_bounds[segment])
        inside = a < packed_end
        length = b - a
        if final and not keep_partial:
            self.stats.dropped_tokens += int(length[~inside].sum())
            self.stats.dropped_pieces += int(np.count_nonzero(~inside))
        elif not final:
            rest = ~inside  # the partial last row waits for the next batch
            carry = tokens[packed_end:].copy()  # not a view that keeps the whole batch alive
            self._pending = [(carry, length[rest], doc[rest], start_in_doc[rest])]
            self._pending_tokens = total - packed_end
        a, length, doc, start_in_doc = a[inside], length[inside], doc[inside], start_in_doc[inside]
        row = a // seq_len
        offset = a - row * seq_len
        # a document is split when it has a piece that does not start at 0 or does not end it
        continued = doc[start_in_doc > 0]
        self.stats.split_documents += len(
            np.unique(continued[continued != self._last_split_document])
        )
        if len(continued):
            self._last_split_document = int(continued[-1])
        if not n_rows:
            return
        flat = tokens[:packed_end]
        if keep_partial:
            flat = np.concatenate(
                [flat, np.full(n_rows * seq_len - total, self.options.pad_id, np.uint32)]
            )
        self.stats.add_pieces(length, row, n_rows)
        yield self._emit(flat, row, offset, length, doc, start_in_doc, n_rows)

    def _emit(self, flat, row, offset, length, doc, start_in_doc, n_rows) -> PackedBatch:
        cu = _cu_seqlens(row, offset, length, n_rows)
        sequences = _packed_table(flat, cu, n_rows, self.options.seq_len)
        pieces = _pieces_table(doc, start_in_doc, length, row + self._next_row, offset)
        self._next_row += n_rows
        return PackedBatch(sequences, pieces)

    # -- best-fit -------------------------------------------------------------------------

    def _best_fit_add(self, tokens, lengths, ordinals) -> Iterator[PackedBatch]:
        """Cut windows at document boundaries once `window_tokens` is reached, whatever the
        input batches were."""
        limit = self.options.window_tokens
        bounds = np.concatenate([[0], np.cumsum(lengths)])
        first = 0
        while first < len(lengths):
            room = limit - self._pending_tokens
            # documents [first, last) fit in the room left; at least one when the window is empty
            last = int(np.searchsorted(bounds, bounds[first] + room, side="right")) - 1
            if last <= first and self._pending_tokens == 0:
                last = first + 1
            if last > first:
                lo, hi = bounds[first], bounds[last]
                starts = np.zeros(last - first, dtype=np.int64)
                self._pending.append(
                    (tokens[lo:hi], lengths[first:last], ordinals[first:last], starts)
                )
                self._pending_tokens += int(hi - lo)
                first = last
            if first < len(lengths) or self._pending_tokens >= limit:
                yield from self._best_fit_window()

    def _best_fit_window(self) -> Iterator[PackedBatch]:
        seq_len = self.options.seq_len
        tokens, lengths, docs, _ = self._take_pending(reuse_buffer=True)
        doc_starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
        n_full = lengths // seq_len
        remainder = lengths % seq_len
        self.stats.split_documents += int(np.count_nonzero(lengths > seq_len))
        # whole SEQ_LEN chunks of long documents: one row each
        full_doc = np.repeat(np.arange(len(lengths)), n_full)
        chunk = np.arange(len(full_doc)) - np.repeat(np.cumsum(n_full) - n_full, n_full)
        full_start = chunk * seq_len
        # the rest (short documents whole, long documents' remainders), longest first
        rest_doc = np.flatnonzero(remainder)
        rest_len = remainder[rest_doc]
        order = np.argsort(-rest_len, kind="stable")
        rest_doc, rest_len = rest_doc[order], rest_len[order]
        bins, rest_offset, n_bins = best_fit_decreasing(rest_len, seq_len)
        n_rows = len(full_doc) + n_bins
        piece_doc = np.concatenate([full_doc, rest_doc])
        piece_start = np.concatenate([full_start, n_full[rest_doc] * seq_len])
        piece_len = np.concatenate([np.full(len(full_doc), seq_len), rest_len])
        piece_bin = np.concatenate([np.arange(len(full_doc)), bins + len(full_doc)])
        piece_offset = np.concatenate([np.zeros(len(full_doc), np.int64), rest_offset])
        # rows in a seeded random order, then pieces by (row, offset)
        rng = np.random.default_rng([self.options.seed, self._windows])
        self._windows += 1
        row = rng.permutation(n_rows)[piece_bin]
        order = np.lexsort((piece_offset, row))
        row, piece_offset = row[order], piece_offset[order]
        piece_doc, piece_start, piece_len = piece_doc[order], piece_start[order], piece_len[order]
        flat = _gather_rows(
            tokens,
            doc_starts[piece_doc] + piece_start,
            piece_len,
            row,
            piece_offset,
            n_rows,
            seq_len,
            np.uint32(self.options.pad_id),
        )
        self.stats.add_pieces(piece_len, row, n_rows)
        yield self._emit(flat, row, piece_offset, piece_len, docs[piece_doc], piece_start, n_rows)


def position_ids(cu_seqlens: np.ndarray, seq_len: int) -> np.ndarray:
    """Position of every token of one packed row inside its document. Padding counts as one
    more segment from 0, so loaders that find documents where the position is 0 (Hugging Face's
    flattening collator) never attach it to the last document."""
    cu = np.asarray(cu_seqlens, dtype=np.int64)
    bounds = np.append(cu, seq_len) if cu[-1] < seq_len else cu
    positions = np.arange(seq_len, dtype=np.int64)
    return positions - np.repeat(bounds[:-1], np.diff(bounds))
