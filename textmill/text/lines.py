"""Lines and paragraphs as (start, end) code-point spans per row.

Each splitter reproduces one Python idiom exactly, because the published filters differ in how
they cut a document: `re.split("\\n+")`, `re.split("\\n{2,}", text.strip())` and
`str.splitlines()` give different pieces on the same text.
"""

from __future__ import annotations

from typing import NamedTuple

import numba as nb
import numpy as np

from textmill.text.chars import LINE_BREAK, SPACE, char_flags, flag
from textmill.text.columns import Chars


class Spans(NamedTuple):
    """Pieces of every row: piece j is codes[starts[j]:ends[j]]; row i owns pieces
    row_offsets[i]:row_offsets[i + 1]."""

    starts: np.ndarray  # int64
    ends: np.ndarray  # int64
    row_offsets: np.ndarray  # int64, num_rows + 1

    def lengths(self) -> np.ndarray:
        return self.ends - self.starts

    def counts(self) -> np.ndarray:
        """Pieces per row."""
        return np.diff(self.row_offsets)


@nb.njit(cache=True)
def span_buffers(rows, capacity):
    """Room for `capacity` spans (starts, ends) and the zeroed row offsets of `rows` rows: the
    preamble of every kernel that cuts rows into spans."""
    starts = np.empty(capacity, dtype=np.int64)
    ends = np.empty(capacity, dtype=np.int64)
    return starts, ends, np.zeros(rows + 1, dtype=np.int64)


@nb.njit(cache=True)
def _split_newline_runs(codes, offsets, flags, min_run, strip):
    n = len(offsets) - 1
    capacity = n + 16
    for i in range(len(codes)):
        if codes[i] == 10:
            capacity += 1
    starts, ends, row_offsets = span_buffers(n, capacity)
    k = 0
    for i in range(n):
        s = offsets[i]
        e = offsets[i + 1]
        if strip:
            while s < e and flag(flags, codes[s]) & SPACE:
                s += 1
            while e > s and flag(flags, codes[e - 1]) & SPACE:
                e -= 1
        piece_start = s
        j = s
        while j < e:
            if codes[j] == 10:
                run_end = j
                while run_end < e and codes[run_end] == 10:
                    run_end += 1
                if run_end - j >= min_run:
                    starts[k] = piece_start
                    ends[k] = j
                    k += 1
                    piece_start = run_end
                j = run_end
            else:
                j += 1
        starts[k] = piece_start
        ends[k] = e
        k += 1
        row_offsets[i + 1] = k
    return Spans(starts[:k], ends[:k], row_offsets)


def split_newline_runs(chars: Chars, min_run: int = 1, strip: bool = False) -> Spans:
    """Pieces between runs of at least `min_run` newlines, as `re.split("\\n{min_run,}", t)`
    gives them (empty pieces included); with strip, of `t.strip()`."""
    return _split_newline_runs(chars.codes, chars.offsets, char_flags(), min_run, strip)


@nb.njit(cache=True)
def _split_lines(codes, offsets, flags):
    n = len(offsets) - 1
    capacity = n + 16
    for i in range(len(codes)):
        if flag(flags, codes[i]) & LINE_BREAK:
            capacity += 1
    starts, ends, row_offsets = span_buffers(n, capacity)
    k = 0
    for i in range(n):
        s = offsets[i]
        e = offsets[i + 1]
        line_start = s
        j = s
        while j < e:
            if flag(flags, codes[j]) & LINE_BREAK:
                starts[k] = line_start
                ends[k] = j
                k += 1
                if codes[j] == 13 and j + 1 < e and codes[j + 1] == 10:
                    j += 1
                j += 1
                line_start = j
            else:
                j += 1
        if line_start < e:
            starts[k] = line_start
            ends[k] = e
            k += 1
        row_offsets[i + 1] = k
    return Spans(starts[:k], ends[:k], row_offsets)


def split_lines(chars: Chars) -> Spans:
    """Lines as `str.splitlines()` cuts them: every Unicode line boundary, \\r\\n as one,
    no empty piece after a final line break, none at all for an empty row."""
    return _split_lines(chars.codes, chars.offsets, char_flags())


@nb.njit(cache=True)
def _strip_spans(codes, starts, ends, flags, left, right):
    new_starts = starts.copy()
    new_ends = ends.copy()
    for j in range(len(starts)):
        s = starts[j]
        e = ends[j]
        if left:
            while s < e and flag(flags, codes[s]) & SPACE:
                s += 1
        if right:
            while e > s and flag(flags, codes[e - 1]) & SPACE:
                e -= 1
        new_starts[j] = s
        new_ends[j] = e
    return new_starts, new_ends


def strip_spans(chars: Chars, spans: Spans, left: bool = True, right: bool = True) -> Spans:
    """Spans with surrounding whitespace removed, as str.strip/lstrip/rstrip would."""
    starts, ends = _strip_spans(chars.codes, spans.starts, spans.ends, char_flags(), left, right)
    return Spans(starts, ends, spans.row_offsets)


@nb.njit(cache=True)
def _count_substring(codes, offsets, pattern):
    n = len(offsets) - 1
    counts = np.zeros(n, dtype=np.int64)
    m = len(pattern)
    for i in range(n):
        j = offsets[i]
        e = offsets[i + 1] - m
        c = 0
        while j <= e:
            hit = True
            for t in range(m):
                if codes[j + t] != pattern[t]:
                    hit = False
                    break
            if hit:
                c += 1
                j += m
            else:
                j += 1
        counts[i] = c
    return counts


def count_substring(chars: Chars, pattern: str) -> np.ndarray:
    """Non-overlapping occurrences of `pattern` per row, as str.count counts them."""
    encoded = np.array([ord(c) for c in pattern], dtype=np.int32)
    return _count_substring(chars.codes, chars.offsets, encoded)
