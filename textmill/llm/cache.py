"""The persistent request cache and spend ledger: one SQLite file, shared by every worker.

A request is keyed by sha256 of its model, messages and sampling parameters, and its answer is
committed the moment it arrives, so a run killed at any point resumes without sending (and
paying for) an answered request again. The same file holds what each budget has spent, so a
budget counts across workers and across a resume.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS answers (
    key TEXT PRIMARY KEY,
    content TEXT NOT NULL,
    finish_reason TEXT,
    prompt_tokens INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS spend (
    scope TEXT PRIMARY KEY,
    requests INTEGER NOT NULL DEFAULT 0,
    tokens INTEGER NOT NULL DEFAULT 0
);
"""


def request_key(model: str | None, messages: list[dict[str, str]], params: dict[str, Any]) -> str:
    """sha256 over the canonical JSON of what decides the answer."""
    body = json.dumps([model, messages, params], sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Answer:
    content: str
    finish_reason: str | None
    prompt_tokens: int
    completion_tokens: int


class RequestCache:
    """Answers by request key, and spend per budget scope, in one SQLite file (WAL: readers
    never wait for the writer; concurrent workers wait on each other's short commits)."""

    def __init__(self, path: str | Path, *, read_only: bool = False):
        self.path = Path(path)
        if read_only:
            if not self.path.exists():
                self.db = sqlite3.connect(":memory:")
                self.db.executescript(SCHEMA)
                return
            self.db = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=60)
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(self.path, timeout=60, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")  # a killed process loses nothing committed
        self.db.executescript(SCHEMA)

    def get_many(self, keys: list[str]) -> dict[str, Answer]:
        found: dict[str, Answer] = {}
        for start in range(0, len(keys), 500):  # SQLite's bound-parameter limit
            chunk = keys[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows = self.db.execute(
                "SELECT key, content, finish_reason, prompt_tokens, completion_tokens "
                f"FROM answers WHERE key IN ({marks})",
                chunk,
            )
            for key, *fields in rows:
                found[key] = Answer(*fields)
        return found

    def put_many(self, answers: list[tuple[str, Answer]], scope: str) -> None:
        """Store answers and add their tokens to `scope`'s spend, in one commit."""
        with self.db:
            self.db.execute("BEGIN IMMEDIATE")
            self.db.executemany(
                "INSERT OR REPLACE INTO answers VALUES (?, ?, ?, ?, ?)",
                [
                    (key, a.content, a.finish_reason, a.prompt_tokens, a.completion_tokens)
                    for key, a in answers
                ],
            )
            tokens = sum(a.prompt_tokens + a.completion_tokens for _, a in answers)
            self.db.execute("UPDATE spend SET tokens = tokens + ? WHERE scope = ?", (tokens, scope))

    def reserve(self, scope: str, max_requests: int | None, max_tokens: int | None) -> bool:
        """Count one more request against `scope` when its budget allows it; False once the
        budget is spent (requests sent, or tokens of the answers received)."""
        with self.db:
            self.db.execute("BEGIN IMMEDIATE")
            self.db.execute("INSERT OR IGNORE INTO spend (scope) VALUES (?)", (scope,))
            cursor = self.db.execute(
                "UPDATE spend SET requests = requests + 1 WHERE scope = ? "
                "AND (? IS NULL OR requests < ?) AND (? IS NULL OR tokens < ?)",
                (scope, max_requests, max_requests, max_tokens, max_tokens),
            )
            return cursor.rowcount == 1

    def spent(self, scope: str) -> tuple[int, int]:
        row = self.db.execute(
            "SELECT requests, tokens FROM spend WHERE scope = ?", (scope,)
        ).fetchone()
        return (row[0], row[1]) if row else (0, 0)

    def close(self) -> None:
        self.db.close()
