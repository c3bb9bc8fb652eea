"""OCR quality per page and per document, and a filter on it.

Three signals that need no model (Institutional Books' own scoring is not published; methods.md):
- `ocr_word_share`: the share of tokens (space-separated; each Han or kana character its own
  token) that read as words: letters (one apostrophe or hyphen
  inside allowed) or a number, with no lower-to-upper case switch inside ("tbe" and "Thc" pass,
  "Н2К", "dEr" and "vn?é" do not); where a word list for the document's language is given, a
  word must also be in it (numbers excepted).
- `ocr_garbage_share`: the share of non-space characters that are garbage: symbols text rarely
  holds (anything but letters, digits and common punctuation) and runs of three or more
  non-alphanumerics ("+<3", "—.}").
- `ocr_confidence`: the OCR engine's mean word confidence (hOCR x_wconf / ALTO WC), from the
  reader's `page_word_confidence` metadata, where there is one.
`ocr_quality` = word share × (1 − garbage share) × confidence (1 where absent); the same per page
in `page_ocr_quality` (null for a page without tokens). All of it on whole columns of pages.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from textmill.document import TEXT
from textmill.pipeline import Decision, Filter, StageOptions, register
from textmill.stages.books._pages import as_list_column, metadata_records, page_table, set_column

OCR_QUALITY = "ocr_quality"
PAGE_OCR_QUALITY = "page_ocr_quality"
WORD_SHARE = "ocr_word_share"
GARBAGE_SHARE = "ocr_garbage_share"
CONFIDENCE = "ocr_confidence"

_EDGE_PUNCTUATION = r"^\pP+|\pP+$"
_WORD_LIKE = r"^(?:[\pL\pM]+(?:['’\-][\pL\pM]+)*|\pN+(?:[.,:/]\pN+)*)$"
_CASE_SWITCH = r"\p{Ll}\p{Lu}"
_NUMBER = r"^\pN+(?:[.,:/]\pN+)*$"
# CJK punctuation (U+3000-303F: "、。「」〈〉…") and full-width forms (U+FF01-FF0F, FF1A-FF20,
# FF3B-FF40, FF5B-FF65: "，：（）！？") are a Chinese or Japanese text's common punctuation.
_CJK_PUNCTUATION = "\u3000-\u303f\uff01-\uff0f\uff1a-\uff20\uff3b-\uff40\uff5b-\uff65"
# Tokens: split at spaces and at CJK punctuation (CJK text puts no space between sentences).
_TOKEN_BREAK = rf"[\s{_CJK_PUNCTUATION}]+"
# Chinese and Japanese write no spaces between words: each Han, kana or CJK-compatibility
# character is a token of its own (scoring by characters), so a clause is not one long "word"
# that one stray digit or symbol fails whole. Hangul is left to spaces (Korean spaces words).
_CJK_CHARACTER = r"([\p{Han}\p{Hiragana}\p{Katakana}\x{30FC}\x{3005}\x{F900}-\x{FAFF}])"
_GARBAGE = (
    rf"[^\pL\pM\pN\s{_CJK_PUNCTUATION}]{{3,}}"
    rf"|[^\pL\pM\pN\s.,;:!?'\"’‘“”„«»‹›()\[\]\-‐–—/&%§*{_CJK_PUNCTUATION}]"
)


def _per_page(values: np.ndarray, page_of: np.ndarray, pages: int) -> np.ndarray:
    return np.bincount(page_of, weights=values, minlength=pages)


def _per_row(page_values: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    sums = np.add.reduceat(np.append(page_values, 0.0), offsets[:-1]) if len(offsets) > 1 else []
    sums = np.asarray(sums, dtype=np.float64)
    return np.where(np.diff(offsets) > 0, sums, 0.0)


@register("ocr_quality")
class OcrQuality(Filter):
    """Adds `ocr_quality` (and its parts, and `page_ocr_quality`); drops documents under
    `min_quality` (`low_ocr_quality`) when it is set. A document without tokens has a null
    quality and is kept (a null metric fails no check): emptiness is other filters' business."""

    class Options(StageOptions):
        min_quality: float | None = None  # None: measure and tag only
        word_lists: dict[str, str] = {}  # language → word list (one word a line)
        lang_column: str = "lang"

    def setup(self) -> None:
        self._word_lists = {
            lang: pa.array(
                sorted(
                    {
                        line.strip().lower()
                        for line in Path(path).read_text(encoding="utf-8").splitlines()
                        if line.strip()
                    }
                ),
                pa.string(),
            )
            for lang, path in self.options.word_lists.items()
        }

    def in_word_lists(self, batch: pa.Table, tokens: pa.Array, row_of: np.ndarray) -> np.ndarray:
        """True for tokens that a word list accepts, or whose document has no word list."""
        if not self.options.word_lists:
            return np.ones(len(tokens), dtype=bool)
        if not hasattr(self, "_word_lists"):
            self.setup()
        column = self.options.lang_column
        langs = batch[column].to_pylist() if column in batch.column_names else [None] * len(batch)
        accepted = np.ones(len(tokens), dtype=bool)
        lowered = pc.utf8_lower(tokens)
        numbers = pc.match_substring_regex(tokens, _NUMBER).to_numpy(zero_copy_only=False)
        for lang, words in self._word_lists.items():
            rows = np.array([value == lang for value in langs], dtype=bool)
            mine = rows[row_of]
            if mine.any():
                known = pc.is_in(lowered, value_set=words).to_numpy(zero_copy_only=False)
                accepted[mine] = (known | numbers)[mine]
        return accepted

    def measure(self, batch: pa.Table) -> pa.Table:
        pages, offsets = page_table(batch[TEXT])
        n_pages, n_rows = len(pages), batch.num_rows
        page_row = np.repeat(np.arange(n_rows), np.diff(offsets))
        spaced = pc.replace_substring_regex(pages, _CJK_CHARACTER, r" \1 ")
        split = pc.split_pattern_regex(spaced, _TOKEN_BREAK)
        tokens = pc.replace_substring_regex(split.flatten(), _EDGE_PUNCTUATION, "")
        token_page = pc.list_parent_indices(split).to_numpy()
        present = pc.greater(pc.utf8_length(tokens), 0).to_numpy(zero_copy_only=False)
        word_like = pc.and_(
            pc.match_substring_regex(tokens, _WORD_LIKE),
            pc.invert(pc.match_substring_regex(tokens, _CASE_SWITCH)),
        ).to_numpy(zero_copy_only=False)
        good = word_like & self.in_word_lists(batch, tokens, page_row[token_page])
        page_tokens = _per_page(present.astype(float), token_page, n_pages)
        page_words = _per_page((good & present).astype(float), token_page, n_pages)
        solid = pc.replace_substring_regex(pages, r"\s+", "")
        page_chars = pc.utf8_length(solid).to_numpy().astype(float)
        clean = pc.replace_substring_regex(solid, _GARBAGE, "")
        page_garbage = page_chars - pc.utf8_length(clean).to_numpy()

        page_conf = np.full(n_pages, np.nan)
        for row, record in enumerate(metadata_records(batch)):
            values = record.get("page_word_confidence")
            if isinstance(values, list) and len(values) == offsets[row + 1] - offsets[row]:
                page_conf[offsets[row] : offsets[row + 1]] = [
                    float(v) if isinstance(v, (int, float)) and 0 <= v <= 1 else np.nan
                    for v in values  # outside [0, 1] (a 0-100 percentage): not a confidence
                ]

        with np.errstate(invalid="ignore", divide="ignore"):
            page_quality = (
                page_words
                / page_tokens
                * (1 - page_garbage / np.maximum(page_chars, 1))
                * np.where(np.isnan(page_conf), 1.0, page_conf)
            )
            row_tokens, row_words = _per_row(page_tokens, offsets), _per_row(page_words, offsets)
            row_chars = _per_row(page_chars, offsets)
            word_share = row_words / row_tokens
            garbage_share = _per_row(page_garbage, offsets) / np.maximum(row_chars, 1)
            confidence = np.array(
                [
                    np.nanmean(page_conf[a:b]) if np.isfinite(page_conf[a:b]).any() else np.nan
                    for a, b in zip(offsets[:-1], offsets[1:], strict=True)
                ]
            )
        quality = word_share * (1 - garbage_share) * np.where(np.isnan(confidence), 1, confidence)
        no_tokens = row_tokens == 0

        def column(values: np.ndarray, mask: np.ndarray) -> pa.Array:
            return pa.array(values.astype(np.float32), pa.float32(), mask=mask)

        return pa.table(
            {
                OCR_QUALITY: column(quality, no_tokens),
                PAGE_OCR_QUALITY: as_list_column(column(page_quality, page_tokens == 0), offsets),
                WORD_SHARE: column(word_share, no_tokens),
                GARBAGE_SHARE: column(garbage_share, row_chars == 0),
                CONFIDENCE: column(confidence, np.isnan(confidence)),
            }
        )

    def decide(self, metrics: pa.Table) -> Decision:
        if self.options.min_quality is None:
            return Decision.keep_all(metrics.num_rows)
        low = pc.less(metrics[OCR_QUALITY], self.options.min_quality)
        return Decision.first_failing(("low_ocr_quality", low), num_rows=metrics.num_rows)

    def process(self, batch: pa.Table) -> tuple[pa.Table, Decision]:
        metrics = self.measure(batch)
        for name in metrics.column_names:
            batch = set_column(batch, name, metrics[name])
        return batch, self.decide(metrics)

    def counters(self, out: pa.Table, decision: Decision | None) -> dict[str, int]:
        scored = pc.sum(pc.is_valid(out[OCR_QUALITY])).as_py() or 0
        pages = pc.list_flatten(out[PAGE_OCR_QUALITY])
        return {
            "documents_scored": int(scored),
            "pages_scored": int(pc.sum(pc.is_valid(pages)).as_py() or 0),
            "documents_with_confidence": int(pc.sum(pc.is_valid(out[CONFIDENCE])).as_py() or 0),
        }
