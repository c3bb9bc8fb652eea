"""URL deduplication: one document per normalised URL, as CulturaX does after MinHash.

Map: each document with a URL becomes (doc_key, id, 128-bit hash of the normalised URL, text
length). Reduce: rows are spilled into partitions by hash (bounded memory, as paragraph_dedup);
equal hashes form a cluster, and `keep_one_per_url` keeps its first by (rank, id, doc_key). The
Ray executor reduces through the same rule (`cluster_rule`), one shuffle by URL hash.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import Literal
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import xxhash
from pydantic import Field

from textmill.document import ID, KEY, TEXT, URL
from textmill.pipeline import ClusterRule, GlobalStage, StageOptions, register
from textmill.stages.dedup._keep import BY_ID, CLUSTER, DROP_ONLY_SCHEMA, drop_all_but_first
from textmill.stages.dedup._partition import signature_partitions

URL_HASH = "url_hash"
PARTITION_KEY = "url_partition"
TEXT_LENGTH = "text_length"
DEFAULT_PORTS = {"http": 80, "https": 443, "ftp": 21}
# Parameters that identify a click or campaign, never the page (utm_*: Google Analytics).
TRACKING_PARAMETERS = frozenset(
    {"fbclid", "gclid", "dclid", "gbraid", "wbraid", "msclkid", "yclid", "igshid", "mc_cid"}
    | {"mc_eid", "_ga", "_gl", "_hsenc", "_hsmi", "mkt_tok", "oly_anon_id", "oly_enc_id"}
)
DECISIONS_SCHEMA = DROP_ONLY_SCHEMA


def normalize_url(
    url: str | None, *, strip_www: bool = False, ignore_scheme: bool = False
) -> str | None:
    """The URL as a dedup key: scheme and host lower case, default port, fragment, trailing
    slash and tracking parameters (utm_*, fbclid, ...) removed. None when there is no URL."""
    if url is None:
        return None
    url = url.strip()
    if not url:
        return None
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:  # a malformed netloc ("[::1", "host:port"): compare the text as it is
        return url
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").rstrip(".")
    if strip_www and host.startswith("www."):
        host = host[4:]
    if ":" in host:
        host = f"[{host}]"  # an IPv6 literal keeps its brackets
    userinfo = parts.netloc.rpartition("@")[0]
    netloc = f"{userinfo}@{host}" if userinfo else host
    if port is not None and port != DEFAULT_PORTS.get(scheme):
        netloc = f"{netloc}:{port}"
    path = parts.path.rstrip("/")
    query = [
        (key, value)
        for key, value in parse_qsl(parts.query, keep_blank_values=True)
        if not key.lower().startswith("utm_") and key.lower() not in TRACKING_PARAMETERS
    ]
    return urlunsplit(("" if ignore_scheme else scheme, netloc, path, urlencode(query), ""))


@register("url_dedup")
class UrlDedup(GlobalStage):
    """Keeps one document per normalised URL; the others go to rejects as
    `duplicate_url_of=<kept id>`. Documents without a URL are always kept.

    Normalisation: scheme and host lower case, default ports (80, 443), fragment, trailing
    slash and tracking parameters (utm_*, fbclid, gclid, ...) removed. `strip_www` and
    `ignore_scheme` widen it (www.a.org = a.org, http = https).
    """

    class Options(StageOptions):
        # smallest_id: the same rule as exact_dedup and minhash_dedup; longest: the document
        # with the most text (a later, fuller crawl of the page), ties by smallest id.
        keep: Literal["smallest_id", "longest"] = "smallest_id"
        strip_www: bool = False
        ignore_scheme: bool = False
        rows_per_partition: int = Field(20_000_000, ge=1)  # reduce memory: ~40 bytes a row

    def signatures(self, batch: pa.Table) -> pa.Table:
        o = self.options
        digests = []
        for url in batch[URL].to_pylist():
            key = normalize_url(url, strip_www=o.strip_www, ignore_scheme=o.ignore_scheme)
            digests.append(None if key is None else xxhash.xxh3_128_digest(key.encode("utf-8")))
        hashes = pa.array(digests, pa.binary(16))
        keep = pc.is_valid(hashes)
        lengths = pc.fill_null(pc.utf8_length(batch[TEXT]), 0).cast(pa.int64())
        table = pa.table(
            {KEY: batch[KEY], ID: batch[ID], URL_HASH: hashes, TEXT_LENGTH: lengths}
        ).filter(keep)
        return table.append_column(PARTITION_KEY, _partition_key(table[URL_HASH]))

    def reduce(self, signature_files: Sequence[Path], workdir: Path) -> pa.Table:
        files = sorted(Path(f) for f in signature_files)
        if not files or all(pq.ParquetFile(f).metadata.num_rows == 0 for f in files):
            return DECISIONS_SCHEMA.empty_table()
        partitions = signature_partitions(
            files, PARTITION_KEY, self.options.rows_per_partition, Path(workdir)
        )
        return pa.concat_tables(self._duplicates_in(p) for p in partitions)

    def _duplicates_in(self, rows: pa.Table) -> pa.Table:
        """Clusters of equal hashes in one partition, then the keep rule."""
        if rows.num_rows == 0:
            return DECISIONS_SCHEMA.empty_table()
        rows = rows.sort_by([(URL_HASH, "ascending")])
        hashes = rows[URL_HASH].combine_chunks()
        pairs = np.frombuffer(hashes.buffers()[1], dtype=np.uint64)[
            2 * hashes.offset : 2 * (hashes.offset + len(hashes))
        ].reshape(-1, 2)
        same_as_previous = np.zeros(len(hashes), dtype=bool)
        same_as_previous[1:] = np.all(pairs[1:] == pairs[:-1], axis=1)
        cluster = pa.array(np.cumsum(~same_as_previous))
        members = pa.table(
            {CLUSTER: cluster, KEY: rows[KEY], ID: rows[ID], TEXT_LENGTH: rows[TEXT_LENGTH]}
        )
        return keep_one_per_url(members, self.options.keep)

    def cluster_rule(self) -> ClusterRule:
        """For distributed reduces: documents with equal URL hashes share a cluster."""
        keep = partial(keep_one_per_url, keep=self.options.keep)
        return ClusterRule((URL_HASH,), (TEXT_LENGTH,), keep, DECISIONS_SCHEMA)


def keep_one_per_url(
    members: pa.Table, keep: Literal["smallest_id", "longest"] = "smallest_id"
) -> pa.Table:
    """The local and the distributed reduce's one rule: in each cluster (`cluster`, `doc_key`,
    `id`, `text_length`), the smallest id (or the longest text, then the smallest id) stays; the
    others become `duplicate_url_of=<its id>`."""
    if keep == "longest":
        rank = pc.negate(members[TEXT_LENGTH].cast(pa.int64()))
    else:
        rank = pa.array(np.zeros(members.num_rows, dtype=np.int64))
    members = members.select([CLUSTER, KEY, ID]).append_column("rank", rank)
    return drop_all_but_first(
        members, [("rank", "ascending"), *BY_ID], "duplicate_url_of", DECISIONS_SCHEMA
    )


def _partition_key(hashes: pa.Array | pa.ChunkedArray) -> pa.Array:
    """The first 8 bytes of each 16-byte hash as uint64 (spill partitions use its top bits)."""
    if isinstance(hashes, pa.ChunkedArray):
        hashes = hashes.combine_chunks()
    if len(hashes) == 0:
        return pa.array([], pa.uint64())
    pairs = np.frombuffer(hashes.buffers()[1], dtype=np.uint64)[
        2 * hashes.offset : 2 * (hashes.offset + len(hashes))
    ].reshape(-1, 2)
    return pa.array(pairs[:, 0].copy())
