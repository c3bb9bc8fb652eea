"""FineWeb's own quality rules (Penedo et al. 2024), found by comparing what Gopher and C4
left in against what trained better models."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from textmill.document import TEXT
from textmill.pipeline import Decision, Filter, StageOptions, register
from textmill.text import (
    Spans,
    count_substring,
    decode,
    duplicate_pieces,
    spans_hashes,
    split_newline_runs,
    split_words,
    strip_spans,
)
from textmill.text.chars import TABLE_SIZE, TERMINAL, char_flags
from textmill.text.spans import edge_chars, row_sums, safe_ratio


def _non_blank(lines: Spans, stripped: Spans) -> Spans:
    """The lines with something besides whitespace, with per-row offsets recomputed."""
    keep = stripped.ends > stripped.starts
    row_of_line = np.repeat(np.arange(len(lines.row_offsets) - 1), lines.counts())
    counts = np.bincount(row_of_line[keep], minlength=len(lines.row_offsets) - 1)
    offsets = np.zeros(len(counts) + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    return Spans(lines.starts[keep], lines.ends[keep], offsets)


@register("fineweb_quality")
class FineWebQuality(Filter):
    """Drops documents whose lines rarely end a sentence, are mostly very short, repeat each
    other, or are one-word-per-line lists."""

    class Options(StageOptions):
        lang: str = "en"
        # methods.md, FineWeb item 7
        line_punct_thr: float | None = 0.12
        line_punct_exclude_zero: bool = False
        short_line_thr: float | None = 0.67
        short_line_length: int = 30
        char_duplicates_ratio: float | None = 0.01
        new_line_ratio: float | None = 0.3

    def measure(self, batch: pa.Table) -> pa.Table:
        o = self.options
        chars = decode(batch[TEXT])
        raw_lines = split_newline_runs(chars, min_run=1)
        lines = _non_blank(raw_lines, strip_spans(chars, raw_lines))
        num_lines = lines.counts()
        _, last = edge_chars(chars, lines)
        flags = char_flags()
        ends_sentence = (flags[np.minimum(last, TABLE_SIZE - 1)] & TERMINAL) != 0
        short = lines.lengths() <= o.short_line_length
        hashes, _ = spans_hashes(chars, lines.starts, lines.ends)
        _, dup_chars = duplicate_pieces(lines.row_offsets, hashes, lines.lengths())
        newlines = count_substring(chars, "\n")
        num_words = split_words(chars, o.lang).counts()
        return pa.table(
            {
                "num_lines": num_lines,
                "line_punct_ratio": safe_ratio(row_sums(lines, ends_sentence), num_lines),
                "short_line_ratio": safe_ratio(row_sums(lines, short), num_lines),
                "char_dup_ratio": safe_ratio(dup_chars, chars.lengths() - newlines),
                "new_line_ratio": safe_ratio(newlines, num_words),
            }
        )

    def decide(self, metrics: pa.Table) -> Decision:
        o = self.options
        m = {name: metrics[name].to_numpy() for name in metrics.column_names}
        checks: list[tuple[str, np.ndarray]] = [("empty", m["num_lines"] == 0)]
        if o.line_punct_thr is not None:
            low = m["line_punct_ratio"] < o.line_punct_thr
            if o.line_punct_exclude_zero:
                low &= m["line_punct_ratio"] != 0
            checks.append(("line_punct_ratio", low))
        if o.short_line_thr is not None:
            checks.append(("short_line_ratio", m["short_line_ratio"] > o.short_line_thr))
        if o.char_duplicates_ratio is not None:
            checks.append(("char_dup_ratio", m["char_dup_ratio"] > o.char_duplicates_ratio))
        if o.new_line_ratio is not None:
            checks.append(("list_ratio", m["new_line_ratio"] > o.new_line_ratio))
        return Decision.first_failing(*checks, num_rows=metrics.num_rows)
