"""Front and back matter of books: tables of contents, indexes and library stamp pages, tagged
per page (`page_matter`) and emptied by option, so that a volume's body text can be kept alone.

A table of contents is a page of lines ending in a page number (after dot leaders or a space);
an index, a page of entries followed by comma-separated page references; a stamp page, a short
page that names a library, a digitiser or a due date. Dropped pages stay as empty pages so that
page i is still `text.split("\\f")[i]` for every per-page column.
"""

from __future__ import annotations

import re
from typing import Literal

import pyarrow as pa
import pyarrow.compute as pc

from textmill.pipeline import Decision, Mapper, StageOptions, register
from textmill.stages.books._pages import join_pages, set_column, set_text, split_pages, texts

PAGE_MATTER = "page_matter"
Matter = Literal["toc", "index", "stamp"]

_NUMBERED = re.compile(
    r"^.{3,}?(?:[ .·…_-]*[.·…_]{2,}[ .·…_-]*|\s)(?:\d{1,4}|[ivxlcdm]+|[IVXLCDM]+)$"
)
_INDEX_ENTRY = re.compile(r"^\S.*?,\s*\d{1,4}(?:\s*[,;–-]\s*\d{1,4})*\.?$")
_TOC_HEADING = re.compile(
    r"(?i)^\W*(?:table of )?(?:contents|inhalt(?:sverzeichnis)?|table des mati[èe]res|"
    r"[íi]ndice|inhoud|obsah|spis tre[śs]ci|содержание|съдържание)\W*$"
)
_INDEX_HEADING = re.compile(r"(?i)^\W*(?:index|register|sachregister|namenregister)\W*$")
_STAMP = re.compile(
    r"(?i)\b(?:library|bibliothek|biblioth[eè]que|bibliotheca|biblioteca|digiti[sz]ed by|"
    r"property of|stamped below|this book is due|ex libris)\b"
)


@register("front_back_matter")
class FrontBackMatter(Mapper):
    """Adds `page_matter`: per page "toc", "index", "stamp" or null (body); pages of the kinds
    in `drop` become empty."""

    class Options(StageOptions):
        min_share: float = 0.5  # share of a page's lines that look like entries
        min_entries: int = 4  # and at least this many entry lines (3 under a heading)
        max_stamp_words: int = 30  # a stamp page is nearly empty: a text page may name a library
        drop: list[Matter] = []

    def page_kind(self, page: str) -> Matter | None:
        o = self.options
        lines = [line.strip() for line in page.split("\n") if line.strip()]
        if not lines:
            return None
        headed_index = any(_INDEX_HEADING.match(line) for line in lines[:3])
        headed_toc = any(_TOC_HEADING.match(line) for line in lines[:3])
        index_lines = sum(bool(_INDEX_ENTRY.match(line)) for line in lines)
        numbered_lines = sum(bool(_NUMBERED.match(line)) for line in lines)
        if (headed_index and index_lines >= 3) or (
            index_lines >= o.min_entries and index_lines >= o.min_share * len(lines)
        ):
            return "index"
        if (headed_toc and numbered_lines >= 3) or (
            numbered_lines >= o.min_entries and numbered_lines >= o.min_share * len(lines)
        ):
            return "toc"
        if len(page.split()) <= o.max_stamp_words and any(_STAMP.search(line) for line in lines):
            return "stamp"
        return None

    def map(self, batch: pa.Table) -> pa.Table:
        drop = set(self.options.drop)
        tags, cleaned = [], []
        for text in texts(batch):
            if text is None:
                tags.append(None)
                cleaned.append(None)
                continue
            pages = split_pages(text)
            kinds = [self.page_kind(page) for page in pages]
            dropped = [kind in drop for kind in kinds]
            tags.append(kinds)
            if any(dropped):
                text = join_pages(["" if d else p for p, d in zip(pages, dropped, strict=True)])
            cleaned.append(text)
        batch = set_text(batch, cleaned)
        return set_column(batch, PAGE_MATTER, pa.array(tags, pa.list_(pa.string())))

    def counters(self, out: pa.Table, decision: Decision | None) -> dict[str, int]:
        tags = pc.list_flatten(out[PAGE_MATTER]).drop_null().to_pylist()
        counts = {f"pages_{kind}": tags.count(kind) for kind in ("toc", "index", "stamp")}
        counts["pages_dropped"] = sum(tags.count(kind) for kind in set(self.options.drop))
        return counts
