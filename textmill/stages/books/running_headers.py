"""Running headers, footers and page numbers of books: lines near the top or bottom of a page
whose shape (letters only, digits and roman numerals folded) recurs on nearby pages.

A header repeats on every page or every other one (recto/verso titles), so a shape counts only
where it recurs within `max_page_gap` pages; a chapter heading ("CHAPTER IV") recurs too, but
chapters lie further apart than that, which is what keeps real headings in the text.
"""

from __future__ import annotations

import re
from collections import defaultdict

import pyarrow as pa

from textmill.pipeline import Decision, Mapper, StageOptions, register
from textmill.stages.books._pages import join_pages, set_column, set_text, split_pages, texts

REMOVED_LINES = "removed_lines"
REMOVED_PAGE_NUMBERS = "removed_page_numbers"
REMOVED_LINE_TEXTS = "removed_line_texts"

# A roman numeral (i … mmmdcccxc): upper case as a token of a line ("CHAPTER IV"), either case
# as the whole line ("xii"); lower-case words ("mix", "did") and "I" stay words.
_ROMAN = re.compile(r"M{0,3}(?:CM|CD|D?C{0,3})(?:XC|XL|L?X{0,3})(?:IX|IV|V?I{0,3})")
_ROMAN_CANDIDATE = re.compile(r"\b[MDCLXVI]{2,}\b")
_ROMAN_LINE = re.compile(r"^\W*([MDCLXVImdclxvi]+)\W*$")
_DIGITS = re.compile(r"\d+")
# What a shape leaves out: spaces and the decorations page numbers wear ("— 12 —", "[12]",
# "12."); other symbols stay, so a code line "164 }%" is not a page number.
_DECORATION = re.compile(r"[\s\-–—_.,:;·•*|\[\]()]+")
_PAGE_NUMBER = re.compile(r"^#$")


def line_shape(line: str) -> str:
    """What stays of a line when its page number changes: lower case, digit runs and roman
    numerals as '#', spaces and decorations gone ("— 12 —", "[xii]" and "12" are all '#')."""
    line = line.strip()
    whole = _ROMAN_LINE.match(line)
    numeral = whole.group(1) if whole else ""
    if (numeral.isupper() or numeral.islower()) and _ROMAN.fullmatch(numeral.upper()):
        return "#"
    line = _ROMAN_CANDIDATE.sub(lambda m: "#" if _ROMAN.fullmatch(m.group()) else m.group(), line)
    shape = _DIGITS.sub("#", line).lower()
    shape = _DECORATION.sub("", shape)
    return re.sub("#+", "#", shape)


def zone_lines(lines: list[str], zone: int) -> list[tuple[int, str]]:
    """(index, "top" | "bottom") of the first and last `zone` non-blank lines of a page: a
    header is matched against headers, a footer against footers."""
    filled = [i for i, line in enumerate(lines) if line.strip()]
    if not zone:
        return []
    return [(i, "top") for i in filled[:zone]] + [(i, "bottom") for i in filled[-zone:]]


def recurring(
    pages_by_shape: dict[tuple[str, str], list[int]], min_pages: int, max_gap: int
) -> set[tuple[str, str]]:
    """Shapes seen on at least `min_pages` pages that each lie within `max_gap` pages of
    another page with the same shape."""
    found = set()
    for shape, pages in pages_by_shape.items():
        pages = sorted(set(pages))
        near = [
            p
            for i, p in enumerate(pages)
            if (i > 0 and p - pages[i - 1] <= max_gap)
            or (i + 1 < len(pages) and pages[i + 1] - p <= max_gap)
        ]
        if len(near) >= min_pages:
            found.add(shape)
    return found


_LETTERS = re.compile(r"[^\w]|[\d_]")


def remove_catch_words(pages: list[list[str]]) -> list[str]:
    """Removes the catch-word of early prints: a page's last line that is one short word (often
    its first part, "Stan-") with which the next page's text begins. Without the next page, or
    where it begins otherwise, or where the word ends a sentence, the line is text and stays."""
    removed = []
    for lines, following in zip(pages, pages[1:], strict=False):
        filled = [i for i, line in enumerate(lines) if line.strip()]
        first = next((line.split() for line in following if line.strip()), [])
        if not filled or not first:
            continue
        last = lines[filled[-1]].strip()
        catch = _LETTERS.sub("", last).lower()
        if " " in last or len(last) > 24 or len(catch) < 2 or last[-1] in ".!?":
            continue
        if _LETTERS.sub("", first[0]).lower().startswith(catch):
            removed.append(last)
            del lines[filled[-1]]
    return removed


@register("running_headers")
class RunningHeaders(Mapper):
    """Removes running headers, footers and page numbers; `removed_lines` counts them per
    document (`removed_page_numbers` of them page numbers alone) and `removed_line_texts`
    keeps them (option) so that every removal is auditable."""

    class Options(StageOptions):
        zone_lines: int = 2  # lines looked at on top and at the bottom of each page
        min_pages: int = 3  # a shape must recur on this many pages…
        max_page_gap: int = 2  # …each within this many pages of another (2: recto/verso)
        max_line_chars: int = 120  # a longer line is text, never a header
        keep_removed: bool = False  # also write the removed lines (list column)
        catch_words: bool = True  # early prints' catch-words (see remove_catch_words)

    def clean_one(self, text: str) -> tuple[str, list[str], int]:
        """The text without its running lines, the lines removed, and how many were page
        numbers alone."""
        o = self.options
        pages = [page.split("\n") for page in split_pages(text)]
        candidates: list[list[tuple[int, tuple[str, str]]]] = []
        pages_by_shape: dict[tuple[str, str], list[int]] = defaultdict(list)
        for number, lines in enumerate(pages):
            zone = []
            for index, where in zone_lines(lines, o.zone_lines):
                if len(lines[index].strip()) > o.max_line_chars:
                    continue
                shape = line_shape(lines[index])
                if shape:
                    zone.append((index, (where, shape)))
                    pages_by_shape[(where, shape)].append(number)
            candidates.append(zone)
        running = recurring(pages_by_shape, o.min_pages, o.max_page_gap)
        if not running and not (o.catch_words and len(pages) > 1):
            return text, [], 0
        removed, numbers = [], 0
        for lines, zone in zip(pages, candidates, strict=True):
            drop = {index for index, key in zone if key in running and key[1] != "#"}
            # One page number per zone, the outermost: a bare number further in ("1989." closing
            # a bibliography, a code listing's line number) is text.
            for where, pick in (("top", min), ("bottom", max)):
                bare = [index for index, key in zone if key == (where, "#") and key in running]
                if bare:
                    drop.add(pick(bare))
            for index in sorted(drop):
                removed.append(lines[index].strip())
                numbers += bool(_PAGE_NUMBER.match(line_shape(lines[index])))
            lines[:] = [line for i, line in enumerate(lines) if i not in drop]
        if o.catch_words:
            removed += remove_catch_words(pages)
        return join_pages(["\n".join(lines) for lines in pages]), removed, numbers

    def map(self, batch: pa.Table) -> pa.Table:
        cleaned, counts, page_numbers, removed_texts = [], [], [], []
        for text in texts(batch):
            new_text, removed, numbers = self.clean_one(text) if text else (text, [], 0)
            cleaned.append(new_text)
            counts.append(len(removed))
            page_numbers.append(numbers)
            removed_texts.append(removed)
        batch = set_text(batch, cleaned)
        batch = set_column(batch, REMOVED_LINES, pa.array(counts, pa.int32()))
        batch = set_column(batch, REMOVED_PAGE_NUMBERS, pa.array(page_numbers, pa.int32()))
        if self.options.keep_removed:
            column = pa.array(removed_texts, pa.list_(pa.string()))
            batch = set_column(batch, REMOVED_LINE_TEXTS, column)
        return batch

    def counters(self, out: pa.Table, decision: Decision | None) -> dict[str, int]:
        counts = out[REMOVED_LINES].to_numpy()
        page_numbers = int(out[REMOVED_PAGE_NUMBERS].to_numpy().sum())
        return {
            "header_lines_removed": int(counts.sum()) - page_numbers,
            "page_number_lines_removed": page_numbers,
            "documents_with_running_lines": int((counts > 0).sum()),
        }
