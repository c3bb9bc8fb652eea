"""A file's programming language from its name, by GitHub linguist's extension and file-name
table (the compact subset in `languages.json`), as The Stack labels files."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources


@cache
def language_table() -> tuple[dict[str, str], dict[str, str]]:
    """({file name: language}, {lower-case extension: language}) from `languages.json`."""
    data = json.loads((resources.files("textmill.code") / "languages.json").read_text("utf-8"))
    filenames: dict[str, str] = {}
    extensions: dict[str, str] = {}
    for language, entry in data.items():
        if language.startswith("_"):
            continue
        for name in entry.get("filenames", ()):
            filenames[name] = language
        for extension in entry.get("extensions", ()):
            extensions[extension] = language
    return filenames, extensions


def language_of(path: str) -> str | None:
    """Linguist's language for a path: an exact file name first (`Makefile`, `CMakeLists.txt`),
    then the extension, case-insensitively; None when the table knows neither."""
    filenames, extensions = language_table()
    name = path.rsplit("/", 1)[-1]
    if name in filenames:
        return filenames[name]
    dot = name.rfind(".")
    if dot <= 0:  # no extension, or a dot file such as `.gitignore`
        return None
    return extensions.get(name[dot:].lower())


def known_languages() -> list[str]:
    filenames, extensions = language_table()
    return sorted(set(filenames.values()) | set(extensions.values()))
