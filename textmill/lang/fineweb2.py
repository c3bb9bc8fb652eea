"""FineWeb-2's per-language configs (`configs/{lang}_{script}.yml` of huggingface/fineweb-2)
read into textmill stage options.

A config holds: language_score, dup_line_frac, top_n_grams and dup_n_grams as [[n, fraction]],
line_punct_thr, new_line_ratio, max_non_alpha_words_ratio, min/max_avg_word_length, stopwords.
FineWeb-2's pipeline (fineweb-2-pipeline.py) uses them with these fixed settings, kept here:
paragraph and line-character repetition off, the short-line rule off, duplicated-line
characters at 0.1, at least 2 stop words, no C4 filters. `max_non_alpha_words_ratio` is, despite
its name, the minimum share of words with a letter (datatrove's GopherQualityFilter).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

REQUIRED = (
    "language_score",
    "dup_line_frac",
    "top_n_grams",
    "dup_n_grams",
    "line_punct_thr",
    "new_line_ratio",
    "max_non_alpha_words_ratio",
    "min_avg_word_length",
    "max_avg_word_length",
    "stopwords",
)

LanguageOptions = dict[str, dict[str, Any]]
"""{stage name: {option: value}}: one language's thresholds, as calibrate also writes them."""


class FineWeb2ConfigError(ValueError):
    """A file that is not a FineWeb-2 language config."""


def _pairs(value: Any, path: str, key: str) -> dict[int, float]:
    try:
        return {int(n): float(fraction) for n, fraction in value}
    except (TypeError, ValueError) as exc:
        raise FineWeb2ConfigError(f"{path}: {key} must be a list of [n, fraction] pairs") from exc


def read_fineweb2_config(path: str | Path) -> LanguageOptions:
    """Stage options for the language of one FineWeb-2 config file."""
    path = Path(path)
    try:
        config = yaml.safe_load(path.read_text("utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise FineWeb2ConfigError(f"{path}: cannot read a FineWeb-2 config ({exc})") from exc
    if not isinstance(config, dict):
        raise FineWeb2ConfigError(f"{path}: expected a mapping")
    missing = [key for key in REQUIRED if key not in config]
    if missing:
        raise FineWeb2ConfigError(f"{path}: not a FineWeb-2 config (missing {', '.join(missing)})")
    return fineweb2_options(config, str(path))


def fineweb2_options(config: dict[str, Any], origin: str = "config") -> LanguageOptions:
    return {
        "langid": {"min_score": float(config["language_score"])},
        "gopher_repetition": {
            "dup_line_frac": float(config["dup_line_frac"]),
            "dup_para_frac": None,
            "dup_line_char_frac": None,
            "dup_para_char_frac": None,
            "top_n_grams": _pairs(config["top_n_grams"], origin, "top_n_grams"),
            "dup_n_grams": _pairs(config["dup_n_grams"], origin, "dup_n_grams"),
        },
        "fineweb_quality": {
            "line_punct_thr": float(config["line_punct_thr"]),
            "short_line_thr": None,
            "char_duplicates_ratio": 0.1,
            "new_line_ratio": float(config["new_line_ratio"]),
        },
        "gopher_quality": {
            "min_mean_word_length": float(config["min_avg_word_length"]),
            "max_mean_word_length": float(config["max_avg_word_length"]),
            "min_alpha_words_ratio": float(config["max_non_alpha_words_ratio"]),
            "stop_words": [str(word) for word in config["stopwords"]],
            "min_stop_words": 2,
        },
    }


def find_fineweb2_config(directory: str | Path, lang: str) -> Path:
    """`{lang}.yml` or, for a bare code, the one `{lang}_{script}.yml` in `directory`."""
    from textmill.lang.codes import candidate_keys

    directory = Path(directory)
    for key in candidate_keys(lang):
        exact = directory / f"{key}.yml"
        if exact.is_file():
            return exact
        matches = sorted(directory.glob(f"{key}_*.yml"))
        if len(matches) == 1:
            return matches[0]
        if matches:
            names = ", ".join(p.stem for p in matches)
            raise FineWeb2ConfigError(f"{lang}: several configs ({names}); name the script")
    raise FineWeb2ConfigError(f"no FineWeb-2 config for {lang!r} in {directory}")
