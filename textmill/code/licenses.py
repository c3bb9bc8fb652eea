"""A repository's licence as an SPDX id, from its LICENSE / COPYING files.

A small matcher over the canonical texts' distinctive phrases (each licence's own wording, as
published by SPDX and the licence stewards), after folding case, whitespace and comment marks:
enough to tell apart the licences most code is released under, and to say "unknown" (None)
rather than guess for the rest. An `SPDX-License-Identifier:` line wins over the text. A
repository with several licence files (Rust's LICENSE-MIT + LICENSE-APACHE) offers them all:
`Apache-2.0 OR MIT`.
"""

from __future__ import annotations

import os
import re
from functools import cache

LICENSE_FILE = re.compile(r"^(?:un)?licen[cs]e(?:[-_.].*)?$|^copying(?:[-_.].*)?$", re.I)
MAX_LICENSE_BYTES = 256 * 1024  # a licence text is at most ~35 kB (AGPL-3.0); more is no licence
_SPDX_LINE = re.compile(r"SPDX-License-Identifier:\s*([A-Za-z0-9.+() -]+?)\s*(?:\*/|-->|$)", re.M)
_FOLD = re.compile(r"[\s*#/>|-]+")

# (SPDX id, phrases that must all appear in the folded text); the first match wins, so a
# licence whose text quotes another's name (LGPL quotes the GPL) comes before it.
RULES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("AGPL-3.0", ("gnu affero general public license", "version 3")),
    ("LGPL-3.0", ("gnu lesser general public license", "version 3, 29 june 2007")),
    ("LGPL-2.1", ("gnu lesser general public license", "version 2.1, february 1999")),
    ("LGPL-2.0", ("gnu library general public license", "version 2, june 1991")),
    ("GPL-3.0", ("gnu general public license", "version 3, 29 june 2007")),
    ("GPL-2.0", ("gnu general public license", "version 2, june 1991")),
    ("MPL-2.0", ("mozilla public license", "2.0")),
    ("Apache-2.0", ("apache license", "version 2.0")),
    ("BSL-1.0", ("boost software license", "version 1.0")),
    ("Unlicense", ("this is free and unencumbered software released into the public domain",)),
    ("CC0-1.0", ("cc0 1.0 universal",)),
    (
        "ISC",
        (
            "permission to use, copy, modify, and/or distribute this software for any purpose "
            "with or without fee is hereby granted",
        ),
    ),
    ("MIT", ("permission is hereby granted, free of charge, to any person obtaining a copy",)),
    (
        "Zlib",
        (
            "this software is provided 'as is', without any express or implied warranty",
            "permission is granted to anyone to use this software for any purpose",
        ),
    ),
    (
        "BSD-3-Clause",
        (
            "redistribution and use in source and binary forms",
            "may be used to endorse or promote products derived from this software",
        ),
    ),
    ("BSD-2-Clause", ("redistribution and use in source and binary forms",)),
)


def fold(text: str) -> str:
    """Lower case, one space for every run of whitespace and comment or list marks, and
    straight quotes: the canonical texts come wrapped, commented and re-quoted."""
    text = text.replace("\u2018", "'").replace("\u2019", "'").replace('"', "'")
    return _FOLD.sub(" ", text.lower()).strip()


def identify_license(text: str) -> str | None:
    """The SPDX id of one licence text, or None when no rule matches."""
    declared = _SPDX_LINE.search(text[:4096])
    if declared:
        return declared.group(1).strip()
    folded = fold(text)
    for spdx_id, phrases in _folded_rules():
        if all(phrase in folded for phrase in phrases):
            return spdx_id
    return None


@cache
def _folded_rules() -> tuple[tuple[str, tuple[str, ...]], ...]:
    """The rules' phrases folded as the texts are (`and/or` -> `and or`)."""
    return tuple((spdx_id, tuple(fold(p) for p in phrases)) for spdx_id, phrases in RULES)


def license_files(repo_dir: str) -> list[str]:
    """The licence files at a repository's top level, sorted."""
    try:
        names = os.listdir(repo_dir)
    except OSError:
        return []
    return sorted(
        name
        for name in names
        if LICENSE_FILE.match(name) and os.path.isfile(os.path.join(repo_dir, name))
    )


def repository_license(repo_dir: str) -> str | None:
    """The repository's licence: the ids its licence files name, joined by ` OR ` (a choice
    of licences is what several files mean); None when none can be identified."""
    found: list[str] = []
    for name in license_files(repo_dir):
        path = os.path.join(repo_dir, name)
        try:
            with open(path, "rb") as handle:
                data = handle.read(MAX_LICENSE_BYTES)
        except OSError:
            continue
        spdx_id = identify_license(data.decode("utf-8", "replace"))
        if spdx_id and spdx_id not in found:
            found.append(spdx_id)
    return " OR ".join(sorted(found)) if found else None
