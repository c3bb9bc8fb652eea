"""Small per-span and per-row reductions that the filters share."""

from __future__ import annotations

import numba as nb
import numpy as np

from textmill.text.chars import SPACE, char_flags, flag
from textmill.text.columns import Chars
from textmill.text.lines import Spans


def safe_ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """numerator / denominator, 0 where the denominator is 0 (an empty document has no ratio
    to fail on)."""
    out = np.zeros(len(numerator), dtype=np.float64)
    np.divide(numerator, denominator, out=out, where=denominator > 0)
    return out


@nb.njit(cache=True)
def _row_sums(row_offsets, values):
    n = len(row_offsets) - 1
    out = np.zeros(n, dtype=np.float64)
    for i in range(n):
        total = 0.0
        for j in range(row_offsets[i], row_offsets[i + 1]):
            total += values[j]
        out[i] = total
    return out


def row_sums(spans: Spans, values: np.ndarray) -> np.ndarray:
    """Sum of a per-span value over each row's spans (float64; 0 for rows without spans)."""
    return _row_sums(spans.row_offsets, values.astype(np.float64, copy=False))


@nb.njit(cache=True)
def _any_char(codes, starts, ends, flags, mask, lacking):
    out = np.zeros(len(starts), dtype=np.bool_)
    for j in range(len(starts)):
        for i in range(starts[j], ends[j]):
            has = flag(flags, codes[i]) & mask
            if (has == 0) if lacking else (has != 0):
                out[j] = True
                break
    return out


def any_char_with(chars: Chars, spans: Spans, mask: int) -> np.ndarray:
    """Per span: does any character carry one of the `mask` flags (textmill.text.chars)?"""
    return _any_char(chars.codes, spans.starts, spans.ends, char_flags(), mask, False)


def any_char_without(chars: Chars, spans: Spans, mask: int) -> np.ndarray:
    """Per span: does any character carry none of the `mask` flags?"""
    return _any_char(chars.codes, spans.starts, spans.ends, char_flags(), mask, True)


@nb.njit(cache=True)
def _edge_chars(codes, starts, ends):
    first = np.full(len(starts), -1, dtype=np.int32)
    last = np.full(len(starts), -1, dtype=np.int32)
    for j in range(len(starts)):
        if ends[j] > starts[j]:
            first[j] = codes[starts[j]]
            last[j] = codes[ends[j] - 1]
    return first, last


def edge_chars(chars: Chars, spans: Spans) -> tuple[np.ndarray, np.ndarray]:
    """(first, last) code point of every span; -1 for an empty span."""
    return _edge_chars(chars.codes, spans.starts, spans.ends)


@nb.njit(cache=True)
def _ends_with(codes, starts, ends, suffix):
    m = len(suffix)
    out = np.zeros(len(starts), dtype=np.bool_)
    for j in range(len(starts)):
        if ends[j] - starts[j] >= m:
            hit = True
            for t in range(m):
                if codes[ends[j] - m + t] != suffix[t]:
                    hit = False
                    break
            out[j] = hit
    return out


def ends_with(chars: Chars, spans: Spans, suffix: str) -> np.ndarray:
    """Per span: str.endswith(suffix)."""
    return _ends_with(chars.codes, spans.starts, spans.ends, np.array([ord(c) for c in suffix]))


@nb.njit(cache=True)
def whitespace_words_kernel(codes, start, end, flags):
    """(number of words, longest word) of codes[start:end] as str.split() cuts it."""
    count = 0
    longest = 0
    i = start
    while i < end:
        while i < end and flag(flags, codes[i]) & SPACE:
            i += 1
        if i >= end:
            break
        j = i
        while j < end and not flag(flags, codes[j]) & SPACE:
            j += 1
        count += 1
        longest = max(longest, j - i)
        i = j
    return count, longest


@nb.njit(cache=True)
def _whitespace_words(codes, starts, ends, flags):
    counts = np.zeros(len(starts), dtype=np.int64)
    longest = np.zeros(len(starts), dtype=np.int64)
    for j in range(len(starts)):
        counts[j], longest[j] = whitespace_words_kernel(codes, starts[j], ends[j], flags)
    return counts, longest


def whitespace_words(chars: Chars, spans: Spans) -> tuple[np.ndarray, np.ndarray]:
    """Per span: (words, longest word in characters) when split on whitespace only."""
    return _whitespace_words(chars.codes, spans.starts, spans.ends, char_flags())
