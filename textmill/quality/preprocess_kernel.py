"""The fastText preprocessing (preprocess.reference_preprocess_texts) in one numba pass over a
column's UTF-8 bytes.

The reference runs seven Arrow/RE2 passes (slice, newline runs, lower-case, NFKD, four regex
rewrites, trim); each is a per-code-point map or a per-code-point class test, so one table
indexed by code point says what each character becomes: its lower-cased NFKD decomposition
without combining marks, and the class of every resulting character. The table is computed by
the same engines the reference calls (Arrow's utf8proc lower-casing and NFKD, RE2's \\p{L},
\\p{N}, \\p{Mn}, \\s, \\p{Z}, Arrow's white-space trim), applied to every code point once, so
the two agree whatever Unicode version each library carries. Python's `unicodedata` is another
Unicode version and would not.

What a table cannot express goes back to the reference, row by row: canonical reordering that
could move a kept character (a run holding a non-combining-mark character with a non-zero
combining class, e.g. some viramas), code points outside planes 0-3 and 14 (unassigned or
private use), and invalid UTF-8 (where the reference raises its error).
"""

from __future__ import annotations

from functools import cache
from typing import NamedTuple

import numba as nb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from textmill.text.columns import Chars, code_point_at, decode, encode, utf8_buffers

# code points the table covers: planes 0-3 at their own index, plane 14 (tags, variation
# selectors) folded in after them; anything else sends its row to the reference
PLANE_14 = 0xE0000
TABLE_SIZE = 0x50000

# what one output character does in the token stream
WORD = 1  # \p{L} or \p{N}: part of a word
SPACE = 2  # \s or \p{Z} other than a newline: a separator
NEWLINE = 3  # "\n": the token `\n`
PUNCT = 4  # anything else: a token of its own
# flags on an input code point
FALLBACK = 1  # this row goes to the reference

ROW_RESERVE = 1 << 22  # bytes a row may reserve from its length alone; longer rows count


class Table(NamedTuple):
    """For table index i: out_count[i] output code points, out_start[i] their first index in
    out_codes / out_class; input_flags[i] FALLBACK where the table does not apply; trimmed[i]
    whether Arrow's utf8_trim_whitespace removes the code point itself at either end."""

    input_flags: np.ndarray  # uint8 [TABLE_SIZE]
    out_start: np.ndarray  # int32 [TABLE_SIZE]
    out_count: np.ndarray  # uint8 [TABLE_SIZE]
    out_codes: np.ndarray  # int32
    out_class: np.ndarray  # uint8
    trimmed: np.ndarray  # bool [TABLE_SIZE]
    out_bound: np.ndarray  # int32 [TABLE_SIZE]: most output bytes the code point can add
    growth: int  # most output bytes per input byte, over all code points


def _table_code_points() -> np.ndarray:
    planes = np.arange(0x40000, dtype=np.int32)
    tags = np.arange(PLANE_14, PLANE_14 + 0x10000, dtype=np.int32)
    return np.concatenate([planes, tags])


def _single_char_column(codes: np.ndarray) -> pa.LargeStringArray:
    """One row per code point (surrogates, which UTF-8 cannot hold, as U+0000 placeholders)."""
    codes = np.where((codes >= 0xD800) & (codes < 0xE000), 0, codes).astype(np.int32)
    n = len(codes)
    return encode(Chars(codes, np.arange(n + 1, dtype=np.int64), np.ones(n, dtype=bool)))


def _matches(column: pa.Array, pattern: str) -> np.ndarray:
    return pc.match_substring_regex(column, pattern).to_numpy(zero_copy_only=False)


@cache
def preprocess_table() -> Table:
    """The table, built once per process (~0.1 s) by running the reference's own engines on every
    code point of planes 0-3 and 14."""
    codes = _table_code_points()
    chars = _single_char_column(codes)
    mapped = pc.utf8_normalize(pc.utf8_lower(chars), form="NFKD")
    mark = _matches(chars, r"^\p{Mn}$")
    word = _matches(chars, r"^[\p{L}\p{N}]$")
    space = _matches(chars, r"^[\s\p{Z}]$")
    trim = pc.utf8_length(pc.utf8_trim_whitespace(chars)).to_numpy() == 0
    # a non-zero combining class shows as canonical reordering against U+0334 (class 1) placed
    # after it or U+0301 (class 230) placed before it
    grave, overlay, nothing = (
        pa.scalar(char, pa.large_string()) for char in ("\u0301", "\u0334", "")
    )
    after = pc.binary_join_element_wise(chars, overlay, nothing)
    before = pc.binary_join_element_wise(grave, chars, nothing)
    nonstarter = pc.invert(
        pc.and_(
            pc.equal(pc.utf8_normalize(after, form="NFKD"), after),
            pc.equal(pc.utf8_normalize(before, form="NFKD"), before),
        )
    ).to_numpy(zero_copy_only=False)
    # every output code point is itself a table code point (NFKD yields assigned characters)
    index_of = _index_of(codes)
    decomposed = decode(mapped)
    klass = np.where(word, WORD, np.where(codes == 0x0A, NEWLINE, np.where(space, SPACE, PUNCT)))
    out_index = index_of[decomposed.codes]
    if (out_index < 0).any():
        raise RuntimeError("an NFKD decomposition leaves planes 0-3 and 14")
    keep = ~mark[out_index]
    # reordering could move a kept character with a non-zero combining class: reference
    risky = nonstarter[out_index] & keep
    row_of = np.repeat(np.arange(len(codes)), decomposed.lengths())
    input_flags = np.zeros(TABLE_SIZE, dtype=np.uint8)
    input_flags[np.unique(row_of[risky])] = FALLBACK
    input_flags[(codes >= 0xD800) & (codes < 0xE000)] = FALLBACK
    kept_rows = row_of[keep]
    out_count = np.bincount(kept_rows, minlength=TABLE_SIZE).astype(np.uint8)
    out_start = np.zeros(TABLE_SIZE, dtype=np.int32)
    out_start[1:] = np.cumsum(out_count[:-1], dtype=np.int64)
    kept = out_index[keep]
    # each kept character adds itself and at most one separator; a newline adds `\\n`, 2 bytes
    kept_bytes = _utf8_lengths(decomposed.codes[keep]) + 1 + (klass[kept] == NEWLINE)
    out_bound = np.bincount(kept_rows, weights=kept_bytes, minlength=TABLE_SIZE).astype(np.int32)
    growth = int(np.ceil((out_bound / _utf8_lengths(codes)).max()))
    return Table(
        input_flags,
        out_start,
        out_count,
        decomposed.codes[keep].astype(np.int32),
        klass[kept].astype(np.uint8),
        trim,
        out_bound,
        growth,
    )


def _utf8_lengths(codes: np.ndarray) -> np.ndarray:
    return 1 + (codes >= 0x80) + (codes >= 0x800) + (codes >= 0x10000)


def _index_of(codes: np.ndarray) -> np.ndarray:
    index = np.full(0x110000, -1, dtype=np.int64)
    index[codes] = np.arange(len(codes))
    return index


@nb.njit(cache=True, inline="always")
def _table_index(code):
    if code < 0x40000:
        return code
    if PLANE_14 <= code < PLANE_14 + 0x10000:
        return code - PLANE_14 + 0x40000
    return -1


@nb.njit(cache=True, inline="always")
def _strict_width(data, j, code, width):
    """True when the UTF-8 sequence at data[j] is valid (code_point_at maps invalid bytes to
    U+FFFD without saying so): lead byte and value range must fit the width."""
    lead = data[j]
    if width == 1:
        return lead < 0x80
    if width == 2:
        return 0xC0 <= lead < 0xE0 and 0x80 <= code < 0x800
    if width == 3:
        return 0xE0 <= lead < 0xF0 and 0x800 <= code < 0x10000 and not (0xD800 <= code < 0xE000)
    return 0xF0 <= lead < 0xF8 and 0x10000 <= code < 0x110000


@nb.njit(cache=True, inline="always")
def _put(out, j, c):
    """Writes code point c as UTF-8 at out[j]; returns the next free index."""
    if c < 0x80:
        out[j] = c
        return j + 1
    if c < 0x800:
        out[j] = 0xC0 | (c >> 6)
        out[j + 1] = 0x80 | (c & 0x3F)
        return j + 2
    if c < 0x10000:
        out[j] = 0xE0 | (c >> 12)
        out[j + 1] = 0x80 | ((c >> 6) & 0x3F)
        out[j + 2] = 0x80 | (c & 0x3F)
        return j + 3
    out[j] = 0xF0 | (c >> 18)
    out[j + 1] = 0x80 | ((c >> 12) & 0x3F)
    out[j + 2] = 0x80 | ((c >> 6) & 0x3F)
    out[j + 3] = 0x80 | (c & 0x3F)
    return j + 4


@nb.njit(cache=True, inline="always")
def _start_of_last(out, begin, end):
    """Index of the first byte of the last UTF-8 sequence in out[begin:end] (end > begin)."""
    k = end - 1
    while k > begin and (out[k] & 0xC0) == 0x80:
        k -= 1
    return k


@nb.njit(cache=True)
def _row_bound(start, end, data, max_chars, growth, out_bound):
    """Output bytes a row can need: from its byte length when that is small, else counted."""
    span = end - start
    if max_chars < span // 4:  # only the first max_chars characters are read
        span = 4 * max_chars
    if span * growth <= ROW_RESERVE:
        return span * growth + 8
    total = 8
    k = start
    taken = 0
    while k < end and taken < max_chars:
        code, width = code_point_at(data, k, end)
        index = _table_index(code)
        total += out_bound[index] if index >= 0 else 0
        k += width
        taken += 1
    return total


@nb.njit(cache=True)
def _preprocess(
    starts,
    ends,
    data,
    max_chars,
    input_flags,
    out_start,
    out_count,
    out_codes,
    out_class,
    trimmed,
    out_bound,
    growth,
):
    n = len(starts)
    capacity = len(data) + len(data) // 2 + 64  # grown when a row needs more
    out = np.empty(capacity, dtype=np.uint8)
    offsets = np.zeros(n + 1, dtype=np.int64)
    fallback = np.zeros(n, dtype=np.bool_)
    j = 0
    for i in range(n):
        begin = j
        k = starts[i]
        end = ends[i]
        taken = 0
        newlines = 0
        separate = False  # a separator is due before the next token
        # room for the row's output, reserved up front (a check per character costs more)
        need = j + _row_bound(starts[i], end, data, max_chars, growth, out_bound)
        if need > capacity:
            capacity = max(2 * capacity, need)
            grown = np.empty(capacity, dtype=np.uint8)
            grown[:j] = out[:j]
            out = grown
        while k < end and taken < max_chars:
            code, width = code_point_at(data, k, end)
            if not _strict_width(data, k, code, width):
                fallback[i] = True
                break
            k += width
            taken += 1
            if code == 0x0A:
                newlines += 1
                if newlines > 2:  # \n{3,} -> \n\n, on the text as given
                    continue
            else:
                newlines = 0
            index = _table_index(code)
            if index < 0 or input_flags[index] & FALLBACK:
                fallback[i] = True
                break
            first = out_start[index]
            for m in range(first, first + out_count[index]):
                klass = out_class[m]
                if klass == WORD:
                    if separate and j > begin:
                        out[j] = 0x20
                        j += 1
                    separate = False
                    j = _put(out, j, out_codes[m])
                elif klass == SPACE:
                    separate = True
                else:
                    if j > begin:
                        out[j] = 0x20
                        j += 1
                    if klass == NEWLINE:
                        out[j] = 0x5C  # backslash
                        out[j + 1] = 0x6E  # n
                        j += 2
                    else:
                        j = _put(out, j, out_codes[m])
                    separate = True
        if fallback[i]:
            j = begin
            offsets[i + 1] = j
            continue
        # utf8_trim_whitespace: characters beyond " " that Arrow counts as white space
        head = begin
        while head < j:
            code, width = code_point_at(out, head, j)
            if not _is_trimmed(code, trimmed):
                break
            head += width
        tail = j
        while tail > head:
            last = _start_of_last(out, head, tail)
            code, width = code_point_at(out, last, tail)
            if not _is_trimmed(code, trimmed):
                break
            tail = last
        if head > begin:
            out[begin : begin + tail - head] = out[head:tail].copy()
        j = begin + tail - head
        offsets[i + 1] = j
    return out[:j], offsets, fallback


@nb.njit(cache=True, inline="always")
def _is_trimmed(code, trimmed):
    """Whether Arrow's trim removes this output character (a space, or another character
    it counts as white space that the rewrites left as a token)."""
    if code == 0x20:
        return True
    index = _table_index(code)
    return index >= 0 and trimmed[index]


def kernel_preprocess(column: pa.Array, max_chars: int | None) -> tuple[pa.Array, np.ndarray]:
    """(large_string column, rows the kernel left to the reference: empty in the column)."""
    table = preprocess_table()
    offsets, data, valid = utf8_buffers(column)
    starts = offsets[:-1]
    ends = np.where(valid, offsets[1:], starts)
    limit = np.iinfo(np.int64).max if max_chars is None else max_chars
    out, out_offsets, fallback = _preprocess(starts, ends, data, limit, *table)
    null_count = int(len(valid) - np.count_nonzero(valid))
    validity = pa.py_buffer(np.packbits(valid, bitorder="little")) if null_count else None
    result = pa.LargeStringArray.from_buffers(
        len(valid), pa.py_buffer(out_offsets), pa.py_buffer(out), validity, null_count
    )
    return result, fallback
