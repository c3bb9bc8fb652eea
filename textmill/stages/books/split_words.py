"""Words that OCR split in two ("to gether", "Sur face", a hyphen lost at a line end:
"представле\\nние"), joined again where the document's own vocabulary says so.

The test is the one `dehyphenate` makes, without a hyphen to start from: the joined form
("together") occurs elsewhere in the volume at least `min_count` times, and the right part
("gether") occurs nowhere but in these splits, so it is a fragment, not a word. A right part in
upper case is never joined (a new sentence or a name), nor are parts with digits or punctuation
between them. A book repeats its words, so a real pair of words ("a way") has its right word
elsewhere ("way") and is left alone.
"""

from __future__ import annotations

import re
from collections import Counter

import pyarrow as pa
import pyarrow.compute as pc

from textmill.document import TEXT
from textmill.pipeline import Decision, Mapper, StageOptions, register
from textmill.stages.books._pages import set_column, set_text, texts
from textmill.stages.books.dehyphenate import HYPHENS, MARKS, vocabulary

SPLIT_WORDS_JOINED = "split_words_joined"
_WORD_RUN = re.compile(rf"[^\W\d_][{MARKS}]*(?:[^\W\d_][{MARKS}]*)*")
# What may lie between the halves: one space, or one line break (a blank line or a page break
# separates paragraphs and pages, never the halves of a word).
_GAP = re.compile(r"[ \t]|[ \t]*\n[ \t]*")
_GLUED = re.compile(rf"[\w{MARKS}{HYPHENS}]")


def split_pairs(text: str) -> list[tuple[re.Match[str], re.Match[str], str]]:
    """(left run, right run, gap) of neighbouring letter runs that could be one word split:
    a gap of one space or one line break, the left run not glued to a word, hyphen or digit on
    its left, the right run in lower case and not glued to a word or digit on its right."""
    runs = list(_WORD_RUN.finditer(text))
    pairs = []
    for left, right in zip(runs, runs[1:], strict=False):
        gap = text[left.end() : right.start()]
        if not _GAP.fullmatch(gap) or not right.group()[0].islower():
            continue
        if left.start() and _GLUED.match(text[left.start() - 1]):
            continue
        if right.end() < len(text) and _GLUED.match(text[right.end()]):
            continue
        pairs.append((left, right, gap))
    return pairs


@register("rejoin_split_words")
class RejoinSplitWords(Mapper):
    """Joins words split by a space or a line break that the volume's vocabulary confirms
    (module docstring); `split_words_joined` counts them per document."""

    class Options(StageOptions):
        min_count: int = 2  # the joined word must occur this often elsewhere in the document

    def clean_one(self, text: str) -> tuple[str, int]:
        vocab = vocabulary(text)
        pairs = [
            (left, right, gap)
            for left, right, gap in split_pairs(text)
            if vocab[(left.group() + right.group()).lower()] >= self.options.min_count
        ]
        # a right part seen only in such splits is a fragment; elsewhere too, it is a word
        as_fragment = Counter(right.group().lower() for _, right, _ in pairs)
        out, position, joined, taken = [], 0, 0, -1
        for left, right, gap in pairs:
            part = right.group().lower()
            if left.start() <= taken or vocab[part] > as_fragment[part]:
                continue
            out.append(text[position : left.end()])
            position = right.start()
            taken = right.end()
            joined += 1
            if "\n" in gap:  # the joined word ends its line (line lengths kept, as dehyphenate)
                line_end = text.find("\n", right.end())
                line_end = len(text) if line_end < 0 else line_end
                space = re.search(r"[ \t]+", text[right.end() : line_end])
                if space:
                    out.append(text[position : right.end() + space.start()] + "\n")
                    position = right.end() + space.end()
        out.append(text[position:])
        return "".join(out), joined

    def map(self, batch: pa.Table) -> pa.Table:
        has_pair = pc.fill_null(
            pc.match_substring_regex(batch[TEXT], r"\pL[ \t\n]+\p{Ll}"), False
        ).to_pylist()
        cleaned, counts = [], []
        for text, candidate in zip(texts(batch), has_pair, strict=True):
            new_text, joined = self.clean_one(text) if candidate else (text, 0)
            cleaned.append(new_text)
            counts.append(joined)
        batch = set_text(batch, cleaned)
        return set_column(batch, SPLIT_WORDS_JOINED, pa.array(counts, pa.int32()))

    def counters(self, out: pa.Table, decision: Decision | None) -> dict[str, int]:
        return {SPLIT_WORDS_JOINED: int(out[SPLIT_WORDS_JOINED].to_numpy().sum())}
