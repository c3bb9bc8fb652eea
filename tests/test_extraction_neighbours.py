"""Neighbourhood features and the averaged tree ensemble of textmill's extractor."""

import numpy as np
import pytest
from resiliparse.parse.html import HTMLTree

from textmill.extraction.blocks import page_blocks
from textmill.extraction.model import TreeEnsemble
from textmill.extraction.neighbours import MODEL_FEATURES, NEIGHBOURS, model_input, neighbours
from textmill.extraction.page_relative import PAGE_FEATURES, page_relative

LONG = "The river rose in the spring and the farmers moved their sheep to the hills. " * 4
PAGE = (
    "<html><body><nav><a href='/'>Home</a> <a href='/a'>About</a></nav>"
    f"<h1>Spring flood</h1><p>{LONG}</p><p>Short line.</p><p>{LONG}</p>"
    "<footer><a href='/p'>Privacy</a></footer></body></html>"
)


def test_model_input_appends_the_neighbourhood_to_the_page_relative_columns():
    blocks = page_blocks(HTMLTree.parse(PAGE), "en")
    x = model_input(blocks.features)
    assert x.shape == (len(blocks.texts), len(MODEL_FEATURES))
    assert np.array_equal(x[:, : len(PAGE_FEATURES)], page_relative(blocks.features))
    assert model_input(blocks.features[:0]).shape == (0, len(MODEL_FEATURES))


def test_neighbourhood_sees_headings_two_blocks_away_and_the_prose_span():
    blocks = page_blocks(HTMLTree.parse(PAGE), "en")
    column = dict(zip(NEIGHBOURS, neighbours(blocks.features).T, strict=True))
    texts = blocks.texts
    heading, article, short = (
        texts.index("Spring flood"),
        texts.index(LONG.strip()),
        texts.index("Short line."),
    )
    assert column["prev_kind_heading"][article] == 1.0 and column["prev_kind_heading"][short] == 0.0
    log_chars = blocks.features[:, 0]
    assert column["prev2_log_chars"][short] == log_chars[heading]
    assert column["prev2_log_chars"][0] == -1.0 and column["next2_log_chars"][-1] == -1.0
    assert column["prose_log_distance"][article] == 0.0
    assert column["inside_prose_span"][short] == 1.0  # between the two long paragraphs
    assert column["inside_prose_span"][texts.index("Home About")] == 0.0


def stump(features: tuple[str, ...], column: int, low: float, high: float, width: int):
    """A one-split tree (node 0 on `column` at 0.5, leaves 1 and 2) padded to `width` nodes."""
    shape = (1, width)
    feature, threshold = np.zeros(shape, np.int32), np.full(shape, np.inf)
    left = np.arange(width, dtype=np.int32)[None, :].copy()  # leaves point to themselves
    right = left.copy()
    feature[0, 0], threshold[0, 0], left[0, 0], right[0, 0] = column, 0.5, 1, 2
    value = np.zeros(shape)
    value[0, 1:3] = low, high
    return TreeEnsemble(feature, threshold, left, right, value, 0.25, 1, features, 0.5)


def test_average_is_the_mean_of_the_members_logits():
    first = stump(("a",), 0, -1.0, 2.0, 3)
    second = stump(("a", "b"), 1, 0.5, -3.0, 5)
    averaged = TreeEnsemble.average([first, second], 0.4, 0.7)
    assert averaged.features == ("a", "b") and averaged.feature.shape == (2, 5)
    assert (averaged.keep_threshold, averaged.relative_threshold) == (0.4, 0.7)
    x = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])

    def logit(p: np.ndarray) -> np.ndarray:
        return np.log(p / (1 - p))

    expected = (logit(first.probability(x[:, :1])) + logit(second.probability(x))) / 2
    assert np.allclose(logit(averaged.probability(x)), expected)
    with pytest.raises(ValueError, match="prefixes"):
        TreeEnsemble.average([first, stump(("b", "a"), 0, 0.0, 0.0, 3)], 0.5)


def descend(model: TreeEnsemble, row: np.ndarray) -> float:
    """P(main content) of one row, node by node along the saved children."""
    raw = model.baseline
    for t in range(model.feature.shape[0]):
        node = 0
        while model.left[t, node] != node:
            go_left = row[model.feature[t, node]] <= model.threshold[t, node]
            node = model.left[t, node] if go_left else model.right[t, node]
        raw += model.value[t, node]
    return 1.0 / (1.0 + np.exp(-raw))


def test_probability_equals_the_node_by_node_descent_on_unbalanced_trees():
    # tree 0: root on column 0; its left child a leaf, its right child splits on column 1
    # tree 1: a single leaf (depth 0) beside it
    feature = np.array([[0, 0, 1, 0, 0], [0, 0, 0, 0, 0]], np.int32)
    threshold = np.array([[0.5, np.inf, 2.0, np.inf, np.inf], [np.inf] * 5])
    left = np.array([[1, 1, 3, 3, 4], [0, 1, 2, 3, 4]], np.int32)
    right = np.array([[2, 1, 4, 3, 4], [0, 1, 2, 3, 4]], np.int32)
    value = np.array([[0.0, -1.5, 0.0, 0.7, 2.5], [0.3, 0, 0, 0, 0]])
    model = TreeEnsemble(feature, threshold, left, right, value, -0.2, 2, ("a", "b"), 0.5)
    x = np.array([[0.0, 9.0], [0.5, 0.0], [1.0, 2.0], [1.0, 3.0], [7.0, -1.0]])
    assert np.allclose(model.probability(x), [descend(model, row) for row in x])
    assert len(set(np.round(model.probability(x), 9))) == 3  # all three leaves of tree 0 reached
