"""A faster BPE engine for byte-level BPE tokenizers: tiktoken, built from the same vocabulary,
and `--engine auto` (the default), which uses it only where it gives the same ids.

A byte-level BPE `tokenizer.json` (GPT-2's shape: no normalizer, the ByteLevel pre-tokenizer
with its regex, a BPE model without dropout, prefixes or byte fallback) is the same function
as a tiktoken `Encoding` whose ranks are the token ids (merges are applied lowest rank first in
both) and whose pattern is GPT-2's split regex. tiktoken's encoder is several times faster per
core than `tokenizers`. Two corner cases can differ in principle: tiktoken takes a whole
pre-tokenized word that is in the vocabulary as one token, and merges any adjacent pair whose
bytes form a token, where `tokenizers` applies only the listed merges; a trained BPE almost
never has a word where this matters (benchmarks/tokenize_vs_datatrove.py compares every
document with `tokenizers`' ids, and BENCHMARKS.md says how many agreed). The two regex
engines (Oniguruma in `tokenizers`, fancy-regex in tiktoken) may also classify a character
differently (their Unicode tables are of different versions).

`--engine tiktoken` refuses a tokenizer not of this shape. `--engine auto` uses tiktoken only
when the shape is right AND three checks give `tokenizers`' ids exactly: every vocabulary entry
encoded on its own (the whole-word case above), a probe of characters regex engines disagree on
(Unicode whitespace, marks, digits of other scripts, new code points), and a sample of the
input itself (the first batch: a prefix of each document plus each distinct character it holds
in context). Anything else is `tokenizers`, and the manifest says which engine ran and why.
"""

from __future__ import annotations

import json
from itertools import accumulate
from pathlib import Path
from typing import Any

import numpy as np

GPT2_PATTERN = r"""'(?:[sdmt]|ll|ve|re)| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
ENGINES = ("auto", "tokenizers", "tiktoken")
SAMPLE_CHARS = 100_000  # of the first batch's text, compared on both engines by auto
SAMPLE_DOC_CHARS = 500  # at most this much of each document, so that many documents count
# characters that regex engines (and Unicode versions) are known to class differently
PROBE_CHARS = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u180e\u2000\u2007\u200a\u200b\u200c"
    "\u200d\u2028\u2029\u202f\u205f\u2060\u3000\ufeff\u00ad\u0301\u0903\u093e\u0e31\u0660"
    "\u0669\u06f0\u0966\u00b2\u00bd\u2167\u3007\u2460\U0001d7ce\u02b0\u02c6\u0300\u1dc0"
    "\u1e9e\u0130\u03a3\u00df\ufb01\u2126\u212a\u1f88\u10a0\u2c00\ua7c0\u0870\u0897"
    "\u1ac1\U00011f00\U0001e030\U0001f6dc\U0001fae8\U0001f1eb\U0001f3fb\ufe0f\U000e0001"
    "\ue000\U000f0000\ufffd\u2e80\u4e00\U00020000\U00031350\U0002ebf0\uac00\u3131\u30fc"
    "\u3005\u309d\u0640\u200e\u061c\u00a7\u00b5\u00aa\u00ba\u2018\u2019\u02bc'`"
)
PROBE_WORDS = ("'s", "'S", "'ll", "'LL", "'re", "'ve", "'d", "'m", "'t", "1234", "  ", "\r\n")


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
    if model.get("unk_token") and model.get("fuse_unk"):
        return "its BPE model fuses unknown tokens"
    if spec.get("normalizer") is not None:
        return "it has a normalizer"
    pre = spec.get("pre_tokenizer") or {}
    if (
        pre.get("type") != "ByteLevel"
        or pre.get("add_prefix_space")
        or not pre.get("use_regex", True)
    ):
        return "its pre-tokenizer is not ByteLevel(add_prefix_space=False, use_regex=True)"
    added = spec.get("added_tokens", [])
    for token in added:
        if token.get("lstrip") or token.get("rstrip") or token.get("single_word"):
            return f"added token {token.get('content')!r} strips or matches whole words"
        if not token.get("special"):
            return f"it has an added token that is not special ({token.get('content')!r})"
    contents = [str(t.get("content")) for t in added]
    for a in contents:  # tokenizers matches the longest, tiktoken the first alternative
        for b in contents:
            if a != b and a in b:
                return f"its special token {a!r} is inside another ({b!r})"
    vocab = model.get("vocab") or {}
    missing = [c for c in unicode_to_bytes() if c not in vocab]
    if missing:
        return f"its vocabulary lacks {len(missing)} of the 256 byte tokens (e.g. {missing[0]!r})"
    return None


def _byte_ranks(spec: dict[str, Any], tokenizer_json: Path) -> dict[bytes, int]:
    """tiktoken's mergeable ranks: each vocabulary entry's bytes to its id, checked to follow
    the merge order. Whole-vocabulary string operations (one translate, one encode, one map
    over the merges): this runs on every tokenize, and a per-entry loop cost ~0.3 CPU-s."""
    vocab: dict[str, int] = spec["model"]["vocab"]
    special = {t["content"] for t in spec.get("added_tokens", [])}
    tokens = [t for t in vocab if t not in special]
    joined = "".join(tokens)
    # each byte-level character to the byte it spells, as a str.translate table (C speed)
    to_byte = {ord(c): b for c, b in unicode_to_bytes().items()}
    if not frozenset(map(chr, to_byte)).issuperset(joined):
        stray = next(t for t in tokens if not frozenset(map(chr, to_byte)).issuperset(t))
        raise EngineError(
            f"{tokenizer_json}: token {stray!r} is not spelled in byte-level characters"
        )
    blob = joined.translate(to_byte).encode("latin-1")  # one byte per character
    ends = list(accumulate(map(len, tokens)))
    pieces = map(blob.__getitem__, map(slice, [0, *ends[:-1]], ends))
    ranks = dict(zip(pieces, map(vocab.__getitem__, tokens), strict=True))
    merges = spec["model"].get("merges") or []
    pairs = [m.split(" ", 1) for m in merges] if merges and isinstance(merges[0], str) else merges
    merged = list(map(vocab.get, map("".join, pairs)))
    # the ranks must follow the merge order, as tiktoken applies them lowest rank first
    bad = np.flatnonzero(np.diff(np.array([-1, *merged], dtype=float)) <= 0) if merged else []
    if None in merged or len(bad):
        at = merged.index(None) if None in merged else int(bad[0])
        left, right = pairs[at]
        raise EngineError(
            f"{tokenizer_json}: its token ids do not follow its merge order "
            f"(merge {left!r} + {right!r}); tiktoken would merge in another order"
        )
    return ranks


def tiktoken_encoding(tokenizer_json: Path) -> Any:
    """A tiktoken Encoding equal to the byte-level BPE in `tokenizer_json`, or EngineError."""
    return _encoding(json.loads(Path(tokenizer_json).read_text("utf-8")), Path(tokenizer_json))


def _encoding(spec: dict[str, Any], tokenizer_json: Path) -> Any:
    try:
        import tiktoken
    except ImportError:
        raise EngineError(
            "--engine tiktoken needs the tiktoken package (textmill[tokenize])"
        ) from None
    problem = _shape_problem(spec)
    if problem:
        raise EngineError(f"{tokenizer_json}: tiktoken cannot run this tokenizer: {problem}")
    ranks = _byte_ranks(spec, tokenizer_json)
    special = {t["content"]: int(t["id"]) for t in spec.get("added_tokens", [])}
    return tiktoken.Encoding(
        f"textmill:{Path(tokenizer_json).name}",
        pat_str=GPT2_PATTERN,
        mergeable_ranks=ranks,
        special_tokens=special,
    )


def _first_difference(encoding: Any, reference: Any, texts: list[str]) -> str | None:
    """The first text on which tiktoken and `tokenizers` give other ids, else None."""
    if not texts:
        return None
    special = encoding.special_tokens_set
    # a loop, not encode_batch: its thread pool costs more than these short texts
    ours = [encoding.encode(t, allowed_special=special, disallowed_special=()) for t in texts]
    theirs = reference.encode_batch_fast(texts, add_special_tokens=False)
    for text, a, b in zip(texts, ours, theirs, strict=True):
        if a != b.ids:
            return text
    return None


def _probe_texts(chars: str) -> list[str]:
    """Each character between letters, digits, spaces and itself: where a regex engine's class
    of it decides the pieces."""
    return [f"a{c}b {c}1{c}{c} x{c}\n{c}" for c in chars] + [f"word{w} {w}x" for w in PROBE_WORDS]


def sample_of(texts: list[str]) -> list[str]:
    """What auto compares on the input: each document's start (SAMPLE_DOC_CHARS at most) up to
    SAMPLE_CHARS in all, and every distinct character of that sample in context."""
    sample: list[str] = []
    size = 0
    for text in texts:
        if size >= SAMPLE_CHARS:
            break
        if text:
            sample.append(text[:SAMPLE_DOC_CHARS])
            size += len(sample[-1])
    return sample + _probe_texts("".join(sorted(set("".join(sample)))))


def fast_encoding(tokenizer_json: Path, reference: Any) -> tuple[Any | None, str]:
    """For `--engine auto`: the tiktoken Encoding of `tokenizer_json` when its shape is one
    tiktoken models and it encodes every vocabulary entry and the probe of tricky characters
    exactly as `reference` (the loaded `tokenizers.Tokenizer`) does, else None; and why.
    `check_sample` then decides on the input itself."""
    try:
        import tiktoken  # noqa: F401
    except ImportError:
        return None, "tiktoken is not installed"
    spec = json.loads(Path(tokenizer_json).read_text("utf-8"))
    try:
        encoding = _encoding(spec, Path(tokenizer_json))
    except EngineError as exc:
        return None, str(exc).split(": tiktoken cannot run this tokenizer: ", 1)[-1]
    special = {t["content"] for t in spec.get("added_tokens", [])}
    # tiktoken takes a piece that is a vocabulary entry whole; tokenizers' BPE must reach it
    # by its merges (run on the entry's byte-level spelling, no pre-tokenizer involved)
    vocab = spec["model"]["vocab"]
    words = [t for t in vocab if t not in special] if special else list(vocab)
    # with ignore_merges, tokenizers itself takes an entry whole, as tiktoken does
    unbuilt = (
        None
        if spec["model"].get("ignore_merges")
        else _unbuilt_entry(reference, words, list(map(vocab.__getitem__, words)))
    )
    if unbuilt is not None:
        return None, f"its BPE splits the vocabulary entry {unbuilt!r}, which tiktoken keeps"
    differs = _first_difference(encoding, reference, _probe_texts(PROBE_CHARS))
    if differs is not None:
        return None, f"tiktoken splits {differs!r} otherwise (its regex engine)"
    return encoding, "byte-level BPE; the vocabulary and the character probe encode identically"


def _unbuilt_entry(reference: Any, words: list[str], ranks: list[int]) -> str | None:
    """The first vocabulary entry that `reference`'s BPE, run on the entry's byte-level
    spelling alone, does not give as itself; None when all are. One `tokenizers` call: the
    entries as the words of one pre-tokenized sequence, through the model alone."""
    from tokenizers import Tokenizer

    model_only = Tokenizer(reference.model)
    if model_only.encode(words, is_pretokenized=True, add_special_tokens=False).ids == ranks:
        return None
    for token, rank, got in zip(words, ranks, map(model_only.model.tokenize, words), strict=True):
        if [piece.id for piece in got] != [rank]:
            return token
    return "?"  # unreachable: the sequence differs, so one word does


def check_sample(encoding: Any, reference: Any, texts: list[str]) -> str | None:
    """None when tiktoken gives `reference`'s ids on `sample_of(texts)`, else why not."""
    sample = sample_of(texts)
    differs = _first_difference(encoding, reference, sample)
    if differs is not None:
        return f"tiktoken encodes {differs[:60]!r} of the input otherwise"
    return None
