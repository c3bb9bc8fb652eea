"""Page-relative block features and the never-empty keep decision of textmill's extractor."""

import numpy as np
from resiliparse.parse.html import HTMLTree

from textmill.extraction.blocks import FEATURES, page_blocks
from textmill.extraction.decision import keep_blocks
from textmill.extraction.model import TreeEnsemble
from textmill.extraction.page_relative import PAGE_FEATURES, RELATIVE, page_relative

LONG = "The river rose in the spring and the farmers moved their sheep to the hills. " * 4
PAGE = (
    "<html><body><nav><a href='/'>Home</a> <a href='/a'>About</a></nav>"
    f"<p>{LONG}</p><p>{LONG[:120]}</p><p>Short line.</p>"
    "<footer><a href='/p'>Privacy</a></footer></body></html>"
)


def relative_of(html: str) -> tuple[list[str], dict[str, np.ndarray]]:
    blocks = page_blocks(HTMLTree.parse(html), "en")
    x = page_relative(blocks.features)
    assert x.shape == (len(blocks.texts), len(PAGE_FEATURES))
    assert np.array_equal(x[:, : len(FEATURES)], blocks.features)  # the block features unchanged
    return blocks.texts, {name: x[:, len(FEATURES) + i] for i, name in enumerate(RELATIVE)}


def test_the_article_ranks_first_and_sits_in_the_densest_region():
    texts, rel = relative_of(PAGE)
    article = texts.index(LONG.strip())
    assert rel["rel_chars_rank"][article] == 1.0 and rel["rel_chars_vs_max"][article] == 0.0
    assert rel["rel_chars_z"][article] == rel["rel_chars_z"].max()
    assert rel["rel_region_vs_max"].max() == 1.0
    assert rel["rel_region_distance"][article] < rel["rel_region_distance"][-1]
    navigation = texts.index("Home About")
    assert rel["rel_link_vs_page"][navigation] > 0 > rel["rel_link_vs_page"][article]
    assert rel["rel_content_share"][navigation] < 0.01  # link text but for a space
    assert np.all(np.diff(rel["rel_content_position"]) >= 0)  # cumulative, in document order
    assert rel["rel_content_position"][0] == 0.0


def test_features_are_relative_to_the_page_not_absolute():
    """The same page with every block twice as long ranks its blocks the same way."""
    doubled = PAGE.replace(LONG, LONG * 2).replace(LONG[:120], LONG[:120] * 2)
    _, once = relative_of(PAGE)
    _, twice = relative_of(doubled)
    assert np.array_equal(once["rel_chars_rank"], twice["rel_chars_rank"])


def test_empty_and_single_block_pages():
    assert page_relative(np.zeros((0, len(FEATURES)), np.float32)).shape == (0, len(PAGE_FEATURES))
    _, rel = relative_of(f"<p>{LONG}</p>")
    assert rel["rel_chars_z"].tolist() == [0.0] and rel["rel_region_vs_max"].tolist() == [1.0]


def test_keep_threshold_is_capped_by_the_page_top_block():
    unsure = np.array([0.1, 0.3, 0.05])
    assert keep_blocks(unsure, 0.6).tolist() == [False, False, False]
    assert keep_blocks(unsure, 0.6, 0.5).tolist() == [False, True, False]  # 0.3 > 0.5 × 0.3
    sure = np.array([0.9, 0.7, 0.55])
    assert keep_blocks(sure, 0.6, 0.7).tolist() == [True, True, False]  # 0.6 < 0.7 × 0.9
    assert keep_blocks(np.zeros(0), 0.6, 0.5).tolist() == []


def test_relative_threshold_is_saved_and_old_models_load(tmp_path):
    one = np.zeros((1, 1))
    model = TreeEnsemble(
        one.astype(np.int32),
        one,
        one.astype(np.int32),
        one.astype(np.int32),
        one,
        0.0,
        1,
        ("a",),
        0.6,
        0.5,
    )
    model.save(tmp_path / "m.npz")
    assert TreeEnsemble.load(tmp_path / "m.npz").relative_threshold == 0.5
    arrays = dict(np.load(tmp_path / "m.npz"))
    del arrays["relative_threshold"]
    np.savez(tmp_path / "old.npz", **arrays)
    assert TreeEnsemble.load(tmp_path / "old.npz").relative_threshold == 0.0
