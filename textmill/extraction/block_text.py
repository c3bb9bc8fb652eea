"""Block texts from the flat tree's text buffer, and the character counts the features need.

A block's text is its text with every run of white space as one space and none at either end
(`re.sub(r"\\s+", " ", text).strip()`: both mean str.isspace, the SPACE flag); a table row's
text is its non-empty cells' texts joined by the cell separator. One numba pass writes them all
into one UTF-8 buffer that Python decodes once and slices, and counts per block what the
features read: code points, letters, upper-case letters, digits, punctuation, sentence ends, and
whether the last character ends a sentence.
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
    return BlockTexts(kept, texts, chars, *(counts[:, k].astype(np.float64) for k in range(6)))


@nb.njit(cache=True)
def _fold_into(text, start, end, out, at, flags):
    """text[start:end] with white-space runs folded to one space and stripped, written at
    out[at:]; returns (where it ends, code points written)."""
    begin = at
    pending = False
    written = 0
    j = start
    while j < end:
        code, width = code_point_at(text, j, end)
        if flag(flags, code) & SPACE:
            pending = at > begin
        else:
            if pending:
                out[at] = 32
                at += 1
                written += 1
                pending = False
            for m in range(width):
                out[at + m] = text[j + m]
            at += width
            written += 1
        j += width
    return at, written


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
    at = 0
    code = 0
    c = 0
    for b in range(n):
        code_starts[b] = code
        if is_row[b]:
            while c < len(cell_block) and cell_block[c] < b:
                c += 1
            while c < len(cell_block) and cell_block[c] == b:
                if code > code_starts[b]:  # a separator, taken back if the cell is empty
                    out[at] = separator
                    after, written = _fold_into(
                        text, cell_starts[c], cell_ends[c], out, at + 1, flags
                    )
                    if written:
                        at = after
                        code += written + 1
                else:
                    at, written = _fold_into(text, cell_starts[c], cell_ends[c], out, at, flags)
                    code += written
                c += 1
        else:
            at, written = _fold_into(text, starts[b], ends[b], out, at, flags)
            code += written
        code_ends[b] = code
    # Per block: alpha, upper, digits, punct, terminals, last character a terminal.
    counts = np.zeros((n, 6), np.int64)
    masks = (ALPHA, UPPER, DECIMAL, PUNCT, TERMINAL)
    j = 0
    for b in range(n):
        last = 0
        for _ in range(code_ends[b] - code_starts[b]):
            point, width = code_point_at(out, j, at)
            last = flag(flags, point)
            for k in range(5):
                if last & masks[k]:
                    counts[b, k] += 1
            j += width
        counts[b, 5] = 1 if last & TERMINAL else 0
    return out[:at], code_starts, code_ends, counts
