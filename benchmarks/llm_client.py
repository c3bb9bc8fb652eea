"""LLM client overhead against the local OpenAI-protocol server (tests/openai_server.py, run in
its own process so that the client's CPU is measured apart from the server's).

1. Zero latency: requests/s, and the client's CPU seconds per request (requests/s per client
   core = 1 / that), for textmill's client (cache, budget, retries) on its own aiohttp
   transport and on openai's (`DefaultAioHttpClient`), and, side by side, the bare `openai`
   AsyncOpenAI client with a semaphore on both of openai's transports (the peer).
2. 1 s simulated latency at concurrency 256: requests/s over the whole run, and sustained
   (from the end of the first wave of answers to the start of the last).
3. Kill and resume: a client process killed mid-run, then the run resumed on the same cache:
   requests the server answered twice (at most those in flight at the kill).

python benchmarks/llm_client.py [--requests 3000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx2  # noqa: E402
import openai  # noqa: E402

import textmill.llm.client as llm_client  # noqa: E402
from textmill.llm.cache import RequestCache, request_key  # noqa: E402
from textmill.llm.client import Budget, LLMClient, Request  # noqa: E402
from textmill.llm.endpoint import EndpointOptions  # noqa: E402


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    def __init__(self, latency: float):
        self.port = free_port()
        self.process = subprocess.Popen(
            [sys.executable, str(ROOT / "tests" / "openai_server.py"), "--port", str(self.port)]
            + ["--latency", str(latency)],
            stdout=subprocess.PIPE,
            text=True,
        )
        self.process.stdout.readline()  # "serving ..."
        self.url = f"http://127.0.0.1:{self.port}/v1"

    def stats(self) -> dict:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/stats") as response:
            return json.loads(response.read())

    def stop(self) -> float:
        """Stops the server; returns the CPU seconds it used."""
        self.process.terminate()
        _, status, usage = os.wait4(self.process.pid, 0)
        self.process.returncode = status
        return usage.ru_utime + usage.ru_stime


def requests(n: int, tag: str) -> list[Request]:
    out = []
    for i in range(n):
        messages = [{"role": "user", "content": f"{tag} document {i}: " + "word " * 50}]
        out.append(Request(request_key("m", messages, {}), messages))
    return out


class TimedClient(LLMClient):
    """textmill's client, noting when each answer arrives."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.answer_times: list[float] = []

    def _answered(self, key, answer):
        self.answer_times.append(time.perf_counter())
        return super()._answered(key, answer)


def textmill_client(url: str, concurrency: int, cache: Path) -> TimedClient:
    endpoint = EndpointOptions(base_url=url, model="m", concurrency=concurrency)
    return TimedClient(endpoint, {}, RequestCache(cache), Budget("bench"))


def openai_aiohttp_transport(connections: int, timeout_s: float):
    """What textmill used before its own transport: openai's aiohttp bridge."""
    limits = httpx2.Limits(max_connections=connections, max_keepalive_connections=connections)
    return openai.DefaultAioHttpClient(limits=limits, timeout=timeout_s)


def timed(work) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    work()
    return time.perf_counter() - wall, time.process_time() - cpu


def bare_openai(url: str, reqs: list[Request], concurrency: int, aiohttp: bool = False) -> None:
    async def main() -> None:
        transport = {"http_client": openai.DefaultAioHttpClient()} if aiohttp else {}
        client = openai.AsyncOpenAI(base_url=url, api_key="EMPTY", max_retries=0, **transport)
        gate = asyncio.Semaphore(concurrency)

        async def one(request: Request) -> None:
            async with gate:
                await client.chat.completions.create(model="m", messages=request.messages)

        await asyncio.gather(*(one(r) for r in reqs))
        await client.close()

    asyncio.run(main())


def kill_child(url: str, cache: str, n: int) -> None:
    """The killed run: sends `n` requests, batch after batch, until killed."""
    client = textmill_client(url, 32, Path(cache))
    reqs = requests(n, "resume")
    for start in range(0, n, 100):
        client.complete(reqs[start : start + 100])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--latency-requests", type=int, default=2560)
    parser.add_argument("--kill-child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.kill_child:
        url, cache, n = args.kill_child
        kill_child(url, cache, int(n))
        return
    scratch = Path(tempfile.mkdtemp(prefix="textmill-llm-bench-"))
    n = args.requests
    load = os.getloadavg()[0]
    print(f"machine: {os.cpu_count()} cores, load average {load:.1f}; server in its own process")

    server = Server(0.0)
    try:
        client = textmill_client(server.url, 64, scratch / "zero.sqlite")
        client.complete(requests(50, "warm"))
        wall, cpu = timed(lambda: client.complete(requests(n, "zero")))
        client.close()
        own_transport = llm_client.http_client
        llm_client.http_client = openai_aiohttp_transport
        try:
            client = textmill_client(server.url, 64, scratch / "theirs.sqlite")
            client.complete(requests(50, "warm-theirs"))
            their_wall, their_cpu = timed(lambda: client.complete(requests(n, "theirs")))
        finally:
            llm_client.http_client = own_transport
        peer_wall, peer_cpu = timed(lambda: bare_openai(server.url, requests(n, "peer"), 64))
        aio_wall, aio_cpu = timed(
            lambda: bare_openai(server.url, requests(n, "aio"), 64, aiohttp=True)
        )
        hit_wall, _ = timed(
            lambda: textmill_client(server.url, 64, scratch / "zero.sqlite").complete(
                requests(n, "zero")
            )
        )
    finally:
        server.stop()
    print(
        f"zero latency, {n} requests, concurrency 64:\n"
        f"  textmill client: {n / wall:,.0f} req/s wall, {cpu / n * 1e3:.3f} ms client CPU per "
        f"request = {n / cpu:,.0f} req/s per client core\n"
        f"  textmill client on openai's aiohttp transport: {n / their_wall:,.0f} req/s wall, "
        f"{their_cpu / n * 1e3:.3f} ms client CPU per request = {n / their_cpu:,.0f} req/s per "
        "client core\n"
        f"  bare openai    : {n / peer_wall:,.0f} req/s wall, {peer_cpu / n * 1e3:.3f} ms client "
        f"CPU per request = {n / peer_cpu:,.0f} req/s per client core\n"
        f"  bare openai, aiohttp transport: {n / aio_wall:,.0f} req/s wall, "
        f"{aio_cpu / n * 1e3:.3f} ms client CPU per request = {n / aio_cpu:,.0f} req/s per core\n"
        f"  ratio textmill/bare CPU per request: {cpu / peer_cpu:.2f}x "
        f"({cpu / aio_cpu:.2f}x against the aiohttp transport)\n"
        f"  all {n} again from the cache: {n / hit_wall:,.0f} req/s"
    )

    server = Server(1.0)
    try:
        m = args.latency_requests
        client = textmill_client(server.url, 256, scratch / "slow.sqlite")
        wall, cpu = timed(lambda: client.complete(requests(m, "slow")))
        client.close()
    finally:
        server_cpu = server.stop()
    times = client.answer_times
    steady = (m - 2 * 256) / (times[m - 256] - times[256])
    print(
        f"1 s latency, {m} requests, concurrency 256: {m / wall:,.0f} req/s over the whole run "
        f"and {steady:,.0f} req/s sustained (answers 256 to {m - 256}; ideal {256 / 1.0:.0f}); "
        f"client CPU {cpu / wall:.0%} of a core, server {server_cpu / wall:.0%}"
    )

    server = Server(0.01)
    try:
        total = 2000
        cache = scratch / "resume.sqlite"
        child = subprocess.Popen(
            [sys.executable, __file__, "--kill-child", server.url, str(cache), str(total)]
        )
        while server.stats()["answered"] < total // 2:
            time.sleep(0.02)
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
        time.sleep(0.2)
        before = server.stats()["answered"]
        client = textmill_client(server.url, 32, cache)
        outcomes = client.complete(requests(total, "resume"))
        client.close()
        after = server.stats()
    finally:
        server.stop()
    cached = sum(o.cached for o in outcomes)
    print(
        f"kill and resume, {total} requests: killed after {before} answered; the resumed run "
        f"took {cached} from the cache and sent {after['answered'] - before}; requests the "
        f"server answered twice: {after['answered_twice']} (in flight at the kill, never "
        "received)"
    )


if __name__ == "__main__":
    main()
