"""De-hyphenation of words split across line breaks ("prin-\\nciple" → "principle"), deciding
with the document's own vocabulary whether the hyphen is a typesetter's or the word's own.

A book repeats its words: where the joined form ("principle") occurs elsewhere in the volume the
hyphen was the typesetter's, where the hyphenated form ("well-known") does, it is the word's.
Where neither occurs, a continuation in lower case is joined (a soft break) and one in upper
case keeps its hyphen ("Hamburger-\\nArtikel", "Jean-\\nPaul"), as German and French compounds
with a capital part are written. A word list (one word a line, per language) adds to the
vocabulary where a user has one.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from textmill.document import TEXT
from textmill.pipeline import Decision, Mapper, StageOptions, register
from textmill.stages.books._pages import set_column, set_text, texts

# Hyphen-like marks a line may end with: ASCII hyphen, U+2010 hyphen, U+2011 non-breaking
# hyphen, U+00AC not sign and U+2E17 double oblique hyphen (Fraktur prints and their OCR).
HYPHENS = "-\u2010\u2011\u00ac\u2e17"
# Combining marks (Fraktur's "aͤ", decomposed accents) belong to the word, though not to \w.
MARKS = "\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f"
# A letter before the hyphen and after the break: "1880-\n1890" is a range, not a word.
_BREAK = re.compile(
    rf"((?:\w|[{MARKS}])*[^\W\d_][{MARKS}]*)[{HYPHENS}][ \t]*\n[ \t]*([^\W\d_](?:\w|[{MARKS}])*)"
    r"(\S*)([ \t]*)"  # the punctuation after the continuation, then the space the break takes
)
HYPHENS_JOINED = "hyphens_joined"
HYPHENS_KEPT = "hyphens_kept"
_WORD = re.compile(rf"(?:\w|[{MARKS}])+(?:[{HYPHENS}](?:\w|[{MARKS}])+)*")


def vocabulary(text: str) -> Counter[str]:
    """Lower-cased words and hyphenated compounds of the text, line-break splits left out
    (those are what is being decided)."""
    return Counter(word.lower() for word in _WORD.findall(_BREAK.sub(" ", text)))


@register("dehyphenate")
class Dehyphenate(Mapper):
    """Joins words hyphenated at line ends. The joined word ends its line, the rest of the next
    line stays a line ("wa-\\nter, where" → "water,\\nwhere"): line lengths stay the
    typesetter's, which `unwrap_lines` measures the text width on. `hyphens_joined` and
    `hyphens_kept` count the decisions per document."""

    class Options(StageOptions):
        word_lists: dict[str, str] = {}  # language → word-list file (one word a line)
        lang_column: str = "lang"  # which language's word list a document uses

    def setup(self) -> None:
        self._word_lists = {
            lang: frozenset(
                line.strip().lower()
                for line in Path(path).read_text(encoding="utf-8").splitlines()
                if line.strip()
            )
            for lang, path in self.options.word_lists.items()
        }

    def word_list(self, lang: str | None) -> frozenset[str]:
        if not hasattr(self, "_word_lists"):
            self.setup()
        return self._word_lists.get(lang or "", frozenset())

    def clean_one(self, text: str, words: frozenset[str]) -> tuple[str, int, int]:
        """The text with its line-end hyphens resolved, and how many were joined and kept."""
        vocab = vocabulary(text)
        joined = kept = 0

        def known(word: str) -> bool:
            return vocab[word] > 0 or word in words

        def resolve(match: re.Match[str]) -> str:
            nonlocal joined, kept
            left, right, tail, space = match.groups()
            rest = match.string[match.end() : match.end() + 1]
            tail += "\n" if space and rest not in ("", "\n") else space
            whole, compound = (left + right).lower(), f"{left}-{right}".lower()
            if known(whole) and not vocab[compound]:
                keep_hyphen = False
            elif vocab[compound] and not known(whole):
                keep_hyphen = True
            else:
                keep_hyphen = right[0].isupper()
            if keep_hyphen:
                kept += 1
                return f"{left}-{right}{tail}"
            joined += 1
            return left + right + tail

        return _BREAK.sub(resolve, text), joined, kept

    def map(self, batch: pa.Table) -> pa.Table:
        if self.options.lang_column in batch.column_names:
            langs = batch[self.options.lang_column].to_pylist()
        else:
            langs = [None] * batch.num_rows
        cleaned, joined_counts, kept_counts = [], [], []
        has_break = pc.fill_null(
            pc.match_substring_regex(batch[TEXT], rf"[\pL\pM][{HYPHENS}][ \t]*\n"), False
        ).to_pylist()
        for text, lang, candidate in zip(texts(batch), langs, has_break, strict=True):
            new_text, joined, kept = (
                self.clean_one(text, self.word_list(lang)) if candidate else (text, 0, 0)
            )
            cleaned.append(new_text)
            joined_counts.append(joined)
            kept_counts.append(kept)
        batch = set_text(batch, cleaned)
        batch = set_column(batch, HYPHENS_JOINED, pa.array(joined_counts, pa.int32()))
        return set_column(batch, HYPHENS_KEPT, pa.array(kept_counts, pa.int32()))

    def counters(self, out: pa.Table, decision: Decision | None) -> dict[str, int]:
        return {name: int(out[name].to_numpy().sum()) for name in (HYPHENS_JOINED, HYPHENS_KEPT)}
