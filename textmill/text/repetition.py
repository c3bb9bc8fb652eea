"""Repetition statistics per row over hashed pieces (lines, paragraphs, word n-grams).

These are the measurements of Gopher's repetition rules (Rae et al. 2021, table A1), computed
with one reusable open-addressing table per batch instead of a Python set per document.
"""

from __future__ import annotations

import numba as nb
import numpy as np

from textmill.text.hashing import (
    DEFAULT_SEED,
    HASH_BASE,
    mix,
    table_capacity,
    table_find_or_insert,
)

_SPACE_MIX_SEED = np.uint64(DEFAULT_SEED)


@nb.njit(cache=True)
def _max_pieces(row_offsets):
    most = 0
    for i in range(len(row_offsets) - 1):
        most = max(most, row_offsets[i + 1] - row_offsets[i])
    return most


@nb.njit(cache=True)
def _clear(keys, used, u):
    """Empty the slots one row filled: the table is sized for the largest row of the batch."""
    for q in range(u):
        keys[used[q]] = 0


@nb.njit(cache=True)
def duplicate_pieces(row_offsets, hashes, lengths):
    """Per row: (pieces equal to an earlier piece of the row, their total characters)."""
    n = len(row_offsets) - 1
    dup_count = np.zeros(n, dtype=np.int64)
    dup_chars = np.zeros(n, dtype=np.int64)
    most = _max_pieces(row_offsets)
    keys = np.zeros(table_capacity(most), dtype=np.uint64)
    used = np.empty(most, dtype=np.int64)
    for i in range(n):
        a = row_offsets[i]
        b = row_offsets[i + 1]
        u = np.int64(0)
        for j in range(a, b):
            slot, seen = table_find_or_insert(keys, hashes[j])
            if seen:
                dup_count[i] += 1
                dup_chars[i] += lengths[j]
            else:
                used[u] = slot
                u += 1
        _clear(keys, used, u)
    return dup_count, dup_chars


@nb.njit(cache=True)
def _gram_hash(hashes, powers, j, n, separator, sep_hash):
    h = hashes[j]
    for t in range(j + 1, j + n):
        if separator:
            h = h * HASH_BASE + sep_hash
        h = h * powers[t] + hashes[t]
    return h


@nb.njit(cache=True)
def top_ngram_chars(row_offsets, hashes, powers, lengths, n):
    """Per row: characters covered by the most frequent word n-gram, counted as
    len(" ".join(gram)) * occurrences; ties go to the gram seen first; 0 without n-grams."""
    rows = len(row_offsets) - 1
    result = np.zeros(rows, dtype=np.int64)
    most = _max_pieces(row_offsets)
    capacity = table_capacity(most)
    keys = np.zeros(capacity, dtype=np.uint64)
    used = np.empty(most, dtype=np.int64)
    counts = np.zeros(capacity, dtype=np.int64)
    first_seen = np.zeros(capacity, dtype=np.int64)
    gram_chars = np.zeros(capacity, dtype=np.int64)
    sep_hash = mix(32, _SPACE_MIX_SEED)
    for i in range(rows):
        a = row_offsets[i]
        b = row_offsets[i + 1]
        if b - a < n:
            continue
        best_slot = -1
        u = np.int64(0)
        for j in range(a, b - n + 1):
            slot, seen = table_find_or_insert(
                keys, _gram_hash(hashes, powers, j, n, True, sep_hash)
            )
            if not seen:
                used[u] = slot
                u += 1
                counts[slot] = 0
                first_seen[slot] = j
                chars = n - 1
                for t in range(j, j + n):
                    chars += lengths[t]
                gram_chars[slot] = chars
            counts[slot] += 1
            if (
                best_slot < 0
                or counts[slot] > counts[best_slot]
                or (counts[slot] == counts[best_slot] and first_seen[slot] < first_seen[best_slot])
            ):
                best_slot = slot
        result[i] = gram_chars[best_slot] * counts[best_slot]
        _clear(keys, used, u)
    return result


@nb.njit(cache=True)
def duplicated_ngram_chars(row_offsets, hashes, powers, lengths, n):
    """Per row: characters of word n-grams that repeat an earlier one, scanning left to right
    and jumping past each repeat, with grams compared as "".join(gram) (Gopher's rule)."""
    rows = len(row_offsets) - 1
    result = np.zeros(rows, dtype=np.int64)
    most = _max_pieces(row_offsets)
    keys = np.zeros(table_capacity(most), dtype=np.uint64)
    used = np.empty(most, dtype=np.int64)
    for i in range(rows):
        a = row_offsets[i]
        b = row_offsets[i + 1]
        j = a
        repeated = 0
        u = np.int64(0)
        while j < b - n + 1:
            slot, seen = table_find_or_insert(
                keys, _gram_hash(hashes, powers, j, n, False, np.uint64(0))
            )
            if not seen:
                used[u] = slot
                u += 1
            if seen:
                for t in range(j, j + n):
                    repeated += lengths[t]
                j += n
            else:
                j += 1
        result[i] = repeated
        _clear(keys, used, u)
    return result
