"""The LLM client against a real OpenAI-protocol server on 127.0.0.1, through the real `openai`
package: retries (429 with Retry-After, 500, timeouts), junk answers, the request cache, the
budget."""

from __future__ import annotations

import time
from pathlib import Path

from openai_server import FakeOpenAI

from textmill.llm.cache import RequestCache
from textmill.llm.client import Budget, LLMClient, Request
from textmill.llm.endpoint import EndpointOptions
from textmill.llm.score import parse_score
from textmill.llm.validate import code_block, python_compiles


def client_for(fake: FakeOpenAI, cache: RequestCache, budget: Budget | None = None, **limits):
    endpoint = EndpointOptions(
        base_url=fake.base_url, model="m", backoff_initial_s=0.01, **({"max_retries": 3} | limits)
    )
    return LLMClient(endpoint, {"max_tokens": 64}, cache, budget or Budget("test"))


def requests(*prompts: str) -> list[Request]:
    return [Request(p, [{"role": "user", "content": p}]) for p in prompts]


def test_retries_429_and_500_then_answers_and_reports_what_fails(tmp_path: Path):
    with FakeOpenAI() as fake:
        client = client_for(fake, RequestCache(tmp_path / "c.sqlite"), timeout_s=0.3)
        batch = requests("plain", "[[429:2]] busy", "[[500:1]] flaky", "[[500:9]] down")
        batch += requests("[[timeout]] hangs", "[[junk]] x", "[[shape]] y", "[[truncate]] z")
        outcomes = client.complete(batch)
        client.close()
    answers = [o.answer.content if o.answer else None for o in outcomes]
    assert answers[0] == "REWRITTEN " + answers[0].split()[-1]
    assert answers[1] and answers[2]  # retried until answered
    assert fake.attempts["[[429:2]] busy"] == 3 and fake.attempts["[[500:1]] flaky"] == 2
    assert fake.attempts["[[500:9]] down"] == 4  # 1 + max_retries, then its message
    assert outcomes[3].error == "HTTP 500: Error code: 500 - scripted 500"
    assert "timed out" in outcomes[4].error and fake.attempts["[[timeout]] hangs"] == 4
    assert outcomes[5].error.startswith("malformed response (not JSON")
    assert fake.attempts["[[junk]] x"] == 1  # junk is not retried
    assert outcomes[6].error.startswith("malformed response: no choices")
    assert outcomes[7].answer.finish_reason == "length"
    assert client.progress.retries == 2 + 1 + 3 + 3 and client.progress.errors == 4


def test_retry_after_seconds_is_honoured(tmp_path: Path):
    with FakeOpenAI() as fake:
        client = client_for(fake, RequestCache(tmp_path / "c.sqlite"), backoff_max_s=0.01)
        started = time.perf_counter()
        (outcome,) = client.complete(requests("[[429s:1]] wait a second"))
        waited = time.perf_counter() - started
        client.close()
    assert outcome.answer is not None and waited >= 1.0  # the header, not the 10 ms backoff


def test_endpoint_down_is_an_error_not_a_hang(tmp_path: Path):
    with FakeOpenAI() as fake:
        url = fake.base_url
    endpoint = EndpointOptions(base_url=url, model="m", max_retries=1, backoff_initial_s=0.01)
    client = LLMClient(endpoint, {}, RequestCache(tmp_path / "c.sqlite"), Budget("t"))
    (outcome,) = client.complete(requests("anyone?"))
    client.close()
    assert outcome.error.startswith("API") and "connect" in outcome.error.lower()


def test_cache_answers_without_sending_and_persists(tmp_path: Path):
    with FakeOpenAI() as fake:
        client = client_for(fake, RequestCache(tmp_path / "c.sqlite"))
        first = client.complete(requests("a", "b", "a"))  # the same key twice: sent once
        client.close()
        assert fake.total_answered == 2
        again = client_for(fake, RequestCache(tmp_path / "c.sqlite"))  # a new process's view
        second = again.complete(requests("a", "b", "c"))
        again.close()
    assert fake.total_answered == 3
    assert [o.cached for o in second] == [True, True, False]
    assert second[0].answer == first[0].answer


def test_budget_stops_sending_across_clients(tmp_path: Path):
    with FakeOpenAI() as fake:
        budget = Budget("scope", max_requests=3)
        client = client_for(fake, RequestCache(tmp_path / "c.sqlite"), budget, concurrency=1)
        outcomes = client.complete(requests(*"abcde"))
        other = client_for(fake, RequestCache(tmp_path / "c.sqlite"), budget)
        more = other.complete(requests("f"))
        token_budget = Budget("t", None, 1)
        tokens = client_for(fake, RequestCache(tmp_path / "t.sqlite"), token_budget, concurrency=1)
        by_tokens = tokens.complete(requests("g", "h"))
        for c in (client, other, tokens):
            c.close()
    assert [o.over_budget for o in outcomes] == [False] * 3 + [True] * 2
    assert more[0].over_budget
    assert [o.over_budget for o in by_tokens] == [False, True]  # the first answer spent it
    assert fake.total_answered == 3 + 1


def test_score_parsing_and_python_validation():
    assert parse_score("reasoning...\n**Educational score:** 4", 0, 5) == 4
    assert parse_score("Score: 3/5.", 0, 5) == 3 and parse_score(" 2 ", 0, 5) == 2
    assert parse_score("Educational score: 9", 0, 5) is None
    assert parse_score("no idea", 0, 5) is None
    assert python_compiles("def f(x):\n    return x\n") and not python_compiles("def f(:\n")
    assert python_compiles('s = "\\d"\n')  # a warning, not an error
    assert code_block("Sure:\n```python\nx = 1\n```\nDone") == "x = 1"


def test_nothing_stays_open_after_a_batch(tmp_path: Path):
    """An aiohttp session left open until interpreter exit prints "Exception ignored ...
    connector __del__" there: each batch closes its HTTP client before its loop ends."""
    import gc

    import aiohttp

    with FakeOpenAI() as fake:
        client = client_for(fake, RequestCache(tmp_path / "c.sqlite"))
        assert all(o.answer for o in client.complete(requests("one", "two")))
        gc.collect()
        sessions = [o for o in gc.get_objects() if isinstance(o, aiohttp.ClientSession)]
        assert [s for s in sessions if not s.closed] == []
        assert client.complete(requests("three"))[0].answer  # a later batch opens its own


def test_an_endpoint_that_answers_nothing_stops_the_run_after_a_few_batches(tmp_path: Path):
    """Three batches in a row with no answer at all halt the stage (the runner does not bisect
    a StageHalt into per-row errors); one answered request in between resets the count."""
    import pyarrow as pa
    import pytest

    from textmill.pipeline import StageHalt
    from textmill.runner import call_isolating_failures

    with FakeOpenAI() as fake:
        url = fake.base_url
        endpoint = EndpointOptions(base_url=url, model="m", max_retries=0, max_failed_batches=3)
        alive = LLMClient(endpoint, {}, None, Budget("t"))
        for _ in range(2):
            assert alive.complete(requests("[[500:9]] down"))[0].error
        assert alive.complete(requests("fine"))[0].answer and alive.failed_batches == 0
    client = LLMClient(endpoint, {}, None, Budget("t"))  # the server is gone now
    for _ in range(2):
        assert client.complete(requests("anyone?", "hello?"))[0].error
    with pytest.raises(StageHalt, match=r"no request of the last 3 batches \(2 in the last"):
        client.complete(requests("anyone?", "hello?"))

    def stage(rows: pa.Table):
        raise StageHalt("endpoint down")

    with pytest.raises(StageHalt):
        call_isolating_failures(stage, pa.table({"id": ["a", "b"], "doc_key": [1, 2]}), "llm")


def test_concurrency_256_keeps_256_requests_in_flight(tmp_path: Path):
    """Nothing serialises the requests (pool, cache commits, progress): 256 answers that each
    take 0.5 s are all waited on by the server at once, over 256 connections, and all land in
    the cache. (Counted by the server, not timed: a wall clock fails on a loaded machine.)"""
    with FakeOpenAI() as fake:
        client = client_for(fake, RequestCache(tmp_path / "c.sqlite"), concurrency=256)
        outcomes = client.complete(requests(*(f"r{i} [[slow:0.5]]" for i in range(256))))
        assert fake.most_connections == 256 and all(o.answer for o in outcomes)
        assert fake.most_waiting == 256  # 64 at a time (the default) would be 64
    cached = RequestCache(tmp_path / "c.sqlite").get_many(
        [f"r{i} [[slow:0.5]]" for i in range(256)]
    )
    assert len(cached) == 256


def test_answers_commit_together_and_a_failed_commit_is_no_answer(tmp_path: Path):
    """Answers arriving in one event-loop turn share a transaction; when the cache cannot
    store them the batch raises instead of reporting answers a resume would pay for again."""
    import sqlite3

    import pytest

    cache = RequestCache(tmp_path / "c.sqlite")
    commits = []
    put_many = cache.put_many
    cache.put_many = lambda answers, scope: commits.append(len(answers)) or put_many(answers, scope)
    with FakeOpenAI() as fake:
        client = client_for(fake, cache, concurrency=64)
        assert all(o.answer for o in client.complete(requests(*(f"p{i}" for i in range(300)))))
        assert sum(commits) == 300 and len(commits) < 300

        def full(answers, scope):
            raise sqlite3.OperationalError("database or disk is full")

        cache.put_many = full
        with pytest.raises(sqlite3.OperationalError, match="disk is full"):
            client.complete(requests("lost"))


def test_the_transport_decodes_compressed_bodies_and_sends_openai_headers():
    """textmill's aiohttp transport under the official client: a gzip body is decoded as
    after httpx's own transports, and openai's headers (key, user agent) reach the server."""
    import asyncio
    import gzip
    import json
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    import httpx2
    import openai

    from textmill.llm.transport import http_client

    seen = {}

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self):
            seen.update(self.headers, body=self.rfile.read(int(self.headers["Content-Length"])))
            body = gzip.compress(json.dumps({"choices": [{"message": {"content": "é"}}]}).encode())
            self.send_response(200)
            self.send_header("Content-Encoding", "gzip")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()

    async def post() -> httpx2.Response:
        url = f"http://127.0.0.1:{server.server_address[1]}/v1"
        client = openai.AsyncOpenAI(base_url=url, api_key="k", http_client=http_client(2, 5))
        try:
            body = {"model": "m", "messages": []}
            return await client.post("chat/completions", body=body, cast_to=httpx2.Response)
        finally:
            await client.close()

    try:
        response = asyncio.run(post())
    finally:
        server.shutdown()
    assert response.json()["choices"][0]["message"]["content"] == "é"
    assert seen["authorization"] == "Bearer k" and seen["user-agent"].startswith("AsyncOpenAI")
    assert json.loads(seen["body"]) == {"model": "m", "messages": []}
