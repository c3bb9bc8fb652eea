"""A page as blocks with features: what the main-content model decides on.

A block is a leaf block element (a `p`, `li`, heading, cell or `div` holding no other block) or a
table row whose cells hold none (a data row, one line). The selectors below define them and the
contexts a block inherits (navigation, footers, comment sections, share bars, cookie banners and
the like, by ancestor-or-self tag, role, or class/id token); numba kernels evaluate those
definitions on the flat arrays of lexbor's serialized tree (`textmill.extraction.flat_tree`),
`textmill.extraction.block_text` writes the blocks' texts and counts their characters, and
numpy turns the counts into feature columns, neighbours from shifted columns.
"""

from __future__ import annotations

import collections
import functools
import html
import itertools
import re
from dataclasses import dataclass

import numba as nb
import numpy as np
from resiliparse.parse.html import HTMLTree

from textmill.extraction.block_text import BlockTexts, block_texts
from textmill.extraction.flat_tree import (
    ATTRIBUTES,
    ELEMENT,
    FOREIGN,
    RAW_TEXT,
    TEXT,
    VOID,
    FlatTree,
    Skip,
    TagTable,
    flat_tree,
    is_deeper_than,
)
from textmill.extraction.stop_words import function_words
from textmill.text.chars import char_flags

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


def _names(selector_list: str) -> list[str]:
    return [name.strip() for name in selector_list.split(",")]


# Loose text: a run of text and inline children between these children of a container is wrapped.
_STRUCTURE_TAGS = frozenset(_names(_STRUCTURE)) | {"hr"}
_CONTEXT_TAGS = {
    item for selector in TAG_CONTEXTS.values() for item in _names(selector) if item[0] != "["
}
_TAG_CONTEXT_BITS = (1 << len(TAG_CONTEXTS)) - 1  # the low bits; class/id token groups above
TAGS = TagTable(
    tuple(
        sorted(
            set(_names(_STRUCTURE))
            | set(_names(_ROW_STOP))
            | _STRUCTURE_TAGS
            | _CONTEXT_TAGS
            | set(_KIND_OF_TAG)
            | set(VOID)
            | set(RAW_TEXT)
            | set(FOREIGN)
            | {item for item in _names(JUNK) if item[0] != "["}
            | {"a", "body", "html", "p", "td", "th", "tr"}
        )
    )
)
_ATTRIBUTE_CONTEXT = re.compile(r"\[(\w+)=(\w+) i\]")


def _junk_skip() -> Skip:
    """JUNK as the flat-tree scan reads it: tag names and `[name]`, `[name=value i]`,
    `[name*='value' i]` attribute rules."""
    items = _names(JUNK)
    present, equal, contains = [], [], []
    for item in items:
        if item[0] != "[":
            continue
        found = re.fullmatch(r"\[([\w-]+)(?:(\*?)=(?:'([^']*)'|([\w-]+)) i)?\]", item)
        if found is None:
            raise ValueError(f"JUNK item not understood by the scan: {item}")
        name, star, quoted, bare = found.groups()
        if quoted is None and bare is None:
            present.append(name)
        else:
            (contains if star else equal).append((name, quoted if quoted is not None else bare))
    tags = tuple(item for item in items if item[0] != "[")
    return Skip(tags, tuple(present), tuple(equal), tuple(contains))


JUNK_SKIP = _junk_skip()


@functools.cache
def _tables() -> dict[str, np.ndarray]:
    """The block and context definitions above as tables over tag ids and attribute values,
    for the kernels."""
    tag_bits = np.zeros(len(TAGS.names) + 1, np.int32)
    values, value_attribute, value_bits = [], [], []
    for column, selector in enumerate(TAG_CONTEXTS.values()):
        for item in _names(selector):
            found = _ATTRIBUTE_CONTEXT.fullmatch(item)
            if found:
                values.append(found.group(2).lower().encode())
                value_attribute.append(ATTRIBUTES.index(found.group(1)))
                value_bits.append(1 << column)
            else:
                tag_bits[TAGS.id(item)] |= 1 << column
    tokens = list(_TOKEN_GROUP)  # the alternation's order: the regex tries them in this order
    by_first = sorted(range(len(tokens)), key=lambda t: (tokens[t][0], t))
    token_bytes = [tokens[t].encode() for t in by_first]
    first_offsets = np.zeros(257, np.int64)
    for t in by_first:
        first_offsets[ord(tokens[t][0]) + 1] += 1
    kind_index = {kind: i for i, kind in enumerate(KINDS)}
    kind_of_tag = np.full(len(TAGS.names) + 1, kind_index["other"], np.int8)
    for name, kind in _KIND_OF_TAG.items():
        kind_of_tag[TAGS.id(name)] = kind_index[kind]
    return {
        "leafable": TAGS.ids(_names(_LEAFABLE)),
        "structure": TAGS.ids(_names(_STRUCTURE)),
        "structure_tag": TAGS.ids(_STRUCTURE_TAGS),
        "row_stop": TAGS.ids(_names(_ROW_STOP)),
        "cell": TAGS.ids(["td", "th"]),
        "tag_bits": tag_bits,
        "values": np.frombuffer(b"".join(values), np.uint8),
        "value_ends": np.cumsum([len(v) for v in values]).astype(np.int64),
        "value_attribute": np.array(value_attribute, np.int64),
        "value_bits": np.array(value_bits, np.int32),
        "tokens": np.frombuffer(b"".join(token_bytes), np.uint8),
        "token_ends": np.cumsum([len(t) for t in token_bytes]).astype(np.int64),
        "token_bits": np.array(
            [1 << CONTEXTS.index(_TOKEN_GROUP[tokens[t]]) for t in by_first],
            np.int32,
        ),
        "first_offsets": np.cumsum(first_offsets),
        "kind_of_tag": kind_of_tag,
    }


def page_blocks(tree: HTMLTree, lang: str | None, max_depth: int | None = None) -> Blocks | None:
    """The blocks of a parsed page, junk left out; None when an element has more than
    `max_depth` ancestors-or-self (`is_deeper_than`'s count, from the same scan).

    lexbor serializes the tree (one C call); everything else runs on the flat arrays of that
    serialization (`textmill.extraction.flat_tree`, whose scan leaves the junk out): loose text
    wrapped, blocks found, contexts inherited, link text and rows' cells measured, in a few
    linear passes of numba kernels. Where the scan cannot be sure of junk inside `svg` or
    `math`, lexbor removes the junk from the tree first (the tree is changed then). The blocks
    are exactly those of the selector definitions above (benchmarks/extraction_equivalence.py
    checks it on the real pages)."""
    has_body = tree.body is not None
    flags = code_point_flags()
    flat = flat_tree(tree.document.html, TAGS, flags, JUNK_SKIP)
    if max_depth is not None:
        too_deep = is_deeper_than(tree, max_depth) if flat.unsure else flat.depth > max_depth
        if too_deep:
            return None
    if flat.unsure:
        remove_junk(tree)
        has_body = tree.body is not None
        flat = flat_tree(tree.document.html, TAGS, flags, JUNK_SKIP)
    tables = _tables()
    body = TAGS.id("body")
    root = -1
    if has_body:
        bodies = np.flatnonzero((flat.tag == body) & (flat.kind == ELEMENT))
        root = int(bodies[0]) if len(bodies) else -1
    own_bits, unsure = _attribute_bits(
        flat.markup,
        flat.attributes,
        tables["values"],
        tables["value_ends"],
        tables["value_attribute"],
        tables["value_bits"],
        tables["tokens"],
        tables["token_ends"],
        tables["token_bits"],
        tables["first_offsets"],
    )
    for element in np.flatnonzero(unsure):
        own_bits[element] = _casefolded_token_bits(flat, int(element), int(own_bits[element]))
    found = _find_blocks(
        flat.kind,
        flat.parent,
        flat.last,
        flat.tag,
        flat.text_chars,
        flat.text_end - flat.text_start,
        flat.nonspace,
        own_bits,
        root,
        body,
        TAGS.id("tr"),
        TAGS.id("a"),
        TAGS.id("p"),
        tables["leafable"],
        tables["structure"],
        tables["structure_tag"],
        tables["row_stop"],
        tables["cell"],
        tables["tag_bits"],
    )
    block_tag, lengths, removed, starts, ends, context_bits, cell_ranges = found
    tr = TAGS.id("tr")
    found_texts = block_texts(
        flat.text_bytes, block_tag == tr, starts, ends, cell_ranges, CELL_SEPARATOR, flags
    )
    kept = found_texts.kept
    if not len(kept):
        return Blocks([], [], np.zeros((0, len(FEATURES)), np.float32))
    contexts = ((context_bits[kept, None] >> np.arange(len(CONTEXTS))) & 1).astype(np.float32)
    link_share = 1.0 - (lengths - removed) / np.maximum(lengths, 1)
    kind_ids = tables["kind_of_tag"][block_tag[kept]]
    kinds = list(map(KINDS.__getitem__, kind_ids.tolist()))
    features = _features(found_texts, kind_ids, link_share[kept], contexts, lang)
    return Blocks(found_texts.texts, kinds, features)


def _casefolded_token_bits(flat: FlatTree, element: int, ascii_bits: int) -> int:
    """Token groups of an element whose class or id holds non-ASCII characters, as Python's
    casefold and the token regex find them (the kernel folds ASCII only, as lexbor's `i`
    selectors do, which decides whether the element counts at all)."""
    if not ascii_bits:
        return 0
    values = []
    for column in (ATTRIBUTES.index("class"), ATTRIBUTES.index("id")):
        a, b = flat.attributes[element, 2 * column : 2 * column + 2]
        value = flat.markup[a:b].tobytes().decode("utf-8", "surrogatepass") if a >= 0 else ""
        values.append(html.unescape(value))
    groups = {_TOKEN_GROUP[t] for t in _ANY_TOKEN_PATTERN.findall(" ".join(values).casefold())}
    bits = ascii_bits & _TAG_CONTEXT_BITS
    for group in groups:
        bits |= 1 << CONTEXTS.index(group)
    return bits


@nb.njit(cache=True)
def _equals_ascii_folded(data, start, end, pattern, pattern_start, pattern_end):
    if end - start != pattern_end - pattern_start:
        return False
    for m in range(end - start):
        b = data[start + m]
        if 65 <= b <= 90:
            b += 32
        if b != pattern[pattern_start + m]:
            return False
    return True


@nb.njit(cache=True)
def _attribute_bits(
    markup,
    attributes,
    values,
    value_ends,
    value_attribute,
    value_bits,
    tokens,
    token_ends,
    token_bits,
    first_offsets,
):
    """Per node: the context bits its own attributes give (role/itemprop values, class/id
    tokens, matched as the token regex finds them: leftmost, first alternative, no overlaps),
    and whether class or id holds non-ASCII bytes while matching (Python redoes those)."""
    n = len(attributes)
    bits = np.zeros(n, np.int32)
    unsure = np.zeros(n, np.bool_)
    for i in range(n):
        for v in range(len(value_ends)):
            a = value_attribute[v]
            start, end = attributes[i, 2 * a], attributes[i, 2 * a + 1]
            if start >= 0:
                lo = value_ends[v - 1] if v else 0
                if _equals_ascii_folded(markup, start, end, values, lo, value_ends[v]):
                    bits[i] |= value_bits[v]
        token_found = 0
        wide = False
        for a in range(2):  # class, id
            start, end = attributes[i, 2 * a], attributes[i, 2 * a + 1]
            j = start
            while 0 <= j < end:
                b = markup[j]
                if b >= 128:
                    wide = True
                if 65 <= b <= 90:
                    b += 32
                step = 1
                for t in range(first_offsets[b], first_offsets[b + 1]):
                    lo = token_ends[t - 1] if t else 0
                    width = token_ends[t] - lo
                    if j + width > end:
                        continue
                    same = True
                    for m in range(1, width):
                        c = markup[j + m]
                        if 65 <= c <= 90:
                            c += 32
                        if c != tokens[lo + m]:
                            same = False
                            break
                    if same:
                        token_found |= token_bits[t]
                        step = width
                        break
                j += step
            if start >= 0:
                for m in range(start, end):
                    if markup[m] >= 128:
                        wide = True
        bits[i] |= token_found
        unsure[i] = wide and token_found != 0
    return bits, unsure


@nb.njit(cache=True)
def _find_blocks(
    kind,
    parent,
    last,
    tag,
    text_chars,
    text_bytes,
    nonspace,
    own_bits,
    root,
    body,
    tr,
    anchor,
    p,
    leafable,
    structure,
    structure_tag,
    row_stop,
    cell,
    tag_bits,
):
    """The blocks of the flat tree, as the selectors define them (module docstring)."""
    n = len(kind)
    # What each element's subtree holds (strictly below it).
    below_structure = np.zeros(n, np.bool_)
    below_text = np.zeros(n, np.bool_)
    below_solid = np.zeros(n, np.bool_)
    for i in range(n - 1, -1, -1):
        up = parent[i]
        if up < 0:
            continue
        if kind[i] == TEXT:
            below_text[up] = True
            below_solid[up] |= nonspace[i]
        else:
            below_structure[up] |= below_structure[i] or structure[tag[i]]
            below_text[up] |= below_text[i]
            below_solid[up] |= below_solid[i]
    in_root = np.zeros(n, np.bool_)
    if root < 0:
        in_root[:] = True
    else:
        in_root[root + 1 : last[root] + 1] = True
    # Loose text: runs of text and inline children of containers that hold structure.
    wrap_first = np.empty(n, np.int64)
    wrap_last = np.empty(n, np.int64)
    wraps = 0
    for i in range(n):
        if kind[i] != ELEMENT or not in_root[i] or not below_structure[i]:
            continue
        if not (leafable[tag[i]] or tag[i] == body):
            continue
        first = -1
        previous = -1
        has_text = False
        c = i + 1
        while True:
            done = c > last[i]
            if done or (kind[c] == ELEMENT and structure_tag[tag[c]]):
                if has_text:
                    wrap_first[wraps] = first
                    wrap_last[wraps] = previous
                    wraps += 1
                first = -1
                has_text = False
            else:
                if first < 0:
                    first = c
                if kind[c] == TEXT:
                    has_text |= nonspace[c]
                else:
                    has_text |= below_solid[c] or not below_text[c]
                previous = c
            if done:
                break
            c = last[c] + 1
    order = np.argsort(wrap_first[:wraps])
    wrap_first = wrap_first[:wraps][order]
    wrap_last = wrap_last[:wraps][order]
    # The tree with the wrappers (new `p` elements) inserted, renumbered in document order.
    m = n + wraps
    new_of = np.empty(n, np.int64)
    k = 0
    for i in range(n):
        while k < wraps and wrap_first[k] <= i:
            k += 1
        new_of[i] = i + k
    old_of = np.full(m, -1, np.int64)
    new_parent = np.full(m, -1, np.int64)
    new_last = np.empty(m, np.int64)
    for i in range(n):
        j = new_of[i]
        old_of[j] = i
        new_parent[j] = new_of[parent[i]] if parent[i] >= 0 else -1
        new_last[j] = new_of[last[i]]
    for k in range(wraps):
        w = wrap_first[k] + k
        first = wrap_first[k]
        new_parent[w] = new_of[parent[first]]
        new_last[w] = new_of[last[wrap_last[k]]]
        c = first
        while c <= wrap_last[k]:
            new_parent[new_of[c]] = w
            c = last[c] + 1
    new_tag = np.empty(m, np.int64)
    new_kind = np.empty(m, np.int8)
    chars = np.zeros(m, np.int64)
    widths = np.zeros(m, np.int64)
    for j in range(m):
        i = old_of[j]
        if i < 0:
            new_tag[j] = p
            new_kind[j] = ELEMENT
        else:
            new_tag[j] = tag[i]
            new_kind[j] = kind[i]
            chars[j] = text_chars[i]
            widths[j] = text_bytes[i]
    # Blocks: rows whose cells hold no block, and leaf block elements that are no row's cells.
    below_structure = np.zeros(m, np.bool_)
    below_row_stop = np.zeros(m, np.bool_)
    for j in range(m - 1, -1, -1):
        up = new_parent[j]
        if up >= 0 and new_kind[j] == ELEMENT:
            below_structure[up] |= below_structure[j] or structure[new_tag[j]]
            below_row_stop[up] |= below_row_stop[j] or row_stop[new_tag[j]]
    lo = new_of[root] + 1 if root >= 0 else 0
    hi = new_last[new_of[root]] + 1 if root >= 0 else m
    row = np.zeros(m, np.bool_)
    block = np.zeros(m, np.bool_)
    for j in range(m):
        if new_kind[j] != ELEMENT:
            continue
        row[j] = new_tag[j] == tr and not below_row_stop[j]
        if lo <= j < hi:
            up = new_parent[j]
            leaf = leafable[new_tag[j]] and not below_structure[j]
            block[j] = row[j] or (leaf and not (up >= 0 and row[up]))
    # Top down: contexts (ancestor-or-self), link text (text under an outermost anchor that
    # sits inside a block), text offsets in code points and in bytes of the text buffer.
    context = np.zeros(m, np.int32)
    under_block = np.zeros(m, np.bool_)
    anchored = np.zeros(m, np.int8)  # 0 no anchor above, 1 a removed one, 2 a kept one
    text_before = np.zeros(m + 1, np.int64)
    bytes_before = np.zeros(m + 1, np.int64)
    removed_before = np.zeros(m + 1, np.int64)
    for j in range(m):
        up = new_parent[j]
        inherited = context[up] if up >= 0 else 0
        if new_kind[j] == ELEMENT:
            own = tag_bits[new_tag[j]]
            i = old_of[j]
            if i >= 0:
                bits = own_bits[i]
                if not (lo <= j < hi):
                    bits &= _TAG_CONTEXT_BITS  # class/id tokens count below the root only
                own |= bits
            context[j] = inherited | own
        if up >= 0:
            under_block[j] = under_block[up] or block[up]
            anchored[j] = anchored[up]
        if anchored[j] == 0 and new_kind[j] == ELEMENT and new_tag[j] == anchor:
            anchored[j] = 1 if under_block[j] else 2
        text_before[j + 1] = text_before[j] + chars[j]
        bytes_before[j + 1] = bytes_before[j] + widths[j]
        removed_before[j + 1] = removed_before[j] + (chars[j] if anchored[j] == 1 else 0)
    blocks = np.flatnonzero(block)
    count = len(blocks)
    block_tag = np.empty(count, np.int64)
    lengths = np.empty(count, np.int64)
    starts = np.empty(count, np.int64)
    ends = np.empty(count, np.int64)
    removed = np.empty(count, np.int64)
    context_bits = np.empty(count, np.int32)
    cells = 0
    for b in range(count):
        j = blocks[b]
        block_tag[b] = new_tag[j]
        lengths[b] = text_before[new_last[j] + 1] - text_before[j]
        starts[b] = bytes_before[j]
        ends[b] = bytes_before[new_last[j] + 1]
        removed[b] = removed_before[new_last[j] + 1] - removed_before[j]
        context_bits[b] = context[j]
        if new_tag[j] == tr:
            c = j + 1
            while c <= new_last[j]:
                if new_kind[c] == ELEMENT and cell[new_tag[c]]:
                    cells += 1
                c = new_last[c] + 1
    cell_block = np.empty(cells, np.int64)
    cell_starts = np.empty(cells, np.int64)
    cell_ends = np.empty(cells, np.int64)
    cells = 0
    for b in range(count):
        j = blocks[b]
        if new_tag[j] == tr:
            c = j + 1
            while c <= new_last[j]:
                if new_kind[c] == ELEMENT and cell[new_tag[c]]:
                    cell_block[cells] = b
                    cell_starts[cells] = bytes_before[c]
                    cell_ends[cells] = bytes_before[new_last[c] + 1]
                    cells += 1
                c = new_last[c] + 1
    cell_ranges = (cell_block, cell_starts, cell_ends)
    return block_tag, lengths, removed, starts, ends, context_bits, cell_ranges


def _features(
    found: BlockTexts,
    kind_ids: np.ndarray,
    link_share: np.ndarray,
    contexts: np.ndarray,
    lang: str | None,
) -> np.ndarray:
    texts, chars = found.texts, found.chars
    n = len(texts)
    # The words of all blocks from one casefold and one split (casefold maps characters one by
    # one and makes no white space, so these are the blocks' words in order); stop words looked
    # up in C, no Python frame per word.
    word_counts = found.words
    all_words = "\n".join(texts).casefold().split()
    if len(all_words) != int(word_counts.sum()):  # not seen on real pages; block by block then
        per_block = [text.casefold().split() for text in texts]
        word_counts = np.fromiter(map(len, per_block), np.int64, n)
        all_words = list(itertools.chain.from_iterable(per_block))
    words = word_counts.astype(np.float64)
    is_stop = np.fromiter(
        map(function_words(lang).__contains__, all_words), np.bool_, len(all_words)
    )
    stops_before = np.concatenate(([0], np.cumsum(is_stop, dtype=np.int64)))
    word_ends = np.cumsum(word_counts)
    stop_count = (stops_before[word_ends] - stops_before[word_ends - word_counts]).astype(float)
    repeats = collections.Counter(texts)
    # numpy's own log1p, log and pairwise sums, as the model was fitted on; the rest (quotients,
    # running sums, neighbours, windows) is the same IEEE arithmetic in one kernel.
    total = float(chars.sum())
    return _feature_kernel(
        chars,
        words,
        stop_count,
        found.alpha,
        found.upper,
        found.digits,
        found.punct,
        found.terminals,
        found.ends_terminal,
        np.log1p(chars),
        np.log1p(words),
        np.log(np.fromiter(map(repeats.__getitem__, texts), np.float64, n)),
        np.clip(link_share, 0.0, 1.0),
        kind_ids.astype(np.int64),
        contexts,
        float((link_share * chars).sum()) / total,
        float(stop_count.sum()) / max(float(words.sum()), 1.0),
        len(KINDS),
        _NEIGHBOUR_COLUMNS,
        _WINDOW,
    )


_NEIGHBOUR_COLUMNS = np.array([_BASE.index(name) for name in _NEIGHBOURED], np.int64)


@nb.njit(cache=True)
def _feature_kernel(
    chars,
    words,
    stops,
    alpha,
    upper,
    digits,
    punct,
    terminals,
    ends_terminal,
    log_chars,
    log_words,
    log_repeats,
    link_density,
    kind_ids,
    contexts,
    page_link,
    page_stop,
    kinds,
    neighboured,
    window,
):
    """The FEATURES matrix: `_BASE` columns (rows of `base`, in that order), kinds one-hot,
    contexts, neighbours before and after, character-weighted window means, page columns."""
    n = len(chars)
    total = np.float64(chars.sum())
    longest = np.float64(chars.max())
    base = np.empty((15, n))
    before = np.int64(0)
    for i in range(n):
        safe_words = max(words[i], 1.0)
        base[0, i] = log_chars[i]
        base[1, i] = log_words[i]
        base[2, i] = link_density[i]
        base[3, i] = punct[i] / chars[i]
        base[4, i] = ends_terminal[i]
        base[5, i] = terminals[i] / safe_words
        base[6, i] = digits[i] / chars[i]
        base[7, i] = upper[i] / max(alpha[i], 1.0)
        base[8, i] = stops[i] / safe_words
        base[9, i] = alpha[i] / safe_words
        base[10, i] = np.float64(i) / np.float64(max(n - 1, 1))
        before += chars[i]
        base[11, i] = np.float64(before - chars[i]) / total
        base[12, i] = chars[i] / total
        base[13, i] = chars[i] / longest
        base[14, i] = log_repeats[i]
    width = 15 + kinds + contexts.shape[1] + 3 * len(neighboured) + 3
    out = np.zeros((n, width), np.float32)
    for i in range(n):
        for c in range(15):
            out[i, c] = base[c, i]
        out[i, 15 + kind_ids[i]] = 1.0
        for c in range(contexts.shape[1]):
            out[i, 15 + kinds + c] = contexts[i, c]
    column = 15 + kinds + contexts.shape[1]
    weights = np.empty(n)
    for i in range(n):
        weights[i] = np.float64(max(chars[i], 1))
    for k in range(len(neighboured)):
        values = base[neighboured[k]]
        for i in range(n):
            out[i, column + k] = values[i - 1] if i > 0 else -1.0
            out[i, column + len(neighboured) + k] = values[i + 1] if i + 1 < n else -1.0
        weighted = np.zeros(n + 1)
        mass = np.zeros(n + 1)
        for i in range(n):
            weighted[i + 1] = weighted[i] + values[i] * weights[i]
            mass[i + 1] = mass[i] + weights[i]
        for i in range(n):
            lo = max(i - window, 0)
            hi = min(i + window + 1, n)
            out[i, column + 2 * len(neighboured) + k] = (weighted[hi] - weighted[lo]) / (
                mass[hi] - mass[lo]
            )
    column += 3 * len(neighboured)
    for i in range(n):
        out[i, column] = np.log(np.float64(n))
        out[i, column + 1] = page_link
        out[i, column + 2] = page_stop
    return out
