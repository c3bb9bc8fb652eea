"""The Python API of tokenize, the same job and the same checks as the CLI.

import textmill
manifest = textmill.tokenize(["out/data"], "tok", tokenizer="tokenizer.json", format="megatron")
textmill.train_tokenizer(["out/data"], "tokenizer.json", vocab_size=50_000)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import fields
from pathlib import Path
from typing import Any

from textmill.executors.output import RunError
from textmill.tokens.tokenize import TokenizeSettings, run_tokenize
from textmill.tokens.tokenizer import TextTokenizer


def tokenize(
    inputs: Sequence[str | Path] | str | Path,
    out: str | Path,
    *,
    tokenizer: str | Path | TextTokenizer,
    format: str = "megatron",  # noqa: A002 - the CLI's --format
    **options: Any,
) -> dict[str, Any]:
    """Tokenize `inputs` (any textmill input, a run's OUT or OUT/data) into the TOK folder `out`
    and return its manifest. Options are TokenizeSettings fields: engine ("auto", the default,
    "tokenizers" or "tiktoken"), bos, eos, bos_token,
    eos_token, text_column, max_tokens_per_doc, on_long ("skip" or "truncate"), batch_size,
    workers (shards at once, one process each; 0: one per core), overwrite. Re-running the
    same call resumes."""
    known = {f.name for f in fields(TokenizeSettings)} - {"format"}
    unknown = sorted(set(options) - known)
    if unknown:
        raise RunError(f"unknown tokenize option {unknown[0]!r} (have: {', '.join(sorted(known))})")
    settings = TokenizeSettings(format=format, **options)
    return run_tokenize(inputs, out, tokenizer, settings, command=_api_command(inputs, out))


def _api_command(inputs: Any, out: Any) -> str:
    return f"textmill.tokenize({inputs!r}, {str(out)!r})"


def train_tokenizer(
    inputs: Sequence[str | Path] | str | Path,
    out: str | Path,
    *,
    vocab_size: int,
    sample_bytes: int = 256 * 1024 * 1024,
    text_column: str = "text",
) -> dict[str, Any]:
    """Train a byte-level BPE on a sample of `inputs` and write tokenizer.json at `out`."""
    from textmill.tokens.training import train_tokenizer_file

    if isinstance(inputs, (str, Path)):
        inputs = [inputs]
    return train_tokenizer_file(
        [str(i) for i in inputs], Path(out), vocab_size, sample_bytes, text_column=text_column
    )
