"""A faster BPE engine for byte-level BPE tokenizers: tiktoken, built from the same vocabulary.

A byte-level BPE `tokenizer.json` (GPT-2's shape: no normalizer, the ByteLevel pre-tokenizer
with its regex, a BPE model without dropout, prefixes or byte fallback) is the same function
as a tiktoken `Encoding` whose ranks are the token ids (merges are applied lowest rank first in
both) and whose pattern is GPT-2's split regex. tiktoken's encoder is several times faster per
core than `tokenizers`. Two corner cases can differ in principle: tiktoken takes a whole
pre-tokenized word that is in the vocabulary as one token, and merges any adjacent pair whose
bytes form a token, where `tokenizers` applies only the listed merges; a trained BPE almost
never has a word where this matters (benchmarks/tokenize_vs_datatrove.py compares every
document with `tokenizers`' ids, and BENCHMARKS.md says how many agreed). So tiktoken is asked
for (`--engine tiktoken`), never chosen silently, and refuses a tokenizer not of this shape.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

GPT2_PATTERN = r"""'(?:[sdmt]|ll|ve|re)| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
ENGINES = ("tokenizers", "tiktoken")


class EngineError(ValueError):
    """The tokenizer cannot run on the engine asked for; the message says why."""


def unicode_to_bytes() -> dict[str, int]:
    """The inverse of GPT-2's `bytes_to_unicode`: byte-level vocabularies spell bytes so."""
    printable = [
        *range(ord("!"), ord("~") + 1),
        *range(ord("¡"), ord("¬") + 1),
        *range(ord("®"), ord("ÿ") + 1),
    ]
    chars = list(printable)
    extra = 0
    for byte in range(256):
        if byte not in printable:
            printable.append(byte)
            chars.append(256 + extra)
            extra += 1
    return {chr(c): b for b, c in zip(printable, chars, strict=True)}


def _shape_problem(spec: dict[str, Any]) -> str | None:
    model = spec.get("model") or {}
    if model.get("type") != "BPE":
        return f"its model is {model.get('type')!r}, not BPE"
    for key in ("dropout", "continuing_subword_prefix", "end_of_word_suffix"):
        if model.get(key):
            return f"its BPE model sets {key}"
    if model.get("byte_fallback"):
        return "its BPE model uses byte_fallback"
    if spec.get("normalizer") is not None:
        return "it has a normalizer"
    pre = spec.get("pre_tokenizer") or {}
    if (
        pre.get("type") != "ByteLevel"
        or pre.get("add_prefix_space")
        or not pre.get("use_regex", True)
    ):
        return "its pre-tokenizer is not ByteLevel(add_prefix_space=False, use_regex=True)"
    for token in spec.get("added_tokens", []):
        if token.get("lstrip") or token.get("rstrip") or token.get("single_word"):
            return f"added token {token.get('content')!r} strips or matches whole words"
    return None


def tiktoken_encoding(tokenizer_json: Path) -> Any:
    """A tiktoken Encoding equal to the byte-level BPE in `tokenizer_json`, or EngineError."""
    try:
        import tiktoken
    except ImportError:
        raise EngineError(
            "--engine tiktoken needs the tiktoken package (textmill[tokenize])"
        ) from None
    spec = json.loads(Path(tokenizer_json).read_text("utf-8"))
    problem = _shape_problem(spec)
    if problem:
        raise EngineError(f"{tokenizer_json}: tiktoken cannot run this tokenizer: {problem}")
    byte_of = unicode_to_bytes()
    special = {t["content"]: int(t["id"]) for t in spec.get("added_tokens", [])}
    ranks: dict[bytes, int] = {}
    for token, rank in spec["model"]["vocab"].items():
        if token in special:
            continue
        try:
            ranks[bytes(byte_of[c] for c in token)] = int(rank)
        except KeyError:
            raise EngineError(
                f"{tokenizer_json}: token {token!r} is not spelled in byte-level characters"
            ) from None
    merges = spec["model"].get("merges") or []
    last = -1
    for merge in merges:  # the ranks must follow the merge order, as tiktoken applies them
        left, right = merge.split(" ", 1) if isinstance(merge, str) else merge
        rank = spec["model"]["vocab"].get(left + right)
        if rank is None or rank <= last:
            raise EngineError(
                f"{tokenizer_json}: its token ids do not follow its merge order "
                f"(merge {left!r} + {right!r}); tiktoken would merge in another order"
            )
        last = rank
    return tiktoken.Encoding(
        f"textmill:{Path(tokenizer_json).name}",
        pat_str=GPT2_PATTERN,
        mergeable_ranks=ranks,
        special_tokens=special,
    )
