"""Gopher's repetition filter (Rae et al. 2021, table A1) with FineWeb's thresholds."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from textmill.document import TEXT
from textmill.pipeline import Decision, Filter, register
from textmill.stages.filters._language import (
    LanguageOptions,
    Thresholds,
    all_n_grams,
    row_languages,
    with_languages,
)
from textmill.text import (
    decode,
    duplicate_pieces,
    duplicated_ngram_chars,
    spans_hashes,
    split_newline_runs,
    split_words,
    top_ngram_chars,
)
from textmill.text.spans import safe_ratio


@register("gopher_repetition")
class GopherRepetition(Filter):
    """Drops documents made of repeated lines, paragraphs or word n-grams: the signature of
    boilerplate, spam and generated lists. None disables a check (FineWeb-2 turns some off)."""

    class Options(LanguageOptions):  # lang, by_language, fallback: see _language.py
        # methods.md, FineWeb item 4 (Gopher table A1)
        dup_line_frac: float | None = 0.30
        dup_para_frac: float | None = 0.30
        dup_line_char_frac: float | None = 0.20
        dup_para_char_frac: float | None = 0.20
        top_n_grams: dict[int, float] = {2: 0.20, 3: 0.18, 4: 0.16}
        dup_n_grams: dict[int, float] = {5: 0.15, 6: 0.14, 7: 0.13, 8: 0.12, 9: 0.11, 10: 0.10}

    def measure(self, batch: pa.Table) -> pa.Table:
        """Fractions of the text's lines, paragraphs and characters that repeat."""
        o = self.options
        chars = decode(batch[TEXT])
        num_chars = chars.lengths()
        metrics: dict[str, np.ndarray] = {"num_chars": num_chars}

        paragraphs = split_newline_runs(chars, min_run=2, strip=True)
        hashes, _ = spans_hashes(chars, paragraphs.starts, paragraphs.ends)
        dup, dup_chars = duplicate_pieces(paragraphs.row_offsets, hashes, paragraphs.lengths())
        metrics["dup_para_frac"] = safe_ratio(dup, paragraphs.counts())
        metrics["dup_para_char_frac"] = safe_ratio(dup_chars, num_chars)

        lines = split_newline_runs(chars, min_run=1)
        hashes, _ = spans_hashes(chars, lines.starts, lines.ends)
        dup, dup_chars = duplicate_pieces(lines.row_offsets, hashes, lines.lengths())
        metrics["dup_line_frac"] = safe_ratio(dup, lines.counts())
        metrics["dup_line_char_frac"] = safe_ratio(dup_chars, num_chars)

        languages = row_languages(batch, o)
        words = split_words(chars, languages)
        hashes, powers = spans_hashes(chars, words.starts, words.ends)
        lengths = words.lengths()
        for n in all_n_grams(o, "top_n_grams"):
            top = top_ngram_chars(words.row_offsets, hashes, powers, lengths, n)
            metrics[f"top_{n}_gram_char_frac"] = safe_ratio(top, num_chars)
        for n in all_n_grams(o, "dup_n_grams"):
            repeated = duplicated_ngram_chars(words.row_offsets, hashes, powers, lengths, n)
            metrics[f"dup_{n}_gram_char_frac"] = safe_ratio(repeated, num_chars)
        return with_languages(metrics, languages)

    def decide(self, metrics: pa.Table) -> Decision:
        t = Thresholds(self.options, metrics)
        checks: list[tuple[str, np.ndarray]] = [("empty", metrics["num_chars"].to_numpy() == 0)]
        with np.errstate(invalid="ignore"):
            for reason in ("dup_para_frac", "dup_para_char_frac", "dup_line_frac"):
                if (threshold := t.value(reason)) is not None:
                    checks.append((reason, metrics[reason].to_numpy() > threshold))
            if (threshold := t.value("dup_line_char_frac")) is not None:
                checks.append(
                    ("dup_line_char_frac", metrics["dup_line_char_frac"].to_numpy() > threshold)
                )
            for n in all_n_grams(self.options, "top_n_grams"):
                if (threshold := t.n_gram_value("top_n_grams", n)) is not None:
                    fraction = metrics[f"top_{n}_gram_char_frac"].to_numpy()
                    checks.append((f"top_{n}_gram", fraction > threshold))
            for n in all_n_grams(self.options, "dup_n_grams"):
                if (threshold := t.n_gram_value("dup_n_grams", n)) is not None:
                    fraction = metrics[f"dup_{n}_gram_char_frac"].to_numpy()
                    checks.append((f"duplicated_{n}_n_grams", fraction > threshold))
        return t.decision(*checks)
