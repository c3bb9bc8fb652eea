"""Exact deduplication: documents whose text hashes alike keep one copy, the smallest id (then
the first read, when ids repeat)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import xxhash

from textmill.document import ID, KEY, TEXT
from textmill.pipeline import ClusterRule, GlobalStage, StageOptions, register
from textmill.stages.dedup._keep import BY_ID, CLUSTER, DROP_ONLY_SCHEMA, keep_smallest_id

HASH = "content_hash"


@register("exact_dedup")
class ExactDedup(GlobalStage):
    """Drops documents whose text is byte-identical to another's (xxh3-128 of the UTF-8; no
    normalisation: case, whitespace and Unicode forms count). Empty and null texts have no
    signature and are never duplicates."""

    class Options(StageOptions):
        pass

    def signatures(self, batch: pa.Table) -> pa.Table:
        digests = [
            xxhash.xxh3_128_digest(text.encode("utf-8", "surrogatepass")) if text else None
            for text in batch[TEXT].to_pylist()
        ]
        return pa.table({KEY: batch[KEY], ID: batch[ID], HASH: pa.array(digests, pa.binary(16))})

    def reduce(self, signature_files: Sequence[Path], workdir: Path) -> pa.Table:
        if not signature_files:
            return DROP_ONLY_SCHEMA.empty_table()
        table = pa.concat_tables(pq.read_table(p, columns=[KEY, ID, HASH]) for p in signature_files)
        table = table.filter(pc.is_valid(table[HASH]))
        table = table.sort_by([(HASH, "ascending"), *BY_ID])
        hashes = table[HASH].combine_chunks()
        if len(hashes) == 0:
            return DROP_ONLY_SCHEMA.empty_table()
        as_pairs = np.frombuffer(hashes.buffers()[1], dtype=np.uint64)[
            2 * hashes.offset : 2 * (hashes.offset + len(hashes))
        ].reshape(-1, 2)
        same_as_previous = np.zeros(len(hashes), dtype=bool)
        same_as_previous[1:] = np.all(as_pairs[1:] == as_pairs[:-1], axis=1)
        cluster = np.cumsum(~same_as_previous)
        members = pa.table({CLUSTER: pa.array(cluster), KEY: table[KEY], ID: table[ID]})
        return keep_smallest_id(members)

    def cluster_rule(self) -> ClusterRule:
        """For distributed reduces: documents with equal hashes share a cluster."""
        return ClusterRule((HASH,), (), keep_smallest_id, DROP_ONLY_SCHEMA)
