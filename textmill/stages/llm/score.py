"""`llm_score`: an LLM judge's numeric score per document (FineWeb-Edu's 0-5 educational value
by default), e.g. to annotate a sample for training the fastText quality classifier on.

The score is read out of the reply robustly (textmill/llm/score.py); a reply without a score in
[min_value, max_value] leaves it null with status `unparsable`, counted. With `min_score` the
stage also drops documents scored below it (reason `llm_score_below`); unscored ones stay.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
from pydantic import Field

from textmill.llm.client import Outcome
from textmill.llm.score import parse_score
from textmill.pipeline import Decision, register
from textmill.stages.llm._common import LLMOptions, LLMStage, set_column

SCORED, UNPARSABLE = "scored", "unparsable"


@register("llm_score")
class LLMScore(LLMStage):
    """Score each document with a judge prompt through an OpenAI-compatible endpoint into a
    numeric column."""

    completion_estimate = 150  # FineWeb-Edu's judge: a short justification, then the score

    class Options(LLMOptions):
        prompt: str | None = Field(default="fineweb_edu", description="a shipped prompt by name")
        max_tokens: int | None = Field(default=512, ge=1)
        temperature: float | None = Field(default=0.0, ge=0)
        score_column: str = "llm_score"
        min_value: float = Field(default=0.0, description="lowest score the judge gives")
        max_value: float = Field(default=5.0, description="highest score the judge gives")
        min_score: float | None = Field(default=None, description="drop documents below it")
        status_column: str = "llm_score_status"

    options: Options

    def apply(
        self,
        batch: pa.Table,
        texts: list[str | None],
        outcomes: list[Outcome | None],
        statuses: list[str],
    ) -> tuple[pa.Table, Decision | None]:
        options = self.options
        scores: list[float | None] = [None] * batch.num_rows
        for i, outcome in enumerate(outcomes):
            if statuses[i] or outcome is None or outcome.answer is None:
                continue
            scores[i] = parse_score(outcome.answer.content, options.min_value, options.max_value)
            statuses[i] = UNPARSABLE if scores[i] is None else SCORED
        values = pa.array(scores, pa.float64())
        batch = self.with_status(set_column(batch, options.score_column, values), statuses)
        if options.min_score is None:
            return batch, None
        below = np.array([s is not None and s < options.min_score for s in scores], dtype=bool)
        return batch, Decision.first_failing(("llm_score_below", below))
