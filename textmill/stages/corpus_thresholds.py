"""Thresholds per language derived from the run itself: CulturaX's two passes (methods.md,
"CulturaX": "the natural default for a multilingual preset"), anchored so that the reference
language (English) is filtered exactly as FineWeb filters it.

Pass 1 (`signatures`) measures every metric of the wrapped filters (gopher_repetition,
fineweb_quality, gopher_quality, each with `lang: auto`) on every document. `reduce` sees the
whole run and sets each language's thresholds; pass 2 (`apply`) drops what fails them, with
the wrapped filter's reason and the language (`non_alpha_words=ja`; `=fallback:und` for a
document without one).

The rule, per wrapped filter and per language of the run:
- fixed: the reference language and every language a filter's `by_language` names keep those
  thresholds (the reference without an entry keeps the filter's defaults, FineWeb's);
- corpus: another language with at least `min_documents` documents gets, for every check the
  reference makes, the threshold that lets the same share of its own documents pass as the
  reference's fixed threshold lets pass of the reference's documents in this run (quantile
  transfer). The same text in two languages then loses the same share to each check, whatever
  its word lengths, segmenter or script;
- pooled: a language with fewer documents is judged by the same shares, transferred over a pool
  instead of its own few documents: every such language of its script (`lang_script`, the most
  common one among its documents), or, where that pool too is under `min_documents`, every
  such language left over. A small language is never judged more leniently than the
  reference: it loses the reference's share (within 1/n of its pool's n documents, ties kept);
- the reference's shares: measured on its documents in this run; with n < `min_documents` of
  them, each share is weighted n against `min_documents` − n documents at CulturaX's percentile
  rule (1 − `tail_share` passes each check), so that a few stray reference documents neither
  set nor lift the bar (no reference document: the percentile rule alone);
- fallback: the filters' `fallback` table, only for documents without a language.
The stop-word check is not transferred (the reference's list is in the reference's language):
corpus and pooled languages take the fallback's `min_stop_words` (off in `multilingual`).

Where the numbers come from: `min_documents` 25 because the share of n documents passing a
threshold set from them is off by at most 0.5/√n (one standard error of a proportion), 10
points at 25; `tail_share` 0.05 is the share of reference text `textmill calibrate` lets each
filter drop (textmill.lang.calibrate.PASS_SHARE = 0.95), here cut per check. Ties make a
threshold lenient: at least the share passes, never fewer. Each check is transferred on its
own; a check that tests several metrics against one option (`max_symbol_word_ratio`) takes the
most lenient of their thresholds.

What the rule assumes: a language's documents in the run have the reference's mix of good and
bad text. Where they do not (one language's pages come from a noisier source), that language
loses the share the reference loses, not the share its own text deserves.
"""

from __future__ import annotations

import functools
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import yaml
from pydantic import Field, model_validator

from textmill.document import ID, KEY
from textmill.io.writers import write_text_atomically
from textmill.lang.calibrate import PASS_SHARE
from textmill.pipeline import Filter, GlobalStage, OutputFile, StageOptions, register
from textmill.stages.filters._language import (
    AUTO,
    FALLBACK,
    LANG_COLUMN,
    LanguageOptions,
    Thresholds,
)
from textmill.stages.filters.fineweb_quality import FineWebQuality
from textmill.stages.filters.gopher_quality import GopherQuality
from textmill.stages.filters.gopher_repetition import GopherRepetition
from textmill.stages.langid import LANG_SCRIPT

FILTERS: dict[str, type[Filter]] = {
    "gopher_repetition": GopherRepetition,
    "fineweb_quality": FineWebQuality,
    "gopher_quality": GopherQuality,
}
SOURCE_COLUMN = "thresholds_from"  # per document: fixed, corpus, pooled or fallback
FIXED, CORPUS, POOLED = "fixed", "corpus", "pooled"
MIXED_POOL = "mixed"  # the pool of small languages whose script's pool is itself too small
MIN_DOCUMENTS = 25  # 0.5/sqrt(25): pass shares within 10 points (one standard error)
TAIL_SHARE = round(1 - PASS_SHARE, 6)  # textmill calibrate's share, 5%
DECISIONS_SCHEMA = pa.schema(
    [
        pa.field(KEY, pa.int64()),
        pa.field(ID, pa.string()),
        pa.field("reason", pa.string()),
        pa.field(SOURCE_COLUMN, pa.string()),
    ]
)


@dataclass(frozen=True)
class Check:
    """One threshold option of a filter and the metric column(s) it is compared with."""

    option: str
    metrics: tuple[str, ...]
    upper: bool  # a document fails above the threshold (else below it)
    n: int | None = None  # the key within a {n: threshold} option


_SINGLE_CHECKS: dict[str, tuple[Check, ...]] = {  # mirrors each filter's decide()
    "gopher_repetition": tuple(
        Check(name, (name,), True)
        for name in ("dup_line_frac", "dup_para_frac", "dup_line_char_frac", "dup_para_char_frac")
    ),
    "fineweb_quality": (
        Check("line_punct_thr", ("line_punct_ratio",), False),
        Check("short_line_thr", ("short_line_ratio",), True),
        Check("char_duplicates_ratio", ("char_dup_ratio",), True),
        Check("new_line_ratio", ("new_line_ratio",), True),
    ),
    "gopher_quality": (
        Check("min_words", ("num_real_words",), False),
        Check("max_words", ("num_real_words",), True),
        Check("min_mean_word_length", ("mean_word_length",), False),
        Check("max_mean_word_length", ("mean_word_length",), True),
        Check("max_symbol_word_ratio", ("hash_word_ratio", "ellipsis_word_ratio"), True),
        Check("max_bullet_lines_ratio", ("bullet_lines_ratio",), True),
        Check("max_ellipsis_lines_ratio", ("ellipsis_lines_ratio",), True),
        Check("min_alpha_words_ratio", ("alpha_words_ratio",), False),
    ),
}
_N_GRAM_CHECKS = {"gopher_repetition": (("top_n_grams", "top_{n}_gram_char_frac"),
                                        ("dup_n_grams", "dup_{n}_gram_char_frac"))}  # fmt: skip
_NOT_TRANSFERRED = {"gopher_quality": ("min_stop_words",)}  # a word list of another language
_ZERO_IS_OFF = ("gopher_repetition", "gopher_quality")  # their decide() reads 0 as "off"


def threshold_for_share(values: np.ndarray, share: float, upper: bool) -> float:
    """The threshold that lets at least `share` of `values` pass (a NaN passes every check):
    for an upper bound, the smallest value with that many values at or below it; for a lower
    bound, the largest with that many at or above it. With nothing to let pass, a value every
    document fails."""
    values = np.asarray(values, dtype=np.float64)
    measured = np.sort(values[~np.isnan(values)])
    if len(measured) == 0:
        return math.nan
    must_pass = math.ceil(share * len(values) - 1e-9) - (len(values) - len(measured))
    if must_pass <= 0:
        return float(measured[0] - 1 if upper else measured[-1] + 1)
    return float(measured[must_pass - 1] if upper else measured[len(measured) - must_pass])


def pass_share(values: Sequence[np.ndarray], threshold: float, upper: bool) -> float:
    """Share of rows that pass a check on every one of its metrics (NaN passes)."""
    with np.errstate(invalid="ignore"):
        fails = [(v > threshold) if upper else (v < threshold) for v in values]
    return float(1 - np.mean(np.logical_or.reduce(fails))) if len(values[0]) else 1.0


@register("corpus_thresholds")
class CorpusThresholds(GlobalStage):
    """Runs FineWeb-2's three heuristic filters with thresholds each language gets from its own
    documents in this run, so that parallel content loses the same share in every language."""

    class Options(StageOptions):
        # the wrapped filters, in the order their reasons take priority, with their options
        # (`by_language`, `fallback`; `lang` is always `auto`)
        filters: dict[str, dict[str, Any]] = {name: {} for name in FILTERS}
        reference: str = "en"  # FineWeb's thresholds were tuned on English
        min_documents: int = Field(MIN_DOCUMENTS, ge=1)
        tail_share: float = Field(TAIL_SHARE, ge=0, lt=1)
        write_thresholds: OutputFile = None  # YAML of the derived tables, under OUT

        @model_validator(mode="after")
        def _filters_are_known(self) -> CorpusThresholds.Options:
            for name, options in self.filters.items():
                if name not in FILTERS:
                    raise ValueError(
                        f"corpus_thresholds: unknown filter {name!r} (known: {', '.join(FILTERS)})"
                    )
                if options.get("lang", AUTO) != AUTO:
                    raise ValueError(
                        f"corpus_thresholds: {name} must route per document (`lang: auto`)"
                    )
                FILTERS[name].Options(**{**options, "lang": AUTO})
            return self

    @functools.cached_property
    def filters(self) -> list[Filter]:
        """The wrapped filters, routing per document, with the reference in `by_language`."""
        built = []
        for name, options in self.options.filters.items():
            stage = FILTERS[name]({**options, "lang": AUTO})
            if _key_of(stage.options, self.options.reference) == FALLBACK:
                by_language = {self.options.reference: {}, **stage.options.by_language}
                stage = FILTERS[name](stage.options.model_copy(update={"by_language": by_language}))
            built.append(stage)
        return built

    def signatures(self, batch: pa.Table) -> pa.Table:
        """Pass 1: key, id, language and every metric of every wrapped filter (`filter/metric`)."""
        if LANG_COLUMN not in batch.column_names:
            raise ValueError("corpus_thresholds needs the `lang` column: run langid before it")
        columns: dict[str, Any] = {
            KEY: batch[KEY],
            ID: batch[ID],
            LANG_COLUMN: batch[LANG_COLUMN],
        }
        if LANG_SCRIPT in batch.column_names:
            columns[LANG_SCRIPT] = batch[LANG_SCRIPT]
        for stage in self.filters:
            metrics = stage.measure(batch)
            for name in metrics.column_names:
                if name != LANG_COLUMN:
                    columns[f"{stage.name}/{name}"] = metrics[name]
        return pa.table(columns)

    def reduce(self, signature_files: Sequence[Path], workdir: Path) -> pa.Table:
        """Derive every language's thresholds from all signatures, then decide every row."""
        if not signature_files:
            return DECISIONS_SCHEMA.empty_table()
        table = pa.concat_tables(pq.read_table(path) for path in signature_files)
        derived = self.derive(table)
        if self.options.write_thresholds:
            summary = {"documents": _counts(table), "pools": self.pools(table), **derived}
            write_text_atomically(
                yaml.safe_dump(summary, sort_keys=False, allow_unicode=True),
                Path(self.options.write_thresholds),
            )
        return self.decide(table, derived)

    def pools(self, metrics: pa.Table) -> dict[str, str]:
        """{language: pool} for every language under `min_documents` that some filter adapts
        (not fixed in all): its script's pool (`script:Latn`), or MIXED_POOL where that pool is
        under `min_documents` too."""
        counts = _counts(metrics)
        small = {
            lang
            for lang, count in counts.items()
            if count < self.options.min_documents
            and any(_key_of(stage.options, lang) == FALLBACK for stage in self.filters)
        }
        if not small:
            return {}
        scripts: dict[str, Counter[str]] = {lang: Counter() for lang in small}
        script_column = (
            metrics[LANG_SCRIPT].to_pylist()
            if LANG_SCRIPT in metrics.column_names
            else [None] * metrics.num_rows
        )
        for lang, script in zip(metrics[LANG_COLUMN].to_pylist(), script_column, strict=True):
            if lang in scripts:
                scripts[lang][script or "unknown"] += 1
        pool_of = {lang: f"script:{found.most_common(1)[0][0]}" for lang, found in scripts.items()}
        sizes: Counter[str] = Counter()
        for lang, pool in pool_of.items():
            sizes[pool] += counts[lang]
        return {
            lang: pool if sizes[pool] >= self.options.min_documents else MIXED_POOL
            for lang, pool in sorted(pool_of.items())
        }

    def derive(self, metrics: pa.Table) -> dict[str, dict[str, dict[str, Any]]]:
        """{filter: {language: overrides}} for every corpus and pooled language (fixed
        languages and documents without a language are absent: they keep the filter's options)."""
        labels = metrics[LANG_COLUMN].to_pylist()
        label_array = np.array(labels, dtype=object)
        pool_of = self.pools(metrics)
        groups = np.array([pool_of.get(lang, lang) for lang in labels], dtype=object)
        tables: dict[str, dict[str, dict[str, Any]]] = {}
        for stage in self.filters:
            options: LanguageOptions = stage.options
            keys = _row_keys(options, labels)
            reference_key = _key_of(options, self.options.reference)
            reference_rows = keys == reference_key
            reference = _resolved(options, reference_key)
            # a reference's measured share counts as many documents as it has, up to
            # min_documents; the rest of the weight goes to the percentile rule
            weight = min(int(reference_rows.sum()) / self.options.min_documents, 1.0)
            columns = {
                name.split("/", 1)[1]: metrics[name].to_numpy(zero_copy_only=False)
                for name in metrics.column_names
                if name.startswith(f"{stage.name}/")
            }
            base = dict(options.by_language.get(reference_key, {}))
            base.update({name: (options.fallback or {}).get(name) for name in
                         _NOT_TRANSFERRED.get(stage.name, ())})  # fmt: skip
            shares: list[tuple[Check, float | None]] = []
            for check, fixed in _checks(stage.name, reference):
                measured = 0.0
                if fixed is not None and weight:
                    values = [columns[m][reference_rows] for m in check.metrics]
                    measured = pass_share(values, fixed, check.upper)
                prior = 1 - self.options.tail_share
                shares.append((check, None if fixed is None else
                               weight * measured + (1 - weight) * prior))  # fmt: skip
            adapted = np.array([bool(lang) for lang in labels]) & (keys == FALLBACK)
            group_of = {lang: pool_of.get(lang, lang) for lang in set(label_array[adapted])}
            per_group = {
                group: self._transferred(
                    stage.name, base, shares, columns, adapted & (groups == group)
                )
                for group in set(group_of.values())
            }
            tables[stage.name] = {
                str(lang): per_group[group] for lang, group in sorted(group_of.items())
            }
        return tables

    @staticmethod
    def _transferred(
        name: str,
        base: dict[str, Any],
        shares: list[tuple[Check, float | None]],
        columns: dict[str, np.ndarray],
        rows: np.ndarray,
    ) -> dict[str, Any]:
        """One group's options: every check's threshold that lets its share of `rows` pass."""
        overrides = dict(base)
        n_grams: dict[str, dict[int, Any]] = {o: {} for o, _ in _N_GRAM_CHECKS.get(name, ())}
        for check, share in shares:
            if share is None:  # the reference skips this check
                if check.n is None:
                    overrides.setdefault(check.option, None)
                continue
            found = [
                threshold_for_share(columns[m][rows], share, check.upper) for m in check.metrics
            ]
            found = [v for v in found if not math.isnan(v)]
            value = max(found) if found else math.nan
            value = _as_option(name, value, check.upper, columns[check.metrics[0]])
            if check.n is None:
                overrides[check.option] = value
            else:
                n_grams[check.option][check.n] = value
        return {**overrides, **n_grams}

    def decide(self, metrics: pa.Table, derived: dict[str, dict[str, dict[str, Any]]]) -> pa.Table:
        """Pass 2's decisions: the first failing filter's reason, and where each row's
        thresholds came from."""
        labels = metrics[LANG_COLUMN].to_pylist()
        pool_of = self.pools(metrics)
        pooled = np.array([lang in pool_of for lang in labels], dtype=bool)
        reasons: list[str | None] = [None] * metrics.num_rows
        source = np.full(metrics.num_rows, FALLBACK, dtype=object)
        for stage in self.filters:
            options = stage.options
            tables = derived.get(stage.name, {})
            keys = _row_keys(options, labels)
            corpus = np.array([lang in tables for lang in labels], dtype=bool)
            source[(keys != FALLBACK) & (source == FALLBACK)] = FIXED
            source[corpus] = CORPUS
            source[corpus & pooled] = POOLED
            adapted = type(stage)(
                options.model_copy(update={"by_language": {**options.by_language, **tables}})
            )
            prefix = f"{stage.name}/"
            own = [name for name in metrics.column_names if name.startswith(prefix)]
            table = metrics.select(own).rename_columns([n.removeprefix(prefix) for n in own])
            decision = adapted.decide(table.append_column(LANG_COLUMN, metrics[LANG_COLUMN]))
            for row, reason in enumerate(decision.reasons.to_pylist()):
                if reason is not None and reasons[row] is None:
                    reasons[row] = reason
        return pa.table(
            {
                KEY: metrics[KEY],
                ID: metrics[ID],
                "reason": pa.array(reasons, pa.string()),
                SOURCE_COLUMN: pa.array(source.tolist(), pa.string()),
            },
            schema=DECISIONS_SCHEMA,
        )


def _key_of(options: LanguageOptions, lang: str | None) -> str:
    """The `by_language` key a language resolves to (FALLBACK when none)."""
    return str(_row_keys(options, [lang])[0])


def _row_keys(options: LanguageOptions, labels: list[str | None]) -> np.ndarray:
    distinct = list(dict.fromkeys(labels))
    probe = pa.table(
        {"rows": np.zeros(len(distinct)), LANG_COLUMN: pa.array(distinct, pa.string())}
    )
    thresholds = Thresholds(options, probe)
    found = thresholds.keys.tolist() if thresholds.keys is not None else [FALLBACK] * len(distinct)
    by_label = dict(zip(distinct, found, strict=True))
    return np.array([by_label[lang] for lang in labels], dtype=object)


def _resolved(options: LanguageOptions, key: str) -> LanguageOptions:
    overrides = (options.fallback or {}) if key == FALLBACK else options.by_language[key]
    base = options.model_dump(exclude={"lang", "by_language", "fallback"})
    return type(options).model_validate({**base, **overrides})


def _checks(name: str, reference: LanguageOptions) -> list[tuple[Check, float | None]]:
    """Every check of a filter with the reference's threshold (None: the reference skips it)."""
    zero_is_off = name in _ZERO_IS_OFF
    found: list[tuple[Check, float | None]] = []
    for check in _SINGLE_CHECKS[name]:
        value = getattr(reference, check.option)
        off = value is None or (zero_is_off and not value)
        found.append((check, None if off else float(value)))
    for option, metric in _N_GRAM_CHECKS.get(name, ()):
        for n, value in (getattr(reference, option) or {}).items():
            check = Check(option, (metric.format(n=n),), True, int(n))
            found.append((check, float(value) if value else None))
    return found


def _as_option(name: str, value: float, upper: bool, metric: np.ndarray) -> float | int | None:
    """The option's value: None (off) where the language has no measurement; an integer for
    an integer metric; for filters that read 0 as "off", the smallest positive float in place
    of an upper bound of 0, which checks the same thing ("any at all")."""
    if math.isnan(value):
        return None
    if metric.dtype.kind in "iu":
        return int(value)
    if upper and name in _ZERO_IS_OFF and value == 0:
        return float(np.nextafter(0.0, 1.0))
    return value


def _counts(metrics: pa.Table) -> dict[str, int]:
    labels = [lang for lang in metrics[LANG_COLUMN].to_pylist() if lang]
    values, counts = np.unique(np.array(labels, dtype=object), return_counts=True)
    return {str(v): int(c) for v, c in zip(values.tolist(), counts.tolist(), strict=True)}
