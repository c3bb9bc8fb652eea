"""Unicode and encoding repair (FineWeb-2's FTFY step; CulturaX's "fix encoding").

ftfy undoes mojibake (UTF-8 read as Latin-1/cp1252), stray C1 controls, terminal escapes and
broken surrogates. It is per-document Python, so only rows holding something other than printable
ASCII reach it: on those options, ftfy cannot change a printable-ASCII text. NFC normalisation
and whitespace collapsing run on the whole column.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from textmill.document import TEXT
from textmill.pipeline import Mapper, StageOptions, register

NEEDS_FTFY = r"[^\x{20}-\x{7E}\n\t]"  # anything but printable ASCII, tab and newline
# Horizontal white space, Unicode included (RE2's \s is ASCII only).
HORIZONTAL_SPACE = r"[ \t\f\v\x{A0}\x{1680}\x{2000}-\x{200A}\x{202F}\x{205F}\x{3000}]+"


@register("normalize")
class Normalize(Mapper):
    """Repairs `text` with ftfy, applies Unicode normalisation, optionally collapses white space."""

    class Options(StageOptions):
        fix_encoding: bool = True  # mojibake
        # Plain text may legitimately say "&amp;"; ftfy's "auto" would unescape it.
        unescape_html: bool = False
        # Off: these change legitimate characters (curly quotes, ligatures, full-width forms).
        uncurl_quotes: bool = False
        fix_latin_ligatures: bool = False
        fix_character_width: bool = False
        normalization: Literal["NFC", "NFKC", "NFD", "NFKD"] | None = "NFC"
        # Runs of spaces/tabs → one space, spaces around line breaks trimmed, 3+ newlines → 2.
        collapse_whitespace: bool = False

    def fix_one(self, text: str) -> str:
        import ftfy

        o = self.options
        config = ftfy.TextFixerConfig(
            unescape_html=o.unescape_html,
            fix_encoding=o.fix_encoding,
            uncurl_quotes=o.uncurl_quotes,
            fix_latin_ligatures=o.fix_latin_ligatures,
            fix_character_width=o.fix_character_width,
            normalization=None,  # done columnar below
            explain=False,
        )
        return ftfy.fix_text(text, config)

    def map(self, batch: pa.Table) -> pa.Table:
        o = self.options
        field = batch.schema.field(TEXT)
        text = batch[TEXT].combine_chunks()
        mask = pc.fill_null(pc.match_substring_regex(text, NEEDS_FTFY), False)
        rows = np.flatnonzero(mask.to_numpy(zero_copy_only=False))
        if len(rows):
            fixed = [self.fix_one(value) for value in pc.take(text, pa.array(rows)).to_pylist()]
            text = pc.replace_with_mask(text, mask, pa.array(fixed, field.type))
        if o.normalization is not None:
            text = pc.utf8_normalize(text, o.normalization)
        if o.collapse_whitespace:
            text = pc.replace_substring_regex(text, HORIZONTAL_SPACE, " ")
            text = pc.replace_substring_regex(text, r" ?\n ?", "\n")
            text = pc.replace_substring_regex(text, r"\n{3,}", "\n\n")
            text = pc.utf8_trim_whitespace(text)
        return batch.set_column(batch.column_names.index(TEXT), field, text)
