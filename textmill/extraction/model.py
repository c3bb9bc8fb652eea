"""The main-content model: gradient-boosted trees evaluated with numpy, no learning library.

`textmill.extraction.train` fits scikit-learn's HistGradientBoostingClassifier on labelled
blocks and saves its trees as flat arrays (`model.npz`, shipped in the package); here a numba
kernel descends every tree for every block of a page, and numpy sums the leaves.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import numba as nb
import numpy as np

MODEL_PATH = Path(__file__).with_name("model.npz")


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
    def _complete_trees(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The trees as complete binary trees of `depth` levels (children of node k at 2k+1 and
        2k+2), so that a row descends without branching on leaves: a leaf above the last level
        becomes nodes that lead every way to copies of it. Same comparisons, same leaves."""
        return _complete(
            self.feature, self.threshold, self.left, self.right, self.value, max(self.depth, 0)
        )

    @functools.cached_property
    def _complete_trees_float32(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The complete trees for float32 rows: each threshold t as the largest float32 <= t,
        so that x <= t32 exactly when x <= t for every float32 x (same decisions, half the
        memory traffic), feature indices as int32."""
        feature, threshold, value = self._complete_trees
        narrow = threshold.astype(np.float32)
        above = narrow.astype(np.float64) > threshold
        narrow[above] = np.nextafter(narrow[above], np.float32(-np.inf))
        return feature.astype(np.int32), narrow, value

    def probability(self, x: np.ndarray) -> np.ndarray:
        """P(main content) for each row of `x` (blocks × features)."""
        if len(x) == 0:
            return np.zeros(0)
        x = np.ascontiguousarray(x)
        trees = self._complete_trees_float32 if x.dtype == np.float32 else self._complete_trees
        leaves = _leaf_values(x, *trees, max(self.depth, 0))
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
    trees = feature.shape[0]
    inner = (1 << depth) - 1
    out_feature = np.zeros((trees, inner), np.int64)
    out_threshold = np.full((trees, inner), np.inf)
    out_value = np.zeros((trees, inner + 1), np.float64)
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
                source[2 * k + 1] = left[t, node]
                source[2 * k + 2] = right[t, node]
    return out_feature, out_threshold, out_value


@nb.njit(cache=True)
def _leaf_values(x, feature, threshold, value, depth):
    """(rows, trees): the value of the leaf each row reaches in each tree of `depth` levels:
    go left when x <= threshold (NaN goes right), as scikit-learn's trees do."""
    rows, trees = x.shape[0], feature.shape[0]
    inner = feature.shape[1]
    leaves = np.empty((rows, trees), np.float64)
    last = rows - 1
    for t in range(trees):  # one tree at a time stays in L1
        # Four rows descend together (their loads overlap); past the end, the last row again.
        for r in range(0, rows, 4):
            r1, r2, r3 = min(r + 1, last), min(r + 2, last), min(r + 3, last)
            k0 = k1 = k2 = k3 = 0
            for _ in range(depth):  # no branch: the comparison is the step
                k0 = 2 * k0 + 2 - (x[r, feature[t, k0]] <= threshold[t, k0])
                k1 = 2 * k1 + 2 - (x[r1, feature[t, k1]] <= threshold[t, k1])
                k2 = 2 * k2 + 2 - (x[r2, feature[t, k2]] <= threshold[t, k2])
                k3 = 2 * k3 + 2 - (x[r3, feature[t, k3]] <= threshold[t, k3])
            leaves[r, t] = value[t, k0 - inner]
            leaves[r1, t] = value[t, k1 - inner]
            leaves[r2, t] = value[t, k2 - inner]
            leaves[r3, t] = value[t, k3 - inner]
    return leaves


@functools.cache
def shipped_model() -> TreeEnsemble:
    """The model in the package (trained by `python -m textmill.extraction.train`)."""
    return TreeEnsemble.load(MODEL_PATH)
