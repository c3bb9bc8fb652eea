"""The main-content model: gradient-boosted trees evaluated with numpy, no learning library.

`textmill.extraction.train` fits scikit-learn's HistGradientBoostingClassifier on labelled
blocks and saves its trees as flat arrays (`model.npz`, shipped in the package); here every tree
descends for all blocks of a page at once, one numpy step per tree level.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

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

    def probability(self, x: np.ndarray) -> np.ndarray:
        """P(main content) for each row of `x` (blocks × features)."""
        if len(x) == 0:
            return np.zeros(0)
        feature, threshold, leaf_value = self._complete
        trees, internal = feature.shape
        # Flat indices (tree * internal + node, row * features + feature): 1-D takes are several
        # times faster than 2-D fancy indexing. In a complete tree node k's children are 2k + 1
        # (x <= threshold) and 2k + 2, so a level is one comparison and one add, no child lookup;
        # on a flat index i = offset + k the step is 2i + 2 - offset - goes_left.
        offsets = np.arange(trees, dtype=np.int64) * internal
        step = 2 - offsets
        row_offsets = np.arange(len(x), dtype=np.int64)[:, None] * x.shape[1]
        features, thresholds = feature.ravel(), threshold.ravel()
        flat_x = np.ascontiguousarray(x).ravel()
        node = np.broadcast_to(offsets, (len(x), trees)).copy()
        for _ in range(self.depth):
            goes_left = flat_x.take(row_offsets + features.take(node)) <= thresholds.take(node)
            node = 2 * node + step - goes_left
        # bottom-level node offset + k (k in [internal, 2 internal]) is value k - internal of the
        # tree's internal + 1: flat index tree * (internal + 1) + k - internal
        leaf = node - internal + np.arange(trees, dtype=np.int64)
        raw = leaf_value.ravel().take(leaf).sum(axis=1) + self.baseline
        return 1.0 / (1.0 + np.exp(-raw))

    @functools.cached_property
    def _complete(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The trees re-laid as complete binary trees of `depth` levels (computed once): each
        internal node's feature and threshold, and the bottom level's values. A leaf above the
        bottom fills its whole subtree's bottom slots with its value (its threshold is +inf, so
        rows descend left through it and land in one of them)."""
        internal = 2**self.depth - 1
        trees = self.feature.shape[0]
        feature = np.zeros((trees, internal), np.int64)
        threshold = np.full((trees, internal), np.inf)
        leaf_value = np.zeros((trees, internal + 1))
        for t in range(trees):
            pending = [(0, 0, 0)]  # (node, place in the complete tree, level)
            while pending:
                node, place, level = pending.pop()
                if self.left[t, node] == node:
                    first = last = place
                    for _ in range(self.depth - level):
                        first, last = 2 * first + 1, 2 * last + 2
                    leaf_value[t, first - internal : last - internal + 1] = self.value[t, node]
                    continue
                feature[t, place] = self.feature[t, node]
                threshold[t, place] = self.threshold[t, node]
                pending.append((int(self.left[t, node]), 2 * place + 1, level + 1))
                pending.append((int(self.right[t, node]), 2 * place + 2, level + 1))
        return feature, threshold, leaf_value

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


@functools.cache
def shipped_model() -> TreeEnsemble:
    """The model in the package (trained by `python -m textmill.extraction.train`)."""
    return TreeEnsemble.load(MODEL_PATH)
