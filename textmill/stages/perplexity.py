"""CCNet perplexity under a user's KenLM model, and head/middle/tail buckets per language.

The cutoffs come from the options or a JSON file ({lang: [head, tail]}, `"*"` for any language),
computed once on a sample with `textmill.quality.perplexity.perplexity_cutoffs` (cc_net's 30th
and 60th percentiles): a per-batch percentile would depend on how the input was batched.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import model_validator

from textmill.document import TEXT
from textmill.pipeline import Decision, Filter, StageHalt, StageOptions, register
from textmill.quality.perplexity import (
    assign_buckets,
    document_perplexity,
    load_cutoffs,
    load_kenlm,
    normalize_for_lm,
)
from textmill.stages.langid import LANG

PERPLEXITY = "perplexity"
PERPLEXITY_BUCKET = "perplexity_bucket"


@register("perplexity")
class Perplexity(Filter):
    """Adds `perplexity` (float64) and `perplexity_bucket`; drops rows whose bucket is not in
    `keep_buckets` (`perplexity_bucket`) when that option is set. Rows without a bucket stay."""

    class Options(StageOptions):
        model_path: str | None = None  # ARPA or KenLM binary; every row, or languages not in models
        models: dict[str, str] = {}  # {lang: model path}, by the `lang` column
        normalize: bool = True  # cc_net normalises before scoring (lower, accents, digits)
        cutoffs: dict[str, tuple[float, float]] = {}
        cutoffs_path: str | None = None
        keep_buckets: list[str] | None = None  # e.g. ["head", "middle"]; None: keep all

        @model_validator(mode="after")
        def _check(self) -> Perplexity.Options:
            if self.model_path is None and not self.models:
                raise ValueError("perplexity needs model_path or models")
            return self

    def setup(self) -> None:
        for path in [*self.options.models.values(), self.options.model_path]:
            if path:
                load_kenlm(path)

    def _cutoffs(self) -> dict[str, tuple[float, float]]:
        cutoffs = load_cutoffs(self.options.cutoffs_path) if self.options.cutoffs_path else {}
        return {**cutoffs, **self.options.cutoffs}

    def measure(self, batch: pa.Table) -> pa.Table:
        o = self.options
        texts = normalize_for_lm(batch[TEXT]) if o.normalize else batch[TEXT]
        texts = texts.to_pylist()
        langs = batch[LANG].to_pylist() if LANG in batch.column_names else None
        if o.models and langs is None:
            raise StageHalt("perplexity with `models` needs a `lang` column: run langid first")
        perplexity = np.full(len(texts), np.nan)
        for row, text in enumerate(texts):
            path = o.models.get(langs[row], o.model_path) if langs else o.model_path
            if path:
                perplexity[row] = document_perplexity([text], load_kenlm(path))[0]
        return pa.table(
            {
                PERPLEXITY: pa.array(perplexity, pa.float64(), mask=np.isnan(perplexity)),
                PERPLEXITY_BUCKET: assign_buckets(perplexity, langs, self._cutoffs()),
            }
        )

    def decide(self, metrics: pa.Table) -> Decision:
        if self.options.keep_buckets is None:
            return Decision.keep_all(metrics.num_rows)
        buckets = metrics[PERPLEXITY_BUCKET]
        unwanted = pc.invert(pc.is_in(buckets, pa.array(self.options.keep_buckets, pa.string())))
        unwanted = pc.and_(pc.is_valid(buckets), unwanted)
        return Decision.first_failing(("perplexity_bucket", unwanted))

    def process(self, batch: pa.Table) -> tuple[pa.Table, Decision]:
        metrics = self.measure(batch)
        for name in metrics.column_names:
            if name in batch.column_names:
                batch = batch.drop_columns([name])
            batch = batch.append_column(name, metrics[name])
        return batch, self.decide(metrics)
