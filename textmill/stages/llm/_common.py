"""What `llm_rewrite` and `llm_score` share: options, building one request per row, sending a
batch through the client, and the per-row status and counters.

Row outcomes: an answered request gives the stage's result; one the endpoint failed (after the
retries) makes the batch raise, so that the runner's bisection turns exactly the failed rows
into `errored` rows carrying the endpoint's message (answered rows come back from the cache and
failed ones from a memo while it bisects: nothing is sent twice); rows past the budget keep
their text and get status `budget_exhausted`. With `dry_run` nothing is sent: the counters say
how many requests and about how many tokens a real run would cost.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field, model_validator

from textmill.document import METADATA
from textmill.llm.cache import RequestCache, request_key
from textmill.llm.client import Budget, EndpointError, LLMClient, Outcome, Request
from textmill.llm.endpoint import EndpointOptions
from textmill.llm.progress import LLMProgress
from textmill.llm.prompts import check_variables, load_template, render
from textmill.pipeline import Decision, OutputFile, Stage, StageOptions, value_counts

CHARS_PER_TOKEN = 4  # the dry run's estimate; real counts come from the endpoint's `usage`
LANG = "lang"
SKIPPED, OVER_BUDGET, DRY_RUN = "skipped", "budget_exhausted", "dry_run"


class LLMOptions(StageOptions):
    llm: EndpointOptions = Field(default=EndpointOptions(), description="the endpoint")
    prompt: str | None = Field(default=None, description="a shipped prompt by name")
    prompt_file: str | None = Field(default=None, description="or a template file ({text})")
    system: str | None = Field(default=None, description="a system message")
    variables: dict[str, str] = Field(default={}, description="language, style")
    column: str = Field(default="text", description="the column sent")
    languages: list[str] | None = Field(
        default=None, description="only rows whose `lang` is one of these; others skipped"
    )
    temperature: float | None = Field(default=None, ge=0)
    max_tokens: int | None = Field(default=4096, ge=1, description="completion tokens/request")
    max_requests: int | None = Field(default=None, ge=0, description="budget: requests sent")
    max_tokens_total: int | None = Field(default=None, ge=0, description="budget: tokens")
    cache: OutputFile = Field(default="llm_cache.sqlite", description="request cache, in OUT")
    status_column: str = ""
    dry_run: bool = Field(default=False, description="send nothing; count the cost")
    progress_every_s: float | None = Field(default=5.0, gt=0)

    @model_validator(mode="after")
    def _prompt_loads(self) -> LLMOptions:
        load_template(self.prompt, self.prompt_file)
        check_variables(self.variables)
        return self


class LLMStage(Stage):
    """Base of the LLM stages: subclasses say what a reply becomes (`apply`)."""

    Options = LLMOptions
    options: LLMOptions
    default_status: str = ""
    completion_estimate: int | None = None  # tokens a reply takes; None: as long as the input

    def __init__(self, options: Any = None, **kwargs: Any):
        super().__init__(options, **kwargs)
        self.template = load_template(self.options.prompt, self.options.prompt_file)
        self.variables = check_variables(self.options.variables)
        self.status_column = self.options.status_column or self.default_status
        self._client: LLMClient | None = None
        self._failed: dict[str, str] = {}
        self._tally: dict[str, int] = {}

    # -- requests

    def params(self) -> dict[str, Any]:
        options = self.options
        given = {"temperature": options.temperature, "max_tokens": options.max_tokens}
        return {k: v for k, v in given.items() if v is not None}

    def messages(self, text: str) -> list[dict[str, str]]:
        user = {"role": "user", "content": render(self.template, text, self.variables)}
        if self.options.system:
            return [{"role": "system", "content": self.options.system}, user]
        return [user]

    def selected(self, batch: pa.Table) -> np.ndarray:
        """Rows this stage sends: a non-empty text, and a listed `lang` (any case, as
        lint_score reads it: a JSONL's "python" is Python) when `languages`."""
        texts = batch[self.options.column]
        mask = pc.fill_null(pc.greater(pc.utf8_length(texts), 0), False)
        if self.options.languages is not None:
            wanted = pa.array([lang.lower() for lang in self.options.languages], pa.string())
            member = pc.is_in(pc.utf8_lower(languages(batch)), value_set=wanted)  # any case
            mask = pc.and_(mask, pc.fill_null(member, False))
        return np.asarray(mask.to_numpy(zero_copy_only=False), dtype=bool)

    def client(self) -> LLMClient:
        if self._client is None:
            options = self.options
            cache = RequestCache(options.cache or ":memory:", read_only=options.dry_run)
            budget = Budget(self.status_column, options.max_requests, options.max_tokens_total)
            progress = LLMProgress(self.name, options.progress_every_s)
            self._client = LLMClient(options.llm, self.params(), cache, budget, progress)
        return self._client

    def setup(self) -> None:
        self.client()

    # -- a batch

    def process(self, batch: pa.Table) -> tuple[pa.Table, Decision | None]:
        rows = np.flatnonzero(self.selected(batch))
        texts = batch[self.options.column].to_pylist()
        requests = [self._request(texts[i]) for i in rows]
        if self.options.dry_run:
            return self._dry_run(batch, rows, texts, requests)
        fresh = [r for r in requests if r.key not in self._failed]
        outcomes = dict(zip([r.key for r in fresh], self.client().complete(fresh), strict=True))
        failed = []
        for request in requests:
            outcome = outcomes.get(request.key)
            if outcome is None or outcome.error is not None:
                message = outcome.error if outcome is not None else self._failed[request.key]
                self._failed[request.key] = message
                failed.append(message)
            elif not outcome.cached and outcome.answer is not None:
                self._count("requests_sent")
                self._count("prompt_tokens", outcome.answer.prompt_tokens)
                self._count("completion_tokens", outcome.answer.completion_tokens)
            elif outcome.cached:
                self._count("cache_hits")
        if failed:
            if len(failed) == 1 and len(requests) == batch.num_rows == 1:
                raise EndpointError(failed[0])
            raise EndpointError(f"{len(failed)} of {len(requests)} requests failed: {failed[0]}")
        statuses = [SKIPPED] * batch.num_rows
        results: list[Outcome | None] = [None] * batch.num_rows
        for i, request in zip(rows, requests, strict=True):
            outcome = outcomes[request.key]
            results[i] = outcome
            statuses[i] = OVER_BUDGET if outcome.over_budget else ""
        return self.apply(batch, texts, results, statuses)

    def _request(self, text: str) -> Request:
        messages = self.messages(text)
        return Request(request_key(self.options.llm.model, messages, self.params()), messages)

    def apply(
        self,
        batch: pa.Table,
        texts: list[str | None],
        outcomes: list[Outcome | None],
        statuses: list[str],
    ) -> tuple[pa.Table, Decision | None]:
        """The batch with the replies applied; `statuses` holds SKIPPED / OVER_BUDGET, or ""
        where `outcomes` has an answer for the subclass to judge."""
        raise NotImplementedError

    def _dry_run(
        self, batch: pa.Table, rows: np.ndarray, texts: list, requests: list[Request]
    ) -> tuple[pa.Table, Decision | None]:
        cached = self.client().cache.get_many([r.key for r in requests])
        statuses = [SKIPPED] * batch.num_rows
        results: list[Outcome | None] = [None] * batch.num_rows
        for i, request in zip(rows, requests, strict=True):
            if request.key in cached:  # applied as a real run would: later stages see it
                self._count("dry_cached")
                results[i], statuses[i] = Outcome(answer=cached[request.key], cached=True), ""
                continue
            statuses[i] = DRY_RUN
            prompt_chars = sum(len(m["content"]) for m in request.messages)
            expected = self.completion_estimate or len(texts[i]) // CHARS_PER_TOKEN + 1
            self._count("dry_requests")
            self._count("dry_prompt_tokens", prompt_chars // CHARS_PER_TOKEN + 1)
            self._count("dry_completion_tokens", min(expected, self.options.max_tokens or expected))
        return self.apply(batch, texts, results, statuses)

    # -- counting

    def with_status(self, batch: pa.Table, statuses: list[str]) -> pa.Table:
        return set_column(batch, self.status_column, pa.array(statuses, pa.string()))

    def _count(self, name: str, amount: int = 1) -> None:
        self._tally[name] = self._tally.get(name, 0) + amount

    def counters(self, out: pa.Table, decision: Decision | None) -> dict[str, int]:
        counts = dict(self._tally)
        self._tally.clear()
        if self.status_column in out.column_names:
            counts |= value_counts(out[self.status_column].combine_chunks())
        return counts


def languages(batch: pa.Table) -> pa.Array:
    """The `lang` of each row: its column, else the `lang` key of the metadata JSON (where
    readers put the fields of a JSONL record beyond the base ones)."""
    if LANG in batch.column_names:
        return batch[LANG].combine_chunks().cast(pa.string())
    if METADATA not in batch.column_names:
        return pa.nulls(batch.num_rows, pa.string())
    values = []
    for raw in batch[METADATA].to_pylist():
        try:
            value = json.loads(raw).get(LANG) if raw else None
        except (ValueError, AttributeError):
            value = None
        values.append(value if isinstance(value, str) else None)
    return pa.array(values, pa.string())


def set_column(batch: pa.Table, name: str, values: pa.Array) -> pa.Table:
    if name in batch.column_names:
        return batch.set_column(batch.column_names.index(name), name, values)
    return batch.append_column(name, values)
