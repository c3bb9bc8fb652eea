"""Source code as documents: the shape every code stage reads, and the facts about files.

A code document is one source file. Its columns (the source-tree reader writes them, and
`--input-kind code` maps The-Stack-style JSONL/Parquet records to them):

- `text` (large_string): the file's content (UTF-8).
- `repo` (string): `owner/name` from the clone's `origin` remote, else the folder's name.
- `path` (string): the file's path inside the repository, `/`-separated.
- `lang` (string, nullable): the programming language by GitHub linguist's name ("Python",
  "C++"); null when `languages.json` knows neither the file name nor the extension.
- `size` (int64): bytes of the file as stored.
- `license` (string, nullable): the repository's licence as an SPDX id or expression (`MIT`,
  `Apache-2.0 OR MIT`); null when unidentified.

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
