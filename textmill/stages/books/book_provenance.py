"""Bibliographic provenance columns of books, lifted out of the reader's metadata (PDF info,
hOCR/ALTO headers, or the fields of a JSONL/Parquet record): who wrote a volume, what it is
called, when it appeared and the catalogue identifier that traces it back to its scan."""

from __future__ import annotations

import re
from typing import Any

import pyarrow as pa

from textmill.pipeline import Decision, Mapper, StageOptions, register
from textmill.stages.books._pages import metadata_records, set_column

TITLE, AUTHOR, YEAR, IDENTIFIER = "title", "author", "year", "identifier"
PROVENANCE_COLUMNS = (TITLE, AUTHOR, YEAR, IDENTIFIER)
_YEAR = re.compile(r"(?<!\d)(\d{4})(?!\d)")


def year_of(record: dict[str, Any]) -> int | None:
    """`year` when the metadata has one, else the year of `creation_date` (an ISO string; PDF
    creation dates are the digitisation's, which is why `year` wins)."""
    for key in (YEAR, "date", "creation_date"):
        value = record.get(key)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, str) and (match := _YEAR.search(value)):
            return int(match.group(1))
    return None


def text_of(value: Any) -> str | None:
    if isinstance(value, list):
        value = "; ".join(str(v) for v in value if v is not None) or None
    return str(value).strip() or None if value is not None else None


@register("book_provenance")
class BookProvenance(Mapper):
    """Adds `title`, `author`, `year` and `identifier` (null where the metadata lacks them)."""

    class Options(StageOptions):
        # Metadata keys tried in order for the identifier (Internet Archive, HathiTrust, ISBN).
        identifier_keys: list[str] = [IDENTIFIER, "id", "barcode", "htid", "isbn"]

    def map(self, batch: pa.Table) -> pa.Table:
        records = metadata_records(batch)
        identifiers = [
            next((text_of(r[k]) for k in self.options.identifier_keys if r.get(k)), None)
            for r in records
        ]
        columns = {
            TITLE: pa.array([text_of(r.get(TITLE)) for r in records], pa.string()),
            AUTHOR: pa.array([text_of(r.get(AUTHOR)) for r in records], pa.string()),
            YEAR: pa.array([year_of(r) for r in records], pa.int32()),
            IDENTIFIER: pa.array(identifiers, pa.string()),
        }
        for name, column in columns.items():
            batch = set_column(batch, name, column)
        return batch

    def counters(self, out: pa.Table, decision: Decision | None) -> dict[str, int]:
        return {
            f"with_{name}": len(out[name]) - out[name].null_count for name in PROVENANCE_COLUMNS
        }
