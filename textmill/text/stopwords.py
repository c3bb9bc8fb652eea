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


def frequent_words(
    codes: np.ndarray,
    starts: np.ndarray,
    ends: np.ndarray,
    row_offsets: np.ndarray,
    word_hashes: np.ndarray,
    count: int,
    eligible: np.ndarray | None = None,
) -> list[tuple[str, float]]:
    """The `count` words found in the most rows, with the share of rows holding each.

    Document frequency, not raw frequency: a stop word is one that nearly every document of
    the language uses, which is what the "at least 2 stop words" check relies on. `eligible`
    masks words that may be chosen (e.g. those with a letter)."""
    num_rows = len(row_offsets) - 1
    if num_rows == 0 or len(word_hashes) == 0:
        return []
    rows = np.repeat(np.arange(num_rows), np.diff(row_offsets))
    index = np.arange(len(word_hashes)) if eligible is None else np.flatnonzero(eligible)
    order = index[np.lexsort((rows[index], word_hashes[index]))]
    hashes, row_of = word_hashes[order], rows[order]
    first = np.ones(len(order), dtype=bool)
    first[1:] = (hashes[1:] != hashes[:-1]) | (row_of[1:] != row_of[:-1])
    distinct, representative, documents = np.unique(
        hashes[first], return_index=True, return_counts=True
    )
    top = np.argsort(-documents, kind="stable")[:count]
    examples = order[first][representative[top]]
    return [
        ("".join(map(chr, codes[starts[w] : ends[w]])), float(documents[t]) / num_rows)
        for w, t in zip(examples.tolist(), top.tolist(), strict=True)
    ]
