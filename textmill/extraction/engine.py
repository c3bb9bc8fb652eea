"""One page in, main text out: blocks, the model's decision, lines in document order."""

from __future__ import annotations

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


def prepare() -> None:
    """Load the model and the character table now, e.g. before forking workers that would each
    build them again."""
    shipped_model()
    code_point_flags()


def extract_page(
    html: str | HTMLTree,
    *,
    table_rows: bool = True,
    model: TreeEnsemble | None = None,
) -> ExtractedPage:
    """The main content of one page. `html` may be parsed already (the tree is changed).

    `table_rows`: a table row is one line, its cells separated by ` | `; False puts each cell on
    a line of its own."""
    tree = HTMLTree.parse(html) if isinstance(html, str) else html
    title = (tree.title or "").strip() or None
    lang = page_language(tree)
    blocks = page_blocks(tree, lang)
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
