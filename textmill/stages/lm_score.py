"""Small-LM scores: each document's loss under a small causal LM, and selections on it.

The model is a folder `textmill lm train` wrote (the verify GPT trained on a reference corpus)
or a user's Hugging Face causal LM folder (textmill/train/lm.py). Every document gets
`lm_loss` (mean token cross-entropy, nats), `lm_loss_p90` (its 90th-percentile token loss: a
few unpredictable tokens inside easy text), `lm_tokens` (tokens scored, at most `max_tokens`)
and `lm_ood` (true where its `lang` column names a language the model was not trained on; null
where the row has no language or the model's languages are unknown).

Selections cut over the whole run, so what they keep cannot depend on batching or executor
(the mechanism of `quality_score`'s `top_fraction`: the map phase scores, the reduce sees every
score and decides, the apply drops): `keep: low | middle | high` keeps that `fraction` of the
scored documents by loss (perplexity-based pruning with a small reference model: Marion et al.
2023 keep the middle, Ankner et al. 2024 the high or middle band), and `keep: hard` keeps
the `fraction` with the highest loss that are not junk ("informative and hard": high small-LM
loss but not noise). Junk is what the quality classifier calls junk where a `quality_score`
column is there (score below `min_quality`, put `quality_score` before `lm_score`), else the
`noise_tail` share of highest losses. Out-of-distribution rows are left out of the cuts and
kept (`ood: keep`) or dropped (`ood: drop`, reason `lm_out_of_distribution`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from pydantic import Field

from textmill.document import ID, KEY, METADATA, TEXT
from textmill.pipeline import Decision, GlobalStage, StageOptions, apply_decisions, register
from textmill.stages.langid import LANG
from textmill.stages.quality_score import QUALITY_SCORE

LM_LOSS = "lm_loss"
LM_LOSS_P90 = "lm_loss_p90"
LM_TOKENS = "lm_tokens"
LM_OOD = "lm_ood"
LM_COLUMNS = (LM_LOSS, LM_LOSS_P90, LM_TOKENS, LM_OOD)
SCORES_SCHEMA = pa.schema(
    [(LM_LOSS, pa.float32()), (LM_LOSS_P90, pa.float32()), (LM_TOKENS, pa.int32()),
     (LM_OOD, pa.bool_())]
)  # fmt: skip
OUT_OF_BAND = "lm_band"
NOISE = "lm_noise"
OUT_OF_DISTRIBUTION = "lm_out_of_distribution"


def band_mask(losses: np.ndarray, judged: np.ndarray, keep: str, fraction: float) -> np.ndarray:
    """Which judged rows fall in the kept band: `fraction` of them by rank (ceil, ties at the
    cut all kept) at the low or high end, or centred (`middle`)."""
    values = np.sort(losses[judged])
    inside = np.zeros(len(losses), dtype=bool)
    n = len(values)
    if n == 0:
        return inside
    count = max(1, math.ceil(fraction * n - 1e-9))
    if keep == "low":
        low, high = -np.inf, values[count - 1]
    elif keep == "high":
        low, high = values[n - count], np.inf
    else:  # middle: drop the same number from each end
        drop = (n - count) // 2
        low, high = values[drop], values[drop + count - 1]
    inside[judged] = (losses[judged] >= low) & (losses[judged] <= high)
    return inside


@register("lm_score")
class LmScore(GlobalStage):
    """Adds `lm_loss`, `lm_loss_p90`, `lm_tokens`, `lm_ood`; with `keep` drops the rows
    outside the run's band (`lm_band`) or, for `hard`, the junk (`lm_noise`)."""

    class Options(StageOptions):
        model_path: str = Field(
            description="a `textmill lm train` folder or a Hugging Face causal LM folder"
        )
        device: str = Field("cpu", description="torch device: cpu, cuda, cuda:1 ...")
        threads: int | None = Field(
            None, ge=1, description="torch CPU threads per worker (None: torch's)"
        )
        batch_size: int = Field(16, ge=1, description="windows per forward pass")
        max_tokens: int = Field(1024, ge=1, description="each document's first tokens scored")
        langs: list[str] | None = Field(
            None,
            description="the model's languages (overrides the model folder's); lm_ood "
            "marks rows whose `lang` is not one of them",
        )
        keep: Literal["low", "middle", "high", "hard"] | None = Field(
            None,
            description="a loss band kept over the whole run (perplexity pruning), or "
            "hard: the highest losses that are not junk; None: only score",
        )
        fraction: float = Field(0.5, gt=0, le=1, description="share of judged documents kept")
        min_quality: float = Field(
            0.5, ge=0, le=1, description="hard: quality_score below this is junk"
        )
        noise_tail: float = Field(
            0.05,
            ge=0,
            lt=1,
            description="hard without quality_score: top share of losses that is junk",
        )
        ood: Literal["keep", "drop"] = Field(
            "keep",
            description="out-of-distribution rows (lm_ood): kept out of the cuts, or "
            "dropped as lm_out_of_distribution",
        )
        reuse_scores: bool = Field(
            False,
            description="select on the lm_* columns an earlier lm_score wrote, where a "
            "row has them, instead of scoring again (no model call)",
        )

    def setup(self) -> None:
        if self.options.threads:
            import torch

            torch.set_num_threads(self.options.threads)
        self.model()

    def model(self):
        from textmill.train.lm import load_lm

        return load_lm(self.options.model_path, self.options.device, self.options.langs)

    def measure(self, batch: pa.Table) -> pa.Table:
        """The four columns for a batch (no decision)."""
        o = self.options
        model = self.model()
        scores = model.score(
            batch[TEXT].to_pylist(), batch_size=o.batch_size, max_tokens=o.max_tokens
        )
        scored = scores.tokens > 0
        if model.langs and LANG in batch.column_names:
            langs = batch[LANG]
            known = pc.is_in(langs, pa.array(model.langs, pa.string()))
            ood = pc.if_else(pc.is_valid(langs), pc.invert(known), pa.scalar(None, pa.bool_()))
        else:
            ood = pa.nulls(batch.num_rows, pa.bool_())
        return pa.table(
            {
                LM_LOSS: pa.array(scores.mean, pa.float32(), mask=~scored),
                LM_LOSS_P90: pa.array(scores.p90, pa.float32(), mask=~scored),
                LM_TOKENS: pa.array(scores.tokens, pa.int32()),
                LM_OOD: ood,
            }
        )

    def signatures(self, batch: pa.Table) -> pa.Table:
        stored = self.stored_scores(batch) if self.options.reuse_scores else None
        return self._signatures(batch, stored if stored is not None else self.measure(batch))

    @staticmethod
    def stored_scores(batch: pa.Table) -> pa.Table | None:
        """The lm_* columns an earlier lm_score wrote: columns, or (a textmill output read
        again) fields of `metadata`; None unless every row has them."""
        if all(name in batch.column_names for name in LM_COLUMNS):
            table = batch.select(list(LM_COLUMNS))
        elif METADATA in batch.column_names:
            records = [json.loads(raw) if raw else {} for raw in batch[METADATA].to_pylist()]
            table = pa.table({name: [r.get(name) for r in records] for name in LM_COLUMNS})
        else:
            return None
        if table[LM_TOKENS].null_count:
            return None
        return table.cast(SCORES_SCHEMA)

    def _signatures(self, batch: pa.Table, scores: pa.Table) -> pa.Table:
        columns = {
            KEY: batch[KEY],
            ID: batch[ID],
            **dict(zip(LM_COLUMNS, scores.columns, strict=True)),
        }
        if QUALITY_SCORE in batch.column_names:
            columns[QUALITY_SCORE] = batch[QUALITY_SCORE].cast(pa.float32())
        return pa.table(columns)

    def reduce(self, signature_files: Sequence[Path], workdir: Path) -> pa.Table:
        """Every document's scores and verdict over the whole run."""
        fields = [
            pa.field(KEY, pa.int64()),
            pa.field(ID, pa.string()),
            pa.field("reason", pa.string()),
        ]
        fields += [
            pa.field(LM_LOSS, pa.float32()),
            pa.field(LM_LOSS_P90, pa.float32()),
            pa.field(LM_TOKENS, pa.int32()),
            pa.field(LM_OOD, pa.bool_()),
        ]
        schema = pa.schema(fields)
        if not signature_files:
            return schema.empty_table()
        table = pa.concat_tables(
            (pq.read_table(path) for path in signature_files), promote_options="default"
        )
        quality = table[QUALITY_SCORE] if QUALITY_SCORE in table.column_names else None
        reasons = self.reasons(
            table[LM_LOSS].to_numpy(zero_copy_only=False),
            pc.fill_null(table[LM_OOD], False).to_numpy(zero_copy_only=False),
            None if quality is None else quality.to_numpy(zero_copy_only=False),
        )
        return pa.table(
            [
                table[KEY],
                table[ID],
                pa.array(reasons, pa.string()),
                *(table[c] for c in LM_COLUMNS),
            ],
            schema=schema,
        )

    def reasons(
        self, losses: np.ndarray, ood: np.ndarray, quality: np.ndarray | None
    ) -> np.ndarray:
        """Each row's drop reason (None: kept). Unscored rows (no token) are never dropped."""
        o = self.options
        losses = np.asarray(losses, dtype=np.float64)
        ood = np.asarray(ood, dtype=bool)
        reasons = np.full(len(losses), None, dtype=object)
        if o.ood == "drop":
            reasons[ood] = OUT_OF_DISTRIBUTION
        if o.keep is None:
            return reasons
        judged = ~np.isnan(losses) & ~ood
        if o.keep != "hard":
            reasons[judged & ~band_mask(losses, judged, o.keep, o.fraction)] = OUT_OF_BAND
            return reasons
        if quality is not None and not np.all(np.isnan(quality)):
            junk = judged & ~np.isnan(quality) & (np.asarray(quality) < o.min_quality)
        else:
            junk = np.zeros(len(losses), dtype=bool)
            if o.noise_tail:
                junk = judged & band_mask(losses, judged, "high", o.noise_tail)
        candidates = judged & ~junk
        hard = band_mask(losses, candidates, "high", o.fraction)
        reasons[candidates & ~hard] = OUT_OF_BAND
        # junk easier than the hard band would have been dropped anyway: say it is out of band
        lowest_kept = losses[hard].min() if hard.any() else np.inf
        reasons[junk] = np.where(losses[junk] >= lowest_kept, NOISE, OUT_OF_BAND)
        return reasons

    def apply(self, batch: pa.Table, decisions: pa.Table) -> tuple[pa.Table, Decision]:
        present = [name for name in LM_COLUMNS if name in batch.column_names]
        if present:  # a rescoring replaces an earlier score
            batch = batch.drop_columns(present)
        return apply_decisions(batch, decisions)

    def counters(self, out: pa.Table, decision: Decision | None) -> dict[str, int]:
        """Rows flagged out of distribution and rows with no token to score."""
        if LM_OOD not in out.column_names:
            return {}
        return {
            "lm_out_of_distribution": int(
                pc.sum(pc.fill_null(out[LM_OOD], False).cast(pa.int64())).as_py() or 0
            ),
            "lm_unscored": int(
                pc.sum(pc.equal(pc.fill_null(out[LM_TOKENS], 0), 0).cast(pa.int64())).as_py() or 0
            ),
        }
