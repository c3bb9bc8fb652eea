"""`textmill mix SPEC.yaml -o MIX`: plan a mixture from its sources and write it.

MIX holds manifest.json (requested next to realized, per group and per source, in tokens and
documents; epochs; the spec; the command) and one of:
- data/*.parquet: the selected documents as text (format `text`), shuffled by the seed, which
  `textmill tokenize MIX/data` (or another mix) reads;
- tokens/: a TOK folder (format megatron, memmap or parquet) written by `textmill tokenize`
  from the selected documents, shuffled with its seeded global shuffle;
- blend.txt: Megatron-LM's `--data-path` line, "w1 prefix1 w2 prefix2 ...", weights for the
  requested shares from the TOK sources' token counts (format `blend`).
A repeated document's k-th extra copy has the id `<id>#copy<k>` (as `rehydrate` materialises).
"""

from __future__ import annotations

import json
import shlex
import shutil
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from textmill import __version__
from textmill.document import ID, SOURCE
from textmill.executors.output import (
    Layout,
    check_output_folder,
    output_lock,
    remove_owned,
)
from textmill.io.files import is_run_output
from textmill.io.writers import ParquetShardWriter
from textmill.mix.sampling import (
    GroupPlan,
    GroupSize,
    check_tolerance,
    group_rng,
    plan_targets,
    repeat_rows,
    select_documents,
)
from textmill.mix.sources import Counter, SourceDocs, is_tok_folder, iter_text_batches, read_sources
from textmill.mix.spec import (
    NULL_GROUP,
    TOKENIZED_FORMATS,
    MixError,
    MixSpec,
    build_mix_spec,
    load_mix_spec,
)

MANIFEST = "manifest.json"
BLEND = "blend.txt"
TOKENS_FOLDER = "tokens"
GROUP_COLUMN = "mix_group"
SOURCE_COLUMN = "mix_source"
LANG = "lang"
ROWS_PER_PART = 262_144  # rows per data/part file of a text mixture
TEXT_SCHEMA = pa.schema(
    [
        pa.field(ID, pa.string()),
        pa.field("text", pa.large_string()),
        pa.field(SOURCE, pa.string()),
        pa.field(LANG, pa.string()),
        pa.field(GROUP_COLUMN, pa.string()),
        pa.field(SOURCE_COLUMN, pa.string()),
    ]
)


@dataclass
class MixPlan:
    """What goes in: per source, how many times each of its documents is taken."""

    spec: MixSpec
    sources: list[SourceDocs]
    groups: list[GroupPlan]
    counts: list[np.ndarray]  # per source, per document
    unit: str
    notes: list[str] = field(default_factory=list)
    tokenizer: dict[str, Any] | None = None
    counter: Counter | None = None

    @property
    def tokens(self) -> int:
        return sum(plan.realized for plan in self.groups)

    @property
    def documents(self) -> int:
        return sum(plan.selected_documents for plan in self.groups)


def as_spec(spec: MixSpec | Mapping[str, Any] | str | Path) -> MixSpec:
    if isinstance(spec, MixSpec):
        return spec
    if isinstance(spec, Mapping):
        return build_mix_spec(dict(spec), "mix spec")
    return load_mix_spec(spec)


def plan_mix(spec: MixSpec) -> MixPlan:
    """Read the sources' sizes and choose the documents; nothing is written."""
    _check_format(spec)
    counter = Counter(spec)
    sources = read_sources(spec, counter)
    unit = _unit(sources, counter, spec)
    names = sorted({name for source in sources for name in source.group_names})
    code = {name: i for i, name in enumerate(names)}
    global_groups = [
        np.array([code[n] for n in source.group_names], np.int32)[source.groups]
        if len(source.groups)
        else np.zeros(0, np.int32)
        for source in sources
    ]
    groups_all = np.concatenate(global_groups) if global_groups else np.zeros(0, np.int32)
    sizes_all = np.concatenate([s.sizes for s in sources])
    copies_all = np.concatenate([s.copies for s in sources])
    pool_all = sizes_all * copies_all
    order = np.argsort(groups_all, kind="stable")  # each group's documents, in source order
    bounds = np.concatenate([[0], np.cumsum(np.bincount(groups_all, minlength=len(names)))])
    members_of = {name: order[bounds[i] : bounds[i + 1]] for i, name in enumerate(names)}
    sizes = {
        name: GroupSize(
            documents=len(members),
            pool=int(pool_all[members].sum()),
            unique=int(sizes_all[members].sum()),
        )
        for name, members in members_of.items()
    }
    if not sizes or sum(size.documents for size in sizes.values()) == 0:
        raise MixError("the sources hold no documents: nothing to mix")
    plans, notes = plan_targets(sizes, spec)
    empty = int((sizes_all == 0).sum())
    if empty:
        notes.append(f"{empty:,} empty documents (no {unit}) are never taken")
    counts_all = np.zeros(len(sizes_all), np.int64)
    selectable = np.where(sizes_all > 0, copies_all, 0)
    if spec.output.format != "blend":
        for plan in plans:
            members = members_of[plan.name]
            picked = select_documents(
                sizes_all[members],
                selectable[members],
                plan.target,
                group_rng(spec.seed, plan.name),
            )
            counts_all[members] = picked
            plan.realized = int((picked * sizes_all[members]).sum())
            plan.selected_documents = int(picked.sum())
            plan.distinct_documents = int((picked > 0).sum())
            plan.max_repeats = int(picked.max()) if len(picked) else 0
        check_tolerance(plans, spec.tolerance)
    ends = np.cumsum([len(s.sizes) for s in sources])
    counts = np.split(counts_all, ends[:-1])
    nulls = sum(s.null_groups for s in sources)
    if nulls:
        notes.append(f"{nulls:,} documents have no {spec.group_by!r}: group {NULL_GROUP!r}")
    tokenizer = None
    if counter.tokenizer is not None:
        tokenizer = {"path": spec.tokenizer, **counter.tokenizer.describe()}
    return MixPlan(spec, sources, plans, counts, unit, notes, tokenizer, counter)


def _check_format(spec: MixSpec) -> None:
    fmt = spec.output.format
    if fmt in TOKENIZED_FORMATS and not spec.tokenizer:
        raise MixError(f"output format {fmt} tokenizes the mixture: name a `tokenizer` in the spec")
    if fmt == "blend":
        for source in spec.sources:
            path = Path(source.path).expanduser()
            if not (path.is_dir() and is_tok_folder(path)):
                raise MixError(
                    f"source {source.label!r}: format blend weighs Megatron datasets: give a TOK "
                    f"folder (`textmill tokenize ... --format megatron`), not {source.path}"
                )
            if source.rehydrate:
                raise MixError(
                    f"source {source.label!r}: Megatron's blend cannot repeat single documents; "
                    "rehydrate needs a tokenized output format"
                )


def _unit(sources: list[SourceDocs], counter: Counter, spec: MixSpec) -> str:
    kinds = {source.kind for source in sources}
    if "tok" in kinds:
        shas = {s.tok_manifest["tokenizer_sha256"] for s in sources if s.tok_manifest}
        if len(shas) > 1:
            raise MixError(
                "the TOK sources were tokenized with different tokenizers "
                f"({len(shas)} sha256s): their token counts do not mix"
            )
        if "text" in kinds:
            sha = getattr(counter.tokenizer, "sha256", None)
            if counter.tokenizer is None:
                raise MixError(
                    "text and TOK sources together need the TOK sources' tokenizer in the spec "
                    "(`tokenizer`), to count the text in the same tokens"
                )
            if sha is not None and sha not in shas:
                raise MixError("the spec's tokenizer is not the one the TOK sources were made with")
        if spec.output.format == "text":
            raise MixError(
                "output format text writes the selected documents' text: TOK sources hold "
                "tokens only; use a token format or blend, or mix their textmill outputs"
            )
        if spec.output.format in TOKENIZED_FORMATS:
            if "text" in kinds:
                raise MixError(
                    "a tokenized mixture of text and TOK sources together: tokenize the text "
                    "sources first (`textmill tokenize`), or mix the TOK sources' text outputs"
                )
            if getattr(counter.tokenizer, "sha256", None) not in shas:
                raise MixError(
                    "the spec's tokenizer is not the one the TOK sources were made with (their "
                    "tokens are copied: name that tokenizer)"
                )
        return "tokens"
    return counter.unit


# ---------------------------------------------------------------- writing MIX


def mix(
    spec: MixSpec | Mapping[str, Any] | str | Path,
    out: str | Path,
    *,
    overwrite: bool = False,
    command: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Make the mixture `spec` asks for in `out`; returns what MIX/manifest.json holds.
    `spec` is a YAML file, a dict of the same fields, or a MixSpec."""
    spec = as_spec(spec)
    out = Path(out)
    check_output_folder(out)
    layout = Layout(out)
    if is_run_output(out) and not overwrite:
        raise MixError(f"{out} already holds textmill output; pass --overwrite (overwrite=True)")
    plan = plan_mix(spec)
    _check_out_apart(out, plan)
    with output_lock(layout):
        if is_run_output(out):
            previous = json.loads(layout.manifest.read_text("utf-8"))
            remove_owned(layout, previous, finished=True)
            if is_tok_folder(out / TOKENS_FOLDER) or is_run_output(out / TOKENS_FOLDER):
                shutil.rmtree(out / TOKENS_FOLDER)
        layout.state.mkdir(parents=True, exist_ok=True)
        output = _write(plan, out, command)
        manifest = _manifest(plan, output, command)
        _write_json(out / MANIFEST, manifest)
        shards = [Path(p).stem for p in output.get("files", []) if p.startswith("data/")]
        run = {"command": "mix", "version": __version__, "shards": shards, "segments": 1,
               "files": [MANIFEST, BLEND]}  # fmt: skip
        _write_json(layout.manifest, run)
    return manifest


def _check_out_apart(out: Path, plan: MixPlan) -> None:
    """Refuse an OUT that is, holds or lies inside a source (or the spec's tokenizer):
    --overwrite would delete the very files the mixture is read from."""
    resolved = out.resolve()
    named = [(f"source {s.spec.label!r}", Path(s.spec.path)) for s in plan.sources]
    if plan.spec.tokenizer:
        named.append(("the tokenizer", Path(plan.spec.tokenizer)))
    for what, path in named:
        where = path.expanduser().resolve()
        if resolved == where or resolved in where.parents or where in resolved.parents:
            raise MixError(f"{out} overlaps {what} ({path}); write the mixture elsewhere")


def _write(plan: MixPlan, out: Path, command: Sequence[str] | None) -> dict[str, Any]:
    fmt = plan.spec.output.format
    if fmt == "blend":
        return _write_blend(plan, out)
    if fmt == "text":
        return _write_text(plan, out / "data")
    if all(source.kind == "tok" for source in plan.sources):
        return _copy_tokens(plan, out, command)
    return _tokenize(plan, out, command)


def _copy_tokens(plan: MixPlan, out: Path, command: Sequence[str] | None) -> dict[str, Any]:
    from textmill.mix.tokens import copy_selected_tokens

    state = out / ".textmill" / "work"
    tok = copy_selected_tokens(plan, out / TOKENS_FOLDER, state, command)
    output = plan.spec.output
    return {
        "format": output.format,
        "folder": TOKENS_FOLDER,
        "order": f"shuffled, seed {plan.spec.seed}" if output.shuffle else "source order",
        "tokens_from": "TOK sources (copied)",
        "pack": output.pack,
        "packing": output.packing if output.pack else None,
        "tokenizer_sha256": tok["tokenizer_sha256"],
        "files": [
            f"{TOKENS_FOLDER}/{name}"
            for name in (*tok["files"], "documents.parquet", "manifest.json")
        ],
    }


def _selected_tables(plan: MixPlan, source_index: int):
    """The source's selected rows in source order, each repeated as often as it was taken."""
    source = plan.sources[source_index]
    counts = plan.counts[source_index]
    wanted = [c for c in (ID, source.spec.text_column, SOURCE, LANG) if c in source.columns]
    group_names = np.array(source.group_names, dtype=object)
    start = 0
    for batch in iter_text_batches(source.files, source.spec, plan.spec, columns=wanted):
        stop = start + batch.num_rows
        taken = counts[start:stop]
        groups = source.groups[start:stop]
        start = stop
        if not taken.any():
            continue
        rows = np.repeat(np.arange(batch.num_rows), taken)
        if ID not in wanted:
            batch = batch.append_column(ID, pa.nulls(batch.num_rows, pa.string()))
        repeated = repeat_rows(batch, taken)
        ids = repeated[ID]
        yield pa.table(
            {
                ID: ids,
                "text": repeated[source.spec.text_column],
                SOURCE: _column(repeated, SOURCE, len(rows)),
                LANG: _column(repeated, LANG, len(rows)),
                GROUP_COLUMN: pa.array(group_names[groups[rows]].tolist(), pa.string()),
                SOURCE_COLUMN: pa.array([source.name] * len(rows), pa.string()),
            },
            schema=TEXT_SCHEMA,
        )


def _column(table: pa.Table, name: str, rows: int) -> pa.ChunkedArray | pa.Array:
    if name in table.column_names:
        return pc.cast(table[name], pa.string())
    return pa.nulls(rows, pa.string())


def _write_text(plan: MixPlan, data: Path) -> dict[str, Any]:
    """The text mixture, shuffled by a seeded permutation of the selected rows. The permutation
    is taken in memory over the selection, text included (the global shuffle of tokenize keys
    on token ids): for a mixture larger than memory, use a tokenized format."""
    tables = [t for index in range(len(plan.sources)) for t in _selected_tables(plan, index)]
    table = pa.concat_tables(tables) if tables else TEXT_SCHEMA.empty_table()
    note = "unshuffled (sources in spec order)"
    if plan.spec.output.shuffle and table.num_rows:
        order = np.random.default_rng(plan.spec.seed).permutation(table.num_rows)
        table = table.take(pa.array(order))
        note = f"shuffled in memory, seed {plan.spec.seed}"
    files = []
    for part, start in enumerate(range(0, max(table.num_rows, 1), ROWS_PER_PART)):
        writer = ParquetShardWriter(data / f"part-{part:05d}.parquet")
        try:
            writer.write(table.slice(start, ROWS_PER_PART))
            path = writer.close()
        except BaseException:
            writer.abort()
            raise
        if path is not None:
            files.append(f"data/{path.name}")
    return {"format": "text", "files": files, "order": note}


def _tokenize(plan: MixPlan, out: Path, command: Sequence[str] | None) -> dict[str, Any]:
    """The selected documents as text in a staging folder (streamed, source by source), then
    `textmill tokenize` into MIX/tokens with its seeded, bounded-memory global shuffle (and
    packing when asked); its counts must be the plan's."""
    from dataclasses import replace

    from textmill.tokens.tokenize import run_tokenize

    assert plan.counter is not None and plan.counter.settings is not None
    output = plan.spec.output
    settings = replace(
        plan.counter.settings,
        shuffle_seed=plan.spec.seed if output.shuffle else None,
        shuffle_memory_bytes=output.shuffle_memory_bytes,
        pack=output.pack,
        packing=output.packing,
    )
    staging = out / ".textmill" / "work" / "selected"
    shutil.rmtree(staging, ignore_errors=True)
    _write_selected(plan, staging)
    tok = run_tokenize(
        [str(staging)],
        out / TOKENS_FOLDER,
        plan.counter.tokenizer,
        settings,
        command=shlex.join(command) if command else "textmill.mix.mix(...)",
    )
    shutil.rmtree(staging, ignore_errors=True)
    if (tok["documents"], tok["tokens"]) != (plan.documents, plan.tokens):
        raise MixError(
            f"tokenize wrote {tok['documents']:,} documents and {tok['tokens']:,} tokens for the "
            f"{plan.documents:,} and {plan.tokens:,} the mix selected (skipped: {tok['skipped']}, "
            f"errored: {tok['errored']}); see {out / TOKENS_FOLDER / 'manifest.json'}"
        )
    order = f"shuffled by tokenize, seed {plan.spec.seed}" if output.shuffle else "source order"
    return {
        "format": output.format,
        "folder": TOKENS_FOLDER,
        "order": order,
        "pack": output.pack,
        "packing": output.packing if output.pack else None,
        "tokenizer_sha256": tok["tokenizer_sha256"],
        "files": [
            f"{TOKENS_FOLDER}/{name}"
            for name in (*tok["files"], "documents.parquet", "manifest.json")
        ],
    }


def _write_selected(plan: MixPlan, folder: Path) -> None:
    """One Parquet file per source, its selected rows in source order."""
    for index in range(len(plan.sources)):
        writer = ParquetShardWriter(folder / f"source-{index:05d}.parquet")
        try:
            for table in _selected_tables(plan, index):
                writer.write(table)
            writer.close()
        except BaseException:
            writer.abort()
            raise


def blend_prefix(source: SourceDocs) -> Path:
    """The Megatron dataset prefix of a TOK folder (PREFIX.bin + PREFIX.idx)."""
    folder = source.folder
    manifest = source.tok_manifest or {}
    if manifest.get("format") not in (None, "megatron"):
        raise MixError(
            f"source {source.name!r}: {folder} is in format {manifest.get('format')!r}; a "
            "Megatron blend needs `textmill tokenize ... --format megatron`"
        )
    candidates = sorted(folder.glob("*.idx"))
    if len(candidates) != 1 or not candidates[0].with_suffix(".bin").is_file():
        raise MixError(
            f"source {source.name!r}: {folder} holds no single Megatron dataset (.bin + .idx)"
        )
    return candidates[0].with_suffix("").resolve()


def _write_blend(plan: MixPlan, out: Path) -> dict[str, Any]:
    """Weights per prefix: the group's share split over its sources by their tokens. Megatron
    draws from dataset i in proportion to w_i, so its tokens follow the shares (in packed
    sequences of equal length, samples are tokens)."""
    by_group = {g.name: g for g in plan.groups}
    parts, rows = [], []
    group_tokens = {g.name: 0 for g in plan.groups}
    for source in plan.sources:
        for code, name in enumerate(source.group_names):
            group_tokens[name] += int(source.sizes[source.groups == code].sum())
    for source in plan.sources:
        tokens = int(source.sizes.sum())
        if not tokens:
            continue
        group = by_group[source.group_names[0]]  # blend: one group per source
        name = group.name
        weight = group.share * tokens / group_tokens[name] if group_tokens[name] else 0.0
        if weight <= 0:
            continue
        prefix = blend_prefix(source)
        text = f"{weight:.8g}"
        parts.append(f"{text} {prefix}")
        rows.append((source, group, float(text), str(prefix), tokens))
    total = sum(weight for _, _, weight, _, _ in rows)
    budget = sum(g.target for g in plan.groups)
    for group in plan.groups:  # what Megatron will draw, from the weights as written
        share = sum(w for _, g, w, _, _ in rows if g is group) / total
        group.realized = round(share * budget)
        group.selected_documents = 0
    line = " ".join(parts)
    (out / BLEND).write_text(line + "\n", "utf-8")
    return {
        "format": "blend",
        "blend": line,
        "file": BLEND,
        "prefixes": [
            {
                "source": s.name,
                "prefix": p,
                "weight": w,
                "tokens": t,
                "epochs_at_budget": budget * w / total / t if t else 0.0,
            }
            for s, _, w, p, t in rows
        ],  # fmt: skip
    }


# ---------------------------------------------------------------- the manifest and the table


def _manifest(plan: MixPlan, output: dict[str, Any], command: Sequence[str] | None) -> dict:
    total = plan.tokens or 1
    documents = plan.documents
    groups = [
        {
            "group": g.name,
            "requested_share": g.share,
            "realized_share": g.realized / total,
            "requested_tokens": round(g.target),
            "realized_tokens": g.realized,
            "error": g.error,
            "documents": g.size.documents,
            "available_tokens": g.size.pool,
            "selected_documents": g.selected_documents,
            "realized_document_share": g.selected_documents / documents if documents else None,
            "distinct_documents": g.distinct_documents,
            "left_out_documents": g.size.documents - g.distinct_documents,
            "epochs": g.epochs,
            "max_repeats": g.max_repeats,
        }
        for g in plan.groups
    ]
    sources = [
        {
            "source": s.name,
            "path": str(s.spec.path),
            "kind": s.kind,
            "documents": len(s.sizes),
            "tokens": int(s.sizes.sum()),
            "selected_documents": int(c.sum()),
            "realized_tokens": int((c * s.sizes).sum()),
            "null_group_documents": s.null_groups,
        }
        for s, c in zip(plan.sources, plan.counts, strict=True)
    ]
    return {
        "textmill_mix": 1,
        "version": __version__,
        "command": list(command) if command is not None else None,
        "unit": plan.unit,
        "tokenizer": plan.tokenizer,
        "method": plan.spec.method,
        "budget": round(sum(g.target for g in plan.groups)),
        "tolerance": plan.spec.tolerance,
        "seed": plan.spec.seed,
        plan.unit: plan.tokens,
        "documents": plan.documents,
        "groups": groups,
        "sources": sources,
        "notes": plan.notes,
        "output": output,
        "spec": plan.spec.model_dump(mode="json"),
    }


def _write_json(path: Path, data: dict[str, Any]) -> None:
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", "utf-8")
    temporary.replace(path)


def format_table(manifest: dict[str, Any]) -> str:
    """Requested next to realized, per group, as the CLI prints it."""
    unit = manifest["unit"]
    blend = manifest["output"]["format"] == "blend"
    header = ("group", "requested", "realized", f"requested {unit}", f"realized {unit}",
              "error", "documents", "distinct/in group", "epochs")  # fmt: skip
    rows = [
        (
            g["group"],
            f"{g['requested_share']:.2%}",
            f"{g['realized_share']:.2%}",
            f"{g['requested_tokens']:,}",
            f"{g['realized_tokens']:,}",
            f"{g['error']:+.3%}",
            f"{g['selected_documents']:,}" if not blend else "-",
            f"{g['distinct_documents']:,}/{g['documents']:,}"
            if not blend
            else f"{g['documents']:,}",
            f"{g['epochs']:.3f}",
        )
        for g in manifest["groups"]
    ]
    widths = [max(len(str(row[i])) for row in (header, *rows)) for i in range(len(header))]
    lines = [
        "  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True))
        for row in (header, *rows)
    ]
    return "\n".join(line.rstrip() for line in lines)


def print_report(manifest: dict[str, Any], out: Path, file=None) -> None:
    file = file or sys.stdout
    print(format_table(manifest), file=file)
    for note in manifest["notes"]:
        print(f"note: {note}", file=file)
    output = manifest["output"]
    if output["format"] == "blend":
        print(f"--data-path {output['blend']}", file=file)
        print(
            f"blend: {manifest['budget']:,} {manifest['unit']} drawn at these weights (set the "
            f"budget with Megatron's --train-samples x --seq-length) -> {out / BLEND}",
            file=file,
        )
        return
    print(
        f"mixture: {manifest[manifest['unit']]:,} {manifest['unit']}, {manifest['documents']:,} "
        f"documents ({manifest['method']}) -> {out} ({output['format']})",
        file=file,
    )
