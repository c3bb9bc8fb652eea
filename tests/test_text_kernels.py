import re

import numpy as np
import pyarrow as pa
import pytest

from textmill.text import (
    count_sentences,
    count_substring,
    decode,
    distinct_stop_words,
    duplicate_pieces,
    duplicated_ngram_chars,
    encode,
    spans_hashes,
    split_lines,
    split_newline_runs,
    split_words,
    strip_spans,
    top_ngram_chars,
)

MIXED = "Ça coûte 5 € à Zürich — 東京で会いましょう。 I ❤ emoji 😀! naïve café"


def chars_of(*texts):
    return decode(pa.array(list(texts), pa.large_string()))


def pieces(chars, spans, row=0):
    a, b = spans.row_offsets[row], spans.row_offsets[row + 1]
    return [
        "".join(map(chr, chars.codes[s:e]))
        for s, e in zip(spans.starts[a:b], spans.ends[a:b], strict=True)
    ]


def words_of(text):
    chars = chars_of(text)
    return pieces(chars, split_words(chars))


def test_decode_counts_characters_like_python_len_and_encode_round_trips():
    texts = [MIXED, "", None, "plain ascii", "\u2028line\u2029sep"]
    chars = decode(pa.array(texts, pa.large_string()))
    assert chars.lengths().tolist() == [len(t or "") for t in texts]
    assert chars.valid.tolist() == [True, True, False, True, True]
    assert encode(chars).to_pylist() == texts


def test_decode_reads_a_sliced_chunked_column():
    column = pa.chunked_array([pa.array(["ab", "cd"]), pa.array(["é", "東京"])])
    chars = decode(column.slice(1, 3))
    assert encode(chars).to_pylist() == ["cd", "é", "東京"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Hello, world!", ["Hello", ",", "world", "!"]),
        ("I don't know.", ["I", "do", "n't", "know", "."]),
        ("It's Mr. Smith's car", ["It", "'s", "Mr.", "Smith", "'s", "car"]),
        ("(see the U.S. e.g. here)", ["(", "see", "the", "U.S.", "e.g.", "here", ")"]),
        (
            "It ran 10km at 3.5% for $20",
            ["It", "ran", "10", "km", "at", "3.5", "%", "for", "$", "20"],
        ),
        ("well-known x/y 1-2", ["well", "-", "known", "x", "/", "y", "1", "-", "2"]),
        ("see https://a.org/b-c?d=1 now", ["see", "https://a.org/b-c?d=1", "now"]),
        ("wait... what?!", ["wait", "...", "what", "?", "!"]),
        ("cannot gonna", ["can", "not", "gon", "na"]),
    ],
)
def test_english_words_follow_the_spacy_like_rules(text, expected):
    assert words_of(text) == expected


def test_words_of_non_ascii_text_split_on_spaces_and_detach_symbols():
    words = words_of(MIXED)
    assert words[:4] == ["Ça", "coûte", "5", "€"]
    assert "東京で会いましょう" in words and "。" in words
    assert "❤" in words and "😀" in words and "naïve" in words


def test_words_of_empty_and_null_rows_are_empty():
    chars = decode(pa.array(["", None, "  \n ", "one"], pa.large_string()))
    assert split_words(chars).counts().tolist() == [0, 0, 0, 1]


def test_word_splitter_takes_a_language_and_falls_back_to_the_default_rules():
    chars = chars_of("Guten Tag, Welt")
    assert pieces(chars, split_words(chars, lang="de")) == ["Guten", "Tag", ",", "Welt"]


@pytest.mark.parametrize(
    "text", ["a\nb", "a\r\nb\rc", "x\n", "\n\ny\n\n", "", "p\u2028q\x0cr\x85s", "solo"]
)
def test_split_lines_matches_str_splitlines(text):
    chars = chars_of(text)
    assert pieces(chars, split_lines(chars)) == text.splitlines()


@pytest.mark.parametrize("text", ["a\nb\n\nc", "\nlead", "trail\n\n\n", "", "x\n\n\n\ny z\n"])
def test_split_newline_runs_matches_re_split(text):
    chars = chars_of(text)
    assert pieces(chars, split_newline_runs(chars)) == re.split("\n+", text)
    assert pieces(chars, split_newline_runs(chars, 2, strip=True)) == re.split(
        "\n{2,}", text.strip()
    )


def test_strip_spans_and_count_substring_match_python():
    chars = chars_of("  a b  \n\t c ... …. .....")
    lines = split_lines(chars)
    assert pieces(chars, strip_spans(chars, lines)) == ["a b", "c ... …. ....."]
    assert pieces(chars, strip_spans(chars, lines, right=False)) == ["a b  ", "c ... …. ....."]
    text = "  a b  \n\t c ... …. ....."
    assert count_substring(chars, "...").tolist() == [text.count("...")]
    assert count_substring(chars, "…").tolist() == [1]


def _reference_top(words, n):
    grams = [" ".join(words[i : i + n]) for i in range(len(words) - n + 1)]
    if not grams:
        return 0
    counts = {}
    for gram in grams:
        counts[gram] = counts.get(gram, 0) + 1
    best = max(counts, key=counts.get)  # first seen wins ties
    return len(best) * counts[best]


def _reference_repeated(words, n):
    seen, repeated, i = set(), 0, 0
    while i < len(words) - n + 1:
        gram = "".join(words[i : i + n])
        if gram in seen:
            repeated += len(gram)
            i += n
        else:
            seen.add(gram)
            i += 1
    return repeated


def test_ngram_repetition_kernels_match_a_direct_python_count():
    texts = [
        "a b c a b c a b c d",
        "the cat sat on the mat and the cat sat on the hat",
        "one two",
        "",
        "x y x y x y x y x y x y z",
    ]
    chars = chars_of(*texts)
    words = split_words(chars)
    hashes, powers = spans_hashes(chars, words.starts, words.ends)
    lengths = words.lengths()
    for n in (2, 3, 4, 5):
        top = top_ngram_chars(words.row_offsets, hashes, powers, lengths, n)
        repeated = duplicated_ngram_chars(words.row_offsets, hashes, powers, lengths, n)
        assert top.tolist() == [_reference_top(t.split(), n) for t in texts]
        assert repeated.tolist() == [_reference_repeated(t.split(), n) for t in texts]


def test_duplicate_pieces_counts_repeats_after_the_first_occurrence():
    chars = chars_of("a\nbb\na\nbb\nbb\nc", "")
    lines = split_newline_runs(chars)
    hashes, _ = spans_hashes(chars, lines.starts, lines.ends)
    count, dup_chars = duplicate_pieces(lines.row_offsets, hashes, lines.lengths())
    assert count.tolist() == [3, 0]
    assert dup_chars.tolist() == [1 + 2 + 2, 0]


def test_distinct_stop_words_is_case_sensitive_and_counts_each_word_once():
    chars = chars_of("the cat and the dog", "The And", "of to be with have that")
    words = split_words(chars)
    hashes, _ = spans_hashes(chars, words.starts, words.ends)
    stop = ("the", "be", "to", "of", "and", "that", "have", "with")
    assert distinct_stop_words(words.row_offsets, hashes, stop).tolist() == [2, 0, 6]


def test_count_sentences_starts_a_sentence_after_each_final_mark():
    chars = chars_of("Hello there. This is it! And Mr. Smith went. ok", "no mark at all", "")
    rows = split_newline_runs(chars)
    assert count_sentences(chars, rows).tolist() == [4, 1, 1]


def test_kernels_survive_arbitrary_unicode():
    rng = np.random.default_rng(7)
    alphabet = list("ab .,-'\n") + [
        chr(c) for c in (0xE9, 0x6771, 0x1F600, 0x2028, 0x300, 0x10FFFF)
    ]
    texts = ["".join(rng.choice(alphabet, size=int(rng.integers(0, 60)))) for _ in range(50)]
    chars = chars_of(*texts)
    words = split_words(chars)
    assert np.all(words.ends > words.starts)
    assert count_sentences(chars, split_lines(chars)).min() >= 1
