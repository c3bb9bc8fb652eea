"""The order and shape in which a trainer reads a TOK folder: documents shuffled globally by a
seeded key (textmill/tokens/shuffle.py) and packed into SEQ_LEN sequences
(textmill/tokens/pack.py), between tokenize's shard tables and the format's writer.

`Arrangement.rows` turns the shard token tables into (rows for the writer, rows of
documents.parquet) pairs. Unpacked, a writer row is a document and `offset` is its first token
in the flat token stream. Packed, a writer row is a training sequence; documents.parquet keeps
one row per document (its `offset`: where its first token went in the flat stream of
sequences, sequence * SEQ_LEN + position) and TOK/pieces.parquet says where every piece of
every document went (document = its row in documents.parquet).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from textmill.document import ID, SOURCE
from textmill.executors.output import RunError
from textmill.io.writers import ParquetShardWriter
from textmill.tokens.formats.base import CU_SEQLENS, INPUT_IDS
from textmill.tokens.pack import (
    DEFAULT_WINDOW_TOKENS,
    PACKED_SCHEMA,
    PackedBatch,
    Packer,
    PackError,
    PackOptions,
)
from textmill.tokens.reading import LANG
from textmill.tokens.shuffle import DEFAULT_MEMORY_BYTES, GlobalShuffle, ShuffleOptions

PIECES = "pieces.parquet"
SHUFFLE_STATE = "shuffle"
POSITION_IDS = "position_ids"
MIN_SHUFFLE_MEMORY = 1 << 16


def pad_id_for(tokenizer: Any, pad_id: int | None) -> int:
    """The id that fills a packed sequence: the one asked for, else the tokenizer's pad, else
    its EOS (what Megatron's --eod-mask-loss masks), else 0. cu_seqlens marks padding anyway."""
    for candidate in (pad_id, tokenizer.pad_id, tokenizer.eos_id):
        if candidate is not None:
            return int(candidate)
    return 0


def with_position_ids(sequences: pa.Table, seq_len: int) -> pa.Table:
    """Add each token's position inside its document (padding: one more segment from 0), the
    column Hugging Face's packed-sequence attention reads instead of cu_seqlens."""
    cu = sequences.column(CU_SEQLENS).combine_chunks()
    rows = sequences.num_rows
    bounds = cu.flatten().to_numpy().astype(np.int64)
    row_of = np.repeat(np.arange(rows), np.asarray(cu.value_lengths()).astype(np.int64))
    starts = (row_of * seq_len + bounds)[bounds < seq_len]  # a full row's end starts nothing
    last_start = np.zeros(rows * seq_len, np.int64)
    last_start[starts] = starts
    np.maximum.accumulate(last_start, out=last_start)
    positions = (np.arange(rows * seq_len, dtype=np.int64) - last_start).astype(np.int32)
    offsets = pa.array(np.arange(rows + 1, dtype=np.int32) * seq_len)
    column = pa.ListArray.from_arrays(offsets, pa.array(positions))
    return sequences.append_column(POSITION_IDS, column)


@dataclass(frozen=True)
class ArrangeSettings:
    """What tokenize was asked: pack (SEQ_LEN or None), the packing method, what the last
    partial concat sequence becomes, the best-fit window, the shuffle seed (None: input
    order) and the memory one shuffle bucket may take."""

    pack: int | None = None
    packing: str = "concat"
    pack_remainder: str = "pad"
    pack_window_tokens: int = DEFAULT_WINDOW_TOKENS
    shuffle_seed: int | None = None
    shuffle_memory_bytes: int = DEFAULT_MEMORY_BYTES


def check_arrange_settings(settings: Any) -> None:
    """Refuse packing and shuffling options that cannot work, before any shard is read."""
    if settings.pack is None:
        if settings.packing != "concat":
            raise RunError(f"--packing {settings.packing} needs --pack SEQ_LEN")
    else:
        try:
            PackOptions(
                seq_len=settings.pack,
                method=settings.packing,
                pad_id=settings.pad_id or 0,
                final=settings.pack_remainder,
                window_tokens=settings.pack_window_tokens,
            )
        except PackError as exc:
            raise RunError(str(exc)) from None
    if settings.shuffle_seed is not None and settings.shuffle_seed < 0:
        raise RunError(f"--shuffle-seed {settings.shuffle_seed}: a seed is 0 or more")
    if settings.shuffle_memory_bytes < MIN_SHUFFLE_MEMORY:
        raise RunError(
            f"--shuffle-memory {settings.shuffle_memory_bytes:,} bytes: at least "
            f"{MIN_SHUFFLE_MEMORY:,}"
        )


class Arrangement:
    """Shuffle, then pack, then hand rows to the writer; `stats()` for the manifest."""

    @classmethod
    def for_tokenize(cls, settings: Any, state: Path, out: Path, tokenizer: Any) -> Arrangement:
        """The arrangement a tokenize's settings ask for (TokenizeSettings' fields)."""
        arrange = ArrangeSettings(
            pack=settings.pack,
            packing=settings.packing,
            pack_remainder=settings.pack_remainder,
            pack_window_tokens=settings.pack_window_tokens,
            shuffle_seed=settings.shuffle_seed,
            shuffle_memory_bytes=settings.shuffle_memory_bytes,
        )
        return cls(
            arrange,
            state,
            out,
            pad_id=pad_id_for(tokenizer, settings.pad_id),
            spill_token_type=np.dtype(tokenizer.token_dtype).name,
            position_ids=settings.format == "parquet",
        )

    def __init__(
        self,
        settings: ArrangeSettings,
        state: Path,
        out: Path,
        pad_id: int,
        spill_token_type: str,
        position_ids: bool = False,
    ):
        self.settings = settings
        self.state = state
        self.out = out
        self.position_ids = position_ids
        self.packer = (
            Packer(
                PackOptions(
                    seq_len=settings.pack,
                    method=settings.packing,  # type: ignore[arg-type]
                    pad_id=pad_id,
                    final=settings.pack_remainder,  # type: ignore[arg-type]
                    window_tokens=settings.pack_window_tokens,
                    seed=settings.shuffle_seed or 0,
                )
            )
            if settings.pack
            else None
        )
        self.shuffle: GlobalShuffle | None = None
        self.spill_token_type = spill_token_type
        self._pieces: ParquetShardWriter | None = None

    def documents(
        self,
        shard_names: Iterable[str],
        shard_tables: Callable[[str], Iterator[pa.Table]],
        expected_bytes: int | None = None,
    ) -> Iterator[pa.Table]:
        """Document tables in output order: the shards in order, or, shuffled, every shard
        scattered (a shard already spilled by a killed run is not redone) and read back;
        expected_bytes (the shards' token tables) sets the bucket count."""
        names = list(shard_names)
        if self.settings.shuffle_seed is None:
            for name in names:
                yield from shard_tables(name)
            return
        options = ShuffleOptions(
            seed=self.settings.shuffle_seed,
            memory_bytes=self.settings.shuffle_memory_bytes,
            spill_token_type=self.spill_token_type,
        )
        self.shuffle = GlobalShuffle.create_or_resume(
            self.state / SHUFFLE_STATE, options, expected_bytes=expected_bytes
        )
        for name in names:
            self.shuffle.scatter(name, shard_tables(name))
        yield from self.shuffle.read()

    def rows(self, documents: Iterator[pa.Table]) -> Iterator[tuple[pa.Table, pa.Table]]:
        """(writer rows, documents.parquet rows) in output order."""
        if self.packer is None:
            offset = 0
            for table in documents:
                lengths = _lengths(table)
                starts = offset + np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
                offset += int(lengths.sum())
                yield table, _index(table, lengths, starts)
            return
        self._pieces = ParquetShardWriter(self.out / PIECES)
        pending = _PendingDocuments()
        for table in documents:
            pending.add(table)
            for packed in self.packer.add(table):
                yield from self._emit(packed, pending)
        for packed in self.packer.finish():
            yield from self._emit(packed, pending)
        tail = pending.release_all()
        if tail is not None:
            yield self._empty_rows(), tail

    def _emit(self, packed: PackedBatch, pending: _PendingDocuments):
        self._pieces.write(packed.pieces)  # type: ignore[union-attr]
        pending.locate(packed.pieces, self.settings.pack)  # type: ignore[arg-type]
        rows = packed.sequences
        if self.position_ids:
            rows = with_position_ids(rows, self.settings.pack)  # type: ignore[arg-type]
        ready = pending.release()
        yield rows, ready if ready is not None else _index_schema().empty_table()

    def _empty_rows(self) -> pa.Table:
        return PACKED_SCHEMA.empty_table()

    def close(self) -> list[str]:
        """Publish pieces.parquet; drop the shuffle spill (the output is written)."""
        files = []
        if self._pieces is not None and self._pieces.close() is not None:
            files.append(PIECES)
        if self.shuffle is not None:
            self.shuffle.remove()
        return files

    def abort(self) -> None:
        if self._pieces is not None:
            self._pieces.abort()

    def stats(self) -> dict[str, Any]:
        """manifest.json's `packing` and `shuffle` entries."""
        result: dict[str, Any] = {}
        if self.packer is not None:
            result["packing"] = {
                **self.packer.stats.to_json(),
                "pad_id": self.packer.options.pad_id,
                "remainder": self.settings.pack_remainder,
                "window_tokens": self.settings.pack_window_tokens,
            }
        if self.shuffle is not None:
            result["shuffle"] = {
                "seed": self.settings.shuffle_seed,
                "buckets": self.shuffle.buckets,
                "memory_bytes": self.settings.shuffle_memory_bytes,
            }
        return result


def _lengths(table: pa.Table) -> np.ndarray:
    return pc.fill_null(pc.list_value_length(table[INPUT_IDS]), 0).to_numpy().astype(np.int64)


def _index_schema() -> pa.Schema:
    from textmill.tokens.manifest import DOCUMENT_INDEX_SCHEMA

    return DOCUMENT_INDEX_SCHEMA


def _index(table: pa.Table, lengths: np.ndarray, offsets: np.ndarray) -> pa.Table:
    return pa.table(
        {
            ID: table[ID],
            SOURCE: table[SOURCE],
            LANG: table[LANG],
            "tokens": pa.array(lengths, pa.int64()),
            "offset": pa.array(offsets, pa.int64()),
        },
        schema=_index_schema(),
    )


class _PendingDocuments:
    """Documents fed to the packer whose first token has no place yet; released in order as
    the packer places them (a best-fit window, or concat's rows, at a time)."""

    def __init__(self) -> None:
        self._tables: list[pa.Table] = []
        self._offsets = np.zeros(0, np.int64)  # -1: not placed yet
        self._lengths = np.zeros(0, np.int64)
        self._base = 0  # ordinal of the first pending document

    def add(self, table: pa.Table) -> None:
        lengths = _lengths(table)
        self._tables.append(table.select([ID, SOURCE, LANG]))
        self._lengths = np.concatenate([self._lengths, lengths])
        # an empty document has no token to place: it is placed where it stands
        self._offsets = np.concatenate([self._offsets, np.where(lengths == 0, -2, -1)])

    def locate(self, pieces: pa.Table, seq_len: int) -> None:
        start = pieces.column("start").to_numpy()
        first = start == 0
        doc = pieces.column("document").to_numpy()[first] - self._base
        where = pieces.column("sequence").to_numpy()[first] * seq_len
        self._offsets[doc] = where + pieces.column("offset").to_numpy()[first]

    def release(self) -> pa.Table | None:
        placed = np.flatnonzero(self._offsets == -1)
        count = int(placed[0]) if len(placed) else len(self._offsets)
        return self._take(count)

    def release_all(self) -> pa.Table | None:
        return self._take(len(self._offsets))

    def _take(self, count: int) -> pa.Table | None:
        if count == 0:
            return None
        meta = pa.concat_tables(self._tables) if len(self._tables) > 1 else self._tables[0]
        ready, rest = meta.slice(0, count), meta.slice(count)
        offsets = self._offsets[:count]
        table = pa.table(
            {
                ID: ready[ID],
                SOURCE: ready[SOURCE],
                LANG: ready[LANG],
                "tokens": pa.array(self._lengths[:count], pa.int64()),
                # a document dropped with concat's last partial sequence has no place: null
                "offset": pa.array(offsets, pa.int64(), mask=offsets < 0),
            },
            schema=_index_schema(),
        )
        self._tables = [rest] if rest.num_rows else []
        self._offsets, self._lengths = self._offsets[count:], self._lengths[count:]
        self._base += count
        return table
