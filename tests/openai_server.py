"""A real HTTP server on 127.0.0.1 that speaks OpenAI chat completions, for tests and the client
benchmark: deterministic answers, and misbehaviour scripted by markers in the prompt.

Markers (anywhere in the last message): `[[429:N]]` the first N attempts get 429 with
`retry-after-ms: 20` (`[[429s:N]]`: `Retry-After: 1`), `[[500:N]]` the first N get 500,
`[[timeout]]` every attempt hangs 5 s, `[[slow:S]]` answers after S seconds, `[[junk]]` a 200
whose body is not JSON, `[[shape]]` JSON without choices, `[[truncate]]` finish_reason
`length`, `[[empty]]` an empty reply, `[[badpython]]` code that does not compile,
`[[noscore]]` a judge reply without a score. Otherwise: a fenced Python program when the prompt
holds a ```python block, `Educational score: N` for a judge prompt, else `REWRITTEN <hash>`.

Run alone: python -m tests.openai_server --port 8765 --latency 1.0
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import re
import threading
from collections import Counter

MARK = re.compile(r"\[\[(\w+)(?::([\w.]+))?\]\]")


def reply_for(prompt: str) -> str:
    digest = hashlib.sha256(prompt.encode()).hexdigest()[:8]
    marks = dict(MARK.findall(prompt))
    if "badpython" in marks:
        return "```python\ndef broken(:\n    pass\n```"
    if "noscore" in marks:
        return "I cannot judge this extract."
    if "Educational score" in prompt:
        return f"Some reasoning about the extract.\nEducational score: {int(digest, 16) % 6}"
    if "```python" in prompt:
        return (
            f'Here it is.\n```python\ndef rewritten_{digest}() -> str:\n    return "{digest}"\n```'
        )
    return f"REWRITTEN {digest}"


class FakeOpenAI:
    """The server (asyncio, in a thread of its own, cheap per request so that a benchmark
    measures the client) and what it saw: every attempt (`attempts`, by prompt) and every
    request it answered with a 200 (`answered`)."""

    def __init__(self, latency_s: float = 0.0, port: int = 0):
        self.latency_s = latency_s
        self.attempts: Counter[str] = Counter()
        self.answered: Counter[str] = Counter()
        self.connections = self.most_connections = 0
        self.waiting = self.most_waiting = 0  # requests inside their latency at once
        self.loop = asyncio.new_event_loop()
        self.server = self.loop.run_until_complete(
            asyncio.start_server(self._serve, "127.0.0.1", port, backlog=4096)
        )
        self.port = self.server.sockets[0].getsockname()[1]
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def __enter__(self) -> FakeOpenAI:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        async def stop() -> None:
            self.server.close()
            for task in asyncio.all_tasks():
                if task is not asyncio.current_task():
                    task.cancel()

        asyncio.run_coroutine_threadsafe(stop(), self.loop).result(5)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        if not self.thread.is_alive():
            self.loop.close()

    @property
    def total_answered(self) -> int:
        return sum(self.answered.values())

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self.most_connections = max(self.most_connections, self.connections)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, path = lines[0].split(" ")[:2]
                headers = dict(line.split(":", 1) for line in lines[1:] if ":" in line)
                headers = {k.strip().lower(): v.strip() for k, v in headers.items()}
                body = await reader.readexactly(int(headers.get("content-length", 0)))
                reply = await self._reply(method, path, body)
                if reply is None:  # a hang: the client's timeout must end it
                    return
                status, payload, extra = reply
                head_lines = [
                    f"HTTP/1.1 {status} {'OK' if status == 200 else 'Error'}",
                    "Content-Type: application/json",
                    f"Content-Length: {len(payload)}",
                    *(f"{k}: {v}" for k, v in extra.items()),
                ]
                writer.write(("\r\n".join(head_lines) + "\r\n\r\n").encode() + payload)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            pass
        finally:
            self.connections -= 1
            writer.close()

    async def _reply(
        self, method: str, path: str, raw: bytes
    ) -> tuple[int, bytes, dict[str, str]] | None:
        if method == "GET":  # what the server saw, for the benchmark's kill test
            counts = list(self.answered.values())
            stats = {
                "answered": sum(counts),
                "answered_twice": sum(n > 1 for n in counts),
                "most_connections": self.most_connections,
            }
            return 200, json.dumps(stats).encode(), {}
        if path.rstrip("/") != "/v1/chat/completions":
            return 404, b'{"error": {"message": "no such route"}}', {}
        body = json.loads(raw)
        prompt = body["messages"][-1]["content"]
        self.attempts[prompt] += 1
        attempt = self.attempts[prompt]
        marks = dict(MARK.findall(prompt))
        for mark, status, headers in (
            ("429", 429, {"retry-after-ms": "20"}),
            ("429s", 429, {"Retry-After": "1"}),
            ("500", 500, {}),
        ):
            if mark in marks and attempt <= int(marks[mark]):
                error = {"error": {"message": f"scripted {status}", "type": "scripted"}}
                return status, json.dumps(error).encode(), headers
        if "timeout" in marks:
            await asyncio.sleep(5)
            return None
        delay = float(marks.get("slow", self.latency_s))
        if delay:
            self.waiting += 1
            self.most_waiting = max(self.most_waiting, self.waiting)
            try:
                await asyncio.sleep(delay)
            finally:
                self.waiting -= 1
        if "junk" in marks:
            return 200, b"{this is not json", {}
        if "shape" in marks:
            return 200, b'{"object": "chat.completion", "id": "x"}', {}
        content = "" if "empty" in marks else reply_for(prompt)
        answer = {
            "id": "chatcmpl-fake",
            "object": "chat.completion",
            "created": 0,
            "model": body.get("model", ""),
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content},
                    "finish_reason": "length" if "truncate" in marks else "stop",
                }
            ],
            "usage": {
                "prompt_tokens": len(prompt) // 4 + 1,
                "completion_tokens": len(content) // 4 + 1,
                "total_tokens": len(prompt) // 4 + len(content) // 4 + 2,
            },
        }
        self.answered[prompt] += 1
        return 200, json.dumps(answer).encode(), {}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--latency", type=float, default=0.0)
    args = parser.parse_args()
    fake = FakeOpenAI(args.latency, args.port)
    print(f"serving {fake.base_url}", flush=True)
    fake.loop.run_forever()


if __name__ == "__main__":
    main()
