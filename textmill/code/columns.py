"""`lang` and `path` of code rows wherever the reader put them: the code columns, or, for
records read without `--input-kind code` (a JSONL of `text` + `lang`/`path`), the keys the
reader kept in `metadata`. Without this the `code` preset rejected every such row as
`unknown_language` while `lint_score` and the LLM stages did read the metadata."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from textmill.code import LANG, PATH
from textmill.document import METADATA


def string_field(batch: pa.Table, name: str) -> pa.ChunkedArray | pa.Array:
    """A column, or where the reader kept it in `metadata`, that JSON object's string field."""
    if name in batch.column_names:
        return pc.cast(batch[name], pa.string())
    if METADATA not in batch.column_names:
        return pa.nulls(batch.num_rows, pa.string())
    found = pc.extract_regex(batch[METADATA], rf"\"{name}\":\s*\"(?P<value>[^\"]*)\"")
    return pc.struct_field(found, "value")


def code_paths(batch: pa.Table) -> pa.ChunkedArray | pa.Array:
    return string_field(batch, PATH)


def code_languages(batch: pa.Table) -> pa.ChunkedArray | pa.Array:
    """The `lang` column as the readers write it; else the metadata's `lang` as a linguist
    name (any case), or the language of the metadata's `path`."""
    if LANG in batch.column_names:
        return batch[LANG]
    if METADATA not in batch.column_names:
        return pa.nulls(batch.num_rows, pa.string())
    from textmill.code.languages import known_languages, language_of

    canonical = {name.lower(): name for name in known_languages()}
    given = string_field(batch, LANG).to_pylist()
    paths = code_paths(batch).to_pylist()
    return pa.array(
        [
            canonical.get(lang.lower()) if lang else (language_of(path) if path else None)
            for lang, path in zip(given, paths, strict=True)
        ],
        pa.string(),
    )
