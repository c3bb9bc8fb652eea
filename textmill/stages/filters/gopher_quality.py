"""Gopher's document-quality rules (Rae et al. 2021) with FineWeb's thresholds."""

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
    ENGLISH_GOPHER_STOP_WORDS,
    count_substring,
    decode,
    distinct_stop_words,
    spans_hashes,
    split_lines,
    split_words,
    strip_spans,
)
from textmill.text.chars import ALPHA, SYMBOL
from textmill.text.spans import (
    any_char_with,
    any_char_without,
    edge_chars,
    ends_with,
    row_sums,
    safe_ratio,
)


@register("gopher_quality")
class GopherQuality(Filter):
    """Keeps documents that read like prose: enough real words of plausible length, few
    symbols, not a list of bullets or truncated lines, and some common function words."""

    class Options(LanguageOptions):  # lang, by_language, fallback: see _language.py
        # methods.md, FineWeb item 5 (Gopher section A.1.1)
        min_words: int | None = 50
        max_words: int | None = 100_000
        min_mean_word_length: float | None = 3
        max_mean_word_length: float | None = 10
        max_symbol_word_ratio: float | None = 0.1
        max_bullet_lines_ratio: float | None = 0.9
        max_ellipsis_lines_ratio: float | None = 0.3
        min_alpha_words_ratio: float | None = 0.8
        min_stop_words: int | None = 2
        stop_words: tuple[str, ...] = ENGLISH_GOPHER_STOP_WORDS

    def measure(self, batch: pa.Table) -> pa.Table:
        o = self.options
        chars = decode(batch[TEXT])
        languages = row_languages(batch, o)
        words = split_words(chars, languages)
        num_words = words.counts()
        # a "word" made only of punctuation and symbols is not counted as a word
        real = any_char_without(chars, words, SYMBOL)
        num_real = row_sums(words, real)
        real_chars = row_sums(words, np.where(real, words.lengths(), 0))
        mean_length = np.full(len(num_real), np.nan)
        np.divide(real_chars, num_real, out=mean_length, where=num_real > 0)

        ellipses = count_substring(chars, "...") + count_substring(chars, "…")
        lines = split_lines(chars)
        first, _ = edge_chars(chars, strip_spans(chars, lines, right=False))
        bullet = (first == ord("•")) | (first == ord("-"))
        stripped = strip_spans(chars, lines, left=False)
        ellipsis_end = ends_with(chars, stripped, "...") | ends_with(chars, stripped, "…")
        hashes, _ = spans_hashes(chars, words.starts, words.ends)
        stop_words = np.zeros(chars.num_rows, dtype=np.int64)
        for rows, words_list in Thresholds.for_batch(o, languages, chars.num_rows).resolved(
            "stop_words"
        ):
            found = distinct_stop_words(words.row_offsets, hashes, words_list)
            stop_words[rows] = found[rows]
        return with_languages(
            {
                "num_words": num_words,
                "num_real_words": num_real.astype(np.int64),
                "mean_word_length": mean_length,
                "hash_word_ratio": safe_ratio(count_substring(chars, "#"), num_words),
                "ellipsis_word_ratio": safe_ratio(ellipses, num_words),
                "bullet_lines_ratio": safe_ratio(row_sums(lines, bullet), lines.counts()),
                "ellipsis_lines_ratio": safe_ratio(row_sums(lines, ellipsis_end), lines.counts()),
                "alpha_words_ratio": safe_ratio(
                    row_sums(words, any_char_with(chars, words, ALPHA)), num_words
                ),
                "stop_words": stop_words,
            },
            languages,
        )

    def decide(self, metrics: pa.Table) -> Decision:
        t = Thresholds(self.options, metrics)
        m = {name: metrics[name].to_numpy() for name in metrics.column_names if name != "lang"}
        checks: list[tuple[str, np.ndarray]] = []
        if (min_words := t.value("min_words")) is not None:
            checks.append(("too_few_words", m["num_real_words"] < min_words))
        if (max_words := t.value("max_words")) is not None:
            checks.append(("too_many_words", m["num_real_words"] > max_words))
        with np.errstate(invalid="ignore"):
            if (shortest := t.value("min_mean_word_length")) is not None:
                checks.append(("short_words", m["mean_word_length"] < shortest))
            if (longest := t.value("max_mean_word_length")) is not None:
                checks.append(("long_words", m["mean_word_length"] > longest))
            if (symbols := t.value("max_symbol_word_ratio")) is not None:
                checks.append(("hash_ratio", m["hash_word_ratio"] > symbols))
                checks.append(("ellipsis_ratio", m["ellipsis_word_ratio"] > symbols))
            if (bullets := t.value("max_bullet_lines_ratio")) is not None:
                checks.append(("bullet_lines", m["bullet_lines_ratio"] > bullets))
            if (ellipsis_lines := t.value("max_ellipsis_lines_ratio")) is not None:
                checks.append(("ellipsis_lines", m["ellipsis_lines_ratio"] > ellipsis_lines))
            if (alpha := t.value("min_alpha_words_ratio")) is not None:
                checks.append(("non_alpha_words", m["alpha_words_ratio"] < alpha))
            if (stop_words := t.value("min_stop_words")) is not None:
                checks.append(("few_stop_words", m["stop_words"] < stop_words))
        return t.decision(*checks)
