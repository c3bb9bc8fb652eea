"""Per-language pipelines in FineWeb-2's shape, from one language's thresholds.

FineWeb-2 (fineweb-2-pipeline.py): language id with the language's own confidence threshold,
MinHash dedup per language, then Gopher repetition, FineWeb quality and Gopher quality with the
language's thresholds and word segmenter, no C4 filters, then PII. The thresholds come from a
FineWeb-2 config (textmill.lang.fineweb2) or from `textmill calibrate` (textmill.lang.calibrate).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from textmill.lang.fineweb2 import (
    FineWeb2ConfigError,
    LanguageOptions,
    find_fineweb2_config,
    read_fineweb2_config,
)

FILTERS = ("gopher_repetition", "fineweb_quality", "gopher_quality")


def fineweb2_stages(lang: str, options: LanguageOptions) -> list[dict[str, Any]]:
    """The stage list (`{name: options}` items) of a FineWeb-2-style run for one language."""
    langid = {"languages": [lang], **options.get("langid", {})}
    stages: list[dict[str, Any]] = [{"url_filter": {}}, {"extract": {}}, {"langid": langid}]
    stages += [{"exact_dedup": {}}, {"minhash_dedup": {}}]
    stages += [{name: {"lang": lang, **options.get(name, {})}} for name in FILTERS]
    stages.append({"pii": {}})
    return stages


def preset_yaml(name: str, description: str, stages: list[dict[str, Any]]) -> str:
    """A pipeline file `textmill run` accepts (n-gram tables keep integer keys)."""
    document = {"name": name, "description": description, "stages": stages}
    return yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=100)


def fineweb2_preset(lang: str, source: str | Path | None = None) -> str:
    """The `fineweb2` preset for `lang`: thresholds from a FineWeb-2 config file, a directory of
    them, or a calibrated preset YAML (its stages are returned as they are)."""
    if source is None:
        raise ValueError(
            "--preset fineweb2 needs the language's thresholds: --lang-config FILE, a FineWeb-2 "
            "config (configs/{lang}_{script}.yml) or a preset written by `textmill calibrate`"
        )
    path = Path(source)
    if path.is_dir():
        path = find_fineweb2_config(path, lang)
    try:
        text = path.read_text("utf-8")
        document = yaml.safe_load(text)
    except OSError as exc:
        raise FineWeb2ConfigError(f"{path}: cannot read ({exc.strerror or exc})") from None
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise FineWeb2ConfigError(f"{path}: not a YAML file ({exc})") from None
    if isinstance(document, dict) and "stages" in document:
        return text
    options = read_fineweb2_config(path)
    description = f"FineWeb-2's recipe for {lang}, thresholds from {path.name} (FineWeb-2 config)"
    return preset_yaml(f"fineweb2-{lang}", description, fineweb2_stages(lang, options))


def multilingual_stages(languages: dict[str, LanguageOptions]) -> list[dict[str, Any]]:
    """The `multilingual` preset's stages with each language's thresholds added to the
    `by_language` tables of the filters `corpus_thresholds` wraps (those languages then keep
    them instead of the run-derived ones) and to langid's `min_score_by_language`."""
    from textmill.config import preset_text

    document = yaml.safe_load(preset_text("multilingual"))
    stages: list[dict[str, Any]] = document["stages"]
    for item in stages:
        ((name, options),) = item.items()
        for lang, tables in languages.items():
            if name == "langid" and "min_score" in tables.get("langid", {}):
                options.setdefault("min_score_by_language", {})[lang] = tables["langid"][
                    "min_score"
                ]
            elif name == "corpus_thresholds":
                for filter_name, filter_options in options["filters"].items():
                    if filter_name in tables:
                        by_language = filter_options.setdefault("by_language", {})
                        by_language[lang] = tables[filter_name]
    return stages
