"""C4's line and document rules (Raffel et al. 2020), as FineWeb runs them.

Unlike the other filters this one edits: it removes lines (too short, a giant word, javascript
notices, cookie/terms boilerplate) and citation markers, then judges what is left. FineWeb runs
it without the terminal-punctuation line rule, so that rule is an option, off by default.

C4 counts the words of a line with str.split(), which makes a line of Chinese, Japanese or Thai
one word (and removes it as too short, or as one giant word). For such languages the words of a
line come from the language's splitter (`split_words`: jieba, Sudachi, PyThaiNLP, n-grams) and
its sentences from `split_sentences`; space-separated languages keep C4's whitespace count.
`lang: auto` takes each row's language from the `lang` column langid writes.
"""

from __future__ import annotations

import numba as nb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from textmill.document import TEXT
from textmill.pipeline import Decision, Filter, StageOptions, register
from textmill.stages.filters._language import LANG_COLUMN, row_languages, with_languages
from textmill.text import (
    Chars,
    Spans,
    count_sentences,
    decode,
    encode,
    split_lines,
    split_words,
    strip_spans,
)
from textmill.text.chars import DECIMAL, SPACE, SYMBOL, char_flags, flag
from textmill.text.segmenters import (
    NO_SPACE_SCRIPTS,
    SCRIPTS,
    dominant_scripts,
    script_table,
    split_sentences,
    split_words_ngrams,
)
from textmill.text.spans import any_char_without, row_sums, whitespace_words_kernel
from textmill.text.words import splitter_key

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

SPACE_SEPARATED = ("en", "ko")
"""Splitter keys (textmill.text.words) of languages whose lines C4's str.split() counts as is."""
_WHITESPACE, _SEGMENTED, _BY_SCRIPT = 0, 1, 2


def _mode(lang: str | None) -> int:
    """How a language's lines are counted: by whitespace, by its segmenter, or (languages
    without a splitter of their own) by the script of each line, as split_words_by_script."""
    key = splitter_key(lang)
    if key in SPACE_SEPARATED:
        return _WHITESPACE
    return _BY_SCRIPT if key == "" else _SEGMENTED


@nb.njit(cache=True)
def _any_in_table(codes, starts, ends, table):
    out = np.zeros(len(starts), dtype=np.bool_)
    for j in range(len(starts)):
        for i in range(starts[j], ends[j]):
            c = codes[i]
            if 0 <= c < len(table) and table[c]:
                out[j] = True
                break
    return out


def _no_space_lines(chars: Chars, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Lines written mostly in a script without spaces (the split_words_by_script test); only
    lines holding such a character at all pay for the script count."""
    no_space = np.isin(script_table(), [SCRIPTS.index(name) for name in NO_SPACE_SCRIPTS])
    candidates = np.flatnonzero(_any_in_table(chars.codes, starts, ends, no_space))
    out = np.zeros(len(starts), dtype=bool)
    if len(candidates):
        spans = Spans(starts[candidates], ends[candidates], np.arange(len(candidates) + 1))
        scripts = dominant_scripts(chars, spans)
        out[candidates] = [s in NO_SPACE_SCRIPTS or s == "Jpan" for s in scripts]
    return out


def _counted(chars: Chars, words: Spans) -> np.ndarray:
    """(words, longest word) per span of `words`; tokens of punctuation only are no words."""
    real = any_char_without(chars, words, SYMBOL)
    spans = len(words.row_offsets) - 1
    longest = np.zeros(spans, dtype=np.int64)
    np.maximum.at(longest, np.repeat(np.arange(spans), words.counts()), words.lengths())
    return np.stack([row_sums(words, real).astype(np.int64), longest])


def segmented_line_words(
    chars: Chars, lines: Spans, languages: str | np.ndarray
) -> np.ndarray | None:
    """(words, longest word) of every line, shape (2, lines), by the word splitter of its row's
    language where whitespace cannot count them, else -1 (C4's whitespace count applies);
    None when every line takes the whitespace count."""
    if isinstance(languages, str):
        mode = np.full(len(lines.starts), _mode(languages), dtype=np.int8)
    else:
        row_modes = np.array([_mode(lang) for lang in languages.tolist()], dtype=np.int8)
        mode = np.repeat(row_modes, lines.counts())
    out = np.full((2, len(lines.starts)), -1, dtype=np.int64)
    index = np.flatnonzero(mode == _SEGMENTED)
    if len(index):  # split_words takes one language per row: offsets per row
        line_row = np.repeat(np.arange(chars.num_rows), lines.counts())
        offsets = np.zeros(chars.num_rows + 1, dtype=np.int64)
        np.cumsum(np.bincount(line_row[index], minlength=chars.num_rows), out=offsets[1:])
        spans = Spans(lines.starts[index], lines.ends[index], offsets)
        out[:, index] = _counted(chars, split_words(chars, languages, spans))
    by_script = np.flatnonzero(mode == _BY_SCRIPT)
    if len(by_script):
        no_space = _no_space_lines(chars, lines.starts[by_script], lines.ends[by_script])
        index = by_script[no_space]
        # what split_words_by_script does with these lines, without counting scripts again
        spans = Spans(lines.starts[index], lines.ends[index], np.arange(len(index) + 1))
        out[:, index] = _counted(chars, split_words_ngrams(chars, spans))
    return out if (out[0] >= 0).any() else None


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
    given,
):
    """C4's line rules; `given[:, j]` holds line j's (words, longest word) where its language's
    splitter counted them, or -1 for the str.split() count done here."""
    n = len(row_offsets) - 1
    out = np.empty(len(codes), dtype=np.int32)
    kept_starts = np.empty(len(starts), dtype=np.int64)
    kept_ends = np.empty(len(starts), dtype=np.int64)
    kept_lines = np.empty(len(starts), dtype=np.int64)
    kept_offsets = np.zeros(n + 1, dtype=np.int64)
    verdict = np.zeros(n, dtype=np.int8)
    removed = np.zeros(n, dtype=np.int64)
    o = np.int64(0)  # not literal zeros: callees would compile once for Literal[int](0) too
    k = np.int64(0)
    for r in range(n):
        for j in range(row_offsets[r], row_offsets[r + 1]):
            s = starts[j]
            e = ends[j]
            if given.shape[1] and given[0, j] >= 0:
                count, longest = given[0, j], given[1, j]
            else:
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
            kept_lines[k] = j
            k += 1
        kept_offsets[r + 1] = k
    return out[:o], kept_starts[:k], kept_ends[:k], kept_lines[:k], kept_offsets, verdict, removed


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


def _count_sentences(
    edited: Chars, kept: Spans, languages: str | np.ndarray, segmented: np.ndarray | None
) -> np.ndarray:
    """Sentences of every kept line: the punctuation sentencizer (count_sentences) for lines
    counted by whitespace, `split_sentences` of the row's language for segmented ones."""
    fixed = languages if isinstance(languages, str) else None
    if segmented is None:
        return count_sentences(edited, kept, fixed or "en")
    line_langs = (
        np.full(len(kept.starts), fixed, dtype=object)
        if fixed is not None
        else np.repeat(languages, kept.counts())
    )
    out = np.zeros(len(kept.starts), dtype=np.int64)
    plain = np.flatnonzero(~segmented)
    if len(plain):
        spans = Spans(kept.starts[plain], kept.ends[plain], np.arange(len(plain) + 1))
        out[plain] = count_sentences(edited, spans, "en")
    for lang in dict.fromkeys(line_langs[segmented].tolist()):
        index = np.flatnonzero(segmented & (line_langs == lang))
        spans = Spans(kept.starts[index], kept.ends[index], np.arange(len(index) + 1))
        out[index] = np.maximum(split_sentences(edited, lang or "und", spans).counts(), 1)
    return out


@register("c4_quality")
class C4Quality(Filter):
    """Removes boilerplate lines, then drops documents with too few sentences left, any
    "lorem ipsum", or a curly bracket (code rather than prose)."""

    class Options(StageOptions):
        lang: str = "en"  # "auto": per row, from the `lang` column (langid)
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
        languages = row_languages(batch, o)  # reads only `lang` (no by_language here)
        flags = char_flags()
        lines = strip_spans(chars, split_lines(chars))
        given = segmented_line_words(chars, lines, languages)
        out, starts, ends, kept_lines, kept_offsets, verdict, removed = _edit_lines(
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
            np.empty((2, 0), dtype=np.int64) if given is None else given,
        )
        edited_lines = Chars(out, np.zeros(2, np.int64), np.ones(1, bool))
        kept = Spans(starts, ends, kept_offsets)
        segmented = None if given is None else given[0, kept_lines] >= 0
        per_line = _count_sentences(edited_lines, kept, languages, segmented)
        sentences = row_sums(kept, per_line)
        joined, offsets = _join_lines(out, starts, ends, kept_offsets, flags)
        metrics = with_languages(
            {
                "lorem_ipsum": verdict == _LOREM,
                "curly_bracket": verdict == _CURLY,
                "num_sentences": sentences.astype(np.int64),
                "lines_removed": removed,
                "lines_kept": kept.counts(),
            },
            languages,
        )
        return metrics, Chars(joined, offsets, chars.valid), chars

    def measure(self, batch: pa.Table) -> pa.Table:
        return self._edit(batch)[0]

    def decide(self, metrics: pa.Table) -> Decision:
        o = self.options
        few = np.zeros(metrics.num_rows, dtype=bool)
        if o.min_sentences is not None:
            few = metrics["num_sentences"].to_numpy() < o.min_sentences
        decision = Decision.first_failing(
            ("lorem_ipsum", metrics["lorem_ipsum"]),
            ("curly_bracket", metrics["curly_bracket"]),
            ("too_few_sentences", few),
        )
        if LANG_COLUMN not in metrics.column_names or not decision.num_dropped:
            return decision
        # lang: auto, as the other filters: the reason names the row's language
        reasons = [
            None if reason is None else f"{reason}={lang or 'und'}"
            for reason, lang in zip(
                decision.reasons.to_pylist(), metrics[LANG_COLUMN].to_pylist(), strict=True
            )
        ]
        return Decision(decision.keep, pa.array(reasons, pa.string()))

    def process(self, batch: pa.Table) -> tuple[pa.Table, Decision]:
        """The batch with kept documents' text edited (dropped ones keep their original text,
        so rejects show what was judged), and the decision."""
        metrics, edited, _ = self._edit(batch)
        decision = self.decide(metrics)
        original = batch[TEXT]
        text = pc.if_else(pa.array(decision.keep), encode(edited).cast(original.type), original)
        index = batch.column_names.index(TEXT)
        return batch.set_column(index, batch.schema.field(TEXT), text), decision
