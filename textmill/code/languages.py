"""A file's programming language from its name, by GitHub linguist's extension and file-name
table (the compact subset in `languages.json`), as The Stack labels files."""

from __future__ import annotations

import json
import re
from functools import cache
from importlib import resources


@cache
def language_table() -> tuple[dict[str, str], dict[str, str]]:
    """({file name: language}, {lower-case extension: language}) from `languages.json`."""
    filenames, extensions, _ = _tables()
    return filenames, extensions


@cache
def _tables() -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
    data = json.loads((resources.files("textmill.code") / "languages.json").read_text("utf-8"))
    filenames: dict[str, str] = {}
    extensions: dict[str, str] = {}
    interpreters: dict[str, str] = {}
    for language, entry in data.items():
        if language.startswith("_"):
            continue
        for name in entry.get("filenames", ()):
            filenames[name] = language
        for extension in entry.get("extensions", ()):
            extensions[extension] = language
        for interpreter in entry.get("interpreters", ()):
            interpreters[interpreter] = language
    return filenames, extensions, interpreters


def language_of(path: str, text: str | None = None) -> str | None:
    """Linguist's language for a file: an exact file name first (`Makefile`, `CMakeLists.txt`),
    then the extension, case-insensitively, then the interpreter a `#!` first line of `text`
    names (`#!/usr/bin/env bash`); None when none is known."""
    filenames, extensions, _ = _tables()
    name = path.rsplit("/", 1)[-1]
    if name in filenames:
        return filenames[name]
    dot = name.rfind(".")
    found = extensions.get(name[dot:].lower()) if dot > 0 else None
    if found is None and text is not None and text.startswith("#!"):
        return interpreter_language(text)
    return found


_SHEBANG = re.compile(r"#!\s*(\S+)(?:[ \t]+(?:-\S+[ \t]+)*(\S+))?")


def interpreter_language(text: str) -> str | None:
    """The language of a `#!` line's interpreter (`/bin/sh`, `/usr/bin/env python3 -u`)."""
    match = _SHEBANG.match(text[:256])
    if not match:
        return None
    program = match.group(1).rsplit("/", 1)[-1]
    if program == "env" and match.group(2):
        program = match.group(2).rsplit("/", 1)[-1]
    interpreters = _tables()[2]
    return interpreters.get(program) or interpreters.get(program.rstrip("0123456789.").rstrip("-"))


def known_languages() -> list[str]:
    filenames, extensions, interpreters = _tables()
    return sorted(set(filenames.values()) | set(extensions.values()) | set(interpreters.values()))
