"""The tokenize job: inputs -> TOK, resumable per input shard, every document accounted for.

Two steps. (1) Each input shard is read through textmill's readers and tokenized in big
`encode_batch` calls (the tokenizer's Rust threads do the work; the flat token array, BOS/EOS
and the document offsets are built with numpy, never per token in Python) into its own token
table, `TOK/.textmill/work/SHARD.arrow`, with its counts in `TOK/.textmill/done/SHARD.json`: a
killed tokenize re-run with the same command redoes only the shards without one. (2) `finish`
streams the shard tables in input order into the format's writer and writes documents.parquet,
skipped.parquet, errors.jsonl and manifest.json.

Where packing and shuffling go: `finish` builds the stream

    documents = _document_tables(tok, shards)           # one DOCUMENT table per batch
    # [shuffle] documents = shuffle(documents, seed)   # textmill/tokens/shuffle.py
    # [pack]    sequences = pack(documents, seq_len)   # textmill/tokens/pack.py (PACKED tables)
    writer.write(table) for each table

and `TokenizeSettings` / `tokenize_settings_key` are where their options join the command's
identity (a resumed run must be the same command).

Counts reconcile: read = tokenized + skipped (by reason) + errored, where errored are the input
records a reader could not turn into documents. A document with no tokens is skipped ("empty":
an EOS alone teaches nothing); one with more than `max_tokens_per_doc` tokens (BOS/EOS included)
is skipped ("over_max_tokens") or, with `on_long="truncate"`, cut to that many (counted as
truncated, still tokenized).
"""

from __future__ import annotations

import json
import shlex
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from textmill import __version__
from textmill.document import ID, SOURCE, TEXT
from textmill.executors.output import (
    Layout,
    RunError,
    check_output_folder,
    output_lock,
    remove_owned,
)
from textmill.io import ReadOptions, Shard
from textmill.io.writers import (
    ParquetShardWriter,
    publish,
    temporary_path,
    write_errors,
    write_json_atomically,
)
from textmill.tokens.arrange import PIECES, Arrangement, check_arrange_settings
from textmill.tokens.engines import ENGINES
from textmill.tokens.formats import FORMATS, open_writer, writer_class
from textmill.tokens.formats.base import INPUT_IDS
from textmill.tokens.manifest import (
    DOCUMENT_INDEX_SCHEMA,
    DOCUMENTS,
    ERRORS,
    MANIFEST,
    SKIPPED,
    build_manifest,
)
from textmill.tokens.pack import DEFAULT_WINDOW_TOKENS
from textmill.tokens.reading import LANG, plan_inputs, read_documents
from textmill.tokens.shuffle import DEFAULT_MEMORY_BYTES
from textmill.tokens.tokenizer import (
    TextTokenizer,
    TokenizerError,
    load_tokenizer,
    token_dtype_for,
)
from textmill.tokens.workers import tokenize_in_workers, worker_count

TOKEN_TABLE_SCHEMA = pa.schema(
    [
        pa.field(ID, pa.string()),
        pa.field(SOURCE, pa.string()),
        pa.field(LANG, pa.string()),
        pa.field(INPUT_IDS, pa.large_list(pa.uint32())),
    ]
)
SKIPPED_SCHEMA = pa.schema(
    [
        pa.field(ID, pa.string()),
        pa.field(SOURCE, pa.string()),
        pa.field(LANG, pa.string()),
        pa.field("reason", pa.string()),
        pa.field("tokens", pa.int64()),
    ]
)
ON_LONG = ("skip", "truncate")
KIND = "tokenize"


@dataclass(frozen=True)
class TokenizeSettings:
    """Everything that decides the output; the CLI and the Python API build the same one."""

    format: str = "megatron"
    engine: str = "auto"  # tiktoken where it checks identical, else tokenizers (engines.py)
    bos: bool = False
    eos: bool = True
    bos_token: str | None = None  # a token name overriding the tokenizer's own BOS / EOS
    eos_token: str | None = None
    text_column: str = TEXT
    max_tokens_per_doc: int | None = None
    on_long: str = "skip"
    batch_size: int = 4096  # documents per encode_batch call
    overwrite: bool = False
    progress: bool = False
    workers: int = 0  # shards tokenized at once in worker processes; 0: one per core (workers.py)
    # packing and shuffling (textmill/tokens/arrange.py)
    pack: int | None = None  # SEQ_LEN
    packing: str = "concat"
    pack_remainder: str = "pad"  # concat's last partial sequence: pad or drop
    pack_window_tokens: int = DEFAULT_WINDOW_TOKENS  # best-fit packs this many tokens at once
    pad_id: int | None = None  # default: the tokenizer's pad, else its EOS, else 0
    shuffle_seed: int | None = None
    shuffle_memory_bytes: int = DEFAULT_MEMORY_BYTES  # one shuffle bucket in memory, at most

    def check(self) -> None:
        check_arrange_settings(self)
        if self.format not in FORMATS:
            raise RunError(f"unknown --format {self.format!r} (have: {', '.join(FORMATS)})")
        if self.engine not in ENGINES:
            raise RunError(f"unknown --engine {self.engine!r} (have: {', '.join(ENGINES)})")
        if self.on_long not in ON_LONG:
            raise RunError(f"unknown --on-long {self.on_long!r} (have: {', '.join(ON_LONG)})")
        if (
            self.max_tokens_per_doc is not None
            and self.max_tokens_per_doc < 1 + self.bos + self.eos
        ):
            raise RunError(
                f"--max-tokens-per-doc {self.max_tokens_per_doc} leaves no room for text "
                "beside BOS/EOS"
            )
        if self.batch_size < 1:
            raise RunError("--batch-size must be at least 1")
        if isinstance(self.workers, bool) or not isinstance(self.workers, int) or self.workers < 0:
            raise RunError(f"--workers must be a whole number >= 0 (got {self.workers!r})")
        if not self.text_column:
            raise RunError("--text-column must name a column")


@dataclass
class Specials:
    """The ids added around each document (None: not added)."""

    bos: int | None
    eos: int | None

    @property
    def count(self) -> int:
        return (self.bos is not None) + (self.eos is not None)


def resolve_specials(tokenizer: TextTokenizer, settings: TokenizeSettings) -> Specials:
    def pick(wanted: bool, token: str | None, own: int | None, role: str) -> int | None:
        if token is not None:
            return tokenizer.token_id(token) if wanted else None
        if wanted and own is None:
            flag = f"--no-{role}" if role == "eos" else f"--{role}"
            raise TokenizerError(
                f"tokenizer {tokenizer.name} has no {role.upper()} token: name one with "
                f"--{role}-token TOKEN, or drop {flag}"
            )
        return own if wanted else None

    return Specials(
        pick(settings.bos, settings.bos_token, tokenizer.bos_id, "bos"),
        pick(settings.eos, settings.eos_token, tokenizer.eos_id, "eos"),
    )


@dataclass
class ShardCounts:
    """What one shard gave; summed into the manifest."""

    read: int = 0
    tokenized: int = 0
    tokens: int = 0
    errored: int = 0
    truncated: int = 0
    skipped: dict[str, int] = field(default_factory=dict)  # by reason
    reader_skipped: dict[str, int] = field(default_factory=dict)  # non-document records
    errors: list[dict[str, Any]] = field(default_factory=list)

    def add_skipped(self, reason: str, count: int) -> None:
        if count:
            self.skipped[reason] = self.skipped.get(reason, 0) + int(count)


# ---------------------------------------------------------------- tokenizing one batch


def tokenize_batch(
    docs: pa.Table,
    tokenizer: TextTokenizer,
    specials: Specials,
    settings: TokenizeSettings,
    counts: ShardCounts,
) -> tuple[pa.Table, pa.Table]:
    """The batch's token table (TOKEN_TABLE_SCHEMA) and its skipped documents (SKIPPED_SCHEMA)."""
    n = docs.num_rows
    has_text = pc.fill_null(pc.invert(pc.is_null(docs[TEXT])), False).to_numpy(zero_copy_only=False)
    texts = docs[TEXT].filter(pa.array(has_text)).to_pylist()
    arrays = tokenizer.encode_arrays(texts)
    text_lengths = np.fromiter(map(len, arrays), dtype=np.int64, count=len(arrays))
    lengths = np.zeros(n, np.int64)
    lengths[has_text] = text_lengths
    reasons = np.full(n, None, dtype=object)
    reasons[~has_text] = "no_text"
    reasons[has_text & (lengths == 0)] = "empty"
    extra = specials.count
    limit = np.full(n, np.iinfo(np.int64).max, np.int64)
    if settings.max_tokens_per_doc is not None:
        over = has_text & (lengths + extra > settings.max_tokens_per_doc)
        if settings.on_long == "skip":
            reasons[over] = "over_max_tokens"
        else:
            limit[over] = settings.max_tokens_per_doc - extra
            counts.truncated += int(over.sum())
    kept = np.equal(reasons, None)
    tokens, out_lengths = _assemble(arrays, kept[has_text], limit[has_text], specials)
    offsets = np.zeros(out_lengths.size + 1, np.int64)
    np.cumsum(out_lengths, out=offsets[1:])
    keep_mask = pa.array(kept)
    table = pa.table(
        {
            ID: docs[ID].filter(keep_mask),
            SOURCE: docs[SOURCE].filter(keep_mask),
            LANG: docs[LANG].filter(keep_mask),
            INPUT_IDS: pa.LargeListArray.from_arrays(pa.array(offsets), pa.array(tokens)),
        },
        schema=TOKEN_TABLE_SCHEMA,
    )
    dropped = pa.array(~kept)
    skipped = pa.table(
        {
            ID: docs[ID].filter(dropped),
            SOURCE: docs[SOURCE].filter(dropped),
            LANG: docs[LANG].filter(dropped),
            "reason": pa.array(reasons[~kept].tolist(), pa.string()),
            "tokens": pa.array(lengths[~kept] + np.where(has_text[~kept], extra, 0)),
        },
        schema=SKIPPED_SCHEMA,
    )
    counts.read += n
    counts.tokenized += table.num_rows
    counts.tokens += int(tokens.size)
    for reason, count in zip(
        *np.unique(reasons[~kept].astype(str), return_counts=True), strict=True
    ):
        counts.add_skipped(str(reason), int(count))
    return table, skipped


def _assemble(
    arrays: list[np.ndarray], kept: np.ndarray, limit: np.ndarray, specials: Specials
) -> tuple[np.ndarray, np.ndarray]:
    """The kept documents' tokens back to back, each cut at its limit with BOS/EOS around it,
    and each one's length: one output array, each body copied into its slot and BOS/EOS set
    by index (no Python per token; no second copy of the tokens, as a concatenation of
    pieces and then an insertion would make)."""
    index = np.flatnonzero(kept)
    bodies = [arrays[i] for i in index.tolist()]
    lengths = np.fromiter(map(len, bodies), dtype=np.int64, count=len(bodies))
    for j in np.flatnonzero(lengths > limit[index]).tolist():
        bodies[j] = bodies[j][: limit[index[j]]]
        lengths[j] = len(bodies[j])
    out_lengths = lengths + specials.count
    ends = np.cumsum(out_lengths)
    out = np.empty(int(ends[-1]) if ends.size else 0, np.uint32)
    starts = ends - out_lengths
    for body, start in zip(bodies, (starts + (specials.bos is not None)).tolist(), strict=True):
        out[start : start + len(body)] = body
    if specials.bos is not None:
        out[starts] = specials.bos
    if specials.eos is not None:
        out[ends - 1] = specials.eos
    return out, out_lengths


# ---------------------------------------------------------------- the TOK folder


@dataclass(frozen=True)
class TokLayout:
    """Where tokenize's files live in TOK (the run layout's state folder and lock)."""

    layout: Layout

    @property
    def out(self) -> Path:
        return self.layout.out

    def work(self, shard: str) -> Path:
        return self.layout.state / "work" / f"{shard}.arrow"

    def skipped(self, shard: str) -> Path:
        return self.layout.state / "work" / f"{shard}.skipped.parquet"

    def done(self, shard: str) -> Path:
        return self.layout.state / "done" / f"{shard}.json"


def tokenize_settings_key(
    tokenizer: TextTokenizer, settings: TokenizeSettings, shards: Sequence[Shard]
) -> dict[str, Any]:
    """What makes two tokenize commands the same job (a resume must match it)."""
    options = asdict(settings)
    # they do not change the output (the shuffle's bytes do not depend on its memory budget,
    # nor the files on the worker count): a resume may change them
    for name in ("overwrite", "progress", "batch_size", "shuffle_memory_bytes", "workers"):
        options.pop(name)
    return {
        "tokenizer_sha256": tokenizer.sha256,
        "settings": options,
        "inputs": [[s.name, list(s.paths)] for s in shards],
    }


def _prepare(tok: TokLayout, key: dict[str, Any], fmt: str, overwrite: bool) -> None:
    """Start, resume or (with overwrite) restart the job in TOK, under its lock."""
    layout = tok.layout
    if layout.manifest.is_file():
        try:
            old = json.loads(layout.manifest.read_text("utf-8"))
        except ValueError:
            old = {}
        if old.get("kind") != KIND:
            raise RunError(
                f"{tok.out} holds the output of a `textmill {old.get('kind', 'run')}`, not of "
                "tokenize; choose another output folder"
            )
        same = old.get("job") == key
        if not same and not overwrite:
            raise RunError(
                f"{tok.out} holds a tokenize of other inputs, tokenizer or options; pass "
                "--overwrite (overwrite=True) to replace it, or choose another folder"
            )
        remove_owned(layout, old, finished=not same or overwrite)
        if same and not overwrite:
            return
    # the files it will write, named before any is written: a killed run's half-written files
    # (temporary names beside them) are then this folder's to remove on resume or --overwrite
    files = sorted({*writer_class(fmt).FIXED_FILES, DOCUMENTS, MANIFEST, SKIPPED, ERRORS, PIECES})
    manifest = {"kind": KIND, "version": __version__, "job": key, "shards": [], "files": files}
    write_json_atomically(manifest, layout.manifest)


def _record_files(tok: TokLayout, files: Sequence[str]) -> None:
    """Name the files tokenize wrote in the run manifest, so --overwrite removes exactly them."""
    manifest = json.loads(tok.layout.manifest.read_text("utf-8"))
    manifest["files"] = sorted({*manifest.get("files", []), *files})
    write_json_atomically(manifest, tok.layout.manifest)


def tokenize_shard(
    tok: TokLayout,
    shard: Shard,
    tokenizer: TextTokenizer,
    specials: Specials,
    settings: TokenizeSettings,
    read_options: ReadOptions,
) -> ShardCounts:
    """Tokenize one shard into its work files and mark it done."""
    counts = ShardCounts()
    final = tok.work(shard.name)
    final.parent.mkdir(parents=True, exist_ok=True)
    temporary = temporary_path(final)
    skipped = ParquetShardWriter(tok.skipped(shard.name))
    try:
        with pa.ipc.new_file(temporary, TOKEN_TABLE_SCHEMA) as work:
            for batch in read_documents(shard, read_options):
                for error in batch.errors:
                    counts.errored += error.counted
                    counts.read += error.counted
                    counts.errors.append(error.__dict__)
                for kind, count in batch.skipped.items():
                    counts.reader_skipped[kind] = counts.reader_skipped.get(kind, 0) + count
                if batch.docs.num_rows == 0:
                    continue
                table, dropped = tokenize_batch(batch.docs, tokenizer, specials, settings, counts)
                work.write_table(table)
                if dropped.num_rows:
                    skipped.write(dropped)
    except BaseException:
        temporary.unlink(missing_ok=True)
        skipped.abort()
        raise
    skipped.close()
    publish(temporary, final)
    write_json_atomically(asdict(counts), tok.done(shard.name))
    return counts


def _document_tables(tok: TokLayout, shards: Sequence[Shard]) -> Iterator[pa.Table]:
    """The token tables of every shard in input order, one record batch at a time."""
    for shard in shards:
        # plain reads: a memory map's touched pages would count in RSS until the shard ends
        with pa.OSFile(str(tok.work(shard.name))) as source:
            reader = pa.ipc.open_file(source)
            for i in range(reader.num_record_batches):
                yield pa.Table.from_batches([reader.get_batch(i)])


def finish(
    tok: TokLayout,
    shards: Sequence[Shard],
    tokenizer: TextTokenizer,
    specials: Specials,
    settings: TokenizeSettings,
    totals: ShardCounts,
    unknown_files: Sequence[str],
    command: str,
    started: float,
    this_run: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Write the format files, documents.parquet, skipped.parquet, errors.jsonl and
    manifest.json from the finished shards; returns the manifest."""
    out = tok.out
    writer = open_writer(settings.format, out, tokenizer.vocab_size, tokenizer.name)
    documents = ParquetShardWriter(out / DOCUMENTS)
    arrangement = Arrangement.for_tokenize(settings, tok.layout.state, out, tokenizer)
    by_name = {shard.name: shard for shard in shards}
    try:
        ordered = arrangement.documents(
            by_name,
            lambda name: _document_tables(tok, [by_name[name]]),
            expected_bytes=sum(tok.work(name).stat().st_size for name in by_name),
        )
        for rows, index in arrangement.rows(ordered):
            writer.write(rows)
            documents.write(index)
        written = writer.close()
        written["files"] = [*written["files"], *arrangement.close()]
        _record_files(tok, written["files"])
    except BaseException:
        writer.abort()
        documents.abort()
        arrangement.abort()
        raise
    if documents.close() is None:  # no document at all: still a readable, empty table
        pq.write_table(DOCUMENT_INDEX_SCHEMA.empty_table(), out / DOCUMENTS)
    files = [*written["files"], DOCUMENTS, MANIFEST]
    skipped_tables = [
        pq.read_table(tok.skipped(s.name)) for s in shards if tok.skipped(s.name).is_file()
    ]
    if skipped_tables:
        pq.write_table(pa.concat_tables(skipped_tables), out / SKIPPED, compression="zstd")
        files.append(SKIPPED)
    if write_errors(totals.errors, out / ERRORS):
        files.append(ERRORS)
    manifest = build_manifest(
        totals=totals,
        tokenizer=tokenizer,
        settings=settings,
        specials=specials,
        written=written,
        documents=pq.read_table(out / DOCUMENTS, columns=[SOURCE, LANG, "tokens"]),
        inputs=[p for s in shards for p in s.paths],
        unreadable=list(unknown_files),
        command=command,
        seconds=time.perf_counter() - started,
    )
    manifest.update(arrangement.stats())
    if this_run is not None:  # what this invocation did (a resume kept the rest): its rate
        manifest["this_run"] = this_run
    write_json_atomically(manifest, out / MANIFEST)
    _record_files(tok, files)
    return manifest


# ---------------------------------------------------------------- the job


def run_tokenize(
    inputs: Sequence[str | Path] | str | Path,
    out: str | Path,
    tokenizer: str | Path | TextTokenizer,
    settings: TokenizeSettings,
    *,
    command: str | None = None,
    log=None,
) -> dict[str, Any]:
    """Tokenize `inputs` into the TOK folder `out`; returns manifest.json's content."""
    settings.check()
    if isinstance(inputs, (str, Path)):
        inputs = [inputs]
    out = Path(out)
    say = log or (lambda message: None)
    if isinstance(tokenizer, TextTokenizer):
        loaded = tokenizer
    else:
        loaded = load_tokenizer(tokenizer, engine=settings.engine)
    specials = resolve_specials(loaded, settings)
    _check_vocabulary(loaded, settings.format)
    check_output_folder(out)
    shards, unknown = plan_inputs([str(i) for i in inputs], str(out))
    if not shards:
        raise RunError("no readable input files (unknown formats: " + ", ".join(unknown) + ")")
    if command is None:
        command = shlex.join([Path(sys.argv[0]).name, *sys.argv[1:]])
    layout = Layout(out)
    tok = TokLayout(layout)
    read_options = ReadOptions(batch_size=settings.batch_size, text_field=settings.text_column)
    key = tokenize_settings_key(loaded, settings, shards)
    with output_lock(layout):
        _prepare(tok, key, settings.format, settings.overwrite)
        started = time.perf_counter()
        _settle_engine(loaded, shards, read_options)
        by_shard: dict[str, ShardCounts] = {}
        pending: list[Shard] = []
        for number, shard in enumerate(shards, 1):
            done = tok.done(shard.name)
            if done.is_file() and tok.work(shard.name).is_file():
                by_shard[shard.name] = ShardCounts(**json.loads(done.read_text("utf-8")))
                say(f"shard {number}/{len(shards)} {shard.name}: done before, kept")
            else:
                pending.append(shard)
        number_of = {shard.name: number for number, shard in enumerate(shards, 1)}

        def tokenized(shard: Shard, counts: ShardCounts) -> None:
            by_shard[shard.name] = counts
            say(
                f"shard {number_of[shard.name]}/{len(shards)} {shard.name}: "
                f"{counts.tokenized:,} documents, {counts.tokens:,} tokens"
            )

        def one(shard: Shard) -> ShardCounts:
            return tokenize_shard(tok, shard, loaded, specials, settings, read_options)

        workers = worker_count(settings.workers, len(pending))
        if workers == 1:  # in this process, the tokenizer using its own threads
            for shard in pending:
                tokenized(shard, one(shard))
        else:
            tokenize_in_workers(one, pending, workers, lambda i, c: tokenized(pending[i], c))
        totals = ShardCounts()
        for shard in shards:  # in input order, whatever order the workers finished in
            _add(totals, by_shard[shard.name])
        this_run = {
            "workers": workers if pending else 0,
            "shards_tokenized": len(pending),
            "shards_kept": len(shards) - len(pending),
            "tokens": sum(by_shard[s.name].tokens for s in pending),
        }
        manifest = finish(
            tok, shards, loaded, specials, settings, totals, unknown, command, started, this_run
        )
    return manifest


def _settle_engine(
    tokenizer: TextTokenizer, shards: Sequence[Shard], read_options: ReadOptions
) -> None:
    """`--engine auto` decides on the input's first batch of text, here, before any shard is
    tokenized: the same engine (and manifest) whatever the worker count (forked workers
    inherit the decision) and whichever shards a resume redoes."""
    for shard in shards:
        if tokenizer.settled:
            return
        for batch in read_documents(shard, read_options):
            if batch.docs.num_rows:
                texts = batch.docs[TEXT]
                tokenizer.settle(texts.filter(pc.invert(pc.is_null(texts))).to_pylist())
                if tokenizer.settled:
                    return


def _check_vocabulary(tokenizer: TextTokenizer, fmt: str) -> None:
    """A vocabulary the token files cannot hold is refused before any shard is tokenized."""
    token_dtype_for(tokenizer.vocab_size)
    if fmt == "megatron":
        from textmill.tokens.formats.megatron import megatron_dtype

        megatron_dtype(tokenizer.vocab_size)


def _add(totals: ShardCounts, counts: ShardCounts) -> None:
    totals.read += counts.read
    totals.tokenized += counts.tokenized
    totals.tokens += counts.tokens
    totals.errored += counts.errored
    totals.truncated += counts.truncated
    for reason, count in counts.skipped.items():
        totals.add_skipped(reason, count)
    for kind, count in counts.reader_skipped.items():
        totals.reader_skipped[kind] = totals.reader_skipped.get(kind, 0) + count
    totals.errors.extend(counts.errors)
