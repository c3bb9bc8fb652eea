"""Seeded 64-bit hashes of text spans that compose under concatenation.

A span's hash is a polynomial over mixed code points, so the hash of `a + b` follows from the
hashes of `a` and `b` and the power B^len(b). That lets n-gram kernels hash "".join(words) or
" ".join(words) exactly as the reference filters compare them, without building strings.
Collisions are ~2^-64 per pair on natural text; the seed is fixed so results are reproducible.
"""

from __future__ import annotations

import numba as nb
import numpy as np

from textmill.text.columns import Chars

DEFAULT_SEED = 0x5EED_7E47_0001
HASH_BASE = np.uint64(0x9E3779B97F4A7C15 | 1)


@nb.njit(cache=True, inline="always")
def mix(code, seed):
    """splitmix64 of one code point: spreads small integers over all 64 bits."""
    z = np.uint64(code) + np.uint64(seed) + np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


@nb.njit(cache=True)
def span_hash(codes, start, end, seed, ascii_lower):
    """(hash, B^length) of codes[start:end]; with ascii_lower, A-Z hash as a-z."""
    h = np.uint64(0)
    p = np.uint64(1)
    for i in range(start, end):
        c = codes[i]
        if ascii_lower and 65 <= c <= 90:
            c += 32
        h = h * HASH_BASE + mix(c, seed)
        p = p * HASH_BASE
    return h, p


@nb.njit(cache=True)
def concat_hash(h_left, h_right, p_right):
    """Hash of left + right from the parts."""
    return h_left * p_right + h_right


@nb.njit(cache=True)
def _spans_hashes(codes, starts, ends, seed):
    n = len(starts)
    hashes = np.empty(n, dtype=np.uint64)
    powers = np.empty(n, dtype=np.uint64)
    for j in range(n):
        h, p = span_hash(codes, starts[j], ends[j], seed, np.bool_(False))
        hashes[j] = h
        powers[j] = p
    return hashes, powers


def spans_hashes(
    chars: Chars, starts: np.ndarray, ends: np.ndarray, seed: int = DEFAULT_SEED
) -> tuple[np.ndarray, np.ndarray]:
    """(hash, B^length) per span, both uint64."""
    return _spans_hashes(chars.codes, starts, ends, np.uint64(seed))


def string_hash(text: str, seed: int = DEFAULT_SEED, ascii_lower: bool = False) -> int:
    """The span hash of a Python string (to look words up in hashed lists)."""
    codes = np.array([ord(c) for c in text], dtype=np.int32)
    h, _ = span_hash(codes, 0, len(codes), np.uint64(seed), ascii_lower)
    return int(h)


# ---- open-addressing hash tables over uint64 keys, reused across rows ---------------------


@nb.njit(cache=True)
def table_capacity(max_items):
    """A power of two at least twice max_items (load factor <= 0.5)."""
    cap = 16
    while cap < 2 * max_items:
        cap *= 2
    return cap


@nb.njit(cache=True, inline="always")
def _slot_key(h):
    return h if h != np.uint64(0) else np.uint64(1)


@nb.njit(cache=True, inline="always")
def _probe(keys, key):
    """Linear probing: the slot that holds `key`, or the empty slot (0) where it would go."""
    mask = np.uint64(len(keys) - 1)
    slot = np.int64((key ^ (key >> np.uint64(29))) & mask)
    while keys[slot] != key and keys[slot] != np.uint64(0):
        slot = (slot + 1) & np.int64(mask)
    return slot


@nb.njit(cache=True)
def table_find_or_insert(keys, h):
    """Slot of key h, inserting it when absent; returns (slot, was_present). 0 marks empty."""
    key = _slot_key(h)
    slot = _probe(keys, key)
    if keys[slot] == key:
        return slot, True
    keys[slot] = key
    return slot, False


@nb.njit(cache=True)
def table_contains(keys, h):
    key = _slot_key(h)
    return keys[_probe(keys, key)] == key
