"""Learned quality (Ultra-FineWeb): a fastText classifier's P(positive) as a column, and a cut.

One model for every row (`model_path`) or one per language (`models: {lang: path}`, chosen by the
`lang` column that `langid` adds); rows whose language has no model keep a null score and are
never dropped. Train a model with `textmill quality train`.

`top_fraction` is a cut over the whole run, so what it keeps cannot depend on batch size, workers
or executor: a global stage whose map phase scores every document (the signatures: id and
score), whose reduce finds the score of the ceil(fraction × scored documents)-th best document of
the run, and whose apply keeps every document scoring at least that. Ties at the cut are all
kept (the same score gets the same verdict, so identical texts share it): the kept share is
ceil(fraction × n) / n, plus any documents tied with the last one kept.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from pydantic import model_validator

from textmill.document import ID, KEY, TEXT
from textmill.pipeline import (
    Decision,
    GlobalStage,
    StageHalt,
    StageOptions,
    apply_decisions,
    register,
)
from textmill.quality.classifier import QualityModel
from textmill.stages.langid import LANG

QUALITY_SCORE = "quality_score"


LOW_QUALITY = "low_quality"


def top_fraction_cut(scores: np.ndarray, fraction: float) -> float:
    """The lowest score `fraction` of the scored (non-NaN) rows keep: the ceil(fraction × n)-th
    best score (-inf with nothing scored)."""
    scored = np.sort(scores[~np.isnan(scores)])[::-1]
    if len(scored) == 0:
        return -math.inf
    return float(scored[math.ceil(fraction * len(scored) - 1e-9) - 1])


@register("quality_score")
class QualityScore(GlobalStage):
    """Adds `quality_score` (float32, P(pos)); drops rows below `threshold` or outside the
    `top_fraction` best of the whole run (`low_quality`). With neither option it only scores."""

    class Options(StageOptions):
        model_path: str | None = None  # every row, or rows whose language is not in `models`
        models: dict[str, str] = {}  # {lang: model path}, by the `lang` column
        # Ultra-FineWeb cuts at a score threshold; its value depends on the model and the data,
        # so there is no default: pick it from the held-out metrics or a `textmill verify` run.
        threshold: float | None = None
        # keep the best fraction of the run's scored documents (ties at the cut all kept)
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
                raise StageHalt(
                    "quality_score with `models` needs a `lang` column: run langid first"
                )
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

    def signatures(self, batch: pa.Table) -> pa.Table:
        """Map phase: every document's score (the apply adds it from the decisions)."""
        scores = self.measure(batch)[QUALITY_SCORE]
        return pa.table({KEY: batch[KEY], ID: batch[ID], QUALITY_SCORE: scores})

    def reduce(self, signature_files: Sequence[Path], workdir: Path) -> pa.Table:
        """Every document's score and verdict: below `threshold`, or under the run's cut."""
        schema = pa.schema(
            [pa.field(KEY, pa.int64()), pa.field(ID, pa.string()),
             pa.field("reason", pa.string()), pa.field(QUALITY_SCORE, pa.float32())]
        )  # fmt: skip
        if not signature_files:
            return schema.empty_table()
        table = pa.concat_tables(pq.read_table(path) for path in signature_files)
        low = self.low(table[QUALITY_SCORE].to_numpy(zero_copy_only=False))  # null → nan
        reasons = pa.array(np.where(low, LOW_QUALITY, None), pa.string())
        return pa.table([table[KEY], table[ID], reasons, table[QUALITY_SCORE]], schema=schema)

    def low(self, scores: np.ndarray) -> np.ndarray:
        """Which scores fail: under `threshold` or under the `top_fraction` cut (NaN never)."""
        o = self.options
        scores = np.asarray(scores, dtype=np.float64)
        valid = ~np.isnan(scores)
        low = np.zeros(len(scores), dtype=bool)
        if o.threshold is not None:
            low |= valid & (scores < o.threshold)
        if o.top_fraction is not None:
            low |= valid & (scores < top_fraction_cut(scores, o.top_fraction))
        return low

    def apply(self, batch: pa.Table, decisions: pa.Table) -> tuple[pa.Table, Decision]:
        if QUALITY_SCORE in batch.column_names:  # a rescoring replaces an earlier score
            batch = batch.drop_columns([QUALITY_SCORE])
        return apply_decisions(batch, decisions)
