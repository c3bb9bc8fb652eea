"""Thresholds for one language from reference text in that language (FineWeb-2's approach).

The rule, per metric: the threshold is the value that `pass_share` of the reference documents
pass on that metric alone: the `pass_share` quantile for a maximum (a document fails above it),
the `1 - pass_share` quantile for a minimum. Reference text is good text (Wikipedia, a curated
corpus), so a threshold that drops 5% of it drops the web documents that look worse than the
worst 5% of good text. Stop words are the `stop_words` words found in the most reference
documents (document frequency), among words with a letter. The language-id threshold is
τ = max(0.3, min(0.9, median − σ)) of the scores of reference documents identified as the
language. Two guards keep the rule from degenerating: where the reference never shows a
repetition (quantile 0) or every line ends a sentence (quantile 1), the FineWeb default stays,
because the reference says nothing about that metric; mean word length bounds are rounded
outwards to whole characters, as FineWeb-2's published bounds are. Which metrics are
calibrated and which settings stay fixed follows FineWeb-2
(textmill.lang.fineweb2); the output is a per-language preset that `textmill run` accepts.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
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


@dataclass
class Calibration:
    lang: str
    documents: int
    options: LanguageOptions
    stop_word_shares: list[tuple[str, float]] = field(default_factory=list)

    def preset(self, pass_share: float) -> str:
        description = (
            f"FineWeb-2-style pipeline for {self.lang}: thresholds calibrated by `textmill "
            f"calibrate` on {self.documents} reference documents so that {pass_share:.0%} of "
            "them pass each metric alone; stop words are the most common words by document "
            "frequency (textmill.lang.calibrate)."
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
    value = round(float(np.quantile(values[~np.isnan(values)], share)), 3)
    return default if value <= 0 and default is not None else value


def _lower(values: np.ndarray, share: float, default: float | None = None) -> float | None:
    value = round(float(np.quantile(values[~np.isnan(values)], 1 - share)), 3)
    return default if value >= 1 and default is not None else value


def _default(stage: str, option: str) -> Any:
    from textmill.pipeline import stage_class

    return stage_class(stage).Options.model_fields[option].default


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
    repetition = _measure("gopher_repetition", lang, batches, top_n_grams=top, dup_n_grams=dup)
    quality = _measure("fineweb_quality", lang, batches)
    gopher = _measure("gopher_quality", lang, batches)

    def col(table: pa.Table, name: str) -> np.ndarray:
        return table[name].to_numpy().astype(np.float64)

    words = _stop_words(docs, lang, stop_words)
    default_top = _default("gopher_repetition", "top_n_grams")
    default_dup = _default("gopher_repetition", "dup_n_grams")
    lengths = col(gopher, "mean_word_length")
    options: LanguageOptions = {
        "gopher_repetition": {
            "dup_line_frac": _upper(
                col(repetition, "dup_line_frac"),
                pass_share,
                _default("gopher_repetition", "dup_line_frac"),
            ),
            "dup_para_frac": None,
            "dup_line_char_frac": None,
            "dup_para_char_frac": None,
            "top_n_grams": {
                n: _upper(col(repetition, f"top_{n}_gram_char_frac"), pass_share, default_top[n])
                for n in top
            },
            "dup_n_grams": {
                n: _upper(col(repetition, f"dup_{n}_gram_char_frac"), pass_share, default_dup[n])
                for n in dup
            },
        },
        "fineweb_quality": {
            "line_punct_thr": _lower(
                col(quality, "line_punct_ratio"),
                pass_share,
                _default("fineweb_quality", "line_punct_thr"),
            ),
            "short_line_thr": None,
            "char_duplicates_ratio": 0.1,  # FineWeb-2, fixed for every language
            "new_line_ratio": _upper(
                col(quality, "new_line_ratio"),
                pass_share,
                _default("fineweb_quality", "new_line_ratio"),
            ),
        },
        "gopher_quality": {
            "min_mean_word_length": float(np.floor(_lower(lengths, pass_share))),
            "max_mean_word_length": float(np.ceil(_upper(lengths, pass_share))),
            "min_alpha_words_ratio": _lower(col(gopher, "alpha_words_ratio"), pass_share),
            "stop_words": [word for word, _ in words],
            "min_stop_words": 2,  # FineWeb-2, fixed for every language
        },
    }
    if with_langid:
        score = _langid_threshold(batches, lang)
        if score is not None:
            options["langid"] = {"min_score": score}
    return Calibration(lang, docs.num_rows, options, words)


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
