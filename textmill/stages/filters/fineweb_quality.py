"""FineWeb's own quality rules (Penedo et al. 2024), found by comparing what Gopher and C4
left in against what trained better models."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from textmill.document import TEXT
from textmill.pipeline import Decision, Filter, register
from textmill.stages.filters._language import (
    LanguageOptions,
    Thresholds,
    row_languages,
    with_languages,
)
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

    class Options(LanguageOptions):  # lang, by_language, fallback: see _language.py
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
        languages = row_languages(batch, o)
        num_words = split_words(chars, languages).counts()
        return with_languages(
            {
                "num_lines": num_lines,
                "line_punct_ratio": safe_ratio(row_sums(lines, ends_sentence), num_lines),
                "short_line_ratio": safe_ratio(row_sums(lines, short), num_lines),
                "char_dup_ratio": safe_ratio(dup_chars, chars.lengths() - newlines),
                "new_line_ratio": safe_ratio(newlines, num_words),
            },
            languages,
        )

    def decide(self, metrics: pa.Table) -> Decision:
        t = Thresholds(self.options, metrics)
        m = {name: metrics[name].to_numpy() for name in metrics.column_names if name != "lang"}
        checks: list[tuple[str, np.ndarray]] = [("empty", m["num_lines"] == 0)]
        with np.errstate(invalid="ignore"):
            if (threshold := t.value("line_punct_thr", falsy_disables=False)) is not None:
                low = m["line_punct_ratio"] < threshold
                exclude_zero = t.value("line_punct_exclude_zero")
                if exclude_zero is not None:
                    low &= ~((m["line_punct_ratio"] == 0) & (exclude_zero == 1))
                checks.append(("line_punct_ratio", low))
            if (threshold := t.value("short_line_thr", falsy_disables=False)) is not None:
                checks.append(("short_line_ratio", m["short_line_ratio"] > threshold))
            if (threshold := t.value("char_duplicates_ratio", falsy_disables=False)) is not None:
                checks.append(("char_dup_ratio", m["char_dup_ratio"] > threshold))
            if (threshold := t.value("new_line_ratio", falsy_disables=False)) is not None:
                checks.append(("list_ratio", m["new_line_ratio"] > threshold))
        return t.decision(*checks)
