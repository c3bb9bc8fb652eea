"""Readability as a column, for curricula (`textmill order --by readability_grade`).

`readability_grade` is the Flesch-Kincaid grade level (higher: harder; ascending order is
easy -> hard) and `flesch_reading_ease` the Flesch reading ease (higher: easier), both from
`textstat`, whose syllable counts come from the CMU pronouncing dictionary and Pyphen's
hyphenation patterns shipped in their packages (nothing is downloaded). Both formulas were fitted
on English: rows whose `lang` column names another language get nulls (set `languages` to
score others anyway); blank texts get nulls.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field

from textmill.document import TEXT
from textmill.pipeline import Mapper, StageOptions, register
from textmill.stages.langid import LANG

READABILITY_GRADE = "readability_grade"
FLESCH_READING_EASE = "flesch_reading_ease"


def _textstat():
    try:
        import textstat
    except ImportError as error:
        raise ImportError(
            "readability needs textstat: pip install 'textmill[readability]'"
        ) from error
    return textstat


@register("readability")
class Readability(Mapper):
    """Adds `readability_grade` (Flesch-Kincaid grade) and `flesch_reading_ease` (float32)."""

    class Options(StageOptions):
        languages: list[str] | None = Field(
            ["en"],
            description="languages graded, by the `lang` column (rows in others get "
            "nulls; without the column every row is graded); None: all",
        )

    def setup(self) -> None:
        _textstat()

    def map(self, batch: pa.Table) -> pa.Table:
        textstat = _textstat()
        texts = batch[TEXT]
        wanted = pc.fill_null(pc.greater(pc.utf8_length(pc.utf8_trim_whitespace(texts)), 0), False)
        if self.options.languages is not None and LANG in batch.column_names:
            in_language = pc.is_in(batch[LANG], pa.array(self.options.languages, pa.string()))
            wanted = pc.and_(wanted, pc.fill_null(in_language, True))  # no lang: scored
        rows = np.flatnonzero(wanted.to_numpy(zero_copy_only=False))
        grade = np.full(batch.num_rows, np.nan, dtype=np.float32)
        ease = np.full(batch.num_rows, np.nan, dtype=np.float32)
        for row, text in zip(rows, texts.take(rows).to_pylist(), strict=True):
            grade[row] = textstat.flesch_kincaid_grade(text)
            ease[row] = textstat.flesch_reading_ease(text)
        mask = np.isnan(grade)
        for name in (READABILITY_GRADE, FLESCH_READING_EASE):
            if name in batch.column_names:
                batch = batch.drop_columns([name])
        batch = batch.append_column(READABILITY_GRADE, pa.array(grade, pa.float32(), mask=mask))
        return batch.append_column(FLESCH_READING_EASE, pa.array(ease, pa.float32(), mask=mask))
