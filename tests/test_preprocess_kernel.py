"""The one-pass preprocessing kernel gives the reference's bytes (RE2 + NFKD passes) exactly."""

from __future__ import annotations

import random

import numpy as np
import pyarrow as pa
import pytest

from textmill.quality.preprocess import preprocess_texts, reference_preprocess_texts
from textmill.quality.preprocess_kernel import kernel_preprocess

HOSTILE = [
    "Héllo,  WÖRLD!\n\n\n\nÇa va?",
    "ΣΑΣ ς İı ß ẞ ǅ",  # final sigma, dotted I, title case: simple per-code-point lower-casing
    "e\u0301\u0327 a\u0308\u0334 \u0345x",  # combining marks, reordered by NFKD then dropped
    "\n\u0301\n\n x\r\ny\rz\r\r\n\n\n\n",  # a mark splits a newline run the first pass saw whole
    "ﬁ ﬃ ﷺ ㎏ ① ⅷ ½ ² №",  # compatibility decompositions, the longest (U+FDFA) included
    "한국어 각 힣 ᄀ ㄱ",  # Hangul syllables and jamo
    "中文。日本語、ｶﾀｶﾅ ＡＢＣ１２３！？",  # CJK, half- and full-width forms
    "😀👍🏽👨\u200d👩\u200d👧🇫🇷\ufe0f \U000e0041\U000e0100",  # emoji, ZWJ, tags, selectors
    "\x00a\x00 \x0b\x0c\x1c\x1d\x1e\x1f\x85\xa0\u2028\u2029\u3000\u200b\ufeff",
    "\x1c\x0b edge \x85",  # Arrow's trim takes more than RE2's white space
    "\u0628\u064e\u0627\u0628 \u0915\u094d\u0937 \u0e01\u0e48",  # Arabic, Devanagari, Thai marks
    "\u1b05\u1b44\u1b13 \ua953\u0334",  # viramas with a combining class: back to the reference
    # marks newer than RE2's tables (kept as tokens) that utf8proc's NFKD still reorders
    "\u1ad2\u1ae6",
    "\U000f0000 private \U0010fffd \U00050000",  # outside planes 0-3 and 14: the reference
    "",
    "   \t ",
    None,
]


def assert_same(texts, max_chars=None):
    got = preprocess_texts(texts, max_chars)
    want = reference_preprocess_texts(texts, max_chars)
    assert got.type == want.type
    assert got.to_pylist() == want.to_pylist()


@pytest.mark.parametrize("max_chars", [None, 0, 1, 3, 12])
def test_kernel_matches_reference_on_hostile_texts(max_chars):
    assert_same(HOSTILE, max_chars)


def test_kernel_matches_reference_on_random_mixed_scripts():
    rng = random.Random(7)
    pools = [chr(c) for c in range(0x3000)] + [chr(c) for c in range(0xAC00, 0xAC40)]
    pools += list("abc ,.\n\n\r\t\u0301\u0308\U0001f600\ufdfa\u1b44\U000e0020")
    texts = ["".join(rng.choices(pools, k=rng.randint(0, 40))) for _ in range(3000)]
    assert_same(texts)
    assert_same(texts, 9)


def test_kernel_matches_reference_on_every_code_point_of_the_first_planes():
    # each character alone (trim) and between letters (tokens), planes 0 and 1 sampled
    singles = [chr(c) for c in range(0, 0x20000, 3) if not 0xD800 <= c < 0xE000]
    assert_same(singles)
    assert_same(["a" + char + "b" for char in singles])


def test_rows_the_table_cannot_map_go_to_the_reference_and_others_do_not():
    _, fallback = kernel_preprocess(pa.array(["ok", "\u1b05\u1b44", "\U000f0000", None]), None)
    assert fallback.tolist() == [False, True, True, False]


def test_chunked_and_small_string_columns_keep_their_type():
    column = pa.chunked_array([pa.array(["A, b"], pa.string()), pa.array([None, "Ç"], pa.string())])
    assert preprocess_texts(column).type == pa.string()
    assert preprocess_texts(column).to_pylist() == ["a , b", None, "c"]
    assert_same(column)
    assert_same(column, -1)  # a negative limit counts from the end, as the reference does


def test_a_long_row_grows_the_output_buffer():
    # 18 letters per input character; long enough that the row counts its bound
    text = ("\ufdfa,\n" * 60_000) + "end"
    assert_same([text, "x"])


def test_invalid_utf8_raises_as_the_reference_does():
    offsets = pa.py_buffer(np.array([0, 3, 5], dtype=np.int64))
    column = pa.LargeStringArray.from_buffers(2, offsets, pa.py_buffer(b"ab\xffcd"))
    for preprocess in (preprocess_texts, reference_preprocess_texts):
        with pytest.raises(pa.ArrowInvalid, match="Invalid UTF8"):
            preprocess(column)
