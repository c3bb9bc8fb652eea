"""`textmill tokenize` and `textmill tokenizer train`: training-ready tokens for trainers."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path
from typing import Any

from textmill.cli.args import whole
from textmill.cli.tokens_arrange import add_arrange_arguments, arrange_settings, arrange_summary

FORMAT_NAMES = ("megatron", "memmap", "parquet", "nanotron")


def register(commands: argparse._SubParsersAction) -> None:
    tokenize = commands.add_parser(
        "tokenize",
        help="tokenize a corpus into Megatron / memmap / Parquet / nanotron token files",
        description="Tokenize any input textmill reads (a run's OUT or OUT/data included) with "
        "a tokenizer.json, a Hugging Face tokenizer folder or a SentencePiece .model; writes "
        "TOK/manifest.json, TOK/documents.parquet and the format's files. Re-running the same "
        "command resumes per input shard.",
    )
    tokenize.add_argument("inputs", nargs="+", help="input files, folders, globs or URLs")
    tokenize.add_argument("-o", "--out", required=True, help="the TOK output folder")
    tokenize.add_argument(
        "--tokenizer", required=True, help="tokenizer.json, a HF tokenizer folder or a .model"
    )
    tokenize.add_argument(
        "--format", choices=FORMAT_NAMES, default="megatron", help="default: %(default)s"
    )
    tokenize.add_argument(
        "--engine",
        choices=("auto", "tokenizers", "tiktoken"),
        default="auto",
        help="the BPE engine: tokenizers (the reference); tiktoken for byte-level BPE "
        "tokenizer.json files (the same ids, several times faster); auto: tiktoken where the "
        "tokenizer's shape allows it and its vocabulary, a character probe and a sample of the "
        "input encode identically, else tokenizers (default: %(default)s)",
    )
    tokenize.add_argument(
        "--bos",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="add BOS before each document (default: no)",
    )
    tokenize.add_argument(
        "--eos",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="add EOS after each document (default: yes)",
    )
    tokenize.add_argument("--bos-token", help="the BOS token by name (default: the tokenizer's)")
    tokenize.add_argument("--eos-token", help="the EOS token by name (default: the tokenizer's)")
    tokenize.add_argument("--text-column", default="text", help="the text field or column")
    tokenize.add_argument(
        "--max-tokens-per-doc",
        type=whole(1),
        help="documents longer than this (BOS/EOS included) are skipped, or cut with "
        "--on-long truncate",
    )
    tokenize.add_argument(
        "--on-long",
        choices=("skip", "truncate"),
        default="skip",
        help="what --max-tokens-per-doc does to a longer document (default: %(default)s)",
    )
    tokenize.add_argument(
        "--batch-size",
        type=whole(1),
        default=4096,
        help="documents per encode_batch call (default: %(default)s)",
    )
    tokenize.add_argument(
        "-w",
        "--workers",
        type=whole(0),
        default=0,
        help="input shards tokenized at once, one process each (default: one per core); "
        "the output is the same bytes whatever the count",
    )
    tokenize.add_argument("--overwrite", action="store_true", help="replace TOK's tokenize")
    add_arrange_arguments(tokenize)
    tokenize.set_defaults(handler=cmd_tokenize)

    tokenizer = commands.add_parser("tokenizer", help="tokenizer tools (train)")
    sub = tokenizer.add_subparsers(dest="tokenizer_command", required=True)
    train = sub.add_parser(
        "train",
        help="train a byte-level BPE tokenizer.json on a corpus sample",
        description="Train a byte-level BPE (HF tokenizers) on a sample of the text of any "
        "input textmill reads; <|endoftext|> is id 0.",
    )
    train.add_argument("inputs", nargs="+", help="input files, folders, globs or URLs")
    train.add_argument("-o", "--out", required=True, help="the tokenizer.json to write")
    train.add_argument("--vocab-size", type=whole(260), required=True, help="entries, e.g. 50000")
    train.add_argument(
        "--sample-bytes",
        type=whole(1),
        default=256 * 1024 * 1024,
        help="text to train on, at most (default: 256 MiB, sampled evenly by document id)",
    )
    train.add_argument("--text-column", default="text", help="the text field or column")
    train.add_argument("--overwrite", action="store_true", help="replace an existing file")
    train.set_defaults(handler=cmd_tokenizer_train)


def _fail(message: Any) -> int:
    print(f"textmill: error: {message}", file=sys.stderr)
    return 2


def cmd_tokenize(args: argparse.Namespace) -> int:
    from textmill.tokens.tokenize import TokenizeSettings, run_tokenize
    from textmill.tokens.tokenizer import TokenizerError

    settings = TokenizeSettings(
        format=args.format,
        engine=args.engine,
        bos=args.bos,
        eos=args.eos,
        bos_token=args.bos_token,
        eos_token=args.eos_token,
        text_column=args.text_column,
        max_tokens_per_doc=args.max_tokens_per_doc,
        on_long=args.on_long,
        batch_size=args.batch_size,
        workers=args.workers,
        overwrite=args.overwrite,
        **arrange_settings(args),
    )
    command = shlex.join(["textmill", *sys.argv[1:]]) if sys.argv[1:] else None
    try:
        manifest = run_tokenize(
            args.inputs,
            args.out,
            args.tokenizer,
            settings,
            command=command,
            log=lambda line: print(f"textmill tokenize: {line}", file=sys.stderr),
        )
    except TokenizerError as exc:
        return _fail(exc)
    print(summary(manifest, args.out))
    return 0 if manifest["reconciled"] else 1


def summary(manifest: dict[str, Any], out: str) -> str:
    """What a finished tokenize says: the reconciliation line, then where the files are."""
    skipped = manifest["skipped"]
    reasons = ", ".join(f"{k} {v:,}" for k, v in skipped.items())
    state = "reconciled" if manifest["reconciled"] else "NOT RECONCILED"
    lines = [
        f"read {manifest['read']:,} = tokenized {manifest['documents']:,} + skipped "
        f"{sum(skipped.values()):,}{f' ({reasons})' if reasons else ''} + errored "
        f"{manifest['errored']:,}  ({state})",
        f"tokens: {manifest['tokens']:,} ({manifest['format']}, {manifest['format_dtype']}); "
        f"tokenizer {manifest['tokenizer']['name']} vocab {manifest['tokenizer']['vocab_size']:,} "
        f"sha256 {manifest['tokenizer_sha256'][:12]}",
    ]
    if manifest.get("truncated"):
        lines.append(f"truncated to --max-tokens-per-doc: {manifest['truncated']:,} documents")
    if manifest.get("seconds"):
        lines.append(_time_line(manifest))
    lines.extend(arrange_summary(manifest))
    folder = Path(out)
    if manifest["errored"]:
        lines.append(f"errors: {folder / 'errors.jsonl'}{_first_error(folder / 'errors.jsonl')}")
    if skipped:
        lines.append(f"skipped documents: {folder / 'skipped.parquet'}")
    files = ", ".join(str(folder / name) for name in manifest["files"])
    lines.append(f"output: {files}; {folder / 'manifest.json'}, {folder / 'documents.parquet'}")
    return "\n".join(lines)


def _time_line(manifest: dict[str, Any]) -> str:
    """This invocation's time and rate: a resume counts only the shards it tokenized."""
    seconds = manifest["seconds"]
    now = manifest.get("this_run") or {}
    tokens = now.get("tokens", manifest["tokens"])
    kept = now.get("shards_kept", 0)
    line = f"time: {seconds:.1f}s ({tokens / seconds:,.0f} tokens/s"
    if now.get("workers", 0) > 1:
        line += f", {now['workers']} workers"
    if kept:
        line += (
            f"; {tokens:,} tokens from the {_shards(now['shards_tokenized'])} tokenized now, "
            f"{_shards(kept)} done before"
        )
    return line + ")"


def _shards(count: int) -> str:
    return f"{count:,} shard{'s' if count != 1 else ''}"


def _first_error(path: Path) -> str:
    """The first error's file, record and message: a missing --text-column shows here."""
    try:
        with path.open(encoding="utf-8") as handle:
            error = json.loads(handle.readline())
    except (OSError, ValueError):
        return ""
    return f" (first: {error.get('file')}, {error.get('record')}: {error.get('message')})"


def cmd_tokenizer_train(args: argparse.Namespace) -> int:
    from textmill.tokens.training import train_tokenizer_file

    out = Path(args.out)
    if out.exists() and not args.overwrite:
        return _fail(f"{out} exists; pass --overwrite to replace it")
    if out.is_dir():
        return _fail(f"{out} is a folder; give the tokenizer.json file to write")
    result = train_tokenizer_file(
        args.inputs, out, args.vocab_size, args.sample_bytes, text_column=args.text_column
    )
    print(
        f"trained a byte-level BPE of {result['vocab_size']:,} entries on "
        f"{result['documents']:,} documents ({result['bytes']:,} bytes of text) -> {out}"
    )
    return 0
