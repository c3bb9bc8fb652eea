"""Score a list of Python sources with either engine: one entry point for the stage and the
benchmark, so both see the same syntax gate, statement count and comment penalty."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from textmill.code.lint.ast_checks import analyse_module
from textmill.code.lint.comments import comment_ratio
from textmill.code.lint.pylint_engine import SWALLOWCODE_DISABLE, shared_pool
from textmill.code.lint.ruff_engine import category_counts, ruff_messages, ruff_score
from textmill.code.lint.score import (
    CATEGORIES,
    apply_comment_penalty,
    parse_python,
    pylint_score,
)

# why a Python file has no score (its reject reason)
SYNTAX_ERROR = "syntax_error"
NO_STATEMENTS = "no_statements"
TIMEOUT = "lint_timeout"
CRASHED = "lint_crashed"


Checks = tuple[int, dict[str, int]]  # what analyse_module finds: statements, {category: messages}


def checked_python(source: str) -> Checks | None:
    """`analyse_module` of the source's AST, None when it does not parse. The tree is dropped
    at once: a batch's trees kept alive together made every full collection of Python's
    cyclic GC walk all their nodes (~0.1 CPU s each on the 97 Python files of the code data)."""
    module = parse_python(source)
    return None if module is None else analyse_module(module)


def ruff_counts(
    sources: Sequence[str], checks: Sequence[Checks]
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Unweighted messages per pylint category (ruff's plus the AST checks') and statements."""
    counts = category_counts(ruff_messages(sources))
    statements = np.zeros(len(sources), dtype=np.int64)
    for row, (statement_count, extra) in enumerate(checks):
        statements[row] = statement_count
        for category, count in extra.items():
            counts[category][row] += count
    return counts, statements


@dataclass
class LintScores:
    """Per source: the score (NaN where none), why there is none, and a detail for the log."""

    scores: np.ndarray
    failures: list[str | None]
    details: list[str | None]


def score_python(
    sources: Sequence[str],
    engine: str = "ruff",
    *,
    comment_penalty: bool = True,
    workers: int = 2,
    time_limit: float = 30.0,
    disable: Sequence[str] = SWALLOWCODE_DISABLE,
) -> LintScores:
    """pylint-scale scores of `sources` (SwallowCode's comment penalty applied when asked)."""
    n = len(sources)
    scores = np.full(n, np.nan)
    failures: list[str | None] = [None] * n
    details: list[str | None] = [None] * n
    if engine == "pylint":  # the syntax gate alone: pylint makes its own tree
        checks: list[Checks | None] = [None] * n
        parsed = [i for i, source in enumerate(sources) if parse_python(source) is not None]
    else:
        checks = [checked_python(source) for source in sources]
        parsed = [i for i, found in enumerate(checks) if found is not None]
    for i in set(range(n)) - set(parsed):
        failures[i] = SYNTAX_ERROR
    if parsed:
        texts = [sources[i] for i in parsed]
        if engine == "pylint":
            results = shared_pool(workers, time_limit, disable).lint(texts)
            lints = [result["lint"] for result in results]
            counts = {c: np.array([lint[c] for lint in lints], float) for c in CATEGORIES}
            statements = np.array([lint["statements"] for lint in lints])
            fatal = np.array([lint["fatal"] for lint in lints])
            got = pylint_score(*(counts[c] for c in CATEGORIES), statements, fatal)
            for row, lint in zip(parsed, lints, strict=True):
                if lint["failure"]:
                    failures[row] = {"timeout": TIMEOUT}.get(lint["failure"], CRASHED)
                    details[row] = lint["detail"]
        else:
            counts, statements = ruff_counts(texts, [checks[row] for row in parsed])
            got = ruff_score(counts, statements)
        if comment_penalty:
            got = apply_comment_penalty(got, np.array([comment_ratio(t) for t in texts]))
        for k, row in enumerate(parsed):
            if failures[row] is None and statements[k] == 0:
                failures[row] = NO_STATEMENTS
            if failures[row] is None:
                scores[row] = got[k]
    return LintScores(scores, failures, details)
