"""MinHash-LSH near-duplicate removal, FineWeb's recipe, with bounded memory and resumable reduce.

Map: each document becomes one 64-bit hash per LSH band (`_minhash_kernels`). Reduce: band by
band, documents with equal band hashes become candidate edges (written to the work directory,
so a killed run resumes at the first missing band) and are merged by union-find; each cluster
keeps one document, chosen by id (or by quality score, ties by id), never by arrival order.
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Sequence
from functools import cached_property
from pathlib import Path
from typing import Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from pydantic import Field, model_validator

from textmill.document import ID, TEXT
from textmill.pipeline import (
    ClusterRule,
    Decision,
    GlobalStage,
    StageOptions,
    apply_decisions_by_id,
    register,
)
from textmill.stages.dedup._keep import (
    ANNOTATED_SCHEMA,
    CLUSTER,
    CLUSTER_ID,
    CLUSTER_SIZE,
    QUALITY,
    keep_best_annotated,
)
from textmill.stages.dedup._minhash_kernels import band_signatures
from textmill.stages.dedup._unionfind import band_edges, roots, union_edges

DECISIONS_SCHEMA = ANNOTATED_SCHEMA
PLAN_FILE = "plan.json"


def band_column(band: int) -> str:
    return f"band_{band:02d}"


def lsh_parameters(
    threshold: float, num_perm: int, fp_weight: float = 0.5, fn_weight: float = 0.5
) -> tuple[int, int]:
    """(bands, rows) with bands × rows ≤ num_perm minimising the weighted error, as datasketch.

    A pair of Jaccard s becomes a candidate with probability P(s) = 1 - (1 - s^rows)^bands.
    False-positive mass is ∫₀^t P(s) ds, false-negative mass ∫ₜ¹ (1 - P(s)) ds; the error is
    fp_weight × FP + fn_weight × FN (datasketch's MinHashLSH `_optimal_param`, weights 0.5/0.5
    by default: both mistakes cost the same). Integrals by the trapezoid rule on 2,001 points.
    """
    below = np.linspace(0.0, threshold, 2001)
    above = np.linspace(threshold, 1.0, 2001)
    best, best_error = (1, 1), np.inf
    for bands in range(1, num_perm + 1):
        for rows in range(1, num_perm // bands + 1):
            false_positive = np.trapezoid(1 - (1 - below**rows) ** bands, below)
            false_negative = np.trapezoid((1 - above**rows) ** bands, above)
            error = fp_weight * false_positive + fn_weight * false_negative
            if error < best_error - 1e-15:
                best, best_error = (bands, rows), error
    return best


@register("minhash_dedup")
class MinhashDedup(GlobalStage):
    """Drops near-duplicates (MinHash-LSH over shingles of normalised text), one kept per cluster.

    Kept documents carry `dup_cluster_id` (the kept id) and `dup_cluster_size` (1 when unique),
    which FineWeb-2's rehydration uses. Empty text (nothing left after normalisation) has no
    signature and is never a duplicate; text with fewer tokens than `ngram` is one shingle, so
    it matches only the same normalised text.
    """

    class Options(StageOptions):
        shingle: Literal["words", "chars"] = "words"
        ngram: int = Field(5, ge=1)  # FineWeb: word 5-grams
        bands: int = Field(14, ge=1)  # FineWeb: 14 bands × 8 rows = 112 hashes
        rows: int = Field(8, ge=1)
        threshold: float | None = Field(None, gt=0.0, lt=1.0)  # choose bands × rows instead
        num_perm: int = Field(112, ge=1)  # hash budget when choosing from threshold (FineWeb's)
        fp_weight: float = Field(0.5, ge=0.0)  # datasketch's defaults
        fn_weight: float = Field(0.5, ge=0.0)
        keep: Literal["smallest_id", "highest_quality"] = "smallest_id"
        seed: int = 1

        @model_validator(mode="after")
        def _threshold_or_bands(self):
            if self.threshold is not None and {"bands", "rows"} & self.model_fields_set:
                raise ValueError("give either threshold or bands/rows, not both")
            return self

    @cached_property
    def lsh_layout(self) -> tuple[int, int]:
        """(bands, rows) in effect."""
        o = self.options
        if o.threshold is None:
            return o.bands, o.rows
        return lsh_parameters(o.threshold, o.num_perm, o.fp_weight, o.fn_weight)

    # ---------------------------------------------------------------- map

    def signatures(self, batch: pa.Table) -> pa.Table:
        o = self.options
        bands, rows = self.lsh_layout
        hashes, has_signature = band_signatures(
            batch[TEXT],
            chars=o.shingle == "chars",
            ngram=o.ngram,
            bands=bands,
            rows=rows,
            seed=o.seed,
        )
        missing = ~has_signature
        columns = {ID: batch[ID]}
        for b in range(bands):
            columns[band_column(b)] = pa.array(hashes[b], pa.uint64(), mask=missing)
        if o.keep == "highest_quality":
            columns[QUALITY] = (
                batch[QUALITY].cast(pa.float64())
                if QUALITY in batch.column_names
                else pa.nulls(batch.num_rows, pa.float64())
            )
        return pa.table(columns)

    # ---------------------------------------------------------------- reduce

    def reduce(self, signature_files: Sequence[Path], workdir: Path) -> pa.Table:
        files = sorted(Path(f) for f in signature_files)
        counts = [pq.ParquetFile(f).metadata.num_rows for f in files]
        total = int(sum(counts))
        if total == 0:
            return DECISIONS_SCHEMA.empty_table()
        workdir = Path(workdir)
        workdir.mkdir(parents=True, exist_ok=True)
        self._start_or_resume(workdir, files, counts)
        parent = np.arange(total, dtype=np.int64)
        for band in range(self.lsh_layout[0]):
            union_edges(parent, self._edges(band, files, workdir))
        root = roots(parent)
        del parent
        return self._choose_kept(files, counts, root)

    def _start_or_resume(self, workdir: Path, files: list[Path], counts: list[int]) -> None:
        """Keep edge files only when they come from these signatures with these options."""
        plan = {
            "files": [f.name for f in files],
            "rows": counts,
            "options": self.options.model_dump(mode="json"),
            "lsh_layout": list(self.lsh_layout),
        }
        path = workdir / PLAN_FILE
        if path.exists() and json.loads(path.read_text("utf-8")) == plan:
            return
        for stale in workdir.glob("band_*.npy"):
            stale.unlink()
        _write_atomically(path, lambda out: out.write(json.dumps(plan).encode()))

    def _edges(self, band: int, files: list[Path], workdir: Path) -> np.ndarray:
        """This band's candidate edges: from its file when a previous run finished the band."""
        path = workdir / f"{band_column(band)}.npy"
        if path.exists():
            return np.load(path)
        edges = self._compute_edges(band, files)
        _write_atomically(path, lambda out: np.save(out, edges))
        return edges

    def _compute_edges(self, band: int, files: list[Path]) -> np.ndarray:
        """Reads only this band's column; row i of file k is document offsets[k] + i."""
        column = pa.chunked_array(
            [pq.read_table(f, columns=[band_column(band)]).column(0) for f in files],
            pa.uint64(),
        ).combine_chunks()
        has_signature = pc.is_valid(column).to_numpy(zero_copy_only=False)
        hashes = pc.fill_null(column, 0).to_numpy(zero_copy_only=False)
        return band_edges(hashes, has_signature)

    def _choose_kept(self, files: list[Path], counts: list[int], root: np.ndarray) -> pa.Table:
        """One row per clustered document: kept (reason null) or `duplicate_of=<kept id>`."""
        sizes = np.bincount(root, minlength=len(root))
        clustered = np.flatnonzero(sizes[root] > 1)
        if len(clustered) == 0:
            return DECISIONS_SCHEMA.empty_table()
        by_quality = self.options.keep == "highest_quality"
        columns = [ID, QUALITY] if by_quality else [ID]
        parts, start = [], 0
        for path, count in zip(files, counts, strict=True):
            local = clustered[(clustered >= start) & (clustered < start + count)] - start
            if len(local):
                parts.append(pq.read_table(path, columns=columns).take(pa.array(local)))
            start += count
        members = pa.concat_tables(parts).append_column(CLUSTER, pa.array(root[clustered]))
        return keep_best_annotated(members, by_quality)

    def cluster_rule(self) -> ClusterRule:
        """For distributed reduces: documents equal on any band hash share a cluster."""
        bands, _ = self.lsh_layout
        by_quality = self.options.keep == "highest_quality"
        return ClusterRule(
            keys=tuple(band_column(b) for b in range(bands)),
            carry=(QUALITY,) if by_quality else (),
            choose=functools.partial(keep_best_annotated, by_quality=by_quality),
            schema=DECISIONS_SCHEMA,
        )

    # ---------------------------------------------------------------- apply

    def apply(self, batch: pa.Table, decisions: pa.Table) -> tuple[pa.Table, Decision]:
        """As the default, but documents in no cluster get their own id and size 1, not null."""
        batch, decision = apply_decisions_by_id(batch, decisions)
        cluster_id = pc.coalesce(batch[CLUSTER_ID], batch[ID])
        cluster_size = pc.coalesce(batch[CLUSTER_SIZE], pa.scalar(1, pa.int64()))
        batch = batch.set_column(batch.column_names.index(CLUSTER_ID), CLUSTER_ID, cluster_id)
        batch = batch.set_column(batch.column_names.index(CLUSTER_SIZE), CLUSTER_SIZE, cluster_size)
        return batch, decision


def _write_atomically(path: Path, write) -> None:
    """Write through a hidden temporary (the executor deletes `.*.tmp` leftovers), then rename."""
    temporary = path.with_name(f".{path.name}.tmp")
    with open(temporary, "wb") as out:
        write(out)
        out.flush()
        os.fsync(out.fileno())
    os.replace(temporary, path)
