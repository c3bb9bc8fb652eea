"""A page as blocks with features: what the main-content model decides on.

A block is a leaf block element (a `p`, `li`, heading, cell or `div` holding no other block) or a
table row whose cells hold none (a data row, one line). lexbor's selector matcher (resiliparse's
`HTMLTree`) finds them in document order with one call, and finds which of them sit inside
navigation, footers, comment sections, share bars, cookie banners and the like with one call per
context (ancestor-or-self tag, role, or class/id token), so Python touches blocks and links,
never every node. Text statistics come from one pass over all blocks' code points (numpy and
textmill.text.chars), neighbours from shifted columns.
"""

from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass

import numpy as np
from resiliparse.parse.html import HTMLTree, NodeType

from textmill.extraction.stop_words import function_words
from textmill.text.chars import ALPHA, DECIMAL, PUNCT, TABLE_SIZE, TERMINAL, UPPER, char_flags

# Elements whose content never reaches the text (removed before blocks are found, outermost only).
JUNK = (
    "script, style, noscript, template, svg, math, iframe, object, embed, canvas, select,"
    " button, input, textarea, [hidden], [aria-hidden=true i], [style*='display:none' i],"
    " [style*='display: none' i]"
)
_LEAFABLE = (
    "p, h1, h2, h3, h4, h5, h6, li, pre, blockquote, dd, dt, figcaption, caption, td, th, div,"
    " section, article, main, aside, header, footer, nav, address, center, form, fieldset,"
    " details, summary, figure, legend"
)
_STRUCTURE = _LEAFABLE + ", ul, ol, dl, table, tr, tbody, thead, tfoot"
_ROW_STOP = (
    "p, h1, h2, h3, h4, h5, h6, li, pre, blockquote, dd, dt, div, section, article, aside,"
    " header, footer, nav, form, ul, ol, dl, table"
)
_ROW = f"tr:not(:has({_ROW_STOP}))"
BLOCKS = f"{_ROW}, :is({_LEAFABLE}):not(:has({_STRUCTURE})):not({_ROW} > *)"
MARK = "data-textmill-block"
CELL_SEPARATOR = "\t"  # between a row's cells (texts hold no other tab: whitespace is folded)


# Contexts: a block is in one when it or an ancestor matches. Order is the feature order.
TAG_CONTEXTS: dict[str, str] = {
    "in_nav": "nav, menu, [role=navigation i], [role=menubar i]",
    "in_footer": "footer, [role=contentinfo i]",
    "in_header": "header, [role=banner i]",
    "in_aside": "aside, [role=complementary i]",
    "in_article": "article, main, [role=main i], [itemprop=articleBody i], [itemprop=text i]",
    "in_form": "form",
    "in_blockquote": "blockquote",
}
# Class/id substrings (case-folded): one query finds the elements holding any, Python sorts those
# few (~200 a page) into groups and marks them, and a cheap attribute query per group finds the
# blocks under each (25 substring selectors per group and block ancestor cost 20x more).
TOKEN_CONTEXTS: dict[str, tuple[str, ...]] = {
    "tok_nav": (
        "nav",
        "menu",
        "breadcrumb",
        "sidebar",
        "widget",
        "toolbar",
        "paginat",
        "pager",
        "skip",
    ),
    "tok_footer": ("footer", "copyright", "bottom"),
    "tok_header": ("header", "masthead", "topbar", "logo", "banner"),
    "tok_comment": ("comment", "disqus", "respond", "reply", "discuss"),
    "tok_share": ("share", "social", "sharing", "facebook", "twitter", "print", "follow"),
    "tok_cookie": (
        "cookie",
        "consent",
        "gdpr",
        "newsletter",
        "subscri",
        "signup",
        "login",
        "popup",
        "modal",
        "overlay",
    ),
    "tok_related": (
        "related",
        "recommend",
        "trending",
        "popular",
        "teaser",
        "promo",
        "sponsor",
        "advert",
        "ad-",
        "-ad",
        "ads",
    ),
    "tok_meta": ("byline", "author", "date", "meta", "tags", "caption", "credit", "publish"),
    "tok_content": ("article", "content", "post", "entry", "story", "text", "body", "blog", "main"),
}
CONTEXTS = (*TAG_CONTEXTS, *TOKEN_CONTEXTS)
CONTEXT_MARK = "data-textmill-context"
_ANY_TOKEN = ", ".join(
    f"[class*='{t}' i], [id*='{t}' i]" for tokens in TOKEN_CONTEXTS.values() for t in tokens
)
_TOKEN_GROUP = {t: group for group, tokens in TOKEN_CONTEXTS.items() for t in tokens}
_ANY_TOKEN_PATTERN = re.compile("|".join(re.escape(t) for t in _TOKEN_GROUP))

KINDS = ("p", "heading", "li", "cell", "row", "div", "pre", "section", "chrome", "other")
_KIND_OF_TAG = {
    "p": "p",
    **{f"h{i}": "heading" for i in range(1, 7)},
    "li": "li",
    "dd": "li",
    "dt": "li",
    "td": "cell",
    "th": "cell",
    "tr": "row",
    "div": "div",
    "pre": "pre",
    "blockquote": "pre",
    "section": "section",
    "article": "section",
    "main": "section",
    "aside": "chrome",
    "header": "chrome",
    "footer": "chrome",
    "nav": "chrome",
}
_WINDOW = 3  # blocks either side for the smoothed neighbourhood features
_BASE = (
    "log_chars",
    "log_words",
    "link_density",
    "punct_share",
    "ends_terminal",
    "terminals_per_word",
    "digit_share",
    "upper_share",
    "stop_word_share",
    "mean_word_length",
    "position",
    "char_position",
    "page_char_share",
    "max_char_ratio",
    "log_repeats",
)
_NEIGHBOURED = ("log_chars", "link_density", "stop_word_share", "ends_terminal", "punct_share")
FEATURES: tuple[str, ...] = (
    _BASE
    + tuple(f"kind_{k}" for k in KINDS)
    + tuple(CONTEXTS)
    + tuple(f"{side}_{name}" for side in ("prev", "next") for name in _NEIGHBOURED)
    + tuple(f"window_{name}" for name in _NEIGHBOURED)
    + ("page_log_blocks", "page_link_density", "page_stop_word_share")
)
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True)
class Blocks:
    """A page's blocks in document order: text (one line each), kind, and feature rows."""

    texts: list[str]
    kinds: list[str]
    features: np.ndarray  # float32, (len(texts), len(FEATURES))


@functools.cache
def code_point_flags() -> np.ndarray:
    """textmill.text.chars' table, built once per process."""
    return char_flags()


def remove_junk(tree: HTMLTree) -> None:
    """Scripts, styles, forms' controls and hidden elements out of the tree (outermost only, so
    nothing is freed twice)."""
    for node in tree.document.query_selector_all(f":is({JUNK}):not(:is({JUNK}) *)").values():
        node.decompose()


_STRUCTURE_TAGS = frozenset(tag.strip() for tag in _STRUCTURE.split(",")) | {"hr"}


def wrap_loose_text(tree: HTMLTree, root) -> None:
    """Text that sits directly in a container next to blocks (`<td>text<p>..</p></td>`, old
    pages' `<div>text<br>text<div>..`) becomes a `<p>` of its own, so that leaf blocks see it:
    each run of text and inline children between block children is wrapped. Python visits the
    children of such containers only (found by one `:has()` query)."""
    containers = root.query_selector_all(f":is({_LEAFABLE}, body):has({_STRUCTURE})").values()
    for container in containers:
        run: list = []
        has_text = False
        for child in [*container.child_nodes.values(), None]:
            kind = None if child is None else child.type
            if child is None or (kind == NodeType.ELEMENT and child.tag in _STRUCTURE_TAGS):
                if has_text:
                    wrapper = tree.create_element("p")
                    container.insert_before(wrapper, run[0])
                    for node in run:
                        wrapper.append_child(node)
                run, has_text = [], False
            elif kind in (NodeType.TEXT, NodeType.ELEMENT):
                run.append(child)
                has_text = has_text or not child.text.isspace()
            else:
                run.append(child)


def page_blocks(tree: HTMLTree, lang: str | None) -> Blocks:
    """The blocks of a parsed page (junk removed first, then links: the tree is changed).

    Each lexbor query costs a selector compile (~0.2 ms), so queries are per page, not per
    block: rows' cells come from one query, link text from the text lost when every link is
    removed."""
    remove_junk(tree)
    root = tree.body or tree.document
    wrap_loose_text(tree, root)
    nodes = root.query_selector_all(BLOCKS).values()
    raw = [node.text for node in nodes]
    for index, node in enumerate(nodes):
        node.setattr(MARK, str(index))
    cells: dict[int, list[str]] = {}
    for cell in root.query_selector_all(f"tr[{MARK}] > :is(td, th)").values():
        text = _SPACES.sub(" ", cell.text).strip()
        if text:
            cells.setdefault(int(cell.parent.getattr(MARK)), []).append(text)
    contexts = np.zeros((len(nodes), len(CONTEXTS)), np.float32)
    for element in root.query_selector_all(_ANY_TOKEN).values():
        names = f"{element.getattr('class') or ''} {element.getattr('id') or ''}".casefold()
        groups = {_TOKEN_GROUP[t] for t in _ANY_TOKEN_PATTERN.findall(names)}
        element.setattr(CONTEXT_MARK, " ".join(groups))
    selectors = [
        *(
            f":is({selector}) [{MARK}], [{MARK}]:is({selector})"
            for selector in TAG_CONTEXTS.values()
        ),
        *(
            f"[{CONTEXT_MARK}~={group}] [{MARK}], [{MARK}][{CONTEXT_MARK}~={group}]"
            for group in TOKEN_CONTEXTS
        ),
    ]
    for column, selector in enumerate(selectors):
        for node in root.query_selector_all(selector).values():
            contexts[int(node.getattr(MARK)), column] = 1.0
    anchors = root.query_selector_all(f"[{MARK}] a, a[{MARK}]").values()
    if anchors:
        for anchor in root.query_selector_all(f"[{MARK}] a:not(a a)").values():
            anchor.decompose()
        unlinked = np.fromiter((len(node.text) for node in nodes), np.int64, len(nodes))
    else:
        unlinked = np.fromiter((len(t) for t in raw), np.int64, len(nodes))
    link_share = 1.0 - unlinked / np.maximum([len(t) for t in raw], 1)
    texts, kinds, kept = [], [], []
    for index, (node, text) in enumerate(zip(nodes, raw, strict=True)):
        if node.tag == "tr":
            text = CELL_SEPARATOR.join(cells.get(index, ()))
        else:
            text = _SPACES.sub(" ", text).strip()
        if text:
            texts.append(text)
            kinds.append(_KIND_OF_TAG.get(node.tag, "other"))
            kept.append(index)
    if not texts:
        return Blocks([], [], np.zeros((0, len(FEATURES)), np.float32))
    features = _features(texts, kinds, link_share[kept], contexts[kept], lang)
    return Blocks(texts, kinds, features)


def _features(
    texts: list[str],
    kinds: list[str],
    link_share: np.ndarray,
    contexts: np.ndarray,
    lang: str | None,
) -> np.ndarray:
    n = len(texts)
    joined = "\n".join(texts)
    codes = np.frombuffer(joined.encode("utf-32-le"), dtype=np.uint32)
    flags = code_point_flags()[np.minimum(codes, TABLE_SIZE - 1)]
    flags[codes >= TABLE_SIZE] = 0
    chars = np.fromiter((len(t) for t in texts), np.int64, n)
    starts = np.concatenate(([0], np.cumsum(chars + 1)[:-1]))

    def per_block(mask: int) -> np.ndarray:
        return np.add.reduceat((flags & mask) != 0, starts).astype(np.float64)

    alpha, upper, digits = per_block(ALPHA), per_block(UPPER), per_block(DECIMAL)
    punct, terminals = per_block(PUNCT), per_block(TERMINAL)
    last = codes[starts + chars - 1]
    ends_terminal = ((code_point_flags()[np.minimum(last, TABLE_SIZE - 1)] & TERMINAL) != 0).astype(
        float
    )

    words_of = [t.casefold().split() for t in texts]
    words = np.fromiter((len(w) for w in words_of), np.int64, n).astype(np.float64)
    stops = function_words(lang)
    stop_count = np.fromiter((sum(w in stops for w in ws) for ws in words_of), np.float64, n)
    safe_words = np.maximum(words, 1)

    repeats: dict[str, int] = {}
    for t in texts:
        repeats[t] = repeats.get(t, 0) + 1
    total = float(chars.sum())
    base = {
        "log_chars": np.log1p(chars),
        "log_words": np.log1p(words),
        "link_density": np.clip(link_share, 0.0, 1.0),
        "punct_share": punct / chars,
        "ends_terminal": ends_terminal,
        "terminals_per_word": terminals / safe_words,
        "digit_share": digits / chars,
        "upper_share": upper / np.maximum(alpha, 1),
        "stop_word_share": stop_count / safe_words,
        "mean_word_length": alpha / safe_words,
        "position": np.arange(n) / max(n - 1, 1),
        "char_position": (np.cumsum(chars) - chars) / total,
        "page_char_share": chars / total,
        "max_char_ratio": chars / chars.max(),
        "log_repeats": np.log(np.fromiter((repeats[t] for t in texts), np.float64, n)),
    }
    kind_index = {k: i for i, k in enumerate(KINDS)}
    kind_columns = np.zeros((n, len(KINDS)))
    kind_columns[np.arange(n), [kind_index[k] for k in kinds]] = 1.0

    weights = np.maximum(chars, 1).astype(np.float64)
    neighbour_columns = []
    for name in _NEIGHBOURED:
        values = base[name]
        neighbour_columns.append(np.concatenate(([-1.0], values[:-1])))
    for name in _NEIGHBOURED:
        values = base[name]
        neighbour_columns.append(np.concatenate((values[1:], [-1.0])))
    for name in _NEIGHBOURED:
        neighbour_columns.append(_window_mean(base[name], weights))
    page = [
        np.full(n, math.log(n)),
        np.full(n, float((link_share * chars).sum()) / total),
        np.full(n, float(stop_count.sum()) / max(float(words.sum()), 1.0)),
    ]
    return np.column_stack(
        [*base.values(), kind_columns, contexts, *neighbour_columns, *page]
    ).astype(np.float32)


def _window_mean(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Character-weighted mean over the block and `_WINDOW` blocks either side."""
    weighted = np.concatenate(([0.0], np.cumsum(values * weights)))
    mass = np.concatenate(([0.0], np.cumsum(weights)))
    n = len(values)
    lo = np.maximum(np.arange(n) - _WINDOW, 0)
    hi = np.minimum(np.arange(n) + _WINDOW + 1, n)
    return (weighted[hi] - weighted[lo]) / (mass[hi] - mass[lo])
