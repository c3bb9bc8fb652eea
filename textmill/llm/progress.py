"""A progress line for the LLM steps on stderr: requests/s, tokens/s, errors, cache hits.

Each worker process prints its own line (the run's bar counts documents; the endpoint's load
is what an operator watches here), at most every `every_s` seconds and once when a batch ends.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass, field


@dataclass
class LLMProgress:
    label: str
    every_s: float | None = 5.0
    sent: int = 0
    answered: int = 0
    cached: int = 0
    errors: int = 0
    retries: int = 0
    tokens: int = 0
    started: float = field(default_factory=time.perf_counter)
    last_print: float = 0.0

    def tick(self, *, force: bool = False) -> None:
        if self.every_s is None:
            return
        now = time.perf_counter()
        if not force and now - self.last_print < self.every_s:
            return
        self.last_print = now
        print(self.line(now), file=sys.stderr, flush=True)

    def line(self, now: float | None = None) -> str:
        seconds = max((now or time.perf_counter()) - self.started, 1e-9)
        return (
            f"{self.label} [pid {os.getpid()}]: {self.answered:,} answered "
            f"({self.answered / seconds:,.1f} req/s), {self.tokens:,} tokens "
            f"({self.tokens / seconds:,.0f} tok/s), {self.cached:,} cached, "
            f"{self.errors:,} errors, {self.retries:,} retries"
        )
