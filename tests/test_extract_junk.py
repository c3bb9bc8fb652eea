"""The extractor's scan leaves junk out as lexbor's own removal does, and its block texts are
the regex folding of the text they replaced: same blocks, same features either way."""

import re
import subprocess
import sys

import numpy as np
import pytest
from resiliparse.parse.html import HTMLTree

from textmill.extraction.blocks import (
    CELL_SEPARATOR,
    FEATURES,
    JUNK_SKIP,
    TAGS,
    page_blocks,
    remove_junk,
)
from textmill.extraction.flat_tree import flat_tree, is_deeper_than
from textmill.text.chars import char_flags

PAGES = {
    "scripts and styles split no text": (
        "<body><p>one <script>if (a < b) x()</script>two<style>p{}</style> three</p>"
        "<p>kept</p></body>"
    ),
    "hidden by attribute": (
        '<body><div hidden><p>gone</p></div><p aria-hidden="TRUE">gone</p>'
        "<div style='color: red; DISPLAY: NONE'>gone</div><div style=display:none>gone</div>"
        '<p aria-hidden="false">kept</p><p style="display:block">kept too</p></body>'
    ),
    "forms, objects, templates": (
        "<body><form><p>Name</p><input name=a><select><option>A<option>B</select>"
        "<textarea>a <b> c</textarea><button>Go <b>now</b></button></form>"
        "<object><param name=a><embed src=x><p>fallback</p></object><canvas>c</canvas>"
        "<template><p>in template</p></template><noscript><p>enable js</p></noscript>"
        "<iframe><p>not parsed</p></iframe><p>after</p></body>"
    ),
    "plain svg and math": (
        '<body><p>icon <svg viewBox="0 0 1 1"><path d="M0"/><g><circle r=1 /></g>'
        "<style>.a{fill:red}</style></svg> text <math><mi>x</mi><mo>&lt;</mo></math> end</p>"
        "</body>"
    ),
    "junk body": "<body hidden><p>nothing here</p></body>",
    "nested junk": "<body><div hidden><svg><div>breaks out</div></svg></div><p>x</p></body>",
}
AMBIGUOUS = {
    "svg script holding a script": (
        "<body><p>a</p><svg><script>x<script>y</script>z</script></svg><p>b</p></body>"
    ),
    "svg element with a void name": "<body><svg><source></source><g>t</g></svg><p>b</p></body>",
}


def blocks_after_lexbor_removal(html: str):
    tree = HTMLTree.parse(html)
    remove_junk(tree)
    return page_blocks(tree, None)


def assert_same_blocks(html: str) -> None:
    mine, lexbor = page_blocks(HTMLTree.parse(html), None), blocks_after_lexbor_removal(html)
    assert mine.texts == lexbor.texts and mine.kinds == lexbor.kinds
    assert mine.features.tobytes() == lexbor.features.tobytes()


@pytest.mark.parametrize("name", sorted(PAGES))
def test_the_scan_leaves_out_what_lexbor_removes(name):
    html = PAGES[name]
    assert not flat_tree(HTMLTree.parse(html).document.html, TAGS, char_flags(), JUNK_SKIP).unsure
    assert_same_blocks(html)


@pytest.mark.parametrize("name", sorted(AMBIGUOUS))
def test_ambiguous_foreign_content_falls_back_to_lexbor(name):
    html = AMBIGUOUS[name]
    assert flat_tree(HTMLTree.parse(html).document.html, TAGS, char_flags(), JUNK_SKIP).unsure
    assert_same_blocks(html)
    assert page_blocks(HTMLTree.parse(html), None).texts[-1] == "b"


def test_block_text_is_the_regex_folding_of_the_raw_text():
    spaces = " \t\n\u00a0\u2003\u3000"
    words = ["naïve", "日本語", "𝔘nicode", "a&b", "<tag>"]
    rng = np.random.default_rng(0)
    raw = "".join(rng.choice(list(spaces)) * int(rng.integers(0, 3)) + w for w in words) + "\u2029"
    cells = ["\u00a0", " x\u2003 y ", "", "z\n"]
    escaped = raw.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    row = "".join(f"<td>{c}</td>" for c in cells)
    html = f"<body><p>{escaped}</p><table><tr>{row}</tr></table></body>"
    blocks = page_blocks(HTMLTree.parse(html), None)
    texts = blocks.texts
    words = [len(text.split()) for text in texts]  # counted by the kernel: the same
    log_words = blocks.features[:, FEATURES.index("log_words")]
    assert log_words.tolist() == np.log1p(words).astype(np.float32).tolist()
    folded = [re.sub(r"\s+", " ", c).strip() for c in cells]
    assert texts == [
        re.sub(r"\s+", " ", raw).strip(),
        CELL_SEPARATOR.join(c for c in folded if c),
    ]


DIVS = "<div>" * 20
DEPTH_PAGES = [
    f"<body>{DIVS}<br>",
    f"<body>{DIVS}<script>x</script>",
    f"<body><template>{DIVS}</template><p>x",  # a template's contents are no descendants
    f"<body><div hidden><template>{DIVS}</template><p><br>",
    f"<body><div hidden>{DIVS}<img></div>",
    "<body><svg>" + "<g>" * 20 + "</svg>",
    f"<body><iframe>{DIVS}</iframe>",  # raw text: no elements
    f"<head><noscript>{DIVS}</noscript></head>",
    "<body><table>" + "<tr><td><table>" * 5,
]


@pytest.mark.parametrize("html", DEPTH_PAGES)
def test_the_scan_counts_depth_as_lexbor_selectors_do(html):
    tree = HTMLTree.parse(html)
    depth = flat_tree(tree.document.html, TAGS, char_flags(), JUNK_SKIP).depth
    assert not is_deeper_than(tree, depth) and is_deeper_than(tree, depth - 1)
    assert page_blocks(tree, None, max_depth=depth - 1) is None
    assert page_blocks(tree, None, max_depth=depth) is not None


def test_prepare_leaves_every_engine_kernel_compiled():
    """The extract stage forks a child per batch after prepare(): a kernel the child has to
    load itself costs every batch ~0.35 CPU-s. (A fresh process: other tests run kernels.)"""
    check = """
from textmill.extraction import block_text, blocks, flat_tree, model, neighbours, page_relative
from textmill.extraction.engine import prepare
prepare()
kernels = [flat_tree._scan, flat_tree._text_stats, blocks._attribute_bits, blocks._find_blocks,
           blocks._feature_kernel, block_text._fold, model._leaf_values, model._complete,
           page_relative.relative_columns, neighbours.neighbour_columns]
print([kernel.__name__ for kernel in kernels if not kernel.signatures])
"""
    out = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
