"""Neighbourhood features: what surrounds a block, from the page's raw feature rows.

`blocks.FEATURES` already hold the previous and next block's length, link density and stop-word
share and a ±3-block window. Main content is contiguous, and a block's role often shows only
two blocks away or in the wider region: the heading before a paragraph, the list around an item,
an article container that the block itself is outside of, the distance to the nearest run of
prose. These columns add that context, computed from the feature matrix alone (numpy, all blocks
of a page at once), so the block segmentation stays untouched.
"""

from __future__ import annotations

import math

import numpy as np

from textmill.extraction.blocks import FEATURES
from textmill.extraction.page_relative import PAGE_FEATURES, page_relative

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
_COLUMN = {name: i for i, name in enumerate(FEATURES)}


def _shift(values: np.ndarray, by: int, fill: float) -> np.ndarray:
    """values[i - by] at i (fill beyond the page's ends)."""
    out = np.full_like(values, fill)
    if by > 0:
        out[by:] = values[:-by]
    else:
        out[:by] = values[-by:]
    return out


def _window_mean(values: np.ndarray, weights: np.ndarray, radius: int) -> np.ndarray:
    weighted = np.concatenate(([0.0], np.cumsum(values * weights)))
    mass = np.concatenate(([0.0], np.cumsum(weights)))
    index = np.arange(len(values))
    lo = np.maximum(index - radius, 0)
    hi = np.minimum(index + radius + 1, len(values))
    return (weighted[hi] - weighted[lo]) / np.maximum(mass[hi] - mass[lo], 1e-9)


def _prose_distance(prose: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Blocks to the nearest prose block (n where none), and whether a block lies between the
    page's first and last prose block."""
    n = len(prose)
    index = np.arange(n)
    where = index[prose]
    if not len(where):
        return np.full(n, float(n)), np.zeros(n)
    slot = np.searchsorted(where, index)
    before = np.where(slot > 0, index - where[np.maximum(slot - 1, 0)], n)
    after = np.where(slot < len(where), where[np.minimum(slot, len(where) - 1)] - index, n)
    inside = (index >= where[0]) & (index <= where[-1])
    return np.minimum(before, after).astype(np.float64), inside.astype(np.float64)


def neighbours(features: np.ndarray) -> np.ndarray:
    """The NEIGHBOURS columns for one page's `features` (blocks × FEATURES)."""
    n = len(features)
    if n == 0:
        return np.zeros((0, len(NEIGHBOURS)))
    x = features.astype(np.float64)
    column = {name: x[:, _COLUMN[name]] for name in {*_SECOND, *_WIDE, *_ADJACENT}}
    weights = np.maximum(np.expm1(x[:, _COLUMN["log_chars"]]), 1.0)
    prose = (x[:, _COLUMN["log_words"]] >= math.log1p(_PROSE_WORDS)) & (
        x[:, _COLUMN["link_density"]] < _PROSE_LINKS
    )
    distance, inside = _prose_distance(prose)
    columns = [
        *(_shift(column[name], by, -1.0) for name in _SECOND for by in (2, -2)),
        *(_window_mean(column[name], weights, _WIDE_RADIUS) for name in _WIDE),
        *(_shift(column[name], by, 0.0) for name in _ADJACENT for by in (1, -1)),
        np.log1p(distance),
        inside,
        np.full(n, prose.mean()),
    ]
    return np.column_stack(columns)


def model_input(features: np.ndarray) -> np.ndarray:
    """The MODEL_FEATURES rows of one page: its raw block features, their page-relative
    versions, and the neighbourhood columns."""
    relative = page_relative(features)
    if not len(features):
        return np.zeros((0, len(MODEL_FEATURES)))
    return np.column_stack([relative, neighbours(features)])
