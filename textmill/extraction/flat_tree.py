"""A parsed page as flat arrays: lexbor's own serialization of its tree, read back by numba.

Walking lexbor's tree from Python costs a wrapper object per node (resiliparse caches them in a
weak dictionary) and each selector query a compile and a full tree walk, so the extractor asks
lexbor for one thing only: its tree serialized (`document.html`, one C call). That text is
well formed by construction: every element has its end tag except the void ones, attribute
values are double-quoted with `&amp; &quot; &lt; &gt; &nbsp;` escaped, text has `&amp; &lt; &gt;
&nbsp;` escaped, raw-text elements (`xmp`, `noembed`, ...) hold their text verbatim. One linear
numba scan turns it into preorder arrays (parent, tag, the four attributes the extractor reads,
text nodes with their decoded text appended to one buffer), which `textmill.extraction.blocks`
then queries with array passes instead of selectors.

The scan also leaves out what a `Skip` names (the extractor's junk: scripts, forms' controls,
hidden elements) with everything inside, as if lexbor had removed those elements before
serializing: the text on either side runs on as one node. One case is ambiguous in the
serialization: inside `svg` or `math`, lexbor writes a `style` or `script` element's text
verbatim though its children may be elements, and writes no end tag for an element with a
void name. The scan reports such a page `unsure`; the caller lets lexbor remove the elements.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numba as nb
import numpy as np
from resiliparse.parse.html import HTMLTree

from textmill.text.chars import SPACE, flag
from textmill.text.columns import code_point_at

ELEMENT, TEXT = 0, 1
# Attributes the extractor reads, in the order of `FlatTree.attributes`' columns.
ATTRIBUTES = ("class", "id", "role", "itemprop", "hidden", "aria-hidden", "style")
VOID = (
    *("area", "base", "basefont", "bgsound", "br", "col", "embed", "frame", "hr", "img"),
    *("input", "keygen", "link", "meta", "param", "source", "track", "wbr"),
)
# Elements whose text lexbor serializes verbatim (script, style and iframe are junk, removed
# before, but read right if present); `plaintext` runs to the end of the document.
RAW_TEXT = ("script", "style", "xmp", "iframe", "noembed", "noframes", "plaintext")
FOREIGN = ("svg", "math")  # roots of foreign content (module docstring)
_KEY_BASE = 37  # a-z, 0-9 and "no character"
_KEY_MAX_LENGTH = 12  # 37**12 < 2**63


def tag_key(name: str) -> int:
    """The integer the scanner computes for a tag name (-1: not a name of a-z0-9, <= 12 long)."""
    if len(name) > _KEY_MAX_LENGTH or not name:
        return -1
    key = 0
    for char in name:
        if "a" <= char <= "z":
            digit = ord(char) - ord("a") + 1
        elif "0" <= char <= "9":
            digit = ord(char) - ord("0") + 27
        else:
            return -1
        key = key * _KEY_BASE + digit
    return key


@dataclass(frozen=True)
class TagTable:
    """Tag names the scanner tells apart: ids 1.. in `names` order, 0 for every other tag."""

    names: tuple[str, ...]

    def ids(self, names) -> np.ndarray:
        """A boolean table over tag ids: True for the ids of `names`."""
        table = np.zeros(len(self.names) + 1, np.bool_)
        for name in names:
            table[self.names.index(name) + 1] = True
        return table

    def id(self, name: str) -> int:
        return self.names.index(name) + 1


@dataclass(frozen=True)
class Skip:
    """Elements left out with their subtrees: by tag name, or by an attribute that is present,
    equal to a value, or containing one (values ASCII case-insensitive, as selectors' `i`)."""

    tags: tuple[str, ...]
    present: tuple[str, ...] = ()
    equal: tuple[tuple[str, str], ...] = ()
    contains: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class FlatTree:
    """Nodes in document order (elements and text; comments and the doctype are left out, which
    changes no text and no element). `attributes[i, 2k:2k+2]` is the byte range of attribute
    `ATTRIBUTES[k]`'s escaped value in `markup` (-1, -1 when absent); `text_bytes` holds every
    text node's decoded UTF-8, node i's at `text_start[i]:text_end[i]` (code points
    `text_chars[i]`, `nonspace[i]` when any is not whitespace)."""

    kind: np.ndarray  # int8: ELEMENT or TEXT
    parent: np.ndarray  # int32, -1 at the top
    last: np.ndarray  # int32: the last node of the node's subtree (itself for a leaf)
    tag: np.ndarray  # int16 tag id (TagTable), 0 for other tags and for text
    attributes: np.ndarray  # int64 (nodes, 2 * len(ATTRIBUTES))
    text_start: np.ndarray  # int64
    text_end: np.ndarray  # int64
    text_chars: np.ndarray  # int64
    nonspace: np.ndarray  # bool
    markup: np.ndarray  # uint8: the serialization scanned
    text_bytes: np.ndarray  # uint8
    unsure: bool  # a skipped subtree held foreign content the scan cannot read for sure
    # The most elements on one path from the top, skipped ones included, as lexbor's selectors
    # count them (a skipped template's contents are no descendants; exact unless `unsure`).
    depth: int


def is_deeper_than(tree: HTMLTree, max_depth: int) -> bool:
    """Whether any element has more than `max_depth` element ancestors-or-self: one selector in
    lexbor's C matcher, which stops at the first match (a few ms for 100k nested `<div>`)."""
    return tree.document.query_selector(_chain_selector(max_depth + 1)) is not None


@functools.lru_cache(maxsize=4)
def _chain_selector(depth: int) -> str:
    return " > ".join(["*"] * depth)


def flat_tree(markup: str, tags: TagTable, flags: np.ndarray, skip: Skip) -> FlatTree:
    """The arrays of lexbor's serialization `markup` (`HTMLTree.document.html`), without what
    `skip` names (every tag it names must be in `tags`)."""
    data = np.frombuffer(markup.encode("utf-8", "surrogatepass"), np.uint8)
    arrays = _scan(data, *_scan_tables(tags), *_skip_tables(tags, skip))
    kind, parent, last, tag, attributes, start, end, text, used, unsure, deepest = arrays
    chars, nonspace = _text_stats(text, start[:used], end[:used], kind[:used], flags)
    return FlatTree(
        kind[:used],
        parent[:used],
        last[:used],
        tag[:used],
        attributes[:used],
        start[:used],
        end[:used],
        chars,
        nonspace,
        data,
        text,
        bool(unsure),
        int(deepest),
    )


@functools.cache
def _scan_tables(tags: TagTable) -> tuple:
    keys = np.array([tag_key(name) for name in tags.names], np.int64)
    if (keys < 0).any() or len(set(keys.tolist())) != len(keys):
        raise ValueError("tag names must be distinct, of a-z0-9, at most 12 long")
    order = np.argsort(keys, kind="stable")
    return (
        keys[order],
        (order + 1).astype(np.int16),
        tags.ids([name for name in VOID if name in tags.names]),
        tags.ids([name for name in RAW_TEXT if name in tags.names]),
        tags.id("plaintext") if "plaintext" in tags.names else -1,
        np.frombuffer(b"".join(name.encode() for name in ATTRIBUTES), np.uint8),
        np.cumsum([len(name) for name in ATTRIBUTES]).astype(np.int64),
    )


@functools.cache
def _skip_tables(tags: TagTable, skip: Skip) -> tuple:
    rules = [(0, name, "") for name in skip.present]
    rules += [(1, name, value) for name, value in skip.equal]
    rules += [(2, name, value) for name, value in skip.contains]
    values = [value.lower().encode() for _, _, value in rules]
    return (
        tags.ids(skip.tags),
        tags.ids(FOREIGN),
        tags.id("template") if "template" in skip.tags else -1,
        np.array([kind for kind, _, _ in rules], np.int64),
        np.array([ATTRIBUTES.index(name) for _, name, _ in rules], np.int64),
        np.frombuffer(b"".join(values), np.uint8),
        np.cumsum([len(value) for value in values]).astype(np.int64),
    )


@nb.njit(cache=True, inline="always")
def _key_char(byte):
    if 97 <= byte <= 122:
        return byte - 96
    if 48 <= byte <= 57:
        return byte - 48 + 27
    return -1  # upper case too: only foreign (svg, math) names keep it


@nb.njit(cache=True)
def _tag_id(data, start, end, sorted_keys, ids):
    if end - start > _KEY_MAX_LENGTH:
        return np.int16(0)
    key = np.int64(0)
    for j in range(start, end):
        digit = _key_char(data[j])
        if digit < 0:
            return np.int16(0)
        key = key * _KEY_BASE + digit
    at = np.searchsorted(sorted_keys, key)
    if at < len(sorted_keys) and sorted_keys[at] == key:
        return ids[at]
    return np.int16(0)


@nb.njit(cache=True)
def _find(data, start, pattern0, pattern1, pattern2):
    """The first index >= start of the 3 bytes, len(data) when absent."""
    n = len(data)
    j = start
    while j + 2 < n:
        if data[j] == pattern0 and data[j + 1] == pattern1 and data[j + 2] == pattern2:
            return j
        j += 1
    return n


@nb.njit(cache=True)
def _find_byte(data, start, byte):
    n = len(data)
    j = start
    while j < n and data[j] != byte:
        j += 1
    return j


@nb.njit(cache=True)
def _find_end_tag(data, start, name_start, name_end, from_the_end):
    """Where `</name>` starts (the first at or after `start`, or the last one)."""
    n = len(data)
    width = name_end - name_start
    if from_the_end:
        j = n - width - 3
        step = -1
    else:
        j = start
        step = 1
    while start <= j <= n - width - 3:
        if data[j] == 60 and data[j + 1] == 47 and data[j + width + 2] == 62:
            same = True
            for m in range(width):
                if data[j + 2 + m] != data[name_start + m]:
                    same = False
                    break
            if same:
                return j
        j += step
    return n


@nb.njit(cache=True)
def _is_at(data, j, end, pattern):
    """Whether data[j:end] starts with the bytes of `pattern` (a tuple of ints)."""
    if j + len(pattern) > end:
        return False
    for m in range(len(pattern)):  # noqa: SIM110 - a generator does not compile in numba
        if data[j + m] != pattern[m]:
            return False
    return True


@nb.njit(cache=True)
def _append_decoded(data, start, end, text, out):
    """Text data[start:end] with the serializer's escapes undone, appended at text[out:]."""
    j = start
    while j < end:
        b = data[j]
        if b == 38:  # &
            if _is_at(data, j, end, (38, 97, 109, 112, 59)):  # &amp;
                text[out] = 38
                out += 1
                j += 5
                continue
            if _is_at(data, j, end, (38, 108, 116, 59)):  # &lt;
                text[out] = 60
                out += 1
                j += 4
                continue
            if _is_at(data, j, end, (38, 103, 116, 59)):  # &gt;
                text[out] = 62
                out += 1
                j += 4
                continue
            if _is_at(data, j, end, (38, 110, 98, 115, 112, 59)):  # &nbsp;
                text[out] = 0xC2
                text[out + 1] = 0xA0
                out += 2
                j += 6
                continue
        text[out] = b
        out += 1
        j += 1
    return out


@nb.njit(cache=True)
def _folded_at(data, j, pattern, lo, hi):
    """Whether data[j:] starts with pattern[lo:hi] (lower case), ASCII case-insensitively."""
    for m in range(hi - lo):
        b = data[j + m]
        if 65 <= b <= 90:
            b += 32
        if b != pattern[lo + m]:
            return False
    return True


@nb.njit(cache=True)
def _skipped(data, attributes, node, element, skip_tags, kinds, columns, values, ends):
    """Whether the element `node` is one a Skip names (its tag or an attribute rule)."""
    if skip_tags[element]:
        return True
    for r in range(len(kinds)):
        start, end = attributes[node, 2 * columns[r]], attributes[node, 2 * columns[r] + 1]
        if start < 0:
            continue
        if kinds[r] == 0:
            return True
        lo = ends[r - 1] if r else 0
        width = ends[r] - lo
        if kinds[r] == 1:
            if end - start == width and _folded_at(data, start, values, lo, ends[r]):
                return True
        else:
            for j in range(start, end - width + 1):
                if _folded_at(data, j, values, lo, ends[r]):
                    return True
    return False


@nb.njit(cache=True)
def _skip_subtree(
    data, j, root, root_depth, sorted_keys, ids, void, raw, plaintext, foreign, template
):
    """Where the subtree of the element `root` (at depth `root_depth`, its start tag ending
    before `j`) ends, whether it held what the serialization leaves ambiguous (module
    docstring), and the depth of its deepest element (a template's contents not counted)."""
    n = len(data)
    depth = 1
    foreign_depth = 1 if foreign[root] else 0  # the depth of the outermost foreign element
    template_depth = 1 if root == template else 0  # the same for a template
    deepest = root_depth
    unsure = False
    while j < n:
        if data[j] != 60:
            j = _find_byte(data, j, 60)
            continue
        nxt = data[j + 1] if j + 1 < n else 0
        if nxt == 33:
            if j + 3 < n and data[j + 2] == 45 and data[j + 3] == 45:
                j = _find(data, j + 4, 45, 45, 62) + 3
            else:
                j = _find_byte(data, j, 62) + 1
            continue
        if nxt == 63:
            j = _find_byte(data, j, 62) + 1
            continue
        if nxt == 47:
            j = _find_byte(data, j, 62) + 1
            if depth == foreign_depth:
                foreign_depth = 0
            if depth == template_depth:
                template_depth = 0
            depth -= 1
            if depth == 0:
                return j, unsure, deepest
            continue
        name_start = j + 1
        k = name_start
        while k < n and data[k] != 32 and data[k] != 62:
            k += 1
        element = _tag_id(data, name_start, k, sorted_keys, ids)
        j = _find_byte(data, k, 62) + 1  # attribute values hold no ">" (escaped)
        if template_depth == 0:
            deepest = max(deepest, root_depth + depth)
        if void[element]:
            unsure |= foreign_depth > 0
            continue
        if raw[element]:
            stop = _find_end_tag(data, j, name_start, k, element == plaintext)
            unsure |= foreign_depth > 0 and _find_byte(data, j, 60) < stop
            j = _find_byte(data, stop, 62) + 1
            continue
        depth += 1
        if foreign_depth == 0 and foreign[element]:
            foreign_depth = depth
        if template_depth == 0 and element == template:
            template_depth = depth
    return n, True, deepest


@nb.njit(cache=True)
def _scan(
    data,
    sorted_keys,
    ids,
    void,
    raw,
    plaintext,
    names,
    name_ends,
    skip_tags,
    foreign,
    template,
    rule_kinds,
    rule_columns,
    rule_values,
    rule_ends,
):
    n = len(data)
    opens = 0
    for j in range(n):
        if data[j] == 60:
            opens += 1
    cap = 2 * opens + 2
    kind = np.zeros(cap, np.int8)
    parent = np.full(cap, -1, np.int32)
    last = np.zeros(cap, np.int32)
    tag = np.zeros(cap, np.int16)
    attributes = np.full((cap, 2 * len(name_ends)), -1, np.int64)
    start = np.zeros(cap, np.int64)
    end = np.zeros(cap, np.int64)
    text = np.empty(n + n // 2 + 16, np.uint8)  # &nbsp; (6 bytes) decodes to 2: never longer
    stack = np.empty(cap, np.int32)
    depth = 0
    used = 0
    out = 0
    open_text = -1  # the text node that text read now continues (comments do not split it)
    unsure = False
    deepest = 0  # elements on the path to the deepest one, as lexbor's selectors count them
    j = 0
    while j < n:
        b = data[j]
        if b != 60:  # text up to the next markup
            stop = _find_byte(data, j, 60)
            if open_text < 0:
                open_text = used
                kind[used] = TEXT
                parent[used] = stack[depth - 1] if depth else -1
                last[used] = used
                start[used] = out
                used += 1
            out = _append_decoded(data, j, stop, text, out)
            end[open_text] = out
            j = stop
            continue
        nxt = data[j + 1] if j + 1 < n else 0
        if nxt == 33:  # <!-- comment --> or <!DOCTYPE ...>
            if j + 3 < n and data[j + 2] == 45 and data[j + 3] == 45:
                j = _find(data, j + 4, 45, 45, 62) + 3
            else:
                j = _find_byte(data, j, 62) + 1
            continue
        if nxt == 63:  # <?processing instruction>
            j = _find_byte(data, j, 62) + 1
            continue
        text_before = open_text
        open_text = -1
        if nxt == 47:  # </name>
            j = _find_byte(data, j, 62) + 1
            if depth:
                depth -= 1
                last[stack[depth]] = used - 1
            continue
        # <name attr="value" ...>
        name_start = j + 1
        k = name_start
        while k < n and data[k] != 32 and data[k] != 62:
            k += 1
        name_end = k
        node = used
        used += 1
        kind[node] = ELEMENT
        parent[node] = stack[depth - 1] if depth else -1
        last[node] = node
        tag[node] = _tag_id(data, name_start, name_end, sorted_keys, ids)
        deepest = max(deepest, depth + 1)
        while k < n and data[k] != 62:
            if data[k] == 32:
                k += 1
                continue
            attribute_start = k
            k += 1  # a name may start with "=", never hold one later
            while k < n and data[k] != 61 and data[k] != 62 and data[k] != 32:
                k += 1
            attribute_end = k
            if k < n and data[k] == 61:  # ="value"
                value_start = k + 2
                k = _find_byte(data, value_start, 34)
                value_end = k
                k += 1
                width = attribute_end - attribute_start
                previous = 0
                for a in range(len(name_ends)):
                    if name_ends[a] - previous == width:
                        same = True
                        for m in range(width):
                            if data[attribute_start + m] != names[previous + m]:
                                same = False
                                break
                        if same and attributes[node, 2 * a] < 0:
                            attributes[node, 2 * a] = value_start
                            attributes[node, 2 * a + 1] = value_end
                    previous = name_ends[a]
        j = k + 1
        element = tag[node]
        if _skipped(
            data,
            attributes,
            node,
            element,
            skip_tags,
            rule_kinds,
            rule_columns,
            rule_values,
            rule_ends,
        ):
            attributes[node, :] = -1
            tag[node] = 0
            used -= 1
            open_text = text_before  # the text on either side is one node
            if void[element]:
                continue
            if raw[element]:
                stop = _find_end_tag(data, j, name_start, name_end, element == plaintext)
                j = _find_byte(data, stop, 62) + 1
                continue
            j, doubtful, below = _skip_subtree(
                data,
                j,
                element,
                depth + 1,
                sorted_keys,
                ids,
                void,
                raw,
                plaintext,
                foreign,
                template,
            )
            unsure |= doubtful
            deepest = max(deepest, below)
            continue
        if void[element]:
            continue
        if raw[element]:
            stop = _find_end_tag(data, j, name_start, name_end, element == plaintext)
            if stop > j:
                kind[used] = TEXT
                parent[used] = node
                last[used] = used
                start[used] = out
                for m in range(j, stop):
                    text[out] = data[m]
                    out += 1
                end[used] = out
                used += 1
            last[node] = used - 1
            j = _find_byte(data, stop, 62) + 1
            continue
        stack[depth] = node
        depth += 1
    while depth:
        depth -= 1
        last[stack[depth]] = used - 1
    return kind, parent, last, tag, attributes, start, end, text[:out], used, unsure, deepest


@nb.njit(cache=True)
def _text_stats(text, start, end, kind, flags):
    """Code points per text node and whether any is not white space (str.isspace)."""
    n = len(start)
    chars = np.zeros(n, np.int64)
    nonspace = np.zeros(n, np.bool_)
    for i in range(n):
        if kind[i] != TEXT:
            continue
        j = start[i]
        count = 0
        solid = False
        while j < end[i]:
            code, width = code_point_at(text, j, end[i])
            if not solid and (flag(flags, code) & SPACE) == 0:
                solid = True
            count += 1
            j += width
        chars[i] = count
        nonspace[i] = solid
    return chars, nonspace
