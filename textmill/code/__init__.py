"""Source code as documents: the shape every code stage reads, and the facts about files.

A code document is one source file. Its columns (the source-tree reader writes them, and
`--input-kind code` maps The-Stack-style JSONL/Parquet records to them):

| column | type | meaning |
|---|---|---|
| `text` | large_string | the file's content (UTF-8) |
| `repo` | string | repository: `owner/name` from the clone's `origin` remote, else its folder name |
| `path` | string | the file's path inside the repository, `/`-separated |
| `lang` | string, nullable | programming language, GitHub linguist's name ("Python", "C++"); null when the extension/file name is not in `languages.json` |
| `size` | int64 | bytes of the file as stored |
| `license` | string, nullable | the repository's licence as an SPDX id (`MIT`, `Apache-2.0 OR MIT`), null when unidentified |

Code stages read `lang` and `text` (and `path` for vendored-file rules); they never need the
reader that made the rows.
"""

from __future__ import annotations

import pyarrow as pa

REPO = "repo"
PATH = "path"
LANG = "lang"
SIZE = "size"
LICENSE = "license"
CODE_FIELDS: tuple[pa.Field, ...] = (
    pa.field(REPO, pa.string()),
    pa.field(PATH, pa.string()),
    pa.field(LANG, pa.string()),
    pa.field(SIZE, pa.int64()),
    pa.field(LICENSE, pa.string()),
)
