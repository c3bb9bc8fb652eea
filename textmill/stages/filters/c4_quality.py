"""C4's line and document rules (Raffel et al. 2020), as FineWeb runs them.

Unlike the other filters this one edits: it removes lines (too short, a giant word, javascript
notices, cookie/terms boilerplate) and citation markers, then judges what is left. FineWeb runs
it without the terminal-punctuation line rule, so that rule is an option, off by default.
"""

from __future__ import annotations

import numba as nb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from textmill.document import TEXT
from textmill.pipeline import Decision, Filter, StageOptions, register
from textmill.text import Chars, Spans, count_sentences, decode, encode, split_lines, strip_spans
from textmill.text.chars import DECIMAL, SPACE, char_flags, flag
from textmill.text.spans import row_sums, whitespace_words_kernel

POLICY_PHRASES = (
    "terms of use",
    "privacy policy",
    "cookie policy",
    "uses cookies",
    "use of cookies",
    "use cookies",
)
"""Boilerplate phrases whose lines C4 removes (from the C4 reference implementation)."""

_LOREM = 1
_CURLY = 2


def _patterns(phrases: tuple[str, ...]) -> np.ndarray:
    width = max(len(p) for p in phrases)
    table = np.full((len(phrases), width), -1, dtype=np.int32)
    for row, phrase in enumerate(phrases):
        table[row, : len(phrase)] = [ord(c) for c in phrase.lower()]
    return table


@nb.njit(cache=True)
def _contains_lower(codes, s, e, pattern):
    """Does codes[s:e], lower-cased (ASCII), contain pattern (padded with -1)?"""
    m = 0
    while m < len(pattern) and pattern[m] >= 0:
        m += 1
    for i in range(s, e - m + 1):
        hit = True
        for t in range(m):
            c = codes[i + t]
            if 65 <= c <= 90:
                c += 32
            if c != pattern[t]:
                hit = False
                break
        if hit:
            return True
    return False


@nb.njit(cache=True)
def _remove_citations(codes, s, e, flags, out, o):
    """Copy codes[s:e] to out[o:] without [12], [], [edit] and [citation needed]."""
    i = s
    while i < e:
        c = codes[i]
        if c == 91:  # [
            j = i + 1
            while j < e and flag(flags, codes[j]) & DECIMAL:
                j += 1
            end = -1
            if j < e and codes[j] == 93:
                end = j + 1
            elif _starts_with(codes, i, e, "[edit]"):
                end = i + 6
            elif _starts_with(codes, i, e, "[citation needed]"):
                end = i + 17
            if end > 0:
                i = end
                continue
        out[o] = c
        o += 1
        i += 1
    return o


@nb.njit(cache=True)
def _starts_with(codes, i, e, text):
    if e - i < len(text):
        return False
    for t in range(len(text)):  # noqa: SIM110 (numba compiles loops, not generators)
        if codes[i + t] != ord(text[t]):
            return False
    return True


@nb.njit(cache=True)
def _has_terminal_punct(out, s, e):
    if e == s:
        return False
    last = out[e - 1]
    if last == 46 and e - s >= 3 and out[e - 2] == 46 and out[e - 3] == 46:
        return False  # an ellipsis is not an end
    return last in (46, 63, 33, 34, 39)  # . ? ! " '


@nb.njit(cache=True)
def _edit_lines(
    codes,
    starts,
    ends,
    row_offsets,
    flags,
    max_word_length,
    min_words_per_line,
    remove_citations,
    terminal_punct,
    lorem,
    javascript,
    curly,
    policy,
    lorem_pattern,
    javascript_pattern,
    policy_patterns,
):
    n = len(row_offsets) - 1
    out = np.empty(len(codes), dtype=np.int32)
    kept_starts = np.empty(len(starts), dtype=np.int64)
    kept_ends = np.empty(len(starts), dtype=np.int64)
    kept_offsets = np.zeros(n + 1, dtype=np.int64)
    verdict = np.zeros(n, dtype=np.int8)
    removed = np.zeros(n, dtype=np.int64)
    o = 0
    k = 0
    for r in range(n):
        for j in range(row_offsets[r], row_offsets[r + 1]):
            s = starts[j]
            e = ends[j]
            count, longest = whitespace_words_kernel(codes, s, e, flags)
            if max_word_length >= 0 and longest > max_word_length:
                removed[r] += 1
                continue
            line_start = o
            if remove_citations:
                o = _remove_citations(codes, s, e, flags, out, o)
            else:
                out[o : o + e - s] = codes[s:e]
                o += e - s
            if (
                (terminal_punct and not _has_terminal_punct(out, line_start, o))
                or count < min_words_per_line
                or (javascript and _contains_lower(out, line_start, o, javascript_pattern))
            ):
                o = line_start
                removed[r] += 1
                continue
            if lorem and _contains_lower(out, line_start, o, lorem_pattern):
                verdict[r] = _LOREM
                break
            if curly:
                has_curly = False
                for i in range(line_start, o):
                    if out[i] == 123:
                        has_curly = True
                        break
                if has_curly:
                    verdict[r] = _CURLY
                    break
            if policy:
                boilerplate = False
                for p in range(policy_patterns.shape[0]):
                    if _contains_lower(out, line_start, o, policy_patterns[p]):
                        boilerplate = True
                        break
                if boilerplate:
                    o = line_start
                    removed[r] += 1
                    continue
            kept_starts[k] = line_start
            kept_ends[k] = o
            k += 1
        kept_offsets[r + 1] = k
    return out[:o], kept_starts[:k], kept_ends[:k], kept_offsets, verdict, removed


@nb.njit(cache=True)
def _join_lines(out, starts, ends, row_offsets, flags):
    """ "\\n".join(kept lines).strip() for every row."""
    n = len(row_offsets) - 1
    joined = np.empty(len(out) + len(starts), dtype=np.int32)
    offsets = np.zeros(n + 1, dtype=np.int64)
    w = 0
    for r in range(n):
        row_start = w
        for j in range(row_offsets[r], row_offsets[r + 1]):
            if j > row_offsets[r]:
                joined[w] = 10
                w += 1
            length = ends[j] - starts[j]
            joined[w : w + length] = out[starts[j] : ends[j]]
            w += length
        a = row_start
        while a < w and flag(flags, joined[a]) & SPACE:
            a += 1
        b = w
        while b > a and flag(flags, joined[b - 1]) & SPACE:
            b -= 1
        if a > row_start:
            joined[row_start : row_start + b - a] = joined[a:b].copy()
        w = row_start + b - a
        offsets[r + 1] = w
    return joined[:w], offsets


@register("c4_quality")
class C4Quality(Filter):
    """Removes boilerplate lines, then drops documents with too few sentences left, any
    "lorem ipsum", or a curly bracket (code rather than prose)."""

    class Options(StageOptions):
        lang: str = "en"
        # methods.md, FineWeb item 6 (C4 without the terminal-punctuation line rule)
        min_sentences: int | None = 5
        min_words_per_line: int = 3
        max_word_length: int | None = 1000
        remove_citations: bool = True
        filter_no_terminal_punct: bool = False
        filter_lorem_ipsum: bool = True
        filter_javascript: bool = True
        filter_curly_bracket: bool = True
        filter_policy: bool = True

    def _edit(self, batch: pa.Table) -> tuple[pa.Table, Chars, Chars]:
        o = self.options
        chars = decode(batch[TEXT])
        flags = char_flags()
        lines = strip_spans(chars, split_lines(chars))
        out, starts, ends, kept_offsets, verdict, removed = _edit_lines(
            chars.codes,
            lines.starts,
            lines.ends,
            lines.row_offsets,
            flags,
            -1 if o.max_word_length is None else o.max_word_length,
            o.min_words_per_line,
            o.remove_citations,
            o.filter_no_terminal_punct,
            o.filter_lorem_ipsum,
            o.filter_javascript,
            o.filter_curly_bracket,
            o.filter_policy,
            _patterns(("lorem ipsum",))[0],
            _patterns(("javascript",))[0],
            _patterns(POLICY_PHRASES),
        )
        edited_lines = Chars(out, np.zeros(2, np.int64), np.ones(1, bool))
        kept = Spans(starts, ends, kept_offsets)
        sentences = row_sums(kept, count_sentences(edited_lines, kept, o.lang))
        joined, offsets = _join_lines(out, starts, ends, kept_offsets, flags)
        metrics = pa.table(
            {
                "lorem_ipsum": verdict == _LOREM,
                "curly_bracket": verdict == _CURLY,
                "num_sentences": sentences.astype(np.int64),
                "lines_removed": removed,
                "lines_kept": kept.counts(),
            }
        )
        return metrics, Chars(joined, offsets, chars.valid), chars

    def measure(self, batch: pa.Table) -> pa.Table:
        return self._edit(batch)[0]

    def decide(self, metrics: pa.Table) -> Decision:
        o = self.options
        few = np.zeros(metrics.num_rows, dtype=bool)
        if o.min_sentences is not None:
            few = metrics["num_sentences"].to_numpy() < o.min_sentences
        return Decision.first_failing(
            ("lorem_ipsum", metrics["lorem_ipsum"]),
            ("curly_bracket", metrics["curly_bracket"]),
            ("too_few_sentences", few),
        )

    def process(self, batch: pa.Table) -> tuple[pa.Table, Decision]:
        """The batch with kept documents' text edited (dropped ones keep their original text,
        so rejects show what was judged), and the decision."""
        metrics, edited, _ = self._edit(batch)
        decision = self.decide(metrics)
        original = batch[TEXT]
        text = pc.if_else(pa.array(decision.keep), encode(edited).cast(original.type), original)
        index = batch.column_names.index(TEXT)
        return batch.set_column(index, batch.schema.field(TEXT), text), decision
