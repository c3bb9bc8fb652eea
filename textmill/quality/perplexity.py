"""CCNet-style perplexity (Wenzek et al. 2020) under a user-supplied KenLM model.

A document's perplexity is 10 ** (-Σ log10 P(line) / Σ (words(line) + 1)) over its lines, each line
scored with sentence boundaries, as cc_net's `DocLM` does. Documents fall into head / middle / tail
buckets by their language's perplexity percentiles (cc_net's `PerplexityBucket`: 30th and 60th).
KenLM reads ARPA and its binary format alike; the `kenlm` package builds from source.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

HEAD, MIDDLE, TAIL = "head", "middle", "tail"
# cc_net PerplexityBucket(percentile_head=30, percentile_tail=60)
DEFAULT_PERCENTILES = (30.0, 60.0)


@functools.cache
def load_kenlm(path: str) -> Any:
    """One loaded model per path and process (ARPA or KenLM binary)."""
    if not Path(path).is_file():
        raise FileNotFoundError(f"KenLM model {path} does not exist")
    try:
        import kenlm
    except ImportError as error:
        raise ImportError("perplexity needs kenlm: pip install kenlm==0.3.0") from error
    return kenlm.Model(path)


def normalize_for_lm(texts: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """cc_net's `text_normalizer.normalize`, column-wise: lower-case, strip accents, digits → 0,
    spaces collapsed. Apply it only if the model was trained on text normalised the same way."""
    out = pc.utf8_normalize(pc.utf8_lower(texts), form="NFD")
    out = pc.replace_substring_regex(out, r"\p{Mn}+", "")
    out = pc.replace_substring_regex(out, r"[0-9]", "0")
    return pc.replace_substring_regex(out, r"[ \t\p{Z}]+", " ")


def document_perplexity(texts: Sequence[str | None], model: Any) -> np.ndarray:
    """Perplexity per document (nan for null or blank text); a line is scored as a sentence."""
    perplexities = np.full(len(texts), np.nan, dtype=np.float64)
    for row, text in enumerate(texts):
        if not text:
            continue
        log_score, length = 0.0, 0
        for line in text.split("\n"):
            line = line.strip()
            if not line:
                continue
            log_score += model.score(line, bos=True, eos=True)
            length += len(line.split()) + 1  # + </s>
        if length:
            perplexities[row] = 10.0 ** (-log_score / length)
    return perplexities


def perplexity_cutoffs(
    perplexities: np.ndarray,
    langs: Sequence[str | None] | None = None,
    percentiles: tuple[float, float] = DEFAULT_PERCENTILES,
) -> dict[str, tuple[float, float]]:
    """{lang: (head cutoff, tail cutoff)} from a sample; one entry `"*"` when langs is None."""
    perplexities = np.asarray(perplexities, dtype=np.float64)
    keys = np.asarray(["*"] * len(perplexities) if langs is None else langs, dtype=object)
    cutoffs: dict[str, tuple[float, float]] = {}
    for lang in sorted({k for k in keys if k is not None}):
        values = perplexities[(keys == lang) & ~np.isnan(perplexities)]
        if len(values):
            head, tail = np.percentile(values, percentiles)
            cutoffs[lang] = (float(head), float(tail))
    return cutoffs


def assign_buckets(
    perplexities: np.ndarray,
    langs: Sequence[str | None] | None,
    cutoffs: Mapping[str, Sequence[float]],
) -> pa.Array:
    """`head` below the head cutoff, `tail` above the tail cutoff, else `middle` (cc_net); null
    where the perplexity is missing or the language has no cutoffs (`"*"` serves every language)."""
    buckets: list[str | None] = [None] * len(perplexities)
    for row, value in enumerate(perplexities):
        lang = langs[row] if langs is not None else None
        limits = cutoffs.get(lang) if lang is not None else None
        limits = limits if limits is not None else cutoffs.get("*")
        if limits is None or np.isnan(value):
            continue
        head, tail = limits
        buckets[row] = HEAD if value < head else TAIL if value > tail else MIDDLE
    return pa.array(buckets, pa.string())


def load_cutoffs(path: str | Path) -> dict[str, tuple[float, float]]:
    """A JSON file {lang: [head, tail]} as `textmill quality` or a user writes it."""
    raw = json.loads(Path(path).read_text())
    return {lang: (float(pair[0]), float(pair[1])) for lang, pair in raw.items()}
