"""semantic_dedup: greedy rule per cluster, k-means, a static model the test builds, the extra."""

import importlib.util
import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import write_jsonl

from textmill.api import Pipeline
from textmill.document import assign_keys, make_batch
from textmill.stages.dedup.semantic import (
    MissingExtraError,
    SemanticDedup,
    load_embedder,
    near_duplicates,
    spherical_kmeans,
)


def unit(*rows):
    vectors = np.array(rows, dtype=np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def angle(degrees: float) -> list[float]:
    return [np.cos(np.radians(degrees)), np.sin(np.radians(degrees)), 0.0]


def test_chain_keeps_both_ends_when_comparing_with_kept_documents():
    # cos(10°) ≈ 0.985 between neighbours, cos(20°) ≈ 0.94 between the ends.
    chain = unit(angle(0), angle(10), angle(20))
    assert near_duplicates(chain, 0.95, kept_only=True).tolist() == [-1, 0, -1]
    assert near_duplicates(chain, 0.95, kept_only=False).tolist() == [-1, 0, 1]  # SemDeDup


def test_near_duplicates_across_blocks_match_a_single_block():
    rng = np.random.default_rng(0)
    base = unit(*rng.normal(size=(40, 8)))
    vectors = unit(*np.concatenate([base, base + 0.01 * rng.normal(size=(40, 8))]))
    one_block = near_duplicates(vectors, 0.99, block=1024)
    small_blocks = near_duplicates(vectors, 0.99, block=7)
    assert one_block.tolist() == small_blocks.tolist()
    assert one_block[40:].tolist() == list(range(40))


def test_kmeans_separates_well_apart_groups():
    rng = np.random.default_rng(1)
    centres = np.eye(4, 16, dtype=np.float32)
    vectors = unit(*np.repeat(centres, 25, axis=0) + 0.05 * rng.normal(size=(100, 16)))
    assignment, _ = spherical_kmeans(vectors, 4, iterations=20, seed=3)
    groups = [set(assignment[i * 25 : (i + 1) * 25].tolist()) for i in range(4)]
    assert all(len(g) == 1 for g in groups) and len(set.union(*groups)) == 4


def keyed_ids(*ids: str) -> pa.Table:
    """What decide gets: documents sorted by id, with their keys."""
    return pa.table({"doc_key": pa.array(range(len(ids)), pa.int64()), "id": list(ids)})


def test_decide_drops_later_ids_above_threshold_and_never_zero_vectors():
    docs = keyed_ids("a", "b", "c", "d", "e")
    vectors = unit(angle(0), angle(5), angle(90), [0, 0, 1], angle(91))
    vectors = np.vstack([vectors[:3], np.zeros((1, 3), np.float32), vectors[4:]])
    decisions = SemanticDedup(threshold=0.99, clusters=2).decide(docs, vectors)
    assert decisions.to_pylist() == [
        {"doc_key": 1, "id": "b", "reason": "duplicate_of=a"},
        {"doc_key": 4, "id": "e", "reason": "duplicate_of=c"},
    ]


def test_farthest_from_centroid_order_keeps_the_outliers():
    # a sits between b and c: 4° from each (cos 0.9976), b and c are 8° apart (cos 0.9903).
    docs = keyed_ids("a", "b", "c")
    vectors = unit(angle(4), angle(0), angle(8))
    by_id = SemanticDedup(threshold=0.996, clusters=1).decide(docs, vectors)
    assert by_id.select(["id", "reason"]).to_pylist() == [
        {"id": "b", "reason": "duplicate_of=a"},
        {"id": "c", "reason": "duplicate_of=a"},
    ]
    far_first = SemanticDedup(threshold=0.996, clusters=1, order="farthest_from_centroid")
    assert far_first.decide(docs, vectors)["id"].to_pylist() == ["a"]


def test_missing_packages_give_an_error_naming_the_extra(monkeypatch):
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "sentence_transformers" else real_find_spec(name, *a),
    )
    with pytest.raises(MissingExtraError, match=r"textmill\[semantic\]"):
        SemanticDedup().setup()


def test_help_line_says_it_is_slow_on_cpu_and_names_the_extra():
    first_paragraph = " ".join(SemanticDedup.__doc__.split("\n\n")[0].split())
    assert "~25 paragraphs/s" in first_paragraph and "textmill[semantic]" in first_paragraph


# ---------------------------------------------------------------- a static model the test builds

VOCABULARY = ["[UNK]", "river", "bank", "water", "flows", "money", "loan", "interest", "rate"]


def static_model(folder: Path) -> Path:
    """A model2vec-layout directory: word-level tokenizer, one-hot-ish vectors per word."""
    pytest.importorskip("tokenizers")
    safetensors_numpy = pytest.importorskip("safetensors.numpy")
    from tokenizers import Tokenizer
    from tokenizers.models import WordLevel
    from tokenizers.pre_tokenizers import Whitespace

    folder.mkdir(parents=True, exist_ok=True)
    tokenizer = Tokenizer(WordLevel({w: i for i, w in enumerate(VOCABULARY)}, unk_token="[UNK]"))
    tokenizer.pre_tokenizer = Whitespace()
    tokenizer.save(str(folder / "tokenizer.json"))
    vectors = np.zeros((len(VOCABULARY), 4), dtype=np.float32)
    vectors[1:5, 0] = 1.0  # river words point one way
    vectors[5:9, 1] = 1.0  # finance words another
    vectors[[4, 8], 2] = 0.3  # "flows" and "rate" tilt a little
    safetensors_numpy.save_file({"embeddings": vectors}, str(folder / "model.safetensors"))
    (folder / "config.json").write_text(json.dumps({"model_type": "model2vec", "normalize": True}))
    return folder


def test_static_model_directory_embeds_the_mean_of_word_vectors(tmp_path):
    embedder = load_embedder(str(static_model(tmp_path / "model")))
    vectors = embedder.encode(["river bank", "money loan rate", "unknown words", ""])
    assert np.allclose(vectors[0], [1, 0, 0, 0])
    assert np.allclose(vectors[1], unit([0, 3, 0.3, 0])[0])
    assert np.allclose(vectors[2:], 0)  # unknown tokens are dropped, as model2vec does


def test_run_with_a_static_model_is_the_same_whatever_the_worker_count(tmp_path):
    model = static_model(tmp_path / "model")
    texts = {
        "r1": "river bank water",
        "r2": "water river bank",  # same words: identical embedding
        "r3": "river flows",  # cos with r1 ≈ 0.99: under 0.999
        "f1": "money loan",
        "f2": "interest money loan",
        "f3": "???",
    }
    for shard, ids in enumerate([["r2", "f1", "f3"], ["r1", "r3", "f2"]]):
        write_jsonl(
            tmp_path / "in" / f"part-{shard}.jsonl", [{"id": i, "text": texts[i]} for i in ids]
        )
    results = []
    for workers in (1, 2):
        out = tmp_path / f"out-{workers}"
        stage = ("semantic_dedup", {"model_path": str(model), "threshold": 0.999, "clusters": 2})
        stats = Pipeline([stage]).run(tmp_path / "in", out, workers=workers, progress=False)
        rejects = pq.read_table(out / "rejects").sort_by("id")
        reasons = rejects["reject_reason"].to_pylist()
        results.append(list(zip(rejects["id"].to_pylist(), reasons, strict=True)))
        assert stats["read"] == 6 and stats["kept"] == 4
    assert (
        results[0]
        == results[1]
        == [
            ("f2", "semantic_dedup:duplicate_of=f1"),
            ("r2", "semantic_dedup:duplicate_of=r1"),
        ]
    )


def test_signatures_cut_texts_to_max_chars(tmp_path):
    stage = SemanticDedup(model_path=str(static_model(tmp_path / "model")), max_chars=10)
    batch = assign_keys(make_batch(["a", "b"], ["river bank money loan", None]), 0, 0)
    signatures = stage.signatures(batch)
    vectors = np.array(signatures["embedding"].to_pylist())
    assert np.allclose(vectors[0], [1, 0, 0, 0])  # "river bank" only
    assert np.allclose(vectors[1], 0)
