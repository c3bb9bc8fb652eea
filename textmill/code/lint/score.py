"""Pylint's evaluation formula and SwallowCode's comment penalty.

Both engines end here so that a ruff score and a pylint score are the same function of
(messages per category, statements); the ruff engine counts statements as pylint does in
`ast_checks.analyse_module`.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

import numpy as np

CATEGORIES = ("error", "warning", "refactor", "convention")


@dataclass(frozen=True)
class FileLint:
    """One file's lint outcome: messages per category (weighted for ruff), statements, and
    `failure` (None, or why there is no score: `timeout`, `crashed`, `syntax_error`, ...)."""

    error: float = 0.0
    warning: float = 0.0
    refactor: float = 0.0
    convention: float = 0.0
    fatal: float = 0.0
    statements: int = 0
    failure: str | None = None
    detail: str | None = None


def pylint_score(
    error: np.ndarray,
    warning: np.ndarray,
    refactor: np.ndarray,
    convention: np.ndarray,
    statements: np.ndarray,
    fatal: np.ndarray | None = None,
) -> np.ndarray:
    """pylint's default `evaluation`: max(0, 0 if fatal else 10 - (5e + w + r + c) / s * 10);
    NaN where there is no statement (pylint prints no score then)."""
    statements = np.asarray(statements, dtype=np.float64)
    penalty = 5 * np.asarray(error, np.float64) + warning + refactor + convention
    with np.errstate(divide="ignore", invalid="ignore"):
        score = np.maximum(0.0, 10.0 - penalty / statements * 10.0)
    if fatal is not None:
        score = np.where(np.asarray(fatal) > 0, 0.0, score)
    return np.where(statements > 0, score, np.nan)


def parse_python(source: str) -> ast.Module | None:
    """The module's AST, None when it does not parse (pylint reports syntax-error then)."""
    try:
        return ast.parse(source)
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return None


def apply_comment_penalty(scores: np.ndarray, ratios: np.ndarray) -> np.ndarray:
    """SwallowCode's penalty on comment-heavy files: score × (1 - comment share)."""
    return np.asarray(scores, np.float64) * (1.0 - np.asarray(ratios, np.float64))
