"""Language of every page of a volume (`page_langs`, `page_lang_scores`), with the same
fastText identifier as `langid`, so that a multilingual volume (a Latin text with a German
commentary, a bilingual edition) is tagged page by page rather than by its majority language."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from textmill.document import TEXT
from textmill.pipeline import Decision, Mapper, StageOptions, register
from textmill.stages.books._pages import as_list_column, page_table, set_column
from textmill.stages.langid import bundled_lid_model_path, label_to_language, load_lid_model

PAGE_LANGS = "page_langs"
PAGE_LANG_SCORES = "page_lang_scores"
PAGE_LANG_COUNT = "page_lang_count"


@register("page_langid")
class PageLangId(Mapper):
    """Adds the language and score of each page (null for a page under `min_chars` letters or
    scored under `min_score`) and `page_lang_count`, the distinct languages of a volume's pages."""

    class Options(StageOptions):
        model_path: str | None = None  # None: the bundled lid.176.ftz, as langid
        min_chars: int = 50  # shorter pages (a title, a plate caption) get no language
        min_score: float = 0.5  # a page language below this score stays unknown

    def setup(self) -> None:
        self.model()

    def model(self):
        return load_lid_model(self.options.model_path or str(bundled_lid_model_path()))

    def map(self, batch: pa.Table) -> pa.Table:
        o, model = self.options, self.model()
        pages, offsets = page_table(batch[TEXT])
        # fastText reads one line, as in `langid`.
        lines = pc.replace_substring_regex(pages, r"\s+", " ")
        long_enough = pc.greater_equal(
            pc.utf8_length(pc.replace_substring_regex(pages, r"[^\pL]+", "")), o.min_chars
        ).to_numpy(zero_copy_only=False)
        langs: list[str | None] = [None] * len(pages)
        scores = np.zeros(len(pages), dtype=np.float32)
        for index in np.flatnonzero(long_enough):
            labels, probabilities = model.predict(lines[int(index)].as_py(), k=1)
            score = min(float(probabilities[0]), 1.0) if labels else 0.0
            if labels and score >= o.min_score:
                langs[index], scores[index] = label_to_language(labels[0]), score
        identified = np.array([lang is not None for lang in langs], dtype=bool)
        lang_array = pa.array(langs, pa.string())
        counts = [
            len({lang for lang in langs[a:b] if lang})
            for a, b in zip(offsets[:-1], offsets[1:], strict=True)
        ]
        batch = set_column(batch, PAGE_LANGS, as_list_column(lang_array, offsets))
        score_array = pa.array(scores, pa.float32(), mask=~identified)
        batch = set_column(batch, PAGE_LANG_SCORES, as_list_column(score_array, offsets))
        return set_column(batch, PAGE_LANG_COUNT, pa.array(counts, pa.int32()))

    def counters(self, out: pa.Table, decision: Decision | None) -> dict[str, int]:
        counts = out[PAGE_LANG_COUNT].to_numpy()
        identified = pc.sum(pc.is_valid(pc.list_flatten(out[PAGE_LANGS]))).as_py() or 0
        return {
            "pages_identified": int(identified),
            "multilingual_documents": int((counts > 1).sum()),
        }
