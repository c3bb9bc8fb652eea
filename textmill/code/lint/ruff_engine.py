"""A pylint-scale score from the ruff binary: one ruff run per batch over files in a temporary
folder, each message counted in the pylint category of the check it mirrors (`ruff_rules`),
statements counted as pylint counts them, then pylint's formula with calibrated weights.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from functools import cache

import numpy as np

from textmill.code.lint.ruff_rules import RUFF_WEIGHTS, category_of, selected_rules
from textmill.code.lint.score import CATEGORIES, pylint_score


@cache
def ruff_binary() -> str:
    """The ruff executable of the `ruff` package textmill pins (not whatever is on PATH)."""
    from ruff.__main__ import find_ruff_bin

    return os.fsdecode(find_ruff_bin())


@cache
def known_rules() -> frozenset[str]:
    """Codes this ruff knows and has not removed."""
    listing = subprocess.run(
        [ruff_binary(), "rule", "--all", "--output-format", "json"],
        capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    rules = json.loads(listing.stdout)
    return frozenset(
        rule["code"]
        for rule in rules
        if rule.get("code") and "Removed" not in json.dumps(rule.get("status"))
    )


@cache
def _rules() -> tuple[str, ...]:
    return tuple(selected_rules(set(known_rules())))


def ruff_messages(sources: Sequence[str], timeout: float = 600.0) -> list[dict[str, int]]:
    """{ruff code: count} per source, from one `ruff check` over all of them."""
    counts: list[dict[str, int]] = [{} for _ in sources]
    if not sources:
        return counts
    target = f"py3{sys.version_info.minor}"
    with tempfile.TemporaryDirectory(prefix="textmill-ruff-") as folder:
        for index, source in enumerate(sources):
            path = os.path.join(folder, f"f{index}.py")
            with open(path, "w", encoding="utf-8", newline="") as out:
                out.write(source)
        command = [
            ruff_binary(), "check", "--isolated", "--no-cache", "--preview", "--exit-zero",
            "--ignore-noqa", "--output-format", "json", "--target-version", target,
            "--select", ",".join(_rules()), folder,
        ]  # fmt: skip
        # one thread: the executor already runs one ruff per worker process
        env = {**os.environ, "RAYON_NUM_THREADS": "1"}
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env)
        if done.returncode != 0:
            raise RuntimeError(f"ruff failed ({done.returncode}): {done.stderr.strip()[:300]}")
        for message in json.loads(done.stdout or "[]"):
            code = message.get("code")
            if not code:  # invalid-syntax: callers parse first, so this is ruff's own stricter view
                continue
            stem = os.path.splitext(os.path.basename(message["filename"]))[0]
            row = counts[int(stem[1:])]
            row[code] = row.get(code, 0) + 1
    return counts


def category_counts(messages: Sequence[Mapping[str, int]]) -> dict[str, np.ndarray]:
    """Messages per pylint category and file."""
    counts = {category: np.zeros(len(messages)) for category in CATEGORIES}
    for row, per_code in enumerate(messages):
        for code, count in per_code.items():
            category = category_of(code)
            if category is not None:
                counts[category][row] += count
    return counts


def ruff_score(
    counts: Mapping[str, np.ndarray],
    statements: np.ndarray,
    weights: Mapping[str, float] = RUFF_WEIGHTS,
) -> np.ndarray:
    """pylint's formula over weighted ruff counts, plus `unseen` messages per statement."""
    weighted = {c: weights[c] * np.asarray(counts[c], np.float64) for c in CATEGORIES}
    unseen = weights.get("unseen", 0.0) * np.asarray(statements, np.float64)
    return pylint_score(
        weighted["error"],
        weighted["warning"],
        weighted["refactor"],
        weighted["convention"] + unseen,
        statements,
    )
