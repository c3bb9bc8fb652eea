"""One page in, main text out: blocks, the model's decision, lines in document order."""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
from resiliparse.parse.html import HTMLTree

from textmill.extraction.blocks import (
    CELL_SEPARATOR,
    Blocks,
    code_point_flags,
    page_blocks,
)
from textmill.extraction.decision import keep_blocks
from textmill.extraction.model import TreeEnsemble, shipped_model
from textmill.extraction.neighbours import MODEL_FEATURES, model_input


@dataclass(frozen=True)
class ExtractedPage:
    """Main text (one block a line: paragraphs, headings, `- ` list items, table rows), the
    page's `<title>` and its `<html lang>` (None when absent)."""

    text: str
    title: str | None
    lang: str | None


def page_language(tree: HTMLTree) -> str | None:
    root = tree.document.query_selector("html")
    lang = root.getattr("lang") if root is not None else None
    return lang.strip() or None if lang else None


# Exercises every kernel of the engine: rows and cells, links, class tokens, loose text, junk.
_WARM_UP_PAGE = (
    '<html lang="en"><body class="content"><script>x</script><nav><a href="/">Home</a></nav>'
    "<main>Loose text.<p>A paragraph &amp; more.</p><table><tr><td>a</td><th>b</th></tr>"
    "</table></main></body></html>"
)


@functools.cache
def prepare() -> None:
    """Load the model and the character table and run every kernel once now, e.g. before
    forking workers: a forked child that finds the kernels unloaded loads all of them from
    numba's cache again, ~0.35 CPU-s per child (the budget forks one per batch)."""
    shipped_model()
    code_point_flags()
    extract_page(_WARM_UP_PAGE)


def extract_page(
    html: str | HTMLTree,
    *,
    table_rows: bool = True,
    model: TreeEnsemble | None = None,
    max_depth: int | None = None,
) -> ExtractedPage | None:
    """The main content of one page. `html` may be parsed already (the tree may be changed).

    `table_rows`: a table row is one line, its cells separated by ` | `; False puts each cell on
    a line of its own. `max_depth`: None (no page then) when an element has more ancestors-or-
    self than this, as `is_deeper_than` counts them."""
    tree = HTMLTree.parse(html) if isinstance(html, str) else html
    title = (tree.title or "").strip() or None
    lang = page_language(tree)
    blocks = page_blocks(tree, lang, max_depth)
    if blocks is None:
        return None
    model = model or shipped_model()
    if model.features != MODEL_FEATURES:
        raise RuntimeError("the extraction model was fitted on other features: retrain it")
    probability = model.probability(model_input(blocks.features))
    keep = keep_blocks(probability, model.keep_threshold, model.relative_threshold)
    return ExtractedPage(compose(blocks, keep, table_rows=table_rows), title, lang)


def compose(blocks: Blocks, keep: np.ndarray, *, table_rows: bool = True) -> str:
    """The kept blocks, one a line in document order; list items start with `- `."""
    cell_separator = " | " if table_rows else "\n"
    lines = []
    for text, kind, kept in zip(blocks.texts, blocks.kinds, keep, strict=True):
        if kept:
            line = text.replace(CELL_SEPARATOR, cell_separator)
            lines.append("- " + line if kind == "li" else line)
    return "\n".join(lines)
