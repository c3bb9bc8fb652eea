"""Topics without labels: embed a sample, k-means it, name every cluster by its c-TF-IDF
keywords, save the centroids, and give any later document the id of its nearest centroid.

Fitted once (`textmill topic fit`) and saved to a file that the `topic` stage loads, so every
shard of every run (and next month's crawl) gets the same ids for the same topics; a global
stage would refit per run and hold the whole run back until it had. Embedders:
- `tfidf` (default): latent semantic analysis, TF-IDF over the sample's 2^15 most frequent words
  (sublinear tf, words in at most half the documents) projected to 128 dimensions by truncated
  SVD, scikit-learn's recipe for clustering text (Deerwester et al. 1990). Non-neural: thousands
  of documents a second per core, any language whose words are split by spaces.
- `minilm`: the all-MiniLM-L6-v2 package semantic_dedup loads (~25 docs/s per CPU core).
- a model2vec or sentence-transformers directory (semantic_dedup's loader).
Keywords (BERTopic's c-TF-IDF, Grootendorst 2022): the sample's word counts summed per cluster,
tf per cluster × log(1 + average words per cluster / the word's count over all clusters), without
function words (textmill's lists for 12 languages and scikit-learn's English list, as BERTopic
removes stop words), and words in over half the documents of two clusters or more (a language's
glue words, which no list covers) ranked after every other word of the cluster.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from textmill.quality.classifier import ModelFileError  # one-line file errors, exit 2

TFIDF = "tfidf"
MINILM = "minilm"
FORMAT = "textmill-topics/1"
MAX_CHARS = 2000  # the first 2,000 characters say what a document is about
VOCABULARY = 2**15
DIMENSIONS = 128
KEYWORDS = 10
TOKEN_PATTERN = r"(?u)\b[^\W\d_][^\W_]+\b"  # words of two or more characters, no numbers


def _stop_words() -> list[str]:
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    from textmill.extraction.stop_words import function_words

    # every language's list, and scikit-learn's English one (the list BERTopic's examples use)
    return sorted(function_words(None) | ENGLISH_STOP_WORDS)


def _vectorizer(vocabulary: Sequence[str] | None = None) -> Any:
    from sklearn.feature_extraction.text import TfidfVectorizer

    if vocabulary is not None:
        return TfidfVectorizer(token_pattern=TOKEN_PATTERN, vocabulary=list(vocabulary),
                               sublinear_tf=True)  # fmt: skip
    return TfidfVectorizer(
        token_pattern=TOKEN_PATTERN, max_features=VOCABULARY, max_df=0.5, sublinear_tf=True,
        stop_words=_stop_words(),
    )  # fmt: skip


def _unit(vectors: np.ndarray) -> np.ndarray:
    from textmill.stages.dedup.semantic import _unit_rows

    return _unit_rows(vectors)


def _truncate(texts: pa.Array | pa.ChunkedArray | Sequence[str | None]) -> list[str]:
    if not isinstance(texts, (pa.Array, pa.ChunkedArray)):
        texts = pa.array(list(texts), pa.large_string())
    return pc.fill_null(pc.utf8_slice_codeunits(texts, 0, MAX_CHARS), "").to_pylist()


@dataclass
class TopicModel:
    """Centroids (unit rows) in the embedder's space, each topic's keywords and sample size,
    and what embeds a text: the LSA matrices for `tfidf`, else the model's name or path."""

    embedder: str
    centroids: np.ndarray  # float32 [k, dim]
    keywords: list[list[str]]
    sample_sizes: list[int]
    seed: int
    vocabulary: list[str] | None = None  # tfidf only
    idf: np.ndarray | None = None
    components: np.ndarray | None = None  # float32 [dim, vocabulary]

    @property
    def k(self) -> int:
        return len(self.centroids)

    def embed(self, texts: pa.Array | pa.ChunkedArray | Sequence[str | None]) -> np.ndarray:
        """Unit rows, one a text (zero rows for empty texts)."""
        lines = _truncate(texts)
        if self.embedder != TFIDF:
            return _neural(self.embedder).encode(lines)
        vectorizer = _vectorizer(self.vocabulary)
        vectorizer.idf_ = self.idf
        return _unit(np.asarray(vectorizer.transform(lines) @ self.components.T, np.float32))

    def assign(self, texts: pa.Array | pa.ChunkedArray | Sequence[str | None]) -> pa.Array:
        """The nearest centroid's id per text (cosine), null for a text with no known word."""
        vectors = self.embed(texts)
        ids = np.argmax(vectors @ self.centroids.T, axis=1).astype(np.int32)
        return pa.array(ids, pa.int32(), mask=~vectors.any(axis=1))

    def labels(self, count: int = 5) -> list[str]:
        """Each topic's readable name: its first `count` keywords."""
        return [", ".join(words[:count]) for words in self.keywords]

    def save(self, path: str | Path) -> Path:
        """`path` (.npz): the arrays, and the rest as JSON inside it."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        meta = {"format": FORMAT, "embedder": self.embedder, "keywords": self.keywords,
                "sample_sizes": self.sample_sizes, "seed": self.seed,
                "vocabulary": self.vocabulary}  # fmt: skip
        arrays = {"centroids": self.centroids, "meta": np.array(json.dumps(meta))}
        if self.embedder == TFIDF:
            arrays |= {"idf": self.idf, "components": self.components}
        with path.open("wb") as out:
            np.savez_compressed(out, **arrays)
        return path

    @classmethod
    def load(cls, path: str | Path) -> TopicModel:
        return _load_cached(str(path))


_MODELS: dict[str, TopicModel] = {}


def _load_cached(path: str) -> TopicModel:
    if path in _MODELS:
        return _MODELS[path]
    if not Path(path).is_file():
        raise ModelFileError(path, "topic model does not exist (make it: textmill topic fit)")
    try:
        with np.load(path, allow_pickle=False) as arrays:
            meta = json.loads(str(arrays["meta"]))
            if meta.get("format") != FORMAT:
                raise ValueError(f"format {meta.get('format')!r}")
            tfidf = meta["embedder"] == TFIDF
            model = TopicModel(
                embedder=meta["embedder"], centroids=arrays["centroids"],
                keywords=meta["keywords"], sample_sizes=meta["sample_sizes"], seed=meta["seed"],
                vocabulary=meta["vocabulary"], idf=arrays["idf"] if tfidf else None,
                components=arrays["components"] if tfidf else None,
            )  # fmt: skip
    except (OSError, ValueError, KeyError, EOFError) as error:
        raise ModelFileError(path, f"not a textmill topic model ({error})") from None
    _MODELS[path] = model
    return model


def _neural(embedder: str) -> Any:
    from textmill.stages.dedup.semantic import load_embedder

    return _cached_neural(embedder, load_embedder)


_NEURAL: dict[str, Any] = {}


def _cached_neural(embedder: str, load: Any) -> Any:
    if embedder not in _NEURAL:
        _NEURAL[embedder] = load(None if embedder == MINILM else embedder)
    return _NEURAL[embedder]


def c_tf_idf(texts: list[str], assignment: np.ndarray, k: int, count: int = KEYWORDS) -> list:
    """The `count` words that most set each cluster apart (BERTopic's class-based TF-IDF)."""
    from sklearn.feature_extraction.text import CountVectorizer

    vectorizer = CountVectorizer(
        token_pattern=TOKEN_PATTERN, max_features=VOCABULARY, stop_words=_stop_words()
    )
    try:
        counts = vectorizer.fit_transform(texts)
    except ValueError:  # no word at all
        return [[] for _ in range(k)]
    words = vectorizer.get_feature_names_out()
    per_topic = np.zeros((k, counts.shape[1]), dtype=np.float64)
    common = np.zeros(counts.shape[1], dtype=np.int64)  # clusters where half the docs have it
    for topic in range(k):
        rows = np.flatnonzero(assignment == topic)
        if len(rows):
            per_topic[topic] = np.asarray(counts[rows].sum(axis=0)).ravel()
            common += np.asarray((counts[rows] > 0).sum(axis=0)).ravel() > len(rows) / 2
    totals = per_topic.sum(axis=1, keepdims=True)
    tf = np.divide(per_topic, totals, out=np.zeros_like(per_topic), where=totals > 0)
    average_words = per_topic.sum() / max(k, 1)
    idf = np.log1p(average_words / np.maximum(per_topic.sum(axis=0), 1))
    scores = tf * idf
    glue = common >= 2  # ranked after the rest, so a theme two clusters share still names them
    keywords = []
    for topic in range(k):
        tier = np.where(scores[topic] > 0, glue, 2)  # topical words, glue words, absent words
        order = np.lexsort((-scores[topic], tier))
        keywords.append([str(words[j]) for j in order[:count] if scores[topic, j] > 0])
    return keywords


def fit_topics(texts: Sequence[str], k: int, *, embedder: str = TFIDF, seed: int = 0) -> TopicModel:
    """k-means (k-means++, seeded) of the embedded `texts` into `k` topics, named by c-TF-IDF."""
    from sklearn.cluster import KMeans

    lines = _truncate(texts)
    lines = [line for line in lines if line.strip()]
    if len(lines) < k:
        raise ValueError(f"need at least k={k} non-empty texts to fit topics (have {len(lines)})")
    model = TopicModel(embedder=embedder, centroids=np.zeros((0, 0), np.float32), keywords=[],
                       sample_sizes=[], seed=seed)  # fmt: skip
    if embedder == TFIDF:
        from sklearn.decomposition import TruncatedSVD

        vectorizer = _vectorizer()
        try:
            matrix = vectorizer.fit_transform(lines)
        except ValueError as error:
            raise ValueError(f"cannot fit topics: {error}") from None
        dims = max(1, min(DIMENSIONS, matrix.shape[1] - 1, len(lines) - 1))
        svd = TruncatedSVD(n_components=dims, random_state=seed).fit(matrix)
        model.vocabulary = vectorizer.get_feature_names_out().tolist()
        model.idf = vectorizer.idf_.astype(np.float64)
        model.components = svd.components_.astype(np.float32)
    vectors = model.embed(lines)
    kmeans = KMeans(n_clusters=k, n_init=4, random_state=seed).fit(vectors)
    model.centroids = _unit(kmeans.cluster_centers_)
    assignment = np.argmax(vectors @ model.centroids.T, axis=1)
    model.sample_sizes = np.bincount(assignment, minlength=k).tolist()
    model.keywords = c_tf_idf(lines, assignment, k)
    return model


def read_sample(
    inputs: Sequence[str], size: int, *, seed: int = 0, text_field: str = "text"
) -> tuple[list[str], int]:
    """(a uniform sample of at most `size` non-blank texts, texts seen): bottom-k sampling on
    seeded random keys, a batch at a time, so the sample never holds more than `size` texts."""
    from textmill.document import TEXT
    from textmill.io import InputError, ReadOptions, plan_shards, read_shard

    shards, unknown = plan_shards([str(path) for path in inputs])
    if not shards:
        raise InputError(f"no readable input in {', '.join(inputs)} (unknown: {unknown})")
    rng = np.random.default_rng(seed)
    keys = np.zeros(0, dtype=np.float64)
    kept: list[str] = []
    seen = 0
    for shard in shards:
        for batch in read_shard(shard, ReadOptions(text_field=text_field)):
            if TEXT not in batch.docs.column_names or batch.docs.num_rows == 0:
                continue
            column = batch.docs[TEXT]
            blank = pc.fill_null(pc.equal(pc.utf8_trim_whitespace(column), ""), True)
            texts = pc.filter(column, pc.invert(blank)).to_pylist()
            seen += len(texts)
            keys = np.concatenate((keys, rng.random(len(texts))))
            kept.extend(texts)
            if len(kept) > size:
                chosen = np.sort(np.argpartition(keys, size)[:size])
                keys, kept = keys[chosen], [kept[i] for i in chosen]
    return kept, seen
