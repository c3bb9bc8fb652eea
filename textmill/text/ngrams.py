"""Hashed word n-grams of normalised text, with the character span each n-gram covers.

Benchmark decontamination compares text after normalisation (case, punctuation, whitespace,
Unicode NFKC and accents, as datatrove's `simplify_text` and GPT-3's overlap check do) but must
cut the *original* text. So normalisation never builds new strings: each code point folds, by one
table lookup, into the code points it stands for after NFKC, lower-casing and accent removal, or
into a separator (punctuation, symbols, spaces). Words are the per-language word splitter's
words (textmill.text.words) further cut at separators; a word's hash is the span hash of its
folded code points, an n-gram's hash a mix of its n word hashes. Positions stay in the original
text, so a match can be cut with a margin.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from functools import cache
from typing import NamedTuple

import numba as nb
import numpy as np

from textmill.text.chars import TABLE_SIZE
from textmill.text.columns import Chars
from textmill.text.hashing import DEFAULT_SEED, HASH_BASE, mix
from textmill.text.lines import Spans
from textmill.text.words import split_words

FOLD_WIDTH = 4  # longest folded form kept (NFKC of U+FDFA is 18 letters: a word of its own)
SEPARATOR = -1  # a folded code point that ends a word
GPT3_NGRAM = 13  # Brown et al. 2020, appendix C
DATATROVE_NGRAM = 12  # datatrove NGramsDecontConfig.n_grams


def fold_table(lowercase: bool = True, strip_accents: bool = True) -> np.ndarray:
    """[TABLE_SIZE, FOLD_WIDTH] int32: what each code point becomes after NFKC, optional
    lower-casing and accent (Mn) removal; alphanumerics stay, everything else is SEPARATOR, and
    unused trailing cells are 0. Built once per process and option pair (~0.5 s)."""
    return _fold_table(bool(lowercase), bool(strip_accents))


@cache
def _fold_table(lowercase: bool, strip_accents: bool) -> np.ndarray:
    table = np.zeros((TABLE_SIZE, FOLD_WIDTH), dtype=np.int32)
    for code in range(TABLE_SIZE):
        char = chr(code)
        if char.isascii() or unicodedata.is_normalized("NFKD", char):
            folded = char.lower() if lowercase else char  # nothing to compose or strip
            if strip_accents and unicodedata.category(char) == "Mn":
                folded = ""
        else:
            folded = unicodedata.normalize("NFKC", char)
            if lowercase:
                folded = folded.lower()
            if strip_accents:
                decomposed = unicodedata.normalize("NFD", folded)
                folded = "".join(c for c in decomposed if unicodedata.category(c) != "Mn")
                folded = unicodedata.normalize("NFC", folded)
        if len(folded) == 1:
            if folded.isalnum() or unicodedata.category(folded).startswith("M"):
                table[code, 0] = ord(folded)
            else:
                table[code, 0] = SEPARATOR
            continue
        # marks stay in their word; a character that folds to nothing (an accent) is skipped
        cells = [
            ord(c) if c.isalnum() or unicodedata.category(c).startswith("M") else SEPARATOR
            for c in folded[:FOLD_WIDTH]
        ]
        table[code, : len(cells)] = cells
    return table


class Words(NamedTuple):
    """Normalised words of every row: word j hashes to hashes[j] and covers original code
    points starts[j]:ends[j]; row i owns words row_offsets[i]:row_offsets[i + 1]."""

    hashes: np.ndarray  # uint64
    starts: np.ndarray  # int64
    ends: np.ndarray  # int64
    row_offsets: np.ndarray  # int64


class NGrams(NamedTuple):
    """Hashed word n-grams; n-gram j starts at word first_word[j] (an index into Words); row i
    owns n-grams row_offsets[i]:row_offsets[i + 1]."""

    hashes: np.ndarray  # uint64
    first_word: np.ndarray  # int64
    row_offsets: np.ndarray  # int64


@nb.njit(cache=True)
def _emit(hashes, starts, ends, k, h, begin, end):
    if k == len(hashes):
        hashes = _resized(hashes, 2 * k)
        starts = _resized(starts, 2 * k)
        ends = _resized(ends, 2 * k)
    hashes[k] = h
    starts[k] = begin
    ends[k] = end
    return hashes, starts, ends, k + 1


@nb.njit(cache=True)
def _resized(values, capacity):
    out = np.empty(capacity, dtype=values.dtype)
    out[: len(values)] = values
    return out


@nb.njit(cache=True)
def _fold_words(codes, span_starts, span_ends, span_rows, num_rows, table, seed):
    capacity = max(16, len(span_starts) * 2)
    hashes = np.empty(capacity, dtype=np.uint64)
    starts = np.empty(capacity, dtype=np.int64)
    ends = np.empty(capacity, dtype=np.int64)
    counts = np.zeros(num_rows, dtype=np.int64)
    size = len(table)
    width = table.shape[1]
    k = 0
    for j in range(len(span_starts)):
        h = np.uint64(0)
        begin = -1
        last = -1
        for i in range(span_starts[j], span_ends[j]):
            code = codes[i]
            for t in range(width):
                folded = table[code, t] if code < size else SEPARATOR
                if folded == 0:
                    break  # the rest of the cells are unused (or the mark folded away)
                if folded > 0:
                    if begin < 0:
                        begin = i
                    h = h * HASH_BASE + mix(folded, seed)
                    last = i + 1
                    continue
                if begin >= 0:
                    hashes, starts, ends, k = _emit(hashes, starts, ends, k, h, begin, last)
                    counts[span_rows[j]] += 1
                    h = np.uint64(0)
                    begin = -1
                if code >= size:
                    break
        if begin >= 0:
            hashes, starts, ends, k = _emit(hashes, starts, ends, k, h, begin, last)
            counts[span_rows[j]] += 1
    row_offsets = np.zeros(num_rows + 1, dtype=np.int64)
    for r in range(num_rows):
        row_offsets[r + 1] = row_offsets[r] + counts[r]
    return hashes[:k], starts[:k], ends[:k], row_offsets


def normalized_words(
    chars: Chars,
    lang: str | Sequence[str | None] | np.ndarray = "en",
    lowercase: bool = True,
    strip_accents: bool = True,
    seed: int = DEFAULT_SEED,
) -> Words:
    """Every row's normalised words (see the module docstring), split by the rules of `lang`
    (one language, or one per row)."""
    spans: Spans = split_words(chars, lang)
    span_rows = np.repeat(np.arange(chars.num_rows, dtype=np.int64), spans.counts())
    hashes, starts, ends, offsets = _fold_words(
        chars.codes,
        spans.starts,
        spans.ends,
        span_rows,
        chars.num_rows,
        fold_table(lowercase, strip_accents),
        np.uint64(seed),
    )
    return Words(hashes, starts, ends, offsets)


@nb.njit(cache=True)
def _ngram_hashes(word_hashes, row_offsets, n):
    num_rows = len(row_offsets) - 1
    total = 0
    for r in range(num_rows):
        total += max(0, row_offsets[r + 1] - row_offsets[r] - n + 1)
    hashes = np.empty(total, dtype=np.uint64)
    first = np.empty(total, dtype=np.int64)
    offsets = np.zeros(num_rows + 1, dtype=np.int64)
    k = 0
    for r in range(num_rows):
        for s in range(row_offsets[r], row_offsets[r + 1] - n + 1):
            h = np.uint64(n)
            for w in range(s, s + n):
                h = h * HASH_BASE + word_hashes[w]
            hashes[k] = mix(h, np.uint64(0))
            first[k] = s
            k += 1
        offsets[r + 1] = k
    return hashes, first, offsets


def ngram_hashes(words: Words, n: int) -> NGrams:
    """The hash of every run of `n` consecutive words within a row (rows with fewer than `n`
    words have none)."""
    if n < 1:
        raise ValueError(f"n-gram size must be at least 1, not {n}")
    hashes, first, offsets = _ngram_hashes(words.hashes, words.row_offsets, n)
    return NGrams(hashes, first, offsets)


__all__ = [
    "DATATROVE_NGRAM",
    "GPT3_NGRAM",
    "NGrams",
    "Words",
    "fold_table",
    "ngram_hashes",
    "normalized_words",
]
