"""textmill's own extractor (`extract: {engine: textmill}`): boilerplate out, article in, the
structure kept, the same bytes always giving the same text, and hostile pages counted."""

import json

import numpy as np
import pyarrow.parquet as pq
import pytest
from resiliparse.parse.html import HTMLTree

from textmill.api import Pipeline
from textmill.document import make_batch
from textmill.extraction import extract_page
from textmill.extraction.blocks import page_blocks
from textmill.extraction.engine import compose, page_language
from textmill.extraction.model import TreeEnsemble, shipped_model
from textmill.extraction.neighbours import MODEL_FEATURES
from textmill.stages.extract import MAX_HTML_BYTES, PROBLEMS, Extract

PROSE = (
    "The farmers of the valley grew barley and wheat along the fertile banks of the river for "
    "many generations, and the floods brought fresh silt to their fields every spring."
)
PAGE = f"""<!doctype html><html lang="en-GB"><head><title>The valley</title>
<script>var tracking = "script text never shows";</script><style>p {{color: red}}</style></head>
<body>
<div id="cookie-banner" class="cookie-consent"><p>We use cookies to improve your experience.
Accept all cookies</p><button>Accept</button></div>
<header class="site-header"><a href="/">Valley News</a></header>
<nav class="main-menu"><ul><li><a href="/">Home</a></li><li><a href="/world">World</a></li>
<li><a href="/sport">Sport</a></li><li><a href="/weather">Weather</a></li></ul></nav>
<article class="post-content">
<h1>How the river shaped the valley</h1>
<p>{PROSE}</p>
<p>In the dry years, when the river ran low, the villages dug canals and shared the water by
turns, a custom that outlived every government that tried to replace it with something else.</p>
<h2>What they grew</h2>
<ul><li>Barley for bread and for the beer brewed in every house of the valley</li>
<li>Wheat that the traders carried down the river to the markets of the coast</li></ul>
<table><tr><th>Crop</th><th>Harvest</th></tr><tr><td>Barley</td><td>July</td></tr></table>
<p>{PROSE.replace("farmers", "herders").replace("barley and wheat", "sheep and goats")}</p>
</article>
<div class="share-buttons"><a href="/s/fb">Share on Facebook</a> <a href="/s/tw">Tweet</a></div>
<footer class="site-footer"><p>Copyright 2024 Valley News. All rights reserved.</p>
<a href="/privacy">Privacy policy</a> <a href="/terms">Terms of use</a></footer>
</body></html>"""


def test_article_kept_navigation_footer_and_cookie_banner_removed():
    page = extract_page(PAGE)
    lines = page.text.split("\n")
    assert "How the river shaped the valley" in lines and "What they grew" in lines
    assert PROSE in lines
    assert "- Barley for bread and for the beer brewed in every house of the valley" in lines
    for boilerplate in ("cookies", "Home", "Weather", "Copyright", "Facebook", "Privacy", "script"):
        assert boilerplate not in page.text
    assert (page.title, page.lang) == ("The valley", "en-GB")


def test_tables_as_rows_or_as_cells():
    """The model decides whether a table is main content; a kept table reads as rows."""
    tree = HTMLTree.parse(PAGE)
    blocks = page_blocks(tree, page_language(tree))
    everything = np.ones(len(blocks.texts), dtype=bool)
    rows = compose(blocks, everything).split("\n")
    assert "Crop | Harvest" in rows and "Barley | July" in rows
    cells = compose(blocks, everything, table_rows=False).split("\n")
    assert "Barley" in cells and "July" in cells and "Barley | July" not in cells
    assert rows.index(
        "- Wheat that the traders carried down the river to the markets of the coast"
    ) < rows.index("Crop | Harvest")


def test_same_bytes_same_text_in_the_stage_and_directly():
    batch = make_batch(["a", "b"], [None, None], html=[PAGE, PAGE])
    out, decision = Extract(engine="textmill", page_columns=True).process(batch)
    assert decision.keep.all()
    assert out["text"].to_pylist() == [extract_page(PAGE).text] * 2
    assert out["title"].to_pylist() == ["The valley"] * 2
    assert out["html_lang"].to_pylist() == ["en-GB"] * 2


def test_shipped_model_matches_the_features_and_is_small():
    model = shipped_model()
    assert model.features == MODEL_FEATURES
    assert 0 < model.keep_threshold < 1 and 0 <= model.relative_threshold < 1
    assert model.feature.size < 200_000  # ships inside the package


def test_numpy_trees_predict_what_sklearn_predicts():
    sklearn = pytest.importorskip("sklearn.ensemble")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 3))
    y = (x[:, 0] + x[:, 1] * x[:, 2] > 0).astype(int)
    fitted = sklearn.HistGradientBoostingClassifier(max_iter=20, max_depth=3, random_state=0)
    fitted.fit(x, y)
    trees = TreeEnsemble.from_sklearn(fitted, ("a", "b", "c"), 0.5)
    probe = rng.normal(size=(50, 3))
    assert np.allclose(trees.probability(probe), fitted.predict_proba(probe)[:, 1])


def test_limits_apply_to_the_new_engine():
    pages = [
        "<p>" + "x" * (MAX_HTML_BYTES + 1) + "</p>",
        "<html><body>" + "<div>" * 100_000 + "deep text" + "</div>" * 100_000 + "</body></html>",
        PAGE,
    ]
    batch = make_batch(["big", "deep", "good"], [None] * 3, html=pages)
    _, decision = Extract(engine="textmill").process(batch)
    assert decision.reasons.to_pylist() == ["too_large", "too_deep", None]


def test_time_budget_stops_the_new_engine():
    slow = "<html><body>" + "<p>word and more words in a paragraph</p>" * 40_000 + "</body></html>"
    batch = make_batch(["slow"], [None], html=[slow])
    _, decision = Extract(engine="textmill", time_budget_s=0.01, max_html_bytes=None).process(batch)
    assert decision.reasons.to_pylist() == ["time_budget"]


def test_broken_binary_and_misdeclared_pages_are_counted_not_crashing(tmp_path):
    inputs = tmp_path / "in"
    inputs.mkdir()
    records = [
        {"id": "truncated", "html": PAGE[: len(PAGE) // 2]},
        {"id": "binary", "html": bytes(range(256)).decode("latin-1") * 20},
        {"id": "charset", "html": '<meta charset="shift_jis"><p>Ã©tÃ© dÃ©jÃ  vu, naÃ¯ve</p>'},
        {"id": "empty", "html": "<html><body></body></html>"},
        {"id": "nul", "html": "<p>a\x00b</p>" * 10},
        {"id": "good", "html": PAGE},
    ]
    (inputs / "pages.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    pipeline = Pipeline([("extract", {"engine": "textmill"})])
    stats = pipeline.run(inputs, tmp_path / "out", workers=1, progress=False)
    assert stats["read"] == 6 and stats["errored"] == 0
    assert stats["kept"] + stats["rejected"] == 6
    kept = pq.read_table(tmp_path / "out" / "data")["id"].to_pylist()
    assert "good" in kept and "truncated" in kept
    reasons = set(stats["stages"][0]["reasons"])
    assert reasons <= {*PROBLEMS, "no_text"} and "no_text" in reasons
