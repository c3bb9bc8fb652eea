"""Page-relative features: each block measured against the rest of its page.

`blocks.FEATURES` are absolute (a block's length, link density, stop-word share), and absolute
values shift from one site and one data set to another: a 40-word block is the article on a news
brief and boilerplate on a long essay. The model generalises across sets better when it also
sees where a block stands within its page: its length rank and z-score, its link density and
stop-word share against the page's, how much link-free text lies around it (the page's densest
text region and the distance to it), and how much of the page's link-free text comes before it.
Computed from the feature matrix alone (one numba kernel for all blocks of a page, in numpy's
order of arithmetic: bit-identical to the numpy code the shipped model was fitted with), so the
block segmentation stays untouched.
"""

from __future__ import annotations

import numba as nb
import numpy as np

from textmill.extraction.blocks import FEATURES
from textmill.extraction.pairwise import pairwise_sum

RELATIVE: tuple[str, ...] = (
    "rel_chars_rank",
    "rel_chars_z",
    "rel_chars_vs_max",
    "rel_link_vs_page",
    "rel_stop_vs_page",
    "rel_stop_z",
    "rel_punct_z",
    "rel_region_share",
    "rel_region_vs_max",
    "rel_region_distance",
    "rel_content_position",
    "rel_content_share",
)
PAGE_FEATURES: tuple[str, ...] = FEATURES + RELATIVE
_REGION = 5  # blocks either side: the text region a block sits in
_LOG_CHARS, _LINK, _STOP, _PUNCT, _PAGE_LINK, _PAGE_STOP = (
    FEATURES.index(name)
    for name in (
        "log_chars",
        "link_density",
        "stop_word_share",
        "punct_share",
        "page_link_density",
        "page_stop_word_share",
    )
)


def block_characters(features: np.ndarray) -> np.ndarray:
    """Each block's character count back from its `log_chars` (numpy's expm1, as fitted; the
    kernels take it from here)."""
    return np.expm1(features[:, _LOG_CHARS].astype(np.float64))


def page_relative(features: np.ndarray) -> np.ndarray:
    """`features` (blocks × FEATURES, one page) with the RELATIVE columns appended."""
    out = np.empty((len(features), len(PAGE_FEATURES)), np.float32)
    if len(features):
        relative_columns(features, block_characters(features), out)
    return out


@nb.njit(cache=True)
def _z(values):
    """(values - mean) / std, numpy's mean and std; zeros when the spread is ~0."""
    n = len(values)
    mean = pairwise_sum(values, 0, n) / n
    squares = np.empty(n)
    for i in range(n):
        squares[i] = (values[i] - mean) * (values[i] - mean)
    spread = np.sqrt(pairwise_sum(squares, 0, n) / n)
    z = np.zeros(n)
    if spread > 1e-9:
        for i in range(n):
            z[i] = (values[i] - mean) / spread
    return z


@nb.njit(cache=True)
def _rank(values):
    """Share of the page's blocks below this one (ties share the mean rank), in [0, 1]."""
    n = len(values)
    if n < 2:
        return np.ones(n)
    ordered = np.sort(values)
    first = np.searchsorted(ordered, values, side="left")
    after = np.searchsorted(ordered, values, side="right")
    return (first + after - 1) / (2.0 * (n - 1))


@nb.njit(cache=True)
def relative_columns(features, chars, out):
    """out[:, :len(PAGE_FEATURES)] for one page: its `features`, then the RELATIVE columns
    rounded to float32 (as page_relative returns them). `chars`: block_characters."""
    n, width = features.shape
    log_chars = np.empty(n)
    link = np.empty(n)
    stop = np.empty(n)
    punct = np.empty(n)
    content = np.empty(n)  # link-free characters
    for i in range(n):
        for c in range(width):
            out[i, c] = features[i, c]
        log_chars[i] = features[i, _LOG_CHARS]
        link[i] = features[i, _LINK]
        stop[i] = features[i, _STOP]
        punct[i] = features[i, _PUNCT]
        content[i] = chars[i] * (1.0 - link[i])
    total_content = max(pairwise_sum(content, 0, n), 1.0)
    mass = np.zeros(n + 1)
    for i in range(n):
        mass[i + 1] = mass[i] + content[i]
    region = np.empty(n)
    peak = 0
    longest = log_chars[0]
    for i in range(n):
        region[i] = mass[min(i + _REGION + 1, n)] - mass[max(i - _REGION, 0)]
        if region[i] > region[peak]:
            peak = i
        longest = max(longest, log_chars[i])
    centre = mass[peak] + content[peak] / 2
    top_region = max(region[peak], 1.0)
    rank, chars_z, stop_z, punct_z = _rank(log_chars), _z(log_chars), _z(stop), _z(punct)
    for i in range(n):
        relative = (
            rank[i],
            chars_z[i],
            log_chars[i] - longest,
            link[i] - np.float64(features[i, _PAGE_LINK]),
            stop[i] - np.float64(features[i, _PAGE_STOP]),
            stop_z[i],
            punct_z[i],
            region[i] / total_content,
            region[i] / top_region,
            abs(mass[i + 1] - content[i] / 2 - centre) / total_content,
            (mass[i + 1] - content[i]) / total_content,
            content[i] / total_content,
        )
        for c in range(len(relative)):
            out[i, width + c] = np.float32(relative[c])
