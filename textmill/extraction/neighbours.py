"""Neighbourhood features: what surrounds a block, from the page's raw feature rows.

`blocks.FEATURES` already hold the previous and next block's length, link density and stop-word
share and a ±3-block window. Main content is contiguous, and a block's role often shows only
two blocks away or in the wider region: the heading before a paragraph, the list around an item,
an article container that the block itself is outside of, the distance to the nearest run of
prose. These columns add that context, computed from the feature matrix alone (one numba kernel
for all blocks of a page, bit-identical to the numpy code the shipped model was fitted with), so
the block segmentation stays untouched.
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

from textmill.extraction.blocks import FEATURES
from textmill.extraction.page_relative import PAGE_FEATURES, block_characters, relative_columns

_SECOND = ("log_chars", "link_density", "stop_word_share")  # two blocks away, either side
_WIDE = ("link_density", "stop_word_share", "ends_terminal")  # ±_WIDE_RADIUS blocks
_WIDE_RADIUS = 10
_ADJACENT = (  # the previous and next block's kind and context flags
    "kind_heading",
    "kind_p",
    "kind_li",
    "in_article",
    "tok_content",
    "in_nav",
    "tok_nav",
    "tok_comment",
)
_PROSE_WORDS = 20  # a prose block: at least this many words ...
_PROSE_LINKS = 0.3  # ... and link density below this
NEIGHBOURS: tuple[str, ...] = (
    *(f"{side}2_{name}" for name in _SECOND for side in ("prev", "next")),
    *(f"wide_{name}" for name in _WIDE),
    *(f"{side}_{name}" for name in _ADJACENT for side in ("prev", "next")),
    "prose_log_distance",
    "inside_prose_span",
    "page_prose_share",
)
MODEL_FEATURES: tuple[str, ...] = PAGE_FEATURES + NEIGHBOURS  # the model's input, in order


def _columns(names: tuple[str, ...]) -> np.ndarray:
    return np.array([FEATURES.index(name) for name in names], np.int64)


def neighbours(features: np.ndarray) -> np.ndarray:
    """The NEIGHBOURS columns for one page's `features` (blocks × FEATURES)."""
    out = np.empty((len(features), len(NEIGHBOURS)))
    if len(features):
        _fill_neighbours(features, block_characters(features), out, 0)
    return out


def model_input(features: np.ndarray) -> np.ndarray:
    """The MODEL_FEATURES rows of one page: its raw block features, their page-relative
    versions, and the neighbourhood columns."""
    out = np.empty((len(features), len(MODEL_FEATURES)))
    if len(features):
        chars = block_characters(features)
        relative_columns(features, chars, out)
        _fill_neighbours(features, chars, out, len(PAGE_FEATURES))
    return out


def _fill_neighbours(features: np.ndarray, chars: np.ndarray, out: np.ndarray, first: int) -> None:
    """The NEIGHBOURS columns into out[:, first:]; numpy's log1p for the prose distance (the
    distances are whole blocks, 0 to n: one table)."""
    neighbour_columns(
        features,
        chars,
        np.log1p(np.arange(len(features) + 1, dtype=np.float64)),
        _SECOND_COLUMNS,
        _WIDE_COLUMNS,
        _ADJACENT_COLUMNS,
        FEATURES.index("log_words"),
        FEATURES.index("link_density"),
        math.log1p(_PROSE_WORDS),
        _PROSE_LINKS,
        _WIDE_RADIUS,
        out,
        first,
    )


_SECOND_COLUMNS, _WIDE_COLUMNS, _ADJACENT_COLUMNS = map(_columns, (_SECOND, _WIDE, _ADJACENT))


@nb.njit(cache=True)
def neighbour_columns(
    features,
    chars,
    log1p_blocks,
    second,
    wide,
    adjacent,
    log_words,
    link_density,
    prose_log_words,
    prose_links,
    radius,
    out,
    first,
):
    """NEIGHBOURS, in order, into out[:, first:]: the `second` columns two blocks before and
    after (-1 past the page's ends), the `wide` columns' character-weighted means over ±radius
    blocks, the `adjacent` columns one block before and after (0 past the ends), log1p of the
    distance to the nearest prose block (n when none), whether a block lies between the first
    and last prose block, and the page's share of prose blocks."""
    n = len(features)
    c = first
    for k in range(len(second)):
        for i in range(n):
            out[i, c] = features[i - 2, second[k]] if i >= 2 else -1.0
            out[i, c + 1] = features[i + 2, second[k]] if i + 2 < n else -1.0
        c += 2
    weighted = np.zeros(n + 1)
    mass = np.zeros(n + 1)
    for i in range(n):
        mass[i + 1] = mass[i] + max(chars[i], 1.0)
    for k in range(len(wide)):
        for i in range(n):
            weighted[i + 1] = weighted[i] + features[i, wide[k]] * max(chars[i], 1.0)
        for i in range(n):
            lo, hi = max(i - radius, 0), min(i + radius + 1, n)
            out[i, c] = (weighted[hi] - weighted[lo]) / max(mass[hi] - mass[lo], 1e-9)
        c += 1
    for k in range(len(adjacent)):
        for i in range(n):
            out[i, c] = features[i - 1, adjacent[k]] if i >= 1 else 0.0
            out[i, c + 1] = features[i + 1, adjacent[k]] if i + 1 < n else 0.0
        c += 2
    prose = np.empty(n, np.bool_)
    for i in range(n):
        prose[i] = (
            features[i, log_words] >= prose_log_words and features[i, link_density] < prose_links
        )
    # Blocks to the nearest prose block: the last one before (n where none), the next one at or
    # after (n where none), the nearer of the two.
    distance = np.full(n, n)
    before = -1
    for i in range(n):
        if prose[i]:
            before = i
        if before >= 0:
            distance[i] = i - before
    after = -1
    for i in range(n - 1, -1, -1):
        if prose[i]:
            after = i
        if after >= 0:
            distance[i] = min(distance[i], after - i)
    start, end = n, -1
    for i in range(n):
        if prose[i]:
            start, end = min(start, i), i
    share = np.float64(prose.sum()) / n
    for i in range(n):
        out[i, c] = log1p_blocks[distance[i]]
        out[i, c + 1] = 1.0 if start <= i <= end else 0.0
        out[i, c + 2] = share
