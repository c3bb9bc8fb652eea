"""The main-content model: gradient-boosted trees evaluated with numpy, no learning library.

`textmill.extraction.train` fits scikit-learn's HistGradientBoostingClassifier on labelled
blocks and saves its trees as flat arrays (`model.npz`, shipped in the package); here a numba
kernel finds the leaf every block of a page reaches in every tree, and numpy sums the leaves.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import numba as nb
import numpy as np
from numba.cpython.unsafe.numbers import trailing_zeros

MODEL_PATH = Path(__file__).with_name("model.npz")
_MASK_BITS = 64  # leaves a tree may have: one bit each in the exit-leaf masks


@dataclass(frozen=True)
class TreeEnsemble:
    """Trees as (trees, nodes) arrays; a leaf's children point to itself."""

    feature: np.ndarray  # int32
    threshold: np.ndarray  # float64: go left when x <= threshold
    left: np.ndarray  # int32
    right: np.ndarray  # int32
    value: np.ndarray  # float64: raw score of a leaf
    baseline: float
    depth: int
    features: tuple[str, ...]  # the feature names the trees were fitted on, in column order
    keep_threshold: float  # probability above which a block is kept (chosen by cross-validation)
    relative_threshold: float = 0.0  # cap: keep_threshold <= this × the page's top probability

    @functools.cached_property
    def _exit_leaf_trees(self) -> tuple[np.ndarray, ...]:
        """The trees for `_leaf_values`: as complete binary trees of `depth` levels (children of
        node k at 2k+1 and 2k+2; a leaf above the last level becomes nodes that lead every way
        to copies of it, so that its leaves are numbered left to right), each tree's splits
        (feature, threshold, and a mask of the leaves outside the split's left subtree), and
        the leaf values. Same comparisons, same leaves as descending the fitted trees."""
        depth = max(self.depth, 0)
        if 1 << depth > _MASK_BITS:
            raise ValueError(f"trees of depth {depth}: more leaves than {_MASK_BITS} mask bits")
        feature, threshold, value, split = _complete(
            self.feature, self.threshold, self.left, self.right, self.value, depth
        )
        inner = feature.shape[1]
        level = np.log2(np.arange(inner) + 1).astype(np.int64)  # exact for these small ints
        width = np.right_shift(inner + 1, level)  # leaves under each node
        first_leaf = (np.arange(inner) - ((1 << level) - 1)) * width
        left_leaves = np.left_shift(
            np.left_shift(np.uint64(1), (width // 2).astype(np.uint64)) - np.uint64(1),
            first_leaf.astype(np.uint64),
        )
        counts = split.sum(axis=1)
        order = np.argsort(~split, axis=1, kind="stable")  # each tree's splits first, in order
        masks = np.broadcast_to(~left_leaves, split.shape)
        return (
            np.take_along_axis(feature, order, axis=1),
            np.take_along_axis(threshold, order, axis=1),
            np.take_along_axis(masks, order, axis=1),
            counts.astype(np.int64),
            value,
        )

    def probability(self, x: np.ndarray) -> np.ndarray:
        """P(main content) for each row of `x` (blocks × features)."""
        if len(x) == 0:
            return np.zeros(0)
        columns = np.ascontiguousarray(x.T, dtype=np.float64)  # float32 rows: exact
        leaves = _leaf_values(columns, *self._exit_leaf_trees)
        raw = leaves.sum(axis=1) + self.baseline  # numpy's pairwise sum, as the model was scored
        return 1.0 / (1.0 + np.exp(-raw))

    def save(self, path: Path) -> None:
        np.savez_compressed(
            path,
            feature=self.feature,
            threshold=self.threshold,
            left=self.left,
            right=self.right,
            value=self.value,
            baseline=np.float64(self.baseline),
            depth=np.int32(self.depth),
            features=np.array(self.features),
            keep_threshold=np.float64(self.keep_threshold),
            relative_threshold=np.float64(self.relative_threshold),
        )

    @classmethod
    def load(cls, path: Path) -> TreeEnsemble:
        with np.load(path, allow_pickle=False) as z:
            return cls(
                feature=z["feature"],
                threshold=z["threshold"],
                left=z["left"],
                right=z["right"],
                value=z["value"],
                baseline=float(z["baseline"]),
                depth=int(z["depth"]),
                features=tuple(str(name) for name in z["features"]),
                keep_threshold=float(z["keep_threshold"]),
                relative_threshold=float(z.get("relative_threshold", 0.0)),
            )

    @classmethod
    def from_sklearn(
        cls,
        model,
        features: tuple[str, ...],
        keep_threshold: float,
        relative_threshold: float = 0.0,
    ) -> TreeEnsemble:
        """Flatten a fitted binary HistGradientBoostingClassifier (training time only)."""
        predictors = [tree[0].nodes for tree in model._predictors]
        width = max(len(nodes) for nodes in predictors)
        shape = (len(predictors), width)
        feature = np.zeros(shape, np.int32)
        threshold = np.zeros(shape, np.float64)
        left = np.zeros(shape, np.int32)
        right = np.zeros(shape, np.int32)
        value = np.zeros(shape, np.float64)
        depth = 0
        for t, nodes in enumerate(predictors):
            k = len(nodes)
            leaf = nodes["is_leaf"].astype(bool)
            own = np.arange(k)
            feature[t, :k] = np.where(leaf, 0, nodes["feature_idx"])
            threshold[t, :k] = np.where(leaf, np.inf, nodes["num_threshold"])
            left[t, :k] = np.where(leaf, own, nodes["left"])
            right[t, :k] = np.where(leaf, own, nodes["right"])
            value[t, :k] = nodes["value"]
            depth = max(depth, int(nodes["depth"].max()))
        baseline = float(np.ravel(model._baseline_prediction)[0])
        return cls(
            feature,
            threshold,
            left,
            right,
            value,
            baseline,
            depth,
            features,
            keep_threshold,
            relative_threshold,
        )

    @classmethod
    def average(
        cls, members: list[TreeEnsemble], keep_threshold: float, relative_threshold: float = 0.0
    ) -> TreeEnsemble:
        """One ensemble whose raw score is the mean of the members' (their logits averaged):
        the trees side by side, leaf values and baselines divided by the member count. Members
        read the same columns: each one's features are a prefix of the widest one's."""
        features = max((m.features for m in members), key=len)
        if any(m.features != features[: len(m.features)] for m in members):
            raise ValueError("members' features are not prefixes of one column order")
        width = max(m.feature.shape[1] for m in members)

        def padded(array: np.ndarray, fill) -> np.ndarray:
            """Widened to `width` nodes: unreachable leaves (children: themselves, value 0)."""
            wide = np.empty((array.shape[0], width), array.dtype)
            wide[:, : array.shape[1]] = array
            wide[:, array.shape[1] :] = np.arange(array.shape[1], width) if fill is None else fill
            return wide

        stacked = {
            name: np.concatenate([padded(getattr(m, name), fill) for m in members])
            for name, fill in (
                ("feature", 0),
                ("threshold", np.inf),
                ("left", None),
                ("right", None),
                ("value", 0.0),
            )
        }
        stacked["value"] = stacked["value"] / len(members)
        return cls(
            **stacked,
            baseline=float(np.mean([m.baseline for m in members])),
            depth=max(m.depth for m in members),
            features=features,
            keep_threshold=keep_threshold,
            relative_threshold=relative_threshold,
        )


@nb.njit(cache=True)
def _complete(feature, threshold, left, right, value, depth):
    """The trees as complete ones of `depth` levels (`TreeEnsemble._exit_leaf_trees`), and
    which of their inner nodes are splits (the others stand for a leaf above the last level)."""
    trees = feature.shape[0]
    inner = (1 << depth) - 1
    out_feature = np.zeros((trees, inner), np.int64)
    out_threshold = np.full((trees, inner), np.inf)
    out_value = np.zeros((trees, inner + 1), np.float64)
    split = np.zeros((trees, inner), np.bool_)
    source = np.zeros(2 * inner + 1, np.int64)  # the original node each complete node stands for
    for t in range(trees):
        source[0] = 0
        for k in range(2 * inner + 1):
            node = source[k]
            if k >= inner:
                out_value[t, k - inner] = value[t, node]
                continue
            if left[t, node] == node:  # a leaf before the last level: both ways lead to it
                source[2 * k + 1] = node
                source[2 * k + 2] = node
            else:
                out_feature[t, k] = feature[t, node]
                out_threshold[t, k] = threshold[t, node]
                split[t, k] = True
                source[2 * k + 1] = left[t, node]
                source[2 * k + 2] = right[t, node]
    return out_feature, out_threshold, out_value, split


@nb.njit(cache=True)
def _leaf_values(columns, feature, threshold, masks, counts, value):
    """(rows, trees): the value of the leaf each row reaches in each tree, going left when
    x <= threshold (NaN goes right), as scikit-learn's trees do. `columns`: the rows transposed
    (features × rows). QuickScorer's exit leaf (Lucchese et al., SIGIR 2015): a row starts with
    every leaf of a tree possible; each split it goes right at rules out the split's left
    subtree; the leftmost leaf left is the one a descent reaches. Every split is tested, but
    for all rows at once (one column, contiguous: the loop vectorises) and without the
    descent's chain of dependent loads. A node that stands for a leaf above the last level is
    skipped: all leaves under it are copies of that leaf."""
    rows, trees = columns.shape[1], feature.shape[0]
    leaves = np.empty((rows, trees), np.float64)
    possible = np.empty(rows, np.uint64)
    every = np.uint64(0xFFFFFFFFFFFFFFFF)
    for t in range(trees):
        possible[:] = every
        for j in range(counts[t]):
            column = columns[feature[t, j]]
            limit = threshold[t, j]
            outside_left = masks[t, j]
            for r in range(rows):
                possible[r] &= every if column[r] <= limit else outside_left
        for r in range(rows):
            leaves[r, t] = value[t, trailing_zeros(possible[r])]
    return leaves


@functools.cache
def shipped_model() -> TreeEnsemble:
    """The model in the package (trained by `python -m textmill.extraction.train`)."""
    return TreeEnsemble.load(MODEL_PATH)
