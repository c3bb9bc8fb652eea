"""Line un-wrapping: the hard line breaks an OCR or a PDF keeps inside sentences are joined into
paragraphs, while real paragraph breaks, verse and lists keep their breaks.

A page's line breaks are of three kinds. A blank line is a paragraph break. A line that ends a
sentence and stops short of the text width, or a next line that is indented or opens a list
item, ends a paragraph too. Every other break is the typesetter's and becomes a space. A block
whose lines all stop short of the width (verse, addresses, tables) keeps all its breaks.
"""

from __future__ import annotations

import re

import numpy as np
import pyarrow as pa

from textmill.pipeline import Decision, Mapper, StageOptions, register
from textmill.stages.books._pages import (
    PAGE_BREAK,
    join_pages,
    set_column,
    set_text,
    split_pages,
    texts,
)
from textmill.stages.books.dehyphenate import HYPHENS

LINES_JOINED = "lines_joined"
LINE_BREAKS_KEPT = "line_breaks_kept"
VERSE_BLOCKS = "verse_blocks"
COUNT_COLUMNS = (LINES_JOINED, LINE_BREAKS_KEPT, VERSE_BLOCKS)
_LIST_ITEM = re.compile(r"^\s*(?:[-•*–—·▪]\s|\(?\d{1,3}[.)]\s|\(?[a-zA-Z][.)]\s|\([ivx]+\)\s)")
_SENTENCE_END = re.compile(r"[.!?:…;\"»”’)\]]$")
_BLANK = re.compile(r"\n[ \t]*\n")


def text_width(lines: list[str]) -> float:
    """The width of a full line: the 90th percentile of the lengths of the document's lines
    (the median is too low in a volume with much verse or many short lines)."""
    lengths = [len(line.strip()) for line in lines if line.strip()]
    return float(np.percentile(lengths, 90)) if lengths else 0.0


def hyphen_joins(previous: str, line: str) -> bool:
    """A hyphen that `dehyphenate` kept at a line end ("waistcoat-" / "pocket", "1914-" /
    "1918") joins the next line without a space only between two letters or two digits: before
    a quote, a bracket or OCR noise ("récréa-" / "» tion", "opi-" / "1 nion") the break stays
    a space, so no word runs into what follows."""
    if len(previous) < 2 or previous[-1] not in HYPHENS or not line:
        return False
    before, after = previous[-2], line[0]
    return (before.isalpha() and after.isalpha()) or (before.isdigit() and after.isdigit())


def indent(line: str) -> int:
    return len(line) - len(line.lstrip(" \t"))


@register("unwrap_lines")
class UnwrapLines(Mapper):
    """Joins wrapped lines into paragraphs (blank line between paragraphs); pages stay
    separated by "\\f" unless `keep_page_breaks` is off, which joins a paragraph running over
    a page boundary. `lines_joined`, `line_breaks_kept` and `verse_blocks` count per document."""

    class Options(StageOptions):
        short_line: float = 0.8  # a sentence end in a line shorter than this × width: paragraph
        verse_line: float = 0.7  # a block whose lines are all shorter than this × width: verse
        min_indent: int = 2  # a next line indented by this many more spaces: new paragraph
        keep_page_breaks: bool = True

    def unwrap_block(self, lines: list[str], width: float) -> tuple[str, int, int, bool]:
        """One block (no blank line inside) as paragraphs; lines joined, breaks kept, verse."""
        o = self.options
        lines = [line.rstrip() for line in lines if line.strip()]
        if not lines:
            return "", 0, 0, False
        # Every line but the last short of the width: a prose paragraph's lines are full.
        if len(lines) >= 2 and all(len(line.strip()) < o.verse_line * width for line in lines[:-1]):
            return "\n".join(line.strip() for line in lines), 0, len(lines) - 1, True
        base_indent = min(indent(line) for line in lines)
        out, joined, kept = [lines[0].strip()], 0, 0
        for previous, line in zip(lines, lines[1:], strict=False):
            text = line.strip()
            if _LIST_ITEM.match(line):
                out.append("\n" + text)
                kept += 1
            elif indent(line) >= base_indent + o.min_indent or (
                _SENTENCE_END.search(previous) and len(previous.strip()) < o.short_line * width
            ):
                out.append("\n\n" + text)
                kept += 1
            else:
                out.append(text if hyphen_joins(previous, text) else " " + text)
                joined += 1
        return "".join(out), joined, kept, False

    def clean_one(self, text: str) -> tuple[str, int, int, int]:
        pages = split_pages(text)
        width = text_width(text.replace(PAGE_BREAK, "\n").split("\n"))
        new_pages, joined, kept, verse = [], 0, 0, 0
        for page in pages:
            blocks = []
            for block in _BLANK.split(page):
                unwrapped, j, k, is_verse = self.unwrap_block(block.split("\n"), width)
                if unwrapped:
                    blocks.append(unwrapped)
                joined, kept, verse = joined + j, kept + k, verse + is_verse
            new_pages.append("\n\n".join(blocks))
        if self.options.keep_page_breaks:
            return join_pages(new_pages), joined, kept, verse
        merged = ""
        for page in (p for p in new_pages if p):
            if not merged:
                merged = page
            elif merged[-1] in HYPHENS and merged[-2:-1].isalpha() and page[0].islower():
                merged = merged[:-1] + page
            elif _SENTENCE_END.search(merged):
                merged += "\n\n" + page
            else:
                merged += " " + page
        return merged, joined, kept, verse

    def map(self, batch: pa.Table) -> pa.Table:
        cleaned, counts = [], []
        for text in texts(batch):
            new_text, *numbers = self.clean_one(text) if text else (text, 0, 0, 0)
            cleaned.append(new_text)
            counts.append(numbers)
        batch = set_text(batch, cleaned)
        for i, name in enumerate(COUNT_COLUMNS):
            column = pa.array([row[i] for row in counts], pa.int32())
            batch = set_column(batch, name, column)
        return batch

    def counters(self, out: pa.Table, decision: Decision | None) -> dict[str, int]:
        return {name: int(out[name].to_numpy().sum()) for name in COUNT_COLUMNS}
