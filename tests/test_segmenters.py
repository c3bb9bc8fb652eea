"""Word and sentence splitting per language: real segmenters, rules and the n-gram fallback."""

from __future__ import annotations

import logging

import numpy as np
import pyarrow as pa
import pytest

from textmill.text import decode, split_words
from textmill.text import segmenters as seg
from textmill.text.segmenters import dominant_scripts, split_sentences, split_words_ngrams


def pieces(texts, spans):
    chars = decode(pa.array(texts))
    text = chars.codes.astype("<u4").tobytes().decode("utf-32-le")
    offsets = spans.row_offsets
    return [
        [text[a:b] for a, b in zip(spans.starts[s:e], spans.ends[s:e], strict=True)]
        for s, e in zip(offsets[:-1], offsets[1:], strict=True)
    ]


def words(texts, lang):
    return pieces(texts, split_words(decode(pa.array(texts)), lang))


def test_chinese_is_segmented_by_jieba_into_dictionary_words():
    assert words(["我爱北京天安门。"], "zh") == [["我", "爱", "北京", "天安门", "。"]]


def test_japanese_is_segmented_by_sudachi_into_short_units():
    assert words(["東京都に住んでいます。"], "ja") == [
        ["東京", "都", "に", "住ん", "で", "い", "ます", "。"]
    ]


def test_thai_is_segmented_by_pythainlp_and_spaces_are_no_words():
    assert words(["ผมรักภาษาไทย สวัสดีครับ"], "th") == [["ผม", "รัก", "ภาษาไทย", "สวัสดี", "ครับ"]]


def test_korean_words_are_space_separated_eojeol():
    assert words(["안녕하세요 저는 학생입니다."], "ko") == [
        ["안녕하세요", "저는", "학생입니다", "."]
    ]


def test_english_and_arabic_use_the_whitespace_and_punctuation_rules():
    assert words(["It's fine."], "en") == [["It", "'s", "fine", "."]]
    assert words(["مرحبا بالعالم، كيف حالك؟"], "ar") == [
        ["مرحبا", "بالعالم", "،", "كيف", "حالك", "؟"]
    ]


def test_glotlid_style_labels_find_the_language_segmenter():
    assert words(["我爱北京"], "cmn_Hani") == words(["我爱北京"], "zh")


def test_one_language_per_row_splits_each_row_by_its_own_rules():
    texts = ["我爱北京天安门", "Hello world", "東京都に住む"]
    assert words(texts, ["zh", "en", "ja"]) == [
        ["我", "爱", "北京", "天安门"],
        ["Hello", "world"],
        ["東京", "都", "に", "住む"],
    ]


def test_scripts_without_a_segmenter_fall_back_to_character_ngrams():
    # Lao: no segmenter; runs are cut into 3-character pieces, words elsewhere stay whole
    assert words(["ສະບາຍດີ ok"], "lo") == [["ສະບ", "າຍດີ", "ok"]]
    assert pieces(["天安门广场"], split_words_ngrams(decode(pa.array(["天安门广场"])))) == [
        ["天安", "门广", "场"]
    ]


def test_combining_marks_stay_with_their_base_in_ngrams():
    got = pieces(["สวัสดี"], split_words_ngrams(decode(pa.array(["สวัสดี"]))))[0]
    assert "".join(got) == "สวัสดี"
    assert all(not ("\u0e31" <= w[0] <= "\u0e3a" or "\u0e47" <= w[0] <= "\u0e4e") for w in got)


def test_unknown_language_in_a_no_space_script_gets_ngrams_not_one_giant_word():
    assert len(words(["天安门广场很大"], "xx")[0]) == 4
    assert words(["Guten Tag, Welt"], "de") == [["Guten", "Tag", ",", "Welt"]]


def test_dominant_script_names_japanese_and_korean_mixtures():
    texts = ["東京都に住む", "漢字だけ", "我爱北京", "한국어 文字", "Привет", "", "123"]
    assert dominant_scripts(decode(pa.array(texts))) == [
        "Jpan", "Jpan", "Hani", "Kore", "Cyrl", None, None
    ]  # fmt: skip


def test_sentences_end_at_full_width_marks_and_at_spaces_in_thai():
    chars = decode(pa.array(["今天很好。我们走吧！", "Hi there. Bye now."]))
    assert pieces(["今天很好。我们走吧！", "Hi there. Bye now."], split_sentences(chars, "zh")) == [
        ["今天很好。", "我们走吧！"],
        ["Hi there.", "Bye now."],
    ]
    thai = decode(pa.array(["สวัสดีครับ ผมชื่อสมชาย"]))
    assert split_sentences(thai, "th").counts().tolist() == [2]


def test_long_documents_are_segmented_in_chunks_without_losing_text():
    text = ("我爱北京天安门。\n" * 3000)[:-1]
    got = split_words(decode(pa.array([text])), "zh")
    assert got.counts()[0] == 3000 * 5
    assert int(np.sum(got.ends - got.starts)) == 3000 * 8


def test_a_missing_segmenter_warns_and_falls_back_to_ngrams(monkeypatch, caplog):
    def broken():
        raise ImportError("No module named 'jieba'")

    monkeypatch.setitem(seg.SEGMENTERS, "jieba", (broken, "jieba"))
    seg.load_segmenter.cache_clear()
    seg._warn_fallback.cache_clear()
    try:
        with caplog.at_level(logging.WARNING, logger="textmill"):
            got = words(["天安门广场"], "zh")
        assert got == [["天安", "门广", "场"]]
        assert "pip install jieba" in caplog.text
        with pytest.raises(seg.SegmenterUnavailable, match="textmill\\[languages\\]"):
            seg.load_segmenter("jieba")
    finally:
        seg.load_segmenter.cache_clear()
        seg._warn_fallback.cache_clear()
