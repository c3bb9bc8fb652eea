"""A seeded global shuffle of tokenized documents that never holds the corpus in memory.

Every document gets a 64-bit random key from (seed, source, id) — and a second one from
(seed, its token ids) that breaks ties and stands in for a missing id — so a document's place
depends on nothing but the seed and the document: not on worker count, shard order or batch
sizes. Documents are scattered into K buckets by the top bits of the key (one Arrow IPC spill
file per input part, bucket runs as record batches); buckets are key ranges, so sorting each
bucket in memory and emitting the buckets in order gives the whole corpus sorted by key, that
is, shuffled. K comes from a memory budget; a bucket that still outgrows it (a skewed key, an
underestimated corpus) is split again on disk by key range rather than loaded. The output is
re-cut into tables of `batch_rows` rows, so the same seed gives byte-identical output whatever
the worker count or K. A part's spill is committed atomically (tmp + rename), so a killed run
resumes by scattering only the parts that are not done.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numba as nb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from textmill.io.writers import temporary_path
from textmill.text.hashing import mix

KEY_COLUMN = "__shuffle_key"
TIE_COLUMN = "__shuffle_tie"
STATE_FILE = "shuffle.json"
DEFAULT_MEMORY_BYTES = 1 << 30
DEFAULT_BATCH_ROWS = 8192
MAX_SPLIT_DEPTH = 8
# index columns of a part's record batches
BUCKET, ROWS, NBYTES, KEY_MIN, KEY_MAX, TIE_MIN, TIE_MAX = range(7)


class ShuffleError(ValueError):
    """A spill folder that belongs to another shuffle, or a table that cannot be shuffled."""


# ---- keys ------------------------------------------------------------------------------


@nb.njit(cache=True)
def _fold_bytes(h, data, start, end):
    for i in range(start, end):
        h = (h ^ np.uint64(data[i])) * np.uint64(0x100000001B3)
    return h


@nb.njit(cache=True)
def _string_keys(seed, src_off, src_data, src_valid, id_off, id_data, id_valid, fallback):
    n = len(fallback)
    out = np.empty(n, dtype=np.uint64)
    for r in range(n):
        if not id_valid[r]:
            out[r] = fallback[r]
            continue
        h = mix(np.uint64(0xCBF29CE484222325), seed)
        if src_valid[r]:
            h = _fold_bytes(h, src_data, src_off[r], src_off[r + 1])
        h = mix(h, np.uint64(0x1F))  # separator: ("ab", "c") and ("a", "bc") differ
        h = _fold_bytes(h, id_data, id_off[r], id_off[r + 1])
        out[r] = mix(h, seed)
    return out


@nb.njit(cache=True)
def _token_keys(seed, offsets, values):
    n = len(offsets) - 1
    out = np.empty(n, dtype=np.uint64)
    for r in range(n):
        h = mix(np.uint64(offsets[r + 1] - offsets[r]), seed)
        for i in range(offsets[r], offsets[r + 1]):
            h = (h ^ np.uint64(values[i])) * np.uint64(0x9E3779B97F4A7C15)
            h ^= h >> np.uint64(29)
        out[r] = mix(h, seed)
    return out


def _string_buffers(table: pa.Table, name: str, n: int):
    """(int64 offsets, uint8 data, bool valid) of a string column; all invalid if absent."""
    if name not in table.column_names:
        return np.zeros(n + 1, np.int64), np.zeros(0, np.uint8), np.zeros(n, bool)
    array = table.column(name).combine_chunks().cast(pa.large_string())
    valid = array.is_valid().to_numpy(zero_copy_only=False)
    _, offsets, data = array.buffers()
    offsets = np.frombuffer(offsets, np.int64)[array.offset : array.offset + n + 1]
    data = np.frombuffer(data, np.uint8) if data is not None else np.zeros(0, np.uint8)
    return offsets, data, valid


def shuffle_keys(table: pa.Table, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(key, tie) per row, both uint64: key from (seed, source, id), tie from (seed, token
    ids); a row without an id takes its tie as key, so id-less corpora spread too."""
    seed64 = np.uint64(seed % 2**64)
    ids = table.column("input_ids").combine_chunks()
    lengths = pc.fill_null(pc.list_value_length(ids), 0).to_numpy(zero_copy_only=False)
    offsets = np.zeros(len(lengths) + 1, np.int64)
    np.cumsum(lengths, out=offsets[1:])
    values = ids.flatten().to_numpy(zero_copy_only=False)
    tie = _token_keys(seed64, offsets, values)
    n = table.num_rows
    key = _string_keys(
        seed64, *_string_buffers(table, "source", n), *_string_buffers(table, "id", n), tie
    )
    return key, tie


# ---- spill -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ShuffleOptions:
    """seed; memory_bytes bounds what one bucket (and one writer's buffer) takes in memory;
    spill_token_type narrows token ids on disk (uint16 when the vocabulary fits); compression
    of the spill files (None, "lz4", "zstd")."""

    seed: int
    memory_bytes: int = DEFAULT_MEMORY_BYTES
    batch_rows: int = DEFAULT_BATCH_ROWS
    spill_token_type: str = "uint32"
    compression: str | None = None

    @property
    def bucket_bytes(self) -> int:
        """A bucket in memory is held twice while it is sorted, next to a writer buffer."""
        return max(self.memory_bytes // 4, 1)


def bucket_count(expected_bytes: int, options: ShuffleOptions) -> int:
    """A power of two K so that expected_bytes / K fits a bucket's share of the budget."""
    need = max(1, -(-int(expected_bytes) // options.bucket_bytes))
    return 1 << (need - 1).bit_length()


class RunWriter:
    """Scatters tables into buckets and writes each bucket's documents as record batches of
    about `batch_bytes` into one IPC file, with an index (bucket, rows, bytes, key and tie
    ranges) of its record batches. What waits in memory is bounded by the bucket budget.
    Committed by `close` (tmp + rename; the index goes last)."""

    def __init__(
        self,
        path: Path,
        bucket_of: Callable[[np.ndarray, np.ndarray], np.ndarray],
        options: ShuffleOptions,
        buckets: int,
    ):
        self.path = path
        self.bucket_of = bucket_of
        self.options = options
        # one record batch per bucket of about this much: big enough to read fast, small
        # enough that every bucket's waiting rows together stay within the budget
        self.batch_bytes = int(np.clip(options.bucket_bytes // (2 * buckets), 1 << 16, 8 << 20))
        self._pending: dict[int, list[pa.Table]] = {}
        self._pending_bytes: dict[int, int] = {}
        self._buffered = 0
        self._writer: pa.ipc.RecordBatchFileWriter | None = None
        self._schema: pa.Schema | None = None
        self._index: list[list[int]] = []
        self._tmp = temporary_path(path)

    def write(
        self, table: pa.Table, key: np.ndarray | None = None, tie: np.ndarray | None = None
    ) -> None:
        """Add documents; keys are computed unless given (a re-split passes them on)."""
        if isinstance(table, pa.RecordBatch):
            table = pa.Table.from_batches([table])
        if table.num_rows == 0:
            return
        if key is None or tie is None:
            key, tie = shuffle_keys(table, self.options.seed)
            index = table.schema.get_field_index("input_ids")
            narrow = pa.large_list(pa.type_for_alias(self.options.spill_token_type))
            try:
                table = table.set_column(index, "input_ids", table.column(index).cast(narrow))
            except pa.ArrowInvalid:
                raise ShuffleError(
                    f"a token id does not fit the spill type {self.options.spill_token_type}"
                ) from None
            table = table.append_column(KEY_COLUMN, pa.array(key)).append_column(
                TIE_COLUMN, pa.array(tie)
            )
        buckets = self.bucket_of(key, tie)
        if buckets.min() == buckets.max():
            self._add(int(buckets[0]), table)
        else:
            order = np.argsort(buckets, kind="stable")
            table, buckets = table.take(order), buckets[order]
            starts = np.flatnonzero(np.diff(buckets, prepend=-1))
            ends = np.append(starts[1:], len(buckets))
            for lo, hi in zip(starts.tolist(), ends.tolist(), strict=True):
                self._add(int(buckets[lo]), table.slice(lo, hi - lo))
        if self._buffered >= self.options.bucket_bytes:
            for bucket in list(self._pending):
                self._flush(bucket)

    def _add(self, bucket: int, run: pa.Table) -> None:
        size = run.nbytes
        self._pending.setdefault(bucket, []).append(run)
        self._pending_bytes[bucket] = self._pending_bytes.get(bucket, 0) + size
        self._buffered += size
        if self._pending_bytes[bucket] >= self.batch_bytes:
            self._flush(bucket)

    def _flush(self, bucket: int) -> None:
        runs = self._pending.pop(bucket, [])
        self._buffered -= self._pending_bytes.pop(bucket, 0)
        if not runs:
            return
        if self._writer is None:
            self._schema = runs[0].schema
            options = pa.ipc.IpcWriteOptions(compression=self.options.compression)
            self._writer = pa.ipc.new_file(str(self._tmp), self._schema, options=options)
        table = pa.concat_tables(runs, promote_options="permissive").cast(self._schema)
        batch = table.combine_chunks().to_batches()[0]
        key = batch.column(KEY_COLUMN).to_numpy()
        tie = batch.column(TIE_COLUMN).to_numpy()
        self._writer.write_batch(batch)
        self._index.append(
            [
                bucket,
                batch.num_rows,
                batch.nbytes,
                int(key.min()),
                int(key.max()),
                int(tie.min()),
                int(tie.max()),
            ]
        )

    def close(self) -> None:
        for bucket in sorted(self._pending):
            self._flush(bucket)
        if self._writer is not None:
            self._writer.close()
            self._tmp.replace(self.path)
        index = np.array(self._index, dtype=np.uint64).reshape(-1, 7)
        index_path = self.path.with_suffix(".index.npy")
        tmp_index = temporary_path(index_path)
        with open(tmp_index, "wb") as handle:
            np.save(handle, index)
        tmp_index.replace(index_path)

    def abort(self) -> None:
        if self._writer is not None:
            self._writer.close()
        self._tmp.unlink(missing_ok=True)

    def __enter__(self) -> RunWriter:
        return self

    def __exit__(self, kind, value, traceback) -> None:
        if kind is None:
            self.close()
        else:
            self.abort()


def _top_bits(bits: int) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    shift = np.uint64(64 - bits)
    if bits == 0:
        return lambda key, tie: np.zeros(len(key), np.int64)
    return lambda key, tie: (key >> shift).astype(np.int64)


def _range_split(lo: int, hi: int, parts: int, use_tie: bool):
    """Sub-bucket by value inside [lo, hi]: contiguous ranges, so sorted order is kept."""
    shift = np.uint64(max(0, (hi - lo).bit_length() - (parts - 1).bit_length()))
    lo64 = np.uint64(lo)

    def bucket_of(key: np.ndarray, tie: np.ndarray) -> np.ndarray:
        value = tie if use_tie else key
        return ((value - lo64) >> shift).astype(np.int64)

    return bucket_of


@dataclass
class _Run:
    """Record batches of one IPC file, and their index rows."""

    reader: pa.ipc.RecordBatchFileReader
    index: np.ndarray


def _open_run(path: Path) -> _Run:
    index = np.load(path.with_suffix(".index.npy")).reshape(-1, 7)
    if not len(index):
        return _Run(None, index)  # type: ignore[arg-type]
    # plain reads, not a memory map: mapped spill pages would count in the process's RSS until
    # the whole read ends, however little of them is in use
    return _Run(pa.ipc.open_file(pa.OSFile(str(path))), index)


class GlobalShuffle:
    """The on-disk state of one shuffle: FOLDER/shuffle.json (seed, K) and, per finished
    part, PART.arrow + PART.index.npy. Picklable; any process may write parts."""

    def __init__(self, folder: str | Path, options: ShuffleOptions, buckets: int):
        if buckets < 1 or buckets & (buckets - 1):
            raise ShuffleError(f"bucket count {buckets}: a power of two is needed")
        self.folder = Path(folder)
        self.options = options
        self.buckets = buckets

    @classmethod
    def create_or_resume(
        cls,
        folder: str | Path,
        options: ShuffleOptions,
        expected_bytes: int | None = None,
        buckets: int | None = None,
    ) -> GlobalShuffle:
        """Resume the spill in FOLDER when it was made with the same seed and token type;
        otherwise start it afresh there. K: `buckets`, else from expected_bytes, else 64."""
        folder = Path(folder)
        state_path = folder / STATE_FILE
        wanted = {"seed": options.seed, "spill_token_type": options.spill_token_type}
        if state_path.exists():
            state = json.loads(state_path.read_text())
            if {k: state.get(k) for k in wanted} == wanted:
                return cls(folder, options, int(state["buckets"]))
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir(parents=True)
        if buckets is None:
            buckets = bucket_count(expected_bytes, options) if expected_bytes else 64
        state_path.write_text(json.dumps({**wanted, "buckets": buckets}) + "\n")
        return cls(folder, options, buckets)

    def _part_path(self, part: str) -> Path:
        if not part or "/" in part or part.startswith("."):
            raise ShuffleError(f"part name {part!r}: a plain file name is needed")
        return self.folder / f"{part}.arrow"

    def done(self, part: str) -> bool:
        """The part's spill is committed: a resumed run skips it."""
        return self._part_path(part).with_suffix(".index.npy").exists()

    def writer(self, part: str) -> RunWriter:
        """A writer for one part (an input shard); use it as a context manager."""
        bits = self.buckets.bit_length() - 1
        return RunWriter(self._part_path(part), _top_bits(bits), self.options, self.buckets)

    def scatter(self, part: str, tables: Iterable[pa.Table]) -> None:
        """Spill one part's documents unless that part is already done."""
        if self.done(part):
            return
        with self.writer(part) as writer:
            for table in tables:
                writer.write(table)

    def parts(self) -> list[str]:
        return sorted(p.name[: -len(".index.npy")] for p in self.folder.glob("*.index.npy"))

    def read(self) -> Iterator[pa.Table]:
        """Every spilled document in key order, in tables of exactly `batch_rows` rows (the
        last may be shorter), with `input_ids` back as large_list<uint32>."""
        runs = [_open_run(self.folder / f"{part}.arrow") for part in self.parts()]
        rechunk = _Rechunker(self.options.batch_rows)
        for bucket in range(self.buckets):
            pieces = _batches_of(runs, bucket)
            for table, order in self._sorted(pieces, self.folder / f"split-{bucket}", 0):
                yield from rechunk.add(table, order)
        yield from rechunk.finish()

    def _sorted(
        self, pieces: list[tuple[_Run, int]], workdir: Path, depth: int
    ) -> Iterator[tuple[pa.Table, np.ndarray]]:
        """(bucket table, its rows' order by key) per bucket small enough for memory."""
        if not pieces:
            return
        rows = np.array([run.index[i] for run, i in pieces], dtype=np.uint64)
        nbytes = int(rows[:, NBYTES].sum())
        key_lo, key_hi = int(rows[:, KEY_MIN].min()), int(rows[:, KEY_MAX].max())
        tie_lo, tie_hi = int(rows[:, TIE_MIN].min()), int(rows[:, TIE_MAX].max())
        uniform = key_lo == key_hi and tie_lo == tie_hi  # identical documents: no split helps
        if nbytes <= self.options.bucket_bytes or uniform or depth >= MAX_SPLIT_DEPTH:
            # one contiguous copy: taking rows from many chunks would concatenate them per take
            table = _concat([run.reader.get_batch(i) for run, i in pieces]).combine_chunks()
            key = table.column(KEY_COLUMN).to_numpy()
            tie = table.column(TIE_COLUMN).to_numpy()
            yield table, np.lexsort((tie, key))
            return
        # too big for memory: scatter again by key range (tie range when the keys are equal)
        parts = 1 << max(1, (-(-nbytes // self.options.bucket_bytes) - 1).bit_length())
        use_tie = key_lo == key_hi
        lo, hi = (tie_lo, tie_hi) if use_tie else (key_lo, key_hi)
        workdir.mkdir(parents=True, exist_ok=True)
        path = workdir / "split.arrow"
        splitter = _range_split(lo, hi, parts, use_tie)
        with RunWriter(path, splitter, self.options, parts) as writer:
            for run, i in pieces:
                batch = pa.Table.from_batches([run.reader.get_batch(i)])
                key = batch.column(KEY_COLUMN).to_numpy()
                tie = batch.column(TIE_COLUMN).to_numpy()
                writer.write(batch, key, tie)
        sub = _open_run(path)
        for bucket in range(int(sub.index[:, BUCKET].max()) + 1 if len(sub.index) else 0):
            yield from self._sorted(
                _batches_of([sub], bucket), workdir / f"split-{bucket}", depth + 1
            )
        shutil.rmtree(workdir, ignore_errors=True)

    def remove(self) -> None:
        """Delete the spill once its output is written."""
        shutil.rmtree(self.folder, ignore_errors=True)


def _concat(batches: list[pa.RecordBatch]) -> pa.Table:
    """Batches of several parts; a column that is all null in one part may be typed there."""
    tables = [pa.Table.from_batches([batch]) for batch in batches]
    return pa.concat_tables(tables, promote_options="permissive")


def _batches_of(runs: list[_Run], bucket: int) -> list[tuple[_Run, int]]:
    return [(run, int(i)) for run in runs for i in np.flatnonzero(run.index[:, BUCKET] == bucket)]


class _Rechunker:
    """Tables of exactly `rows` rows taken in key order from sorted buckets, so each output
    table is compact whatever the bucket boundaries were (and only one bucket is held)."""

    def __init__(self, rows: int):
        self.rows = rows
        self._carry: pa.Table | None = None

    def add(self, table: pa.Table, order: np.ndarray) -> Iterator[pa.Table]:
        position = 0
        if self._carry is not None:
            need = self.rows - self._carry.num_rows
            head = table.take(order[:need])
            position = head.num_rows
            whole = pa.concat_tables([self._carry, head], promote_options="permissive")
            if whole.num_rows < self.rows:
                self._carry = whole.combine_chunks()
                return
            self._carry = None
            yield _restore(whole.combine_chunks())
        while len(order) - position >= self.rows:
            yield _restore(table.take(order[position : position + self.rows]))
            position += self.rows
        if position < len(order):
            self._carry = table.take(order[position:])

    def finish(self) -> Iterator[pa.Table]:
        if self._carry is not None:
            yield _restore(self._carry)
        self._carry = None


def _restore(table: pa.Table) -> pa.Table:
    table = table.drop_columns([KEY_COLUMN, TIE_COLUMN])
    index = table.schema.get_field_index("input_ids")
    ids = table.column(index).cast(pa.large_list(pa.uint32()))
    return table.set_column(index, "input_ids", ids)


def shuffle_tables(
    parts: Iterable[tuple[str, Iterable[pa.Table]]],
    folder: str | Path,
    options: ShuffleOptions,
    expected_bytes: int | None = None,
    buckets: int | None = None,
) -> Iterator[pa.Table]:
    """Scatter every (part name, tables) pair not already spilled, then yield the shuffled
    corpus; the spill folder stays until the caller calls `GlobalShuffle.remove`."""
    shuffle = GlobalShuffle.create_or_resume(folder, options, expected_bytes, buckets)
    for part, tables in parts:
        shuffle.scatter(part, tables)
    yield from shuffle.read()
