"""Block texts from the flat tree's text buffer, and the character counts the features need.

A block's text is its text with every run of white space as one space and none at either end
(`re.sub(r"\\s+", " ", text).strip()`: both mean str.isspace, the SPACE flag); a table row's
text is its non-empty cells' texts joined by the cell separator. One numba pass writes them all
into one UTF-8 buffer that Python decodes once and slices, and counts per block what the
features read: code points, words (runs of non-space: what str.split() returns), letters,
upper-case letters, digits, punctuation, sentence ends, and whether the last character ends a
sentence.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba as nb
import numpy as np

from textmill.text.chars import ALPHA, DECIMAL, PUNCT, SPACE, TERMINAL, UPPER, flag
from textmill.text.columns import code_point_at


@dataclass(frozen=True)
class BlockTexts:
    """The non-empty blocks (`kept`: their indices among all blocks) in document order."""

    kept: np.ndarray  # int64
    texts: list[str]
    chars: np.ndarray  # int64 code points of each text
    words: np.ndarray  # int64 len(text.split())
    alpha: np.ndarray  # float64 counts
    upper: np.ndarray
    digits: np.ndarray
    punct: np.ndarray
    terminals: np.ndarray
    ends_terminal: np.ndarray  # float64, 1.0 when the last character is a sentence end


def block_texts(
    text: np.ndarray,
    is_row: np.ndarray,
    starts: np.ndarray,
    ends: np.ndarray,
    cell_ranges: tuple[np.ndarray, np.ndarray, np.ndarray],
    separator: str,
    flags: np.ndarray,
) -> BlockTexts:
    """Texts of the blocks at byte ranges `starts:ends` of `text` (UTF-8); a row (`is_row`)
    takes its cells' ranges (`cell_ranges`: block, start, end, in block order) instead."""
    cell_block, cell_starts, cell_ends = cell_ranges
    out, code_starts, code_ends, counts = _fold(
        text, is_row, starts, ends, cell_block, cell_starts, cell_ends, ord(separator), flags
    )
    kept = np.flatnonzero(code_ends > code_starts)
    joined = out.tobytes().decode("utf-8", "surrogatepass")
    texts = [
        joined[a:b]
        for a, b in zip(code_starts[kept].tolist(), code_ends[kept].tolist(), strict=True)
    ]
    counts = counts[kept]
    chars = code_ends[kept] - code_starts[kept]
    words = counts[:, _WORDS]
    return BlockTexts(
        kept, texts, chars, words, *(counts[:, k].astype(np.float64) for k in range(_WORDS))
    )


_COUNTED = (ALPHA, UPPER, DECIMAL, PUNCT, TERMINAL)  # the columns of `counts`, then the last
_WORDS = len(_COUNTED) + 1  # the column after: words


@nb.njit(cache=True)
def _fold_into(text, start, end, out, at, flags, counts):
    """text[start:end] with white-space runs folded to one space and stripped, written at
    out[at:]; its characters counted into `counts` (white space has none of the counted
    flags, and words at `counts[_WORDS]`); returns (where it ends, code points written, flags of
    the last one)."""
    begin = at
    pending = False
    written = 0
    last = 0
    j = start
    while j < end:
        code, width = code_point_at(text, j, end)
        flags_of = flag(flags, code)
        if flags_of & SPACE:
            pending = at > begin
        else:
            if pending or at == begin:
                counts[_WORDS] += 1
            if pending:
                out[at] = 32
                at += 1
                written += 1
                pending = False
            for m in range(width):
                out[at + m] = text[j + m]
            at += width
            written += 1
            last = flags_of
            for k in range(len(_COUNTED)):
                if flags_of & _COUNTED[k]:
                    counts[k] += 1
        j += width
    return at, written, last


@nb.njit(cache=True)
def _fold(text, is_row, starts, ends, cell_block, cell_starts, cell_ends, separator, flags):
    n = len(starts)
    size = 0
    for b in range(n):
        if not is_row[b]:
            size += ends[b] - starts[b]
    for c in range(len(cell_block)):
        size += cell_ends[c] - cell_starts[c] + 1
    out = np.empty(size, np.uint8)
    code_starts = np.zeros(n, np.int64)
    code_ends = np.zeros(n, np.int64)
    counts = np.zeros((n, _WORDS + 1), np.int64)
    at = 0
    code = 0
    c = 0
    for b in range(n):
        code_starts[b] = code
        last = 0
        if is_row[b]:
            while c < len(cell_block) and cell_block[c] < b:
                c += 1
            while c < len(cell_block) and cell_block[c] == b:
                # a separator before every cell but the first non-empty one
                gap = 1 if code > code_starts[b] else 0
                out[at] = separator  # overwritten when not needed
                after, written, cell_last = _fold_into(
                    text, cell_starts[c], cell_ends[c], out, at + gap, flags, counts[b]
                )
                if written:  # the separator has none of the counted flags
                    at = after
                    code += written + gap
                    last = cell_last
                c += 1
        else:
            at, written, last = _fold_into(text, starts[b], ends[b], out, at, flags, counts[b])
            code += written
        code_ends[b] = code
        counts[b, len(_COUNTED)] = 1 if last & TERMINAL else 0
    return out[:at], code_starts, code_ends, counts
