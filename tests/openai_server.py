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
import hashlib
import json
import re
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

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
    """The server, its thread, and what it saw: every attempt (`attempts`, by prompt) and every
    request it answered with a 200 (`answered`)."""

    def __init__(self, latency_s: float = 0.0, port: int = 0):
        self.latency_s = latency_s
        self.attempts: Counter[str] = Counter()
        self.answered: Counter[str] = Counter()
        self.lock = threading.Lock()
        ThreadingHTTPServer.request_queue_size = 1024  # a burst of connects is not refused
        self.server = ThreadingHTTPServer(("127.0.0.1", port), self._handler())
        self.server.daemon_threads = True
        self.server.handle_error = lambda request, address: None  # a killed client resets
        self.server.block_on_close = False
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def __enter__(self) -> FakeOpenAI:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    @property
    def total_answered(self) -> int:
        return sum(self.answered.values())

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:  # quiet
                pass

            def send(self, status: int, body: bytes, headers: dict[str, str] | None = None):
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if self.path.rstrip("/") != "/v1/chat/completions":
                    self.send(404, b'{"error": {"message": "no such route"}}')
                    return
                prompt = body["messages"][-1]["content"]
                with fake.lock:
                    fake.attempts[prompt] += 1
                    attempt = fake.attempts[prompt]
                marks = dict(MARK.findall(prompt))
                for mark, status, headers in (
                    ("429", 429, {"retry-after-ms": "20"}),
                    ("429s", 429, {"Retry-After": "1"}),
                    ("500", 500, {}),
                ):
                    if mark in marks and attempt <= int(marks[mark]):
                        error = {"error": {"message": f"scripted {status}", "type": "scripted"}}
                        self.send(status, json.dumps(error).encode(), headers)
                        return
                if "timeout" in marks:
                    time.sleep(5)
                    return
                delay = float(marks.get("slow", fake.latency_s))
                if delay:
                    time.sleep(delay)
                if "junk" in marks:
                    self.send(200, b"{this is not json")
                    return
                if "shape" in marks:
                    self.send(200, b'{"object": "chat.completion", "id": "x"}')
                    return
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
                with fake.lock:
                    fake.answered[prompt] += 1
                self.send(200, json.dumps(answer).encode())

        return Handler


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--latency", type=float, default=0.0)
    args = parser.parse_args()
    fake = FakeOpenAI(args.latency, args.port)
    print(f"serving {fake.base_url}", flush=True)
    fake.server.serve_forever()


if __name__ == "__main__":
    main()
