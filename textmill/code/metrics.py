"""Per-file measurements for the code heuristics, in one numba pass over the text column.

Lines are cut at "\\n" with a final newline ending, not starting, a line (`str.splitlines()`
for "\\n" files, as the Codex / StarCoder filters count them). Alphanumeric means a letter or a
decimal digit (`str.isalpha() or str.isdecimal()`, from `textmill.text.chars`).
"""

from __future__ import annotations

import numba as nb
import numpy as np
import pyarrow as pa

from textmill.text.chars import ALPHA, DECIMAL, char_flags, flag
from textmill.text.columns import decode

NEWLINE = 10
_BASE64 = np.zeros(128, dtype=np.bool_)
for _c in b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=\n":
    _BASE64[_c] = True


@nb.njit(cache=True)
def _line_stats(codes, offsets, valid, flags, base64):
    n = len(offsets) - 1
    lines = np.zeros(n, dtype=np.int64)
    longest = np.zeros(n, dtype=np.int64)
    mean = np.zeros(n, dtype=np.float64)
    alnum = np.zeros(n, dtype=np.float64)
    base64_run = np.zeros(n, dtype=np.int64)
    for d in range(n):
        start, end = offsets[d], offsets[d + 1]
        if not valid[d] or end == start:
            continue
        count = 0
        line = 0
        line_chars = 0
        alnum_chars = 0
        run = 0
        best_run = 0
        for i in range(start, end):
            c = codes[i]
            if c < 128 and base64[c]:
                run += 1
                if run > best_run:
                    best_run = run
            else:
                run = 0
            if c == NEWLINE:
                count += 1
                if line > longest[d]:
                    longest[d] = line
                line = 0
                continue
            line += 1
            line_chars += 1
            if flag(flags, c) & (ALPHA | DECIMAL):
                alnum_chars += 1
        if line > 0:  # the last line has no newline
            count += 1
            if line > longest[d]:
                longest[d] = line
        lines[d] = count
        mean[d] = line_chars / count if count else 0.0
        alnum[d] = alnum_chars / (end - start)
        base64_run[d] = best_run
    return lines, longest, mean, alnum, base64_run


def line_stats(texts: pa.Array | pa.ChunkedArray) -> dict[str, np.ndarray]:
    """line_count, max_line_length, mean_line_length, alphanumeric_fraction and
    longest_base64_run (characters of `[A-Za-z0-9+/=\\n]` in a row) per row; 0 for null or
    empty text."""
    chars = decode(texts)
    lines, longest, mean, alnum, run = _line_stats(
        chars.codes, chars.offsets, chars.valid, char_flags(), _BASE64
    )
    return {
        "line_count": lines,
        "max_line_length": longest,
        "mean_line_length": mean,
        "alphanumeric_fraction": alnum,
        "longest_base64_run": run,
    }
