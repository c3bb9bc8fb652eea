"""How many distinct words of a stop-word list a row contains (Gopher's "has English" check)."""

from __future__ import annotations

from collections.abc import Sequence

import numba as nb
import numpy as np

from textmill.text.hashing import string_hash

ENGLISH_GOPHER_STOP_WORDS = ("the", "be", "to", "of", "and", "that", "have", "with")
"""Rae et al. 2021: a document must contain at least two of these (case-sensitive)."""


@nb.njit(cache=True)
def _distinct_stop_words(row_offsets, word_hashes, stop_hashes):
    n = len(row_offsets) - 1
    counts = np.zeros(n, dtype=np.int64)
    found = np.zeros(len(stop_hashes), dtype=np.bool_)
    for i in range(n):
        found[:] = False
        c = 0
        for j in range(row_offsets[i], row_offsets[i + 1]):
            h = word_hashes[j]
            for s in range(len(stop_hashes)):
                if stop_hashes[s] == h and not found[s]:
                    found[s] = True
                    c += 1
        counts[i] = c
    return counts


def distinct_stop_words(
    row_offsets: np.ndarray, word_hashes: np.ndarray, stop_words: Sequence[str]
) -> np.ndarray:
    """Per row, the number of distinct stop words among its words (exact, case-sensitive).

    `word_hashes` are the words' span hashes (textmill.text.hashing, default seed)."""
    stop_hashes = np.array([string_hash(w) for w in dict.fromkeys(stop_words)], dtype=np.uint64)
    return _distinct_stop_words(row_offsets, word_hashes, stop_hashes)
