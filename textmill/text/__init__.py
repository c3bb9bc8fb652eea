"""Shared text kernels: whole-column numba code over the code points of the text column.

Every filter measures through these, so a rule such as "what is a word" lives in one place.
"""

from textmill.text.columns import Chars, decode, encode
from textmill.text.hashing import DEFAULT_SEED, spans_hashes, string_hash
from textmill.text.lines import Spans, count_substring, split_lines, split_newline_runs, strip_spans
from textmill.text.repetition import duplicate_pieces, duplicated_ngram_chars, top_ngram_chars
from textmill.text.stopwords import ENGLISH_GOPHER_STOP_WORDS, distinct_stop_words
from textmill.text.words import WORD_SPLITTERS, count_sentences, split_words

__all__ = [
    "DEFAULT_SEED",
    "ENGLISH_GOPHER_STOP_WORDS",
    "WORD_SPLITTERS",
    "Chars",
    "Spans",
    "count_sentences",
    "count_substring",
    "decode",
    "distinct_stop_words",
    "duplicate_pieces",
    "duplicated_ngram_chars",
    "encode",
    "spans_hashes",
    "split_lines",
    "split_newline_runs",
    "split_words",
    "string_hash",
    "strip_spans",
    "top_ngram_chars",
]
