"""One client for every LLM step: the official `openai` package, async, against any base URL.

The openai package's own retries are off (max_retries=0) so that the retries here are the only
ones, counted and shaped: exponential backoff with jitter on 429, 408, 5xx, timeouts and
refused connections, waiting what `Retry-After` (or `retry-after-ms`) asks when the endpoint
says. Answers go into the request cache as they arrive; requests the cache holds are never
sent; a budget stops sending and marks the rest.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # imported where a request is sent: ~1 CPU-s that a run without LLM
    import httpx2  # stages (every stage module is imported to build the registry) should
    import openai  # not pay at start-up

from textmill.llm.cache import Answer, RequestCache
from textmill.llm.endpoint import EndpointOptions
from textmill.llm.progress import LLMProgress
from textmill.pipeline import StageHalt

RETRIED_STATUS = {408, 409, 429}  # and every 5xx
MAX_RETRY_AFTER_S = 600.0  # a Retry-After beyond this is a misconfigured endpoint, not advice


class EndpointError(RuntimeError):
    """A request the endpoint did not answer usefully; the message is the endpoint's."""


@dataclass(frozen=True)
class Request:
    key: str
    messages: list[dict[str, str]]


@dataclass(frozen=True)
class Outcome:
    answer: Answer | None = None
    error: str | None = None  # the endpoint's message, after the last retry
    cached: bool = False
    over_budget: bool = False


@dataclass(frozen=True)
class Budget:
    scope: str  # what the spend is counted under (one per stage)
    max_requests: int | None = None
    max_tokens_total: int | None = None

    @property
    def limited(self) -> bool:
        return self.max_requests is not None or self.max_tokens_total is not None


def retry_after_s(error: Exception) -> float | None:
    """The wait an error response asks for: `retry-after-ms`, or `Retry-After` in seconds or
    as an HTTP date."""
    response = getattr(error, "response", None)
    headers = getattr(response, "headers", None)
    if headers is None:
        return None
    try:
        if "retry-after-ms" in headers:
            return max(float(headers["retry-after-ms"]) / 1000, 0.0)
        value = headers.get("retry-after")
        if value is None:
            return None
        try:
            return max(float(value), 0.0)
        except ValueError:
            date = email.utils.parsedate_to_datetime(value)
            return max(date.timestamp() - time.time(), 0.0)
    except (TypeError, ValueError, OverflowError):
        return None


def _retried(error: Exception) -> bool:
    import openai

    if isinstance(error, openai.APIConnectionError):  # timeouts included
        return True
    if isinstance(error, openai.APIStatusError):
        return error.status_code in RETRIED_STATUS or error.status_code >= 500
    return False


def _message(error: Exception) -> str:
    import openai

    if isinstance(error, openai.APIStatusError):
        return f"HTTP {error.status_code}: {error.message}"[:500]
    if isinstance(error, EndpointError):
        return str(error)[:500]
    if isinstance(error, ValueError):  # json.JSONDecodeError: a body that is not JSON
        return f"malformed response (not JSON: {error})"[:500]
    if isinstance(error, openai.APIConnectionError):  # say what failed (a refused connection
        cause = error  # reads "timed out" through the aiohttp transport otherwise)
        while cause.__cause__ is not None:
            cause = cause.__cause__
        if cause is not error and str(cause):
            return f"{type(error).__name__}: {error} ({cause})"[:500]
    return f"{type(error).__name__}: {error}"[:500]


def _answer(body: bytes) -> Answer:
    """The reply of a chat completion's JSON body; a body without one is the endpoint's error."""
    completion = json.loads(body)  # ValueError: not JSON (reported as malformed)
    choices = completion.get("choices") if isinstance(completion, dict) else None
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        raise EndpointError(f"malformed response: no choices in {body[:200]!r}")
    choice = choices[0]
    message = choice.get("message")
    content = message.get("content") if isinstance(message, dict) else None
    if not isinstance(content, str):
        raise EndpointError(f"malformed response: no message content in {body[:200]!r}")
    usage = completion.get("usage")
    usage = usage if isinstance(usage, dict) else {}
    prompt_tokens, completion_tokens = usage.get("prompt_tokens"), usage.get("completion_tokens")
    finish_reason = choice.get("finish_reason")
    return Answer(
        content,
        finish_reason if isinstance(finish_reason, str) else None,
        prompt_tokens if isinstance(prompt_tokens, int) else 0,
        completion_tokens if isinstance(completion_tokens, int) else 0,
    )


def http_client(connections: int, timeout_s: float) -> httpx2.AsyncClient:
    """textmill's aiohttp transport (textmill/llm/transport.py) when aiohttp is installed (the
    `llm` extra): on aiohttp the official client needs half the CPU per request it needs on its
    default httpx transport, whose pool scans every connection for each request. Else that
    default. The pool is as large as the concurrency, every connection kept alive."""
    import httpx2
    import openai

    try:
        from textmill.llm.transport import http_client as aiohttp_client
    except ImportError:  # no aiohttp
        limits = httpx2.Limits(max_connections=connections, max_keepalive_connections=connections)
        return openai.DefaultAsyncHttpxClient(limits=limits, timeout=timeout_s)
    return aiohttp_client(connections, timeout_s)


class LLMClient:
    """Sends a batch of requests with at most `concurrency` in flight. Each batch runs on an
    event loop of its own with an HTTP client of its own, closed before the loop ends: nothing
    is left open between batches for the interpreter to tear down at exit (where an unclosed
    aiohttp connector prints an ignored exception), and a stage needs no close hook."""

    def __init__(
        self,
        endpoint: EndpointOptions,
        params: dict[str, Any],
        cache: RequestCache | None,
        budget: Budget,
        progress: LLMProgress | None = None,
    ):
        self.endpoint = endpoint
        self.params = params
        self.cache = cache
        self.budget = budget
        self.progress = progress or LLMProgress("llm", every_s=None)
        self.failed_batches = 0  # consecutive batches whose every request failed
        self._pending: list[tuple[str, Answer]] = []  # answers not yet committed to the cache
        self._committed: asyncio.Future | None = None  # their commit, at the end of this turn

    def _openai(self) -> openai.AsyncOpenAI:
        import openai

        return openai.AsyncOpenAI(
            base_url=self.endpoint.resolved_base_url(),
            api_key=self.endpoint.api_key(),
            timeout=self.endpoint.timeout_s,
            max_retries=0,  # ours are the retries (counted, with Retry-After and jitter)
            http_client=http_client(self.endpoint.concurrency, self.endpoint.timeout_s),
        )

    def complete(self, requests: Sequence[Request]) -> list[Outcome]:
        """An outcome per request, in order; identical requests are sent once."""
        cached = self.cache.get_many([r.key for r in requests]) if self.cache else {}
        unique: dict[str, Request] = {}
        for request in requests:
            if request.key not in cached:
                unique.setdefault(request.key, request)
        sent = asyncio.run(self._send_all(list(unique.values()))) if unique else {}
        self._check_alive(sent)
        self.progress.cached += len(requests) - sum(1 for r in requests if r.key not in cached)
        self.progress.tick(force=bool(unique))
        return [
            Outcome(answer=cached[r.key], cached=True) if r.key in cached else sent[r.key]
            for r in requests
        ]

    def _check_alive(self, sent: dict[str, Outcome]) -> None:
        """Stop the run when `max_failed_batches` batches in a row got no answer at all: a
        down or misconfigured endpoint would otherwise error every row of a corpus, batch
        after batch of retries."""
        errors = [o.error for o in sent.values() if o.error is not None]
        if not sent or len(errors) < len(sent):
            self.failed_batches = 0 if any(o.answer for o in sent.values()) else self.failed_batches
            return
        self.failed_batches += 1
        if self.failed_batches >= self.endpoint.max_failed_batches:
            raise StageHalt(
                f"the endpoint {self.endpoint.resolved_base_url() or 'api.openai.com'} answered "
                f"no request of the last {self.failed_batches} batches ({len(sent):,} in the "
                f"last; its last error: {errors[-1]}); stopped. Re-run the same command to "
                "resume once it answers (max_failed_batches sets how many batches to try)"
            )

    async def _send_all(self, requests: list[Request]) -> dict[str, Outcome]:
        """`concurrency` workers take the requests in turn from one iterator (no task and no
        semaphore wait per request); answers are committed to the cache in one transaction per
        event-loop turn (`_answered`)."""
        if not requests:
            return {}
        client = self._openai()
        url = f"{client.base_url}chat/completions"  # absolute: openai parses it once, not twice
        todo, outcomes = iter(requests), {}

        async def worker() -> None:
            for request in todo:
                outcomes[request.key] = await self._send(client, url, request)

        try:
            await asyncio.gather(
                *(worker() for _ in range(min(len(requests), self.endpoint.concurrency)))
            )
        finally:
            self._commit()
            await client.close()  # its aiohttp session and connector, on this loop
        return outcomes

    def _answered(self, key: str, answer: Answer) -> asyncio.Future | None:
        """Queue an answer for the cache and return the commit to wait for: the first answer
        of an event-loop turn schedules it for the end of that turn, so the answers that
        arrive together share one transaction. A worker sends nothing more before its answer
        is committed, so a kill loses no received answer (as with one commit per answer)."""
        if self.cache is None:
            return None
        if self._committed is None:
            loop = asyncio.get_running_loop()
            self._committed = loop.create_future()
            loop.call_soon(self._commit)
        self._pending.append((key, answer))
        return self._committed

    def _commit(self) -> None:
        pending, self._pending = self._pending, []
        committed, self._committed = self._committed, None
        try:
            if pending and self.cache is not None:
                self.cache.put_many(pending, self.budget.scope)
        except Exception as error:  # a full disk, a locked file: the waiting workers raise it
            if committed is None or committed.done():
                raise
            committed.set_exception(error)
            return
        if committed is not None and not committed.done():
            committed.set_result(None)

    async def _send(self, client: openai.AsyncOpenAI, url: str, request: Request) -> Outcome:
        import httpx2

        budget = self.budget
        if budget.limited and self.cache is not None:  # the cache file keeps the spend
            self._commit()  # the tokens of every answer received count before the next request
            if not self.cache.reserve(budget.scope, budget.max_requests, budget.max_tokens_total):
                return Outcome(over_budget=True)
        progress, endpoint = self.progress, self.endpoint
        progress.sent += 1
        for attempt in range(endpoint.max_retries + 1):
            try:
                # the generic POST of the official client (its base URL, key, timeout and
                # error types): the typed `chat.completions.create` re-walks every message
                # through its TypedDict transform and builds pydantic models of the reply,
                # ~2 ms of CPU per request that a corpus run does not need
                response = await client.post(
                    url,
                    body={"model": endpoint.model or "", "messages": request.messages}
                    | self.params,
                    cast_to=httpx2.Response,
                )
                answer = _answer(response.content)
            except Exception as error:  # noqa: BLE001 - every failure is the row's outcome
                if attempt == endpoint.max_retries or not _retried(error):
                    progress.errors += 1
                    progress.tick()
                    return Outcome(error=_message(error))
                progress.retries += 1
                await asyncio.sleep(self._delay(error, attempt))
                continue
            committed = self._answered(request.key, answer)
            if committed is not None:
                await committed
            progress.answered += 1
            progress.tokens += answer.prompt_tokens + answer.completion_tokens
            progress.tick()
            return Outcome(answer=answer)
        raise AssertionError("unreachable")

    def _delay(self, error: Exception, attempt: int) -> float:
        asked = retry_after_s(error)
        if asked is not None:
            return min(asked, MAX_RETRY_AFTER_S)
        ceiling = min(self.endpoint.backoff_max_s, self.endpoint.backoff_initial_s * 2**attempt)
        return ceiling / 2 + random.uniform(0, ceiling / 2)  # "equal jitter"

    def close(self) -> None:
        """Nothing stays open between batches; kept so that callers may close what they open."""
