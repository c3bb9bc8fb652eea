"""How extraction is scored: word-bag P/R/F1 against a true text, snippet checks.

Shared by the training script (cross-validation) and benchmarks/extraction.py, so that both
report the same numbers. Evaluation sets: ../shared/data/extraction (its README).
"""

from __future__ import annotations

import collections
import gzip
import json
import re
from pathlib import Path

WORD = re.compile(r"\w+")
WHITESPACE = re.compile(r"\s+")


def read_jsonl_gz(path: Path, limit: int | None = None) -> list[dict]:
    """Records split on '\\n' only: some texts hold U+2028/U+2029 (see the data README)."""
    with gzip.open(path, "rt", encoding="utf-8") as stream:
        lines = [line for line in stream.read().split("\n") if line.strip()]
    return [json.loads(line) for line in lines[:limit]]


def word_bag(text: str) -> collections.Counter[str]:
    return collections.Counter(WORD.findall(text.casefold()))


def precision_recall_f1(predicted: str, truth: str) -> tuple[float, float, float]:
    predicted_bag, truth_bag = word_bag(predicted), word_bag(truth)
    overlap = sum((predicted_bag & truth_bag).values())
    predicted_words, truth_words = sum(predicted_bag.values()), sum(truth_bag.values())
    precision = overlap / predicted_words if predicted_words else 0.0
    recall = overlap / truth_words if truth_words else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def normalise_whitespace(text: str) -> str:
    return WHITESPACE.sub(" ", text).strip()


def snippet_scores(outputs: list[str], pages: list[dict]) -> tuple[float, float, float]:
    """Share of `truth_with` snippets found, of `truth_without` snippets absent, and of both
    together over all snippets."""
    found = missing = absent = present = 0
    for output, page in zip(outputs, pages, strict=True):
        text = normalise_whitespace(output)
        for snippet in page.get("truth_with") or []:
            if normalise_whitespace(snippet) in text:
                found += 1
            else:
                missing += 1
        for snippet in page.get("truth_without") or []:
            if normalise_whitespace(snippet) in text:
                present += 1
            else:
                absent += 1
    total = found + missing + absent + present
    return (
        found / max(found + missing, 1),
        absent / max(absent + present, 1),
        (found + absent) / max(total, 1),
    )
