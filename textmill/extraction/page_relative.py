"""Page-relative features: each block measured against the rest of its page.

`blocks.FEATURES` are absolute (a block's length, link density, stop-word share), and absolute
values shift from one site and one data set to another: a 40-word block is the article on a news
brief and boilerplate on a long essay. The model generalises across sets better when it also
sees where a block stands within its page: its length rank and z-score, its link density and
stop-word share against the page's, how much link-free text lies around it (the page's densest
text region and the distance to it), and how much of the page's link-free text comes before it.
Computed from the feature matrix alone (numpy, all blocks of a page at once), so the block
segmentation stays untouched.
"""

from __future__ import annotations

import numpy as np

from textmill.extraction.blocks import FEATURES

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
_COLUMN = {name: i for i, name in enumerate(FEATURES)}


def _z(values: np.ndarray) -> np.ndarray:
    spread = values.std()
    return (values - values.mean()) / spread if spread > 1e-9 else np.zeros_like(values)


def _rank(values: np.ndarray) -> np.ndarray:
    """Share of the page's blocks below this one (ties share the mean rank), in [0, 1]."""
    n = len(values)
    if n < 2:
        return np.ones(n)
    order = np.argsort(values, kind="stable")
    sorted_values = values[order]
    first = np.searchsorted(sorted_values, values, side="left")
    last = np.searchsorted(sorted_values, values, side="right") - 1
    return (first + last) / (2.0 * (n - 1))


def page_relative(features: np.ndarray) -> np.ndarray:
    """`features` (blocks × FEATURES, one page) with the RELATIVE columns appended."""
    n = len(features)
    if n == 0:
        return np.zeros((0, len(PAGE_FEATURES)), np.float32)
    x = features.astype(np.float64)
    log_chars = x[:, _COLUMN["log_chars"]]
    link = x[:, _COLUMN["link_density"]]
    stop = x[:, _COLUMN["stop_word_share"]]
    punct = x[:, _COLUMN["punct_share"]]
    chars = np.expm1(log_chars)
    content = chars * (1.0 - link)  # link-free characters
    total_content = max(float(content.sum()), 1.0)
    mass = np.concatenate(([0.0], np.cumsum(content)))
    index = np.arange(n)
    region = mass[np.minimum(index + _REGION + 1, n)] - mass[np.maximum(index - _REGION, 0)]
    peak = int(np.argmax(region))
    relative = [
        _rank(log_chars),
        _z(log_chars),
        log_chars - log_chars.max(),
        link - x[:, _COLUMN["page_link_density"]],
        stop - x[:, _COLUMN["page_stop_word_share"]],
        _z(stop),
        _z(punct),
        region / total_content,
        region / max(float(region.max()), 1.0),
        np.abs(mass[1:] - content / 2 - (mass[peak] + content[peak] / 2)) / total_content,
        (mass[1:] - content) / total_content,
        content / total_content,
    ]
    return np.column_stack([x, *relative]).astype(np.float32)
