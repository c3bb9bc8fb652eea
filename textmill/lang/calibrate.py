"""Thresholds for one language from reference text in that language (FineWeb-2's approach).

The rule, per filter: the thresholds of a filter's calibrated metrics are set so that at least
`pass_share` of the reference documents pass that filter, all its calibrated metrics at once.
Each metric's threshold is a quantile at one share `q` common to the filter's metrics: the `q`
quantile for a maximum (a document fails above it), the `1 - q` quantile for a minimum; `q` is
the smallest share (found by bisection between `pass_share` and 1) at which the joint pass share
reaches `pass_share`. Why per filter and not per metric: a filter drops a document when any of
its metrics fails, so 95% per metric compounds (with the ~11 calibrated metrics, 74-82% of clean
reference text passed every threshold at once, benchmarks/calibration_sanity.py), while the
share the user chooses is meant as the share of good text a filter keeps. Reference text is good
text (Wikipedia, a curated corpus), so a filter that drops 5% of it drops the web documents that
look worse than the worst 5% of good text. The filters are gopher_repetition, fineweb_quality and
gopher_quality; settings that are not calibrated (FineWeb-2's fixed ones) are not part of the
joint share.

Guards, applied to the thresholds before the joint share is measured: where the reference never
shows a repetition (quantile 0) or every line ends a sentence (quantile 1), the FineWeb default
stays, because the reference says nothing about that metric; mean word length bounds are rounded
outwards to whole characters, as FineWeb-2's published bounds are; the other thresholds are
rounded outwards to 3 decimals (so `q = 1` passes every reference document). Stop words are the
`stop_words` words found in the most reference documents (document frequency), among words with
a letter. The language-id threshold is τ = max(0.3, min(0.9, median − σ)) of the scores of
reference documents identified as the language. Which metrics are calibrated and which settings
stay fixed follows FineWeb-2 (textmill.lang.fineweb2); the output is a per-language preset that
`textmill run` accepts.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from textmill.document import TEXT
from textmill.lang.fineweb2 import LanguageOptions
from textmill.lang.presets import fineweb2_stages, preset_yaml
from textmill.lang.thresholds import language_score_threshold

PASS_SHARE = 0.95
STOP_WORDS = 20
N_GRAMS_TOP = (2, 3, 4)  # FineWeb (methods.md item 4)
N_GRAMS_DUP = (5, 6, 7, 8, 9, 10)
BISECTION_STEPS = 30  # (1 - pass_share) / 2**30: far finer than any reference's documents


@dataclass(frozen=True)
class Bound:
    """One calibrated threshold: the metric column it bounds and how it is derived."""

    metric: str
    upper: bool  # a document fails above the threshold (False: below it)
    default: float | None = None  # kept where the reference never shows the metric
    whole: bool = False  # rounded outwards to whole characters (mean word length)


@dataclass
class FilterFit:
    """A filter's thresholds, the per-metric share `q` they were taken at, the joint share."""

    thresholds: dict[str, float]
    metric_share: float
    joint_share: float


@dataclass
class Calibration:
    lang: str
    documents: int
    options: LanguageOptions
    stop_word_shares: list[tuple[str, float]] = field(default_factory=list)
    fits: dict[str, FilterFit] = field(default_factory=dict)  # per calibrated filter

    def preset(self, pass_share: float) -> str:
        shares = ", ".join(
            f"{name} {fit.joint_share:.1%} (each metric's tail at {1 - fit.metric_share:.2%})"
            for name, fit in self.fits.items()
        )
        description = (
            f"FineWeb-2-style pipeline for {self.lang}: thresholds calibrated by `textmill "
            f"calibrate` on {self.documents} reference documents so that at least "
            f"{pass_share:.0%} of them pass each filter on all its calibrated metrics at once"
            + (f" (reference passing: {shares})" if shares else "")
            + "; stop words are the most common words by document frequency "
            "(textmill.lang.calibrate)."
        )
        stages = fineweb2_stages(self.lang, self.options)
        return preset_yaml(f"calibrated-{self.lang}", description, stages)


def read_reference(paths: Sequence[str | Path], text_field: str = "text") -> pa.Table:
    """Documents of JSONL/Parquet (any format textmill reads) as one table."""
    from textmill.io import ReadOptions, plan_shards, read_shard

    shards, unknown = plan_shards([str(p) for p in paths])
    if unknown and not shards:
        raise ValueError(f"no readable reference files among {', '.join(unknown)}")
    options = ReadOptions(batch_size=10_000, text_field=text_field)
    tables = [batch.docs for shard in shards for batch in read_shard(shard, options)]
    tables = [t for t in tables if t.num_rows]
    if not tables:
        raise ValueError("the reference files hold no documents")
    return pa.concat_tables(tables, promote_options="permissive")


def _measure(name: str, lang: str, batches: Iterable[pa.Table], **options: Any) -> pa.Table:
    from textmill.pipeline import build_stage

    stage = build_stage(name, {"lang": lang, **options})
    return pa.concat_tables([stage.measure(batch) for batch in batches])


def _upper(values: np.ndarray, share: float, default: float | None = None) -> float | None:
    value = math.ceil(round(float(np.quantile(values[~np.isnan(values)], share)) * 1000, 6))
    return default if value <= 0 and default is not None else value / 1000


def _lower(values: np.ndarray, share: float, default: float | None = None) -> float | None:
    value = math.floor(round(float(np.quantile(values[~np.isnan(values)], 1 - share)) * 1000, 6))
    return default if value >= 1000 and default is not None else value / 1000


def _threshold(values: np.ndarray, bound: Bound, share: float) -> float:
    if bound.upper:
        value = _upper(values, share, bound.default)
        return float(math.ceil(value)) if bound.whole else value
    value = _lower(values, share, bound.default)
    return float(math.floor(value)) if bound.whole else value


def _passes(values: np.ndarray, threshold: float, upper: bool) -> np.ndarray:
    """As the filters compare: a NaN metric (nothing to measure) fails no threshold."""
    with np.errstate(invalid="ignore"):
        return ~(values > threshold) if upper else ~(values < threshold)


def fit_filter(
    metrics: Mapping[str, np.ndarray], bounds: Mapping[str, Bound], pass_share: float
) -> FilterFit:
    """Thresholds (by option name) of one filter's calibrated metrics such that at least
    `pass_share` of the documents pass them all: every metric's quantile at one share `q`, the
    smallest `q` in [pass_share, 1] that reaches it (bisection on the joint pass share)."""

    def at(share: float) -> FilterFit:
        thresholds = {
            option: _threshold(metrics[b.metric], b, share) for option, b in bounds.items()
        }
        passed = np.logical_and.reduce(
            [_passes(metrics[b.metric], thresholds[o], b.upper) for o, b in bounds.items()]
        )
        return FilterFit(thresholds, share, float(np.mean(passed)))

    fit = at(pass_share)
    if fit.joint_share >= pass_share:
        return fit
    low, fit = pass_share, at(1.0)
    high = 1.0
    for _ in range(BISECTION_STEPS):  # invariant: at(low) falls short, at(high) = fit reaches it
        middle = (low + high) / 2
        candidate = at(middle)
        if candidate.joint_share >= pass_share:
            high, fit = middle, candidate
        else:
            low = middle
    return fit


def _default(stage: str, option: str) -> Any:
    from textmill.pipeline import stage_class

    return stage_class(stage).Options.model_fields[option].default


def _bounds() -> dict[str, dict[str, Bound]]:
    """Per filter, the calibrated options (n-gram ones as `top_n_grams.2`) and their bounds."""
    top = _default("gopher_repetition", "top_n_grams")
    dup = _default("gopher_repetition", "dup_n_grams")
    return {
        "gopher_repetition": {
            "dup_line_frac": Bound(
                "dup_line_frac", True, _default("gopher_repetition", "dup_line_frac")
            ),
            **{f"top_n_grams.{n}": Bound(f"top_{n}_gram_char_frac", True, top[n]) for n in top},
            **{f"dup_n_grams.{n}": Bound(f"dup_{n}_gram_char_frac", True, dup[n]) for n in dup},
        },
        "fineweb_quality": {
            "line_punct_thr": Bound(
                "line_punct_ratio", False, _default("fineweb_quality", "line_punct_thr")
            ),
            "new_line_ratio": Bound(
                "new_line_ratio", True, _default("fineweb_quality", "new_line_ratio")
            ),
        },
        "gopher_quality": {
            "min_mean_word_length": Bound("mean_word_length", False, whole=True),
            "max_mean_word_length": Bound("mean_word_length", True, whole=True),
            "min_alpha_words_ratio": Bound("alpha_words_ratio", False),
        },
    }


def calibrate(
    docs: pa.Table,
    lang: str,
    pass_share: float = PASS_SHARE,
    stop_words: int = STOP_WORDS,
    batch_size: int = 2_000,
    with_langid: bool = True,
) -> Calibration:
    """Per-language thresholds from reference documents (a table with a `text` column)."""
    if not 0.5 <= pass_share < 1:
        raise ValueError("pass_share must lie in [0.5, 1)")
    docs = docs.filter(pa.compute.greater(pa.compute.utf8_length(docs[TEXT]), 0))
    if docs.num_rows < 20:
        raise ValueError(f"{docs.num_rows} reference documents: calibration needs at least 20")
    batches = [docs.slice(i, batch_size) for i in range(0, docs.num_rows, batch_size)]
    top = {n: 1.0 for n in N_GRAMS_TOP}
    dup = {n: 1.0 for n in N_GRAMS_DUP}
    measured = {
        "gopher_repetition": _measure(
            "gopher_repetition", lang, batches, top_n_grams=top, dup_n_grams=dup
        ),
        "fineweb_quality": _measure("fineweb_quality", lang, batches),
        "gopher_quality": _measure("gopher_quality", lang, batches),
    }
    fits: dict[str, FilterFit] = {}
    for name, bounds in _bounds().items():
        table = measured[name]
        metrics = {
            b.metric: table[b.metric].to_numpy(zero_copy_only=False).astype(np.float64)
            for b in bounds.values()
        }
        fits[name] = fit_filter(metrics, bounds, pass_share)
    repetition = fits["gopher_repetition"].thresholds
    quality = fits["fineweb_quality"].thresholds
    gopher = fits["gopher_quality"].thresholds
    words = _stop_words(docs, lang, stop_words)
    options: LanguageOptions = {
        "gopher_repetition": {
            "dup_line_frac": repetition["dup_line_frac"],
            "dup_para_frac": None,
            "dup_line_char_frac": None,
            "dup_para_char_frac": None,
            "top_n_grams": {n: repetition[f"top_n_grams.{n}"] for n in top},
            "dup_n_grams": {n: repetition[f"dup_n_grams.{n}"] for n in dup},
        },
        "fineweb_quality": {
            "line_punct_thr": quality["line_punct_thr"],
            "short_line_thr": None,
            "char_duplicates_ratio": 0.1,  # FineWeb-2, fixed for every language
            "new_line_ratio": quality["new_line_ratio"],
        },
        "gopher_quality": {
            **gopher,
            "stop_words": [word for word, _ in words],
            "min_stop_words": 2,  # FineWeb-2, fixed for every language
        },
    }
    if with_langid:
        score = _langid_threshold(batches, lang)
        if score is not None:
            options["langid"] = {"min_score": score}
    return Calibration(lang, docs.num_rows, options, words, fits)


def _stop_words(docs: pa.Table, lang: str, count: int) -> list[tuple[str, float]]:
    from textmill.text import decode, spans_hashes, split_words
    from textmill.text.chars import ALPHA
    from textmill.text.spans import any_char_with
    from textmill.text.stopwords import frequent_words

    chars = decode(docs[TEXT])
    words = split_words(chars, lang)
    hashes, _ = spans_hashes(chars, words.starts, words.ends)
    eligible = any_char_with(chars, words, ALPHA)
    return frequent_words(
        chars.codes, words.starts, words.ends, words.row_offsets, hashes, count, eligible
    )


def _langid_threshold(batches: list[pa.Table], lang: str) -> float | None:
    from textmill.stages.langid import LangId, same_language

    stage = LangId()
    metrics = pa.concat_tables([stage.measure(batch) for batch in batches])
    langs, scores = metrics["lang"].to_pylist(), metrics["lang_score"].to_numpy()
    mine = [s for label, s in zip(langs, scores, strict=True) if same_language(label, lang)]
    return round(language_score_threshold(mine), 3) if len(mine) >= 20 else None
