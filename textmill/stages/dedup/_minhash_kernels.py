"""Numba kernels for MinHash signatures, straight from Arrow's UTF-8 buffers to band hashes.

One pass per document: decode UTF-8, normalise each code point through a lookup table (lower
case, punctuation and symbols to spaces, diacritics stripped, each number to "0": datatrove's
`simplify_text`, which FineWeb's MinHash uses), hash tokens (words or characters), combine n
consecutive tokens into a shingle hash, take the minimum of every seeded permutation over the
shingles, and fold each band's rows into one 64-bit band hash. The low 16 bits of every minimum
are kept too (b-bit MinHash, Li & König 2010): enough to estimate the Jaccard similarity of a
candidate pair (a chance match of two 16-bit values adds < 2e-5 to the estimate) at 2 bytes a hash.
No Python object per document.
"""

from __future__ import annotations

import unicodedata

import numba as nb
import numpy as np
import pyarrow as pa

from textmill.text.columns import code_point_at, utf8_buffers
from textmill.text.table_cache import disk_cached

# Table values below 1 are classes, not code points.
SEPARATOR = 0  # whitespace, punctuation, symbols, control characters: end a word
DROPPED = -1  # combining marks and format characters: vanish inside a word ("co\xadop" → "coop")
DIGIT = -2  # decimal digits: a run of them (with inner '.') becomes one "0", as datatrove does
ZERO = ord("0")
SPACE = ord(" ")

# Past these code points nothing is assigned but private use; they map to themselves.
_TABLE_SIZE = 0xE1000
_UNASSIGNED_FROM, _UNASSIGNED_TO = 0x32400, 0xE0000

_MIX1 = np.uint64(0xFF51AFD7ED558CCD)
_MIX2 = np.uint64(0xC4CEB9FE1A85EC53)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_FNV_OFFSET = np.uint64(0xCBF29CE484222325)
_FNV_PRIME = np.uint64(0x100000001B3)


@disk_cached
def normalisation_table() -> np.ndarray:
    """Code point → normalised code point or class (~0.15 s to build; kept on disk)."""
    table = np.arange(_TABLE_SIZE, dtype=np.int32)
    category = unicodedata.category
    for cp in (*range(_UNASSIGNED_FROM), *range(_UNASSIGNED_TO, _TABLE_SIZE)):
        char = chr(cp)
        kind = category(char)
        if kind[0] in "PSZ" or char.isspace() or kind == "Cc":
            table[cp] = SEPARATOR
        elif kind in ("Mn", "Me", "Cf"):
            table[cp] = DROPPED
        elif kind == "Nd":
            table[cp] = DIGIT
        elif kind[0] != "C":
            lower = char.lower()
            base = "".join(c for c in unicodedata.normalize("NFD", lower) if category(c) != "Mn")
            if len(base) == 1:
                table[cp] = ord(base)
            elif len(lower) == 1:
                table[cp] = ord(lower)
    return table


def permutation_seeds(num_perm: int, seed: int) -> np.ndarray:
    """One 64-bit seed per hash permutation, from a seeded generator (stable across runs)."""
    return np.random.default_rng(seed).integers(0, 2**64, size=num_perm, dtype=np.uint64)


@nb.njit(cache=True, inline="always")
def fmix64(z):
    """MurmurHash3's 64-bit finaliser: a bijection with full avalanche."""
    z = (z ^ (z >> np.uint64(33))) * _MIX1
    z = (z ^ (z >> np.uint64(33))) * _MIX2
    return z ^ (z >> np.uint64(33))


@nb.njit(cache=True)
def _next_code_point(data, i):
    """(code point, next byte index) of the UTF-8 sequence at data[i]; invalid bytes → U+FFFD."""
    code, width = code_point_at(data, i, len(data))
    return np.int64(code), i + width


@nb.njit(cache=True)
def _tokens(data, start, end, table, chars, out):
    """Token hashes of one document into `out`; returns how many.

    Word mode: one hash per normalised word. Character mode: one per normalised code point,
    words joined by a single space, as in `" ".join(words)`. Numbers follow datatrove's
    `\\d+(\\.\\d+)?` → "0".
    """
    count = 0
    word = _FNV_OFFSET
    in_word = False
    in_number = False
    had_fraction = False
    i = start
    while i < end:
        cp, i = _next_code_point(data, i)
        value = table[cp] if cp < len(table) else cp
        if value == DROPPED:
            continue
        if value == DIGIT:
            if in_number:
                continue
            value = ZERO
            in_number = True
            had_fraction = False
        elif cp == 46 and in_number and not had_fraction and i < end:
            following, after = _next_code_point(data, i)
            if following < len(table) and table[following] == DIGIT:
                had_fraction = True
                i = after
                continue
            in_number = False
        else:
            in_number = False
        if value == SEPARATOR:
            if in_word and not chars:
                out[count] = fmix64(word)
                count += 1
            in_word = False
            word = _FNV_OFFSET
            continue
        if chars:
            if not in_word and count > 0:
                out[count] = fmix64(np.uint64(SPACE))
                count += 1
            out[count] = fmix64(np.uint64(value))
            count += 1
        else:
            word = (word ^ np.uint64(value)) * _FNV_PRIME
        in_word = True
    if in_word and not chars:
        out[count] = fmix64(word)
        count += 1
    return count


@nb.njit(cache=True)
def _code_tokens(data, start, end, table, out):
    """Code tokens of one document into `out`; returns how many: identifiers, keywords and
    number literals (runs of ASCII letters, digits and `_`, and of non-ASCII letters), and
    every other printable ASCII character on its own (operators, brackets); case kept,
    whitespace only separates. Renaming nothing, reformatting nothing: two files match when
    their token sequences do, whatever their indentation or line breaks (BigCode's near-dedup
    splits on non-identifier characters; operators are kept here too, so `a+b` and `a-b`
    differ)."""
    count = 0
    word = _FNV_OFFSET
    in_word = False
    i = start
    while i < end:
        cp, i = _next_code_point(data, i)
        if cp < 128:
            ident = (
                (cp >= 48 and cp <= 57) or (cp >= 65 and cp <= 90) or (cp >= 97 and cp <= 122)
            ) or cp == 95
            separator = cp <= 32 or cp == 127
        else:
            value = table[cp] if cp < len(table) else cp
            ident = value != SEPARATOR
            separator = not ident
        if ident:
            word = (word ^ np.uint64(cp)) * _FNV_PRIME
            in_word = True
            continue
        if in_word:
            out[count] = fmix64(word)
            count += 1
            in_word = False
            word = _FNV_OFFSET
        if not separator:  # an operator or bracket: a token of its own, apart from words
            out[count] = fmix64(np.uint64(cp) + _GOLDEN)
            count += 1
    if in_word:
        out[count] = fmix64(word)
        count += 1
    return count


WORDS, CHARS, CODE = 0, 1, 2  # token modes of `_signatures`


@nb.njit(cache=True)
def _signatures(offsets, data, valid, table, mode, ngram, seeds, bands, rows):
    """Band hashes (bands × docs, a contiguous column per band); the low 16 bits of every
    minimum (docs × hashes); which docs have any token."""
    num_docs = len(offsets) - 1
    num_perm = len(seeds)
    band_hashes = np.zeros((bands, num_docs), dtype=np.uint64)
    low_bits = np.zeros((num_docs, num_perm), dtype=np.uint16)
    has_signature = np.zeros(num_docs, dtype=np.bool_)
    longest = 0
    for d in range(num_docs):
        longest = max(longest, offsets[d + 1] - offsets[d])
    tokens = np.empty(2 * longest + 1, dtype=np.uint64)
    mins = np.empty(num_perm, dtype=np.uint64)
    for d in range(num_docs):
        if not valid[d]:
            continue
        if mode == 2:
            count = _code_tokens(data, offsets[d], offsets[d + 1], table, tokens)
        else:
            count = _tokens(data, offsets[d], offsets[d + 1], table, mode == 1, tokens)
        if count == 0:
            continue
        has_signature[d] = True
        mins[:] = np.uint64(0xFFFFFFFFFFFFFFFF)
        width = min(ngram, count)  # fewer tokens than n: the whole text is one shingle
        for s in range(count - width + 1):
            shingle = np.uint64(width)
            for j in range(width):
                shingle = fmix64(shingle * _GOLDEN + tokens[s + j])
            for p in range(num_perm):
                value = fmix64(shingle ^ seeds[p])
                if value < mins[p]:
                    mins[p] = value
        for p in range(num_perm):
            low_bits[d, p] = np.uint16(mins[p] & np.uint64(0xFFFF))
        for b in range(bands):
            band = np.uint64(b + 1)
            for r in range(rows):
                band = fmix64(band * _GOLDEN + mins[b * rows + r])
            band_hashes[b, d] = band
    return band_hashes, low_bits, has_signature


def band_signatures(
    texts: pa.Array | pa.ChunkedArray,
    *,
    chars: bool = False,
    code: bool = False,
    ngram: int,
    bands: int,
    rows: int,
    seed: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(band hashes uint64 [bands, docs], low 16 bits of the minima uint16 [docs, bands × rows],
    has_signature bool [docs]) for a text column; tokens are words (default), characters
    (`chars`) or code tokens (`code`, `_code_tokens`)."""
    offsets, data, valid = utf8_buffers(texts)
    return _signatures(
        offsets,
        data,
        valid,
        normalisation_table(),
        CODE if code else CHARS if chars else WORDS,
        ngram,
        permutation_seeds(bands * rows, seed),
        bands,
        rows,
    )
