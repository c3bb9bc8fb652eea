"""Padding-minimising length bucketing (flexsp.md, "Solver").

The MILP works on buckets, not sequences: sorted lengths are cut into B contiguous buckets, each
represented by its longest member, so that the padding Σ (rep − s) is minimal (an exact DP over
the distinct lengths). B starts at 16 and grows until the padded batch uses at most half of the
memory slack: padded tokens ≤ (real tokens + N·C_tok) / 2. Representatives are never shorter
than their members, so a plan that fits with representatives fits with true lengths.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

START_BUCKETS = 16


@dataclass
class Buckets:
    reps: np.ndarray  # ascending representative (longest) length per bucket
    members: list[np.ndarray]  # indices into the bucketed array, per bucket

    @property
    def counts(self) -> np.ndarray:
        return np.array([len(m) for m in self.members], dtype=np.int64)

    def padded_tokens(self) -> int:
        return int(np.dot(self.reps, self.counts))


def _padding_matrix(values: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """pad[i, j]: padding of one bucket holding distinct values i..j-1 (inf where j <= i)."""
    u = len(values)
    cum_count = np.concatenate(([0], np.cumsum(counts)))
    cum_tokens = np.concatenate(([0], np.cumsum(values * counts)))
    i = np.arange(u + 1)[:, None]
    j = np.arange(u + 1)[None, :]
    rep = np.concatenate(([0], values))[j]
    pad = rep * (cum_count[j] - cum_count[i]) - (cum_tokens[j] - cum_tokens[i])
    return np.where(j > i, pad.astype(np.float64), np.inf)


def _cuts_to_buckets(lengths, values, counts, cuts: list[int]) -> Buckets:
    order = np.argsort(lengths, kind="stable")
    cum_count = np.concatenate(([0], np.cumsum(counts)))
    members, reps = [], []
    for i, j in zip(cuts[:-1], cuts[1:], strict=True):
        members.append(order[cum_count[i] : cum_count[j]])
        reps.append(int(values[j - 1]))
    return Buckets(np.array(reps, dtype=np.int64), members)


def bucket_lengths(lengths, n_buckets: int) -> Buckets:
    """The padding-minimal cut of `lengths` into at most `n_buckets` contiguous buckets."""
    return _grow(lengths, n_buckets, stop=None)


def choose_buckets(lengths, cluster_tokens: int, start: int = START_BUCKETS) -> Buckets:
    """Buckets for the MILP: start at `start`, grow until padding ≤ half the memory slack."""
    real = int(np.sum(lengths))
    return _grow(lengths, start, stop=(real + cluster_tokens) / 2.0)


def _grow(lengths, n_buckets: int, stop: float | None) -> Buckets:
    lengths = np.asarray(lengths, dtype=np.int64)
    if len(lengths) == 0:
        return Buckets(np.empty(0, dtype=np.int64), [])
    values, counts = np.unique(lengths, return_counts=True)
    u = len(values)
    real = float(np.dot(values, counts))
    pad = _padding_matrix(values, counts)
    best = pad[0].copy()  # best[j]: padding of values[:j] in b buckets, b = 1 so far
    choice = [np.zeros(u + 1, dtype=np.int64)]
    b = 1
    while True:
        done_fixed = stop is None and b >= min(n_buckets, u)
        done_grown = stop is not None and b >= min(n_buckets, u) and real + best[u] <= stop
        if done_fixed or done_grown or b >= u:
            break
        total = best[:, None] + pad  # total[i, j]: first b buckets cover :i, one more i:j
        arg = np.argmin(total, axis=0)
        new = total[arg, np.arange(u + 1)]
        keep = new < best  # another bucket never hurts; keep the old cut on ties
        choice.append(np.where(keep, arg, -1))
        best = np.where(keep, new, best)
        b += 1
    cuts = [u]
    level, j = len(choice) - 1, u
    while j > 0:
        while level > 0 and choice[level][j] == -1:
            level -= 1
        i = int(choice[level][j]) if level > 0 else 0
        cuts.append(i)
        j, level = i, level - 1
    return _cuts_to_buckets(lengths, values, counts, cuts[::-1])
