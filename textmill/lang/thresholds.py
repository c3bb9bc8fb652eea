"""Language-id confidence thresholds per language, from the scores themselves (FineWeb-2).

An identifier is more confident on some languages than on others, so one threshold keeps too
much of the easy languages and too little of the hard ones. FineWeb-2 sets each language's
threshold from its own score distribution: τ = max(0.3, min(0.9, median − σ)) (methods.md). A
two-pass run measures the scores first (langid with `min_score: 0`), calls
`language_score_thresholds`, and gives the table to langid as `min_score_by_language`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

FLOOR, CEILING = 0.3, 0.9  # methods.md, FineWeb-2: shipped thresholds all lie in [0.3, 0.9]
MIN_DOCUMENTS = 20  # fewer scores than this give no stable median and σ: no threshold


def language_score_threshold(scores: Sequence[float] | np.ndarray) -> float:
    """τ = max(0.3, min(0.9, median − σ)) of one language's scores (σ: population std)."""
    values = np.asarray(scores, dtype=np.float64)
    if values.size == 0:
        raise ValueError("no scores to set a threshold from")
    return float(max(FLOOR, min(CEILING, np.median(values) - values.std())))


def language_score_thresholds(
    languages: Sequence[str | None],
    scores: Sequence[float] | np.ndarray,
    min_documents: int = MIN_DOCUMENTS,
) -> dict[str, float]:
    """τ per language from a run's (language, score) pairs; languages with fewer than
    `min_documents` documents get none (langid then uses its `min_score`)."""
    values = np.asarray(scores, dtype=np.float64)
    labels = np.array([lang or "" for lang in languages], dtype=object)
    out: dict[str, float] = {}
    for lang in sorted(set(labels.tolist()) - {""}):
        mine = values[labels == lang]
        if len(mine) >= min_documents:
            out[lang] = round(language_score_threshold(mine), 4)
    return out
