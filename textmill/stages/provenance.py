"""Per-document provenance columns, for the dataset card and for anyone who must trace a
document back to its crawl: the WARC record id and crawl date lifted out of `metadata`, and the
licence a page declares. Run it before `extract`, which drops the HTML it reads licences from."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from textmill.document import HTML, METADATA
from textmill.pipeline import Mapper, StageOptions, register

WARC_RECORD_ID = "warc_record_id"
CRAWL_DATE = "crawl_date"
LICENSE = "license"

_CC = (
    r"creativecommons\.org/(?P<kind>licenses|publicdomain)/(?P<name>[a-z+-]+)"
    r"(?:/(?P<version>\d+(?:\.\d+)?))?"
)
# A Creative Commons URL counts as the page's licence when the page says so: rel="license" on
# the link (the CC-recommended markup, before or after the href), or a licence meta tag.
_DECLARED = (
    r"(?i)<(?:a|link)\b[^>]*\brel=[\"']?license\b[^>]*" + _CC,
    r"(?i)<(?:a|link)\b[^>]*" + _CC + r"[^>]*\brel=[\"']?license\b",
    r"(?i)<meta\b[^>]*name=[\"']?(?:dc\.|dcterms\.)?(?:license|rights)[\"']?[^>]*" + _CC,
)
_ANY_LINK = (r"(?i)" + _CC,)


def license_id(kind: str | None, name: str | None, version: str | None) -> str | None:
    """Hugging Face licence id of a Creative Commons URL: by-sa/4.0 → cc-by-sa-4.0,
    publicdomain/zero/1.0 → cc0-1.0, publicdomain/mark → cc-pdm-1.0."""
    if not kind or not name:
        return None
    name = name.lower().replace("+", "-")
    if kind.lower() == "publicdomain":
        return f"cc0-{version or '1.0'}" if name == "zero" else f"cc-pd{name[0]}-{version or '1.0'}"
    return f"cc-{name}-{version}" if version else f"cc-{name}"


def detect_licenses(html: pa.ChunkedArray | pa.Array, patterns: tuple[str, ...]) -> pa.Array:
    """The first declared Creative Commons licence of every page (null where none)."""
    found: list[str | None] = [None] * len(html)
    for pattern in patterns:
        matches = pc.extract_regex(pc.fill_null(html, ""), pattern)
        if isinstance(matches, pa.ChunkedArray):
            matches = matches.combine_chunks()
        valid = pc.is_valid(matches).to_pylist()
        for row in (i for i, ok in enumerate(valid) if ok and found[i] is None):
            match = matches[row].as_py()
            found[row] = license_id(match["kind"], match["name"], match["version"])
    return pa.array(found, pa.string())


def metadata_field(metadata: pa.ChunkedArray, key: str) -> pa.Array:
    """One string field of the reader's `metadata` JSON, for every row (null where absent)."""
    pattern = rf"\"{key}\":\s*\"(?P<value>[^\"]+)\""
    return pc.struct_field(pc.extract_regex(metadata, pattern), "value")


@register("provenance")
class Provenance(Mapper):
    """Adds `warc_record_id` and `crawl_date` (from the WARC headers the reader kept in
    `metadata`) and `license` (a Creative Commons licence the HTML declares) to every row."""

    class Options(StageOptions):
        # CC's recommended markup is rel="license"; a bare link to a licence page may be a
        # citation of the licence rather than a declaration, so it does not count by default.
        require_rel_license: bool = True

    def map(self, batch: pa.Table) -> pa.Table:
        n = batch.num_rows
        metadata = batch[METADATA] if METADATA in batch.column_names else pa.nulls(n, pa.string())
        columns = {
            WARC_RECORD_ID: metadata_field(metadata, "warc_record_id"),
            CRAWL_DATE: metadata_field(metadata, "warc_date"),
        }
        if HTML in batch.column_names:
            patterns = _DECLARED if self.options.require_rel_license else _ANY_LINK
            columns[LICENSE] = detect_licenses(batch[HTML], patterns)
        elif LICENSE not in batch.column_names:
            columns[LICENSE] = pa.nulls(n, pa.string())
        for name, column in columns.items():
            if name in batch.column_names:
                batch = batch.drop_columns([name])
            batch = batch.append_column(pa.field(name, pa.string()), column)
        return batch
