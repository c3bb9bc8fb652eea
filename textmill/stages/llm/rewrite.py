"""`llm_rewrite`: replace a document's text with an LLM's rewrite of it (SwallowCode, SwallowMath,
rephrasing, reading comprehension, Nemotron-CC's tasks), keeping the original in a column.

A rewrite replaces the text only when it passes validation: not empty, not cut off by the
token limit (finish_reason `length`), and for `validators: [python]` a module that compiles
(SwallowCode re-validates every rewrite). Otherwise the original stays and the status column
says why; stats.json's per-stage counters count each status.
"""

from __future__ import annotations

from typing import Literal

import pyarrow as pa
from pydantic import Field

from textmill.llm.client import Outcome
from textmill.llm.validate import VALIDATORS, code_block
from textmill.pipeline import Decision, register
from textmill.stages.llm._common import LLMOptions, LLMStage, set_column

REWRITTEN, EMPTY, TRUNCATED = "rewritten", "invalid_empty", "invalid_truncated"


@register("llm_rewrite")
class LLMRewrite(LLMStage):
    """Rewrite each document through an OpenAI-compatible endpoint (prompt preset or file);
    invalid rewrites keep the original and are counted."""

    class Options(LLMOptions):
        prompt: str | None = Field(default="rephrase", description="a shipped prompt by name")
        original_column: str | None = Field(
            default="text_original", description="keeps the text before the first rewrite"
        )
        validators: list[Literal["python"]] = Field(
            default=[], description="checks a rewrite must pass (python: compiles)"
        )
        extract: Literal["reply", "code_block"] = Field(
            default="reply", description="code_block: the reply's longest ``` block"
        )
        status_column: str = "llm_rewrite_status"

    options: Options

    def apply(
        self,
        batch: pa.Table,
        texts: list[str | None],
        outcomes: list[Outcome | None],
        statuses: list[str],
    ) -> tuple[pa.Table, Decision | None]:
        options = self.options
        new_texts = list(texts)
        for i, outcome in enumerate(outcomes):
            if statuses[i] or outcome is None or outcome.answer is None:
                continue
            answer = outcome.answer
            text = answer.content
            if options.extract == "code_block":
                text = code_block(text)
            text = text.strip("\n") + "\n" if options.extract == "code_block" else text.strip()
            if answer.finish_reason == "length":
                statuses[i] = TRUNCATED
            elif not text.strip():
                statuses[i] = EMPTY
            else:
                failing = [name for name in options.validators if not VALIDATORS[name](text)]
                statuses[i] = f"invalid_{failing[0]}" if failing else REWRITTEN
            if statuses[i] == REWRITTEN:
                new_texts[i] = text
        column = options.column
        if options.original_column and options.original_column not in batch.column_names:
            batch = batch.append_column(options.original_column, batch[column])
        kind = batch.schema.field(column).type
        batch = set_column(batch, column, pa.array(new_texts, kind))
        return self.with_status(batch, statuses), None
