"""Thresholds per language, shared by the heuristic filters (FineWeb-2 tunes each filter to each
language).

A filter's options hold the thresholds of one language (`lang`, English by default). Two more
options make them per language:
- `by_language`: {language: {option: value}}, overrides for that language (keys in any spelling
  textmill.lang.codes understands: `zh`, `cmn_Hani`, `zho`);
- `fallback`: overrides for every language absent from `by_language` (the generic fallback).
With `lang: auto` each row's language comes from the `lang` column langid writes; its words are
split by that language's segmenter and its thresholds resolved per row. A fixed `lang` resolves
once. Reasons of rows judged with auto languages carry the language (`too_few_words=zh`,
`too_few_words=fallback:sw`), so rejects can be counted per language.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
from pydantic import ValidationError, model_validator

from textmill.lang.codes import base_language, lookup, split_label
from textmill.pipeline import Decision, StageOptions

AUTO = "auto"
LANG_COLUMN = "lang"
FALLBACK = "fallback"
_NOT_OVERRIDABLE = ("lang", "by_language", "fallback")


class LanguageOptions(StageOptions):
    """Options of a filter whose thresholds may differ per language."""

    lang: str = "en"  # "auto": per row, from the `lang` column (langid)
    by_language: dict[str, dict[str, Any]] = {}
    fallback: dict[str, Any] | None = None  # None: languages without an entry use the defaults

    @model_validator(mode="after")
    def _overrides_name_options(self) -> LanguageOptions:
        allowed = set(type(self).model_fields) - set(_NOT_OVERRIDABLE)
        tables = [*self.by_language.items(), (FALLBACK, self.fallback or {})]
        for language, overrides in tables:
            if not overrides:
                continue
            unknown = sorted(set(overrides) - allowed)
            if unknown:
                raise ValueError(
                    f"by_language[{language!r}] has no option {unknown[0]!r} "
                    f"(allowed: {', '.join(sorted(allowed))})"
                )
            # each language's options must validate like the filter's own
            try:
                type(self).model_validate(
                    {**self.model_dump(exclude=set(_NOT_OVERRIDABLE)), **overrides}
                )
            except ValidationError as exc:
                error = exc.errors()[0]
                option = f" option {error['loc'][0]!r}:" if error["loc"] else ""
                message = error["msg"].removeprefix("Value error, ")
                raise ValueError(f"by_language[{language!r}]:{option} {message}") from None
        return self


def row_languages(batch: pa.Table, options: LanguageOptions) -> np.ndarray | str:
    """The language of every row ("auto": the batch's `lang` column), or the one fixed `lang`."""
    if options.lang != AUTO:
        return options.lang
    if LANG_COLUMN not in batch.column_names:
        raise ValueError("lang: auto needs the `lang` column: run langid before this filter")
    return np.array(batch[LANG_COLUMN].to_pylist(), dtype=object)


def with_languages(metrics: dict[str, Any], languages: np.ndarray | str) -> pa.Table:
    """The metrics table, with the per-row languages when they vary (decide() needs them)."""
    table = pa.table(metrics)
    if not isinstance(languages, str):
        table = table.append_column(LANG_COLUMN, pa.array(languages.tolist(), pa.string()))
    return table


class Thresholds:
    """The options that apply to each row: `t.value(name)` is the scalar option where every row
    shares it, else a float array (NaN where the row's language disables the check)."""

    def __init__(self, options: LanguageOptions, metrics: pa.Table):
        self.options = options
        self.num_rows = metrics.num_rows
        self.languages = (
            metrics[LANG_COLUMN].to_pylist() if LANG_COLUMN in metrics.column_names else None
        )
        self.keys: np.ndarray | None = None
        if options.by_language or options.fallback:
            languages = self.languages or [options.lang] * self.num_rows
            self.keys = np.array([self._key(lang) for lang in languages], dtype=object)
            self.profiles = list(dict.fromkeys(self.keys.tolist()))
        self._overrides: dict[str, dict[str, Any]] = {}

    @classmethod
    def for_batch(cls, options: LanguageOptions, languages: np.ndarray | str, num_rows: int):
        """Thresholds while measuring (before the metrics table exists)."""
        return cls(options, with_languages({"rows": np.zeros(num_rows)}, languages))

    def _key(self, lang: str | None) -> str:
        table = self.options.by_language
        found = lookup(dict(zip(table, table, strict=True)), lang)
        if found is None and lang:  # `zh` finds an entry written `cmn_Hani`
            base, script = split_label(lang)
            for key in table:
                key_base, key_script = split_label(key)
                same_script = script is None or key_script is None or script == key_script
                if base_language(key_base) == base_language(base) and same_script:
                    return key
        return FALLBACK if found is None else str(found)

    def overrides(self, key: str) -> dict[str, Any]:
        """The overrides of one language, validated (YAML and JSON give `{"2": 0.2}`)."""
        if key not in self._overrides:
            raw = (
                (self.options.fallback or {}) if key == FALLBACK else self.options.by_language[key]
            )
            base = self.options.model_dump(exclude=set(_NOT_OVERRIDABLE))
            validated = type(self.options).model_validate({**base, **raw})
            self._overrides[key] = {name: getattr(validated, name) for name in raw}
        return self._overrides[key]

    def resolved(self, name: str) -> list[tuple[np.ndarray, Any]]:
        """(row mask, value) pairs covering every row."""
        default = getattr(self.options, name)
        if self.keys is None:
            return [(np.ones(self.num_rows, dtype=bool), default)]
        return [(self.keys == key, self.overrides(key).get(name, default)) for key in self.profiles]

    def value(self, name: str, falsy_disables: bool = True) -> Any:
        """The threshold per row; None when no row checks it."""
        pairs = self.resolved(name)
        if len(pairs) == 1:
            value = pairs[0][1]
            return None if _disabled(value, falsy_disables) else value
        out = np.full(self.num_rows, np.nan)
        for mask, value in pairs:
            if not _disabled(value, falsy_disables):
                out[mask] = value
        return None if np.isnan(out).all() else out

    def n_gram_value(self, name: str, n: int) -> Any:
        """Threshold of one n of a {n: threshold} option per row (NaN where absent)."""
        out = np.full(self.num_rows, np.nan)
        for mask, table in self.resolved(name):
            if table and n in table and table[n]:
                out[mask] = table[n]
        return None if np.isnan(out).all() else out

    def decision(self, *checks: tuple[str, Any]) -> Decision:
        """Decision.first_failing, with the row's language in the reason when it varies."""
        decision = Decision.first_failing(*checks, num_rows=self.num_rows)
        if self.languages is None or not decision.num_dropped:
            return decision
        keys = self.keys if self.keys is not None else np.full(self.num_rows, "", dtype=object)
        suffixes = [
            f"={'fallback:' if key == FALLBACK else ''}{lang or 'und'}"
            for key, lang in zip(keys.tolist(), self.languages, strict=True)
        ]
        reasons = [
            None if reason is None else reason + suffix
            for reason, suffix in zip(decision.reasons.to_pylist(), suffixes, strict=True)
        ]
        return Decision(decision.keep, pa.array(reasons, pa.string()))


def all_n_grams(options: LanguageOptions, name: str) -> list[int]:
    """Every n any language checks for a {n: threshold} option (measure computes them all)."""
    tables = [getattr(options, name)]
    tables += [
        o[name] for o in [*options.by_language.values(), options.fallback or {}] if name in o
    ]
    return sorted({int(n) for table in tables if table for n in table})


def _disabled(value: Any, falsy_disables: bool) -> bool:
    return value is None or (falsy_disables and not value)
