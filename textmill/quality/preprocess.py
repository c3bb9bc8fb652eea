"""Ultra-FineWeb's fastText preprocessing, on whole Arrow columns.

methods.md (Ultra-FineWeb): collapse 3+ newlines, lower-case, strip diacritics (NFKD), split into
tokens joined by spaces. Ultra-FineWeb splits with an LLM tokenizer; textmill splits words from
punctuation with one regex (no model to download), and, as Ultra-FineWeb does, keeps each newline
as a literal `\\n` token so that layout still reaches the classifier, which reads one line.

`reference_preprocess_texts` states the rules as Arrow/RE2 passes; `preprocess_texts` gives the
same bytes in one numba pass (preprocess_kernel), sending the rows it cannot map by table to the
reference.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from textmill.quality.preprocess_kernel import kernel_preprocess

# (pattern, replacement) applied in order after lower-casing and NFKD; RE2 syntax.
_REWRITES: tuple[tuple[str, str], ...] = (
    (r"\p{Mn}+", ""),  # combining marks left by NFKD: "é" → "e"
    (r"([^\p{L}\p{N}\s\p{Z}])", r" \1 "),  # each punctuation mark or symbol is a token
    (r"\r?\n", r" \\n "),  # a newline is the token `\n`
    (r"[\s\p{Z}]+", " "),  # any run of spaces, tabs, NBSP... is one separator
)


def _as_column(texts: pa.Array | pa.ChunkedArray | Sequence[str | None]) -> pa.Array:
    if not isinstance(texts, (pa.Array, pa.ChunkedArray)):
        return pa.array(list(texts), pa.large_string())
    return texts.combine_chunks() if isinstance(texts, pa.ChunkedArray) else texts


def preprocess_texts(
    texts: pa.Array | pa.ChunkedArray | Sequence[str | None], max_chars: int | None = None
) -> pa.Array:
    """The classifier's input for each text (null stays null), computed column-wise; with
    `max_chars`, of the text's first `max_chars` characters only."""
    column = _as_column(texts)
    if max_chars is not None and max_chars < 0:  # counted from the end: the reference's slice
        return reference_preprocess_texts(column, max_chars)
    out, fallback = kernel_preprocess(column, max_chars)
    if fallback.any():
        rows = np.flatnonzero(fallback)
        redone = reference_preprocess_texts(column.take(rows), max_chars).cast(pa.large_string())
        out = pc.replace_with_mask(out, pa.array(fallback), redone)
    return out if column.type == out.type else out.cast(column.type)


def reference_preprocess_texts(
    texts: pa.Array | pa.ChunkedArray | Sequence[str | None], max_chars: int | None = None
) -> pa.Array:
    """preprocess_texts as Arrow and RE2 passes over the column: the rules' statement, and
    what the kernel's table is made of."""
    texts = _as_column(texts)
    if max_chars is not None:
        texts = pc.utf8_slice_codeunits(texts, 0, max_chars)
    out = pc.replace_substring_regex(texts, r"\n{3,}", "\n\n")
    out = pc.utf8_normalize(pc.utf8_lower(out), form="NFKD")
    for pattern, replacement in _REWRITES:
        out = pc.replace_substring_regex(out, pattern, replacement)
    out = pc.utf8_trim_whitespace(out)
    return out.combine_chunks() if isinstance(out, pa.ChunkedArray) else out


def preprocess_text(text: str) -> str:
    """One text, same rules (for notebooks and tests)."""
    return preprocess_texts([text])[0].as_py()
