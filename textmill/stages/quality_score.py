"""Learned quality (Ultra-FineWeb): a fastText classifier's P(positive) as a column, and a cut.

One model for every row (`model_path`) or one per language (`models: {lang: path}`, chosen by the
`lang` column that `langid` adds); rows whose language has no model keep a null score and are
never dropped. Train a model with `textmill quality train`.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import model_validator

from textmill.document import TEXT
from textmill.pipeline import Decision, Filter, StageOptions, register
from textmill.quality.classifier import QualityModel
from textmill.stages.langid import LANG

QUALITY_SCORE = "quality_score"


@register("quality_score")
class QualityScore(Filter):
    """Adds `quality_score` (float32, P(pos)); drops rows below `threshold` or outside the
    `top_fraction` best of each batch (`low_quality`). With neither option it only scores."""

    class Options(StageOptions):
        model_path: str | None = None  # every row, or rows whose language is not in `models`
        models: dict[str, str] = {}  # {lang: model path}, by the `lang` column
        # Ultra-FineWeb cuts at a score threshold; its value depends on the model and the data,
        # so there is no default: pick it from the held-out metrics or a `textmill verify` run.
        threshold: float | None = None
        # keep the best fraction of each batch: a global top fraction only when batches are
        # random samples of the data (shuffle the input first)
        top_fraction: float | None = None

        @model_validator(mode="after")
        def _check(self) -> QualityScore.Options:
            if self.model_path is None and not self.models:
                raise ValueError("quality_score needs model_path or models")
            if self.top_fraction is not None and not 0 < self.top_fraction <= 1:
                raise ValueError("top_fraction must be in (0, 1]")
            return self

    def setup(self) -> None:
        for path in self._model_paths():
            QualityModel.load(path)

    def _model_paths(self) -> list[str]:
        paths = list(self.options.models.values())
        return paths + ([self.options.model_path] if self.options.model_path else [])

    def measure(self, batch: pa.Table) -> pa.Table:
        """P(pos) per row, each row scored by its language's model (null where none applies)."""
        o = self.options
        scores = np.full(batch.num_rows, np.nan, dtype=np.float32)
        scored = np.zeros(batch.num_rows, dtype=bool)
        texts = batch[TEXT]
        if o.models:
            if LANG not in batch.column_names:
                raise ValueError("quality_score with `models` needs a `lang` column (run langid)")
            langs = batch[LANG]
            for lang, path in sorted(o.models.items()):
                rows = np.flatnonzero(pc.fill_null(pc.equal(langs, lang), False).to_numpy())
                if len(rows):
                    scores[rows] = QualityModel.load(path).score(texts.take(rows))
                    scored[rows] = True
        if o.model_path:
            rows = np.flatnonzero(~scored)
            if len(rows):
                scores[rows] = QualityModel.load(o.model_path).score(texts.take(rows))
                scored[rows] = True
        return pa.table({QUALITY_SCORE: pa.array(scores, pa.float32(), mask=~scored)})

    def decide(self, metrics: pa.Table) -> Decision:
        o = self.options
        scores = metrics[QUALITY_SCORE].to_numpy(zero_copy_only=False)  # null → nan
        low = np.zeros(len(scores), dtype=bool)
        valid = ~np.isnan(scores)
        if o.threshold is not None:
            low |= valid & (scores < o.threshold)
        if o.top_fraction is not None and valid.any():
            # keep the ceil(fraction × scored rows) best; ties go to the earlier row
            valid_rows = np.flatnonzero(valid)
            best_first = valid_rows[np.argsort(-scores[valid_rows], kind="stable")]
            num_keep = int(np.ceil(o.top_fraction * len(valid_rows)))
            low[best_first[num_keep:]] = True
        return Decision.first_failing(("low_quality", low))

    def process(self, batch: pa.Table) -> tuple[pa.Table, Decision]:
        metrics = self.measure(batch)
        if QUALITY_SCORE in batch.column_names:
            batch = batch.drop_columns([QUALITY_SCORE])
        return batch.append_column(QUALITY_SCORE, metrics[QUALITY_SCORE]), self.decide(metrics)
