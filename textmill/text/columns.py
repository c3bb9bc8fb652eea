"""The text column as numpy arrays: Arrow's offsets and UTF-8 bytes in, code points out, and back.

Kernels work on code points because every rule they mirror counts characters the way Python's
`len(str)` does; decoding the whole column once in numba costs far less than per-row strings.
"""

from __future__ import annotations

from typing import NamedTuple

import numba as nb
import numpy as np
import pyarrow as pa


class Chars(NamedTuple):
    """Code points of every row back to back; row i is codes[offsets[i]:offsets[i + 1]].

    Null rows are empty here and False in `valid`.
    """

    codes: np.ndarray  # int32
    offsets: np.ndarray  # int64, num_rows + 1
    valid: np.ndarray  # bool

    @property
    def num_rows(self) -> int:
        return len(self.offsets) - 1

    def lengths(self) -> np.ndarray:
        """Characters per row, as Python's len() counts them."""
        return np.diff(self.offsets)


def _large_string_array(column: pa.Array | pa.ChunkedArray) -> pa.LargeStringArray:
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)
    if column.type != pa.large_string():
        column = column.cast(pa.large_string())
    return column


@nb.njit(cache=True, inline="always")
def code_point_at(data, j, end):
    """(code point, bytes it takes) of the UTF-8 sequence at data[j] (j < end): a stray
    continuation byte or a sequence cut short by `end` is one U+FFFD. The one UTF-8 decoder
    of the numba kernels (columns, PII windows, MinHash tokens)."""
    b = np.int32(data[j])
    if b < 0x80:
        return b, 1
    if b >= 0xF0:
        code = b & 0x07
        width = 4
    elif b >= 0xE0:
        code = b & 0x0F
        width = 3
    elif b >= 0xC0:
        code = b & 0x1F
        width = 2
    else:
        return np.int32(0xFFFD), 1
    m = 1
    while m < width:
        if j + m >= end or (data[j + m] & 0xC0) != 0x80:
            return np.int32(0xFFFD), m
        code = (code << 6) | (np.int32(data[j + m]) & 0x3F)
        m += 1
    return code, m


@nb.njit(cache=True)
def _decode(byte_starts, byte_ends, data):
    n = len(byte_starts)
    total = 0
    for i in range(n):
        for j in range(byte_starts[i], byte_ends[i]):
            if (data[j] & 0xC0) != 0x80:
                total += 1
    codes = np.empty(total, dtype=np.int32)
    offsets = np.zeros(n + 1, dtype=np.int64)
    k = 0
    for i in range(n):
        j = byte_starts[i]
        end = byte_ends[i]
        while j < end:
            code, width = code_point_at(data, j, end)
            codes[k] = code
            k += 1
            j += width
        offsets[i + 1] = k
    return codes[:k], offsets


def utf8_buffers(column: pa.Array | pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(byte offsets [n + 1], UTF-8 bytes, valid [n]) of a string column, without copying the
    text: what the numba kernels read."""
    array = _large_string_array(column)
    n = len(array)
    _, offsets_buffer, data_buffer = array.buffers()
    offsets = np.frombuffer(offsets_buffer, dtype=np.int64)[array.offset : array.offset + n + 1]
    data = (
        np.frombuffer(data_buffer, dtype=np.uint8)
        if data_buffer is not None
        else np.zeros(0, np.uint8)
    )
    if array.null_count:
        valid = array.is_valid().to_numpy(zero_copy_only=False)
    else:
        valid = np.ones(n, dtype=bool)
    return offsets, data, valid


def decode(column: pa.Array | pa.ChunkedArray) -> Chars:
    """Decode a string column into code points (null rows become empty, valid=False)."""
    offsets, data, valid = utf8_buffers(column)
    starts = offsets[:-1]
    ends = np.where(valid, offsets[1:], starts)
    codes, char_offsets = _decode(starts, ends, data)
    return Chars(codes, char_offsets, valid)


@nb.njit(cache=True)
def _encode(codes, offsets):
    n = len(offsets) - 1
    size = 0
    for k in range(offsets[n] - offsets[0]):
        c = codes[offsets[0] + k]
        size += 1 if c < 0x80 else 2 if c < 0x800 else 3 if c < 0x10000 else 4
    data = np.empty(size, dtype=np.uint8)
    byte_offsets = np.zeros(n + 1, dtype=np.int64)
    j = 0
    for i in range(n):
        for k in range(offsets[i], offsets[i + 1]):
            c = codes[k]
            if c < 0x80:
                data[j] = c
                j += 1
            elif c < 0x800:
                data[j] = 0xC0 | (c >> 6)
                data[j + 1] = 0x80 | (c & 0x3F)
                j += 2
            elif c < 0x10000:
                data[j] = 0xE0 | (c >> 12)
                data[j + 1] = 0x80 | ((c >> 6) & 0x3F)
                data[j + 2] = 0x80 | (c & 0x3F)
                j += 3
            else:
                data[j] = 0xF0 | (c >> 18)
                data[j + 1] = 0x80 | ((c >> 12) & 0x3F)
                data[j + 2] = 0x80 | ((c >> 6) & 0x3F)
                data[j + 3] = 0x80 | (c & 0x3F)
                j += 4
        byte_offsets[i + 1] = j
    return data, byte_offsets


def encode(chars: Chars) -> pa.LargeStringArray:
    """Code points back into a large_string column; rows with valid=False become null."""
    data, byte_offsets = _encode(chars.codes, chars.offsets)
    validity = None
    null_count = int(len(chars.valid) - np.count_nonzero(chars.valid))
    if null_count:
        validity = pa.py_buffer(np.packbits(chars.valid, bitorder="little"))
    return pa.LargeStringArray.from_buffers(
        chars.num_rows,
        pa.py_buffer(byte_offsets),
        pa.py_buffer(data),
        validity,
        null_count,
    )
