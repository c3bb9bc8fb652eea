"""MinHash-LSH near-duplicate removal, FineWeb's recipe, with bounded memory and resumable reduce.

Map: each document becomes one 64-bit hash per LSH band, plus the low 16 bits of each of its
minima (`_minhash_kernels`). Reduce: band by band, documents with equal band hashes become
candidate groups (written to the work directory, so a killed run resumes at the first missing
band); then a candidate pair is linked only when its signatures agree on enough hashes to put
the estimated Jaccard similarity at or above the threshold (`verify`; off gives FineWeb's rule,
where one equal band links), and linked pairs are merged by union-find. Each cluster keeps one
document, chosen by id (or by quality score, ties by id; copies sharing an id by `doc_key`),
never by arrival order.

Why verify: 14 bands × 8 rows makes a candidate of a pair with J = 0.5–0.6 5–11% of the time,
and those pairs are most of every LSH method's false positives; checking all 112 hashes removes
them at the cost of 224 bytes of signature per document.
"""

from __future__ import annotations

import functools
import json
import math
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

from textmill.document import ID, KEY, TEXT
from textmill.pipeline import (
    ClusterRule,
    Decision,
    GlobalStage,
    StageOptions,
    apply_decisions,
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
from textmill.stages.dedup._unionfind import (
    band_edges,
    check_vectors,
    groups_of_paths,
    link_groups,
    roots,
)

DECISIONS_SCHEMA = ANNOTATED_SCHEMA
PLAN_FILE = "plan.json"
MINHASHES = "minhashes"  # low 16 bits of every minimum, for verifying candidate pairs
LINK_WINDOW = 64  # a document is compared with the 64 before it in its candidate group


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

    Kept documents carry `dup_cluster_id` (the kept document's id: its own, since it is the one
    kept; as unique as the input's ids) and `dup_cluster_size` (1 when unique), which
    FineWeb-2's rehydration uses. With `verify` (default), a candidate pair counts only
    when its estimated Jaccard similarity over all hashes reaches `verify_threshold` (default:
    `threshold` if given, else the LSH curve's (1/bands)^(1/rows), 0.72 for FineWeb's 14 × 8).
    Empty text (nothing left after normalisation) has no signature and is never a duplicate;
    text with fewer tokens than `ngram` is one shingle, so it matches only the same normalised
    text.
    """

    class Options(StageOptions):
        # code: identifier/operator tokens, case kept (textmill's `code` preset)
        shingle: Literal["words", "chars", "code"] = "words"
        ngram: int = Field(5, ge=1)  # FineWeb: word 5-grams
        bands: int = Field(14, ge=1)  # FineWeb: 14 bands × 8 rows = 112 hashes
        rows: int = Field(8, ge=1)
        threshold: float | None = Field(None, gt=0.0, lt=1.0)  # choose bands × rows instead
        num_perm: int = Field(112, ge=1)  # hash budget when choosing from threshold (FineWeb's)
        fp_weight: float = Field(0.5, ge=0.0)  # datasketch's defaults
        fn_weight: float = Field(0.5, ge=0.0)
        verify: bool = True  # check candidates on all hashes; false: FineWeb's band rule alone
        verify_threshold: float | None = Field(None, gt=0.0, le=1.0)
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

    @cached_property
    def link_rule(self) -> tuple[int, int]:
        """(min_matches, window): how many of the hashes a candidate pair must share; (0, 1)
        without verification, where a group's path links every member."""
        o = self.options
        if not o.verify:
            return 0, 1
        bands, rows = self.lsh_layout
        threshold = o.verify_threshold or o.threshold or (1 / bands) ** (1 / rows)
        return math.ceil(threshold * bands * rows - 1e-9), LINK_WINDOW

    # ---------------------------------------------------------------- map

    def signatures(self, batch: pa.Table) -> pa.Table:
        o = self.options
        bands, rows = self.lsh_layout
        hashes, low_bits, has_signature = band_signatures(
            batch[TEXT],
            chars=o.shingle == "chars",
            code=o.shingle == "code",
            ngram=o.ngram,
            bands=bands,
            rows=rows,
            seed=o.seed,
        )
        missing = ~has_signature
        columns = {KEY: batch[KEY], ID: batch[ID]}
        for b in range(bands):
            columns[band_column(b)] = pa.array(hashes[b], pa.uint64(), mask=missing)
        if o.verify:
            width = 2 * low_bits.shape[1]
            columns[MINHASHES] = pa.Array.from_buffers(
                pa.binary(width),
                len(missing),
                [pa.array(missing, mask=missing).buffers()[0], pa.py_buffer(low_bits.tobytes())],
            )
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
        paths = [self._edges(band, files, workdir) for band in range(self.lsh_layout[0])]
        nodes = np.unique(np.concatenate([p.ravel() for p in paths]))  # candidates, in order
        if len(nodes) == 0:
            return DECISIONS_SCHEMA.empty_table()
        min_matches, window = self.link_rule
        signatures = (
            self._signatures_of(files, counts, nodes)
            if min_matches
            else np.zeros((0, 0), np.uint16)
        )
        parent = np.arange(len(nodes), dtype=np.int64)
        for path in paths:
            members, starts = groups_of_paths(np.searchsorted(nodes, path))
            link_groups(parent, members, starts, signatures, min_matches, window)
        return self._choose_kept(files, counts, nodes, nodes[roots(parent)])

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

    def _signatures_of(self, files: list[Path], counts: list[int], nodes: np.ndarray) -> np.ndarray:
        """uint16 [len(nodes), hashes]: the stored minima of the (sorted) candidate documents."""
        parts = [
            check_vectors(pq.read_table(files[k], columns=[MINHASHES]).column(0).take(rows))
            for k, rows in _rows_by_file(counts, nodes)
        ]
        return np.concatenate(parts)

    def _choose_kept(
        self, files: list[Path], counts: list[int], nodes: np.ndarray, root: np.ndarray
    ) -> pa.Table:
        """One row per clustered document: kept (reason null) or `duplicate_of=<kept id>`."""
        _, inverse, sizes = np.unique(root, return_inverse=True, return_counts=True)
        clustered = sizes[inverse] > 1
        nodes, root = nodes[clustered], root[clustered]
        if len(nodes) == 0:
            return DECISIONS_SCHEMA.empty_table()
        by_quality = self.options.keep == "highest_quality"
        columns = [KEY, ID, QUALITY] if by_quality else [KEY, ID]
        parts = [
            pq.read_table(files[k], columns=columns).take(rows)
            for k, (_, rows) in enumerate(_rows_by_file(counts, nodes))
            if len(rows)
        ]
        members = pa.concat_tables(parts).append_column(CLUSTER, pa.array(root))
        return keep_best_annotated(members, by_quality)

    def cluster_rule(self) -> ClusterRule:
        """For distributed reduces: documents equal on any band hash share a cluster."""
        bands, _ = self.lsh_layout
        by_quality = self.options.keep == "highest_quality"
        min_matches, window = self.link_rule
        return ClusterRule(
            keys=tuple(band_column(b) for b in range(bands)),
            carry=(QUALITY,) if by_quality else (),
            choose=functools.partial(keep_best_annotated, by_quality=by_quality),
            schema=DECISIONS_SCHEMA,
            check=MINHASHES if min_matches else None,
            min_matches=min_matches,
            window=window,
        )

    # ---------------------------------------------------------------- apply

    def apply(self, batch: pa.Table, decisions: pa.Table) -> tuple[pa.Table, Decision]:
        """As the default, but documents in no cluster get their own id and size 1, not null."""
        batch, decision = apply_decisions(batch, decisions)
        cluster_id = pc.coalesce(batch[CLUSTER_ID], batch[ID])
        cluster_size = pc.coalesce(batch[CLUSTER_SIZE], pa.scalar(1, pa.int64()))
        batch = batch.set_column(batch.column_names.index(CLUSTER_ID), CLUSTER_ID, cluster_id)
        batch = batch.set_column(batch.column_names.index(CLUSTER_SIZE), CLUSTER_SIZE, cluster_size)
        return batch, decision


def _rows_by_file(counts: list[int], nodes: np.ndarray):
    """(file index, local rows) for sorted document numbers (file k, row i → offsets[k] + i)."""
    offsets = np.concatenate([[0], np.cumsum(counts)])
    bounds = np.searchsorted(nodes, offsets)
    for k in range(len(counts)):
        yield k, pa.array(nodes[bounds[k] : bounds[k + 1]] - offsets[k])


def _write_atomically(path: Path, write) -> None:
    """Write through a hidden temporary (the executor deletes `.*.tmp` leftovers), then rename."""
    temporary = path.with_name(f".{path.name}.tmp")
    with open(temporary, "wb") as out:
        write(out)
        out.flush()
        os.fsync(out.fileno())
    os.replace(temporary, path)
