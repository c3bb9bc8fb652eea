"""numpy's summation order inside numba kernels, so that a kernel's sums equal numpy's bit for bit.

`np.sum` of float64 adds pairwise (blocks of 8 accumulators below 128 values, halves above;
numpy's `pairwise_sum` in loops_utils.h), not left to right: a kernel that replaces numpy code
the extraction model was fitted and scored with must add in the same order, or its features and
probabilities move in the last bits. Only the reduction order matters here; `np.cumsum` is a
plain running sum. (numba's cache keeps a caller's compiled copy of these kernels until the
caller's own file changes: after editing this file, clear textmill/extraction/__pycache__.)
"""

from __future__ import annotations

import numba as nb
import numpy as np

_BLOCK = 128  # numpy's PW_BLOCKSIZE


@nb.njit(cache=True)
def pairwise_sum(values, start, count):
    """values[start:start + count].sum() as numpy computes it for a contiguous float64 array
    (its reduction starts from 0.0, which turns a sum of -0.0 into 0.0). numpy recurses into
    halves; here a stack does (numba's cache cannot link a recursive kernel into another)."""
    if count <= _BLOCK:
        return 0.0 + _block_sum(values, start, count)
    # Post-order over the halves: pending ranges (visited once split), and finished sums.
    pending_start = np.empty(128, np.int64)
    pending_count = np.empty(128, np.int64)
    split = np.zeros(128, np.bool_)
    sums = np.empty(128)
    top, done = 0, 0
    pending_start[0], pending_count[0] = start, count
    while top >= 0:
        first, size = pending_start[top], pending_count[top]
        if size <= _BLOCK:
            sums[done] = _block_sum(values, first, size)
            done += 1
            top -= 1
        elif split[top]:
            sums[done - 2] = sums[done - 2] + sums[done - 1]  # left half + right half
            done -= 1
            top -= 1
        else:
            split[top] = True
            half = size // 2
            half -= half % 8
            pending_start[top + 1], pending_count[top + 1] = first + half, size - half
            split[top + 1] = False
            pending_start[top + 2], pending_count[top + 2] = first, half
            split[top + 2] = False
            top += 2
    return 0.0 + sums[0]


@nb.njit(cache=True)
def _block_sum(values, start, count):
    """numpy's pairwise_sum for count <= 128: eight running sums, or one below 8 values."""
    if count < 8:
        total = 0.0
        for i in range(start, start + count):
            total += values[i]
        return total
    r0, r1, r2, r3 = values[start], values[start + 1], values[start + 2], values[start + 3]
    r4, r5, r6, r7 = values[start + 4], values[start + 5], values[start + 6], values[start + 7]
    i = start + 8
    end = start + count - count % 8
    while i < end:
        r0 += values[i]
        r1 += values[i + 1]
        r2 += values[i + 2]
        r3 += values[i + 3]
        r4 += values[i + 4]
        r5 += values[i + 5]
        r6 += values[i + 6]
        r7 += values[i + 7]
        i += 8
    total = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while i < start + count:
        total += values[i]
        i += 1
    return total
