"""minhash_dedup: near-duplicate clusters, kept-document rule, annotations, resume, determinism."""

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import run_global_stage

from textmill.api import Pipeline
from textmill.document import make_batch
from textmill.stages.dedup._minhash_kernels import band_signatures
from textmill.stages.dedup._unionfind import groups_of_paths, link_groups, roots
from textmill.stages.dedup.minhash import MinhashDedup, lsh_parameters

VOCABULARY = [a + b + c for a in "bcdfghklmnp" for b in "aeiou" for c in "rstvwxyz"] * 1
# (digits would all normalise to "0", so the test words are letters only)


def words(count: int, seed: int) -> list[str]:
    rng = np.random.default_rng(seed)
    return [VOCABULARY[i] for i in rng.integers(0, len(VOCABULARY), size=count)]


def run_stage(stage: MinhashDedup, shards: list[pa.Table], workdir: Path):
    batch, decision, decisions = run_global_stage(stage, shards, workdir)
    kept = batch.filter(pa.array(decision.keep))
    reasons = dict(zip(batch["id"].to_pylist(), decision.reasons.to_pylist(), strict=True))
    return kept, reasons, decisions


def batch_of(texts: dict[str, str], **columns) -> pa.Table:
    table = make_batch(list(texts), list(texts.values()))
    for name, values in columns.items():
        table = table.append_column(name, pa.array(values))
    return table


def test_identical_documents_keep_one_the_smallest_id(tmp_path):
    text = " ".join(words(200, seed=1))
    kept, reasons, _ = run_stage(MinhashDedup(), [batch_of({"b": text, "a": text})], tmp_path)
    assert kept["id"].to_pylist() == ["a"]
    assert reasons["b"] == "duplicate_of=a"


def test_one_changed_word_in_200_is_dropped_as_duplicate_of_the_smaller_id(tmp_path):
    original = words(200, seed=2)
    edited = list(original)
    edited[100] = "replaced"
    batch = batch_of({"doc-2": " ".join(edited), "doc-1": " ".join(original)})
    kept, reasons, _ = run_stage(MinhashDedup(), [batch], tmp_path)
    assert kept["id"].to_pylist() == ["doc-1"]
    assert reasons["doc-2"] == "duplicate_of=doc-1"


def test_clearly_different_documents_are_both_kept(tmp_path):
    first, second, third = words(200, seed=3), words(200, seed=4), words(200, seed=40)
    half_shared = first[:60] + third[60:]  # Jaccard of 5-grams ≈ 0.17 with `first`
    batch = batch_of({"x": " ".join(first), "y": " ".join(second), "z": " ".join(half_shared)})
    kept, reasons, _ = run_stage(MinhashDedup(), [batch], tmp_path)
    assert sorted(kept["id"].to_pylist()) == ["x", "y", "z"]
    assert all(reason is None for reason in reasons.values())


def test_chain_of_near_duplicates_forms_one_cluster(tmp_path):
    text = words(300, seed=6)
    a, b, c = " ".join(text[0:250]), " ".join(text[25:275]), " ".join(text[50:300])
    # Jaccard of 5-grams: A~B and B~C ≈ 0.82, A~C ≈ 0.66 (no band of A meets one of C here),
    # so A and C alone stay apart ...
    kept, _, _ = run_stage(MinhashDedup(), [batch_of({"a": a, "c": c})], tmp_path / "ac")
    assert sorted(kept["id"].to_pylist()) == ["a", "c"]
    # ... and B, similar to both, joins them into one cluster of three.
    kept, reasons, _ = run_stage(
        MinhashDedup(), [batch_of({"c": c}), batch_of({"a": a, "b": b})], tmp_path / "abc"
    )
    assert kept["id"].to_pylist() == ["a"]
    assert reasons == {"c": "duplicate_of=a", "a": None, "b": "duplicate_of=a"}
    assert kept["dup_cluster_id"].to_pylist() == ["a"]
    assert kept["dup_cluster_size"].to_pylist() == [3]


def test_unclustered_documents_are_annotated_with_their_own_id_and_size_one(tmp_path):
    text = " ".join(words(100, seed=6))
    batch = batch_of({"p": text, "q": text, "r": " ".join(words(100, seed=7))})
    kept, _, _ = run_stage(MinhashDedup(), [batch], tmp_path)
    assert kept.column("dup_cluster_id").to_pylist() == ["p", "r"]
    assert kept.column("dup_cluster_size").to_pylist() == [2, 1]
    assert kept.schema.field("dup_cluster_size").type == pa.int64()


def test_empty_and_short_documents_merge_only_with_the_same_normalised_text(tmp_path):
    batch = batch_of(
        {
            "e1": "",
            "e2": "",
            "e3": "  !!! ...  ",
            "h1": "hello",
            "h2": "Hello!",
            "w1": "world",
            "s1": "two words",
            "s2": "two other",
        }
    )
    batch = pa.concat_tables([batch, make_batch(["n1", "n2"], [None, None])])
    kept, reasons, _ = run_stage(MinhashDedup(), [batch], tmp_path)
    assert sorted(kept["id"].to_pylist()) == ["e1", "e2", "e3", "h1", "n1", "n2", "s1", "s2", "w1"]
    assert reasons["h2"] == "duplicate_of=h1"


def test_normalisation_ignores_case_punctuation_diacritics_and_digit_values():
    texts = pa.array(
        [
            "Héllo, WORLD! The café costs 3.50 euros on 12 May; naïve résumé.",
            "hello world the cafe costs 7 euros on 2024 may naive resume",
            "hello world the cafe costs euros on may naive resume",
        ]
    )
    hashes, _, has_signature = band_signatures(
        texts, chars=False, ngram=5, bands=14, rows=8, seed=1
    )
    assert has_signature.all()
    assert (hashes[:, 0] == hashes[:, 1]).all()
    assert not (hashes[:, 0] == hashes[:, 2]).any()


def test_character_shingles_match_across_word_boundaries_changes():
    texts = pa.array(["the quick brown fox jumps", "The  quick\nbrown fox, jumps", "other"])
    hashes, _, _ = band_signatures(texts, chars=True, ngram=4, bands=4, rows=2, seed=1)
    assert (hashes[:, 0] == hashes[:, 1]).all()
    assert not (hashes[:, 0] == hashes[:, 2]).any()


def test_bands_and_rows_from_threshold_match_datasketch():
    # datasketch's `_optimal_param` gives these (documented in bigcode's text-dedup).
    assert lsh_parameters(0.75, 256) == (21, 12)
    assert lsh_parameters(0.75, 256, fp_weight=0.1, fn_weight=0.9) == (28, 9)
    stage = MinhashDedup(threshold=0.75, num_perm=256)
    assert stage.lsh_layout == (21, 12)
    assert MinhashDedup().lsh_layout == (14, 8)
    with pytest.raises(ValueError, match="either threshold or bands"):
        MinhashDedup(threshold=0.8, bands=10)


def test_keep_highest_quality_breaks_ties_by_id(tmp_path):
    text = " ".join(words(120, seed=8))
    other = " ".join(words(120, seed=9))
    batch = batch_of(
        {"a": text, "c": text, "b": text, "d": other, "e": other},
        quality_score=[0.2, 0.9, 0.9, None, 0.1],
    )
    kept, reasons, _ = run_stage(MinhashDedup(keep="highest_quality"), [batch], tmp_path)
    assert sorted(kept["id"].to_pylist()) == ["b", "e"]
    assert reasons["a"] == reasons["c"] == "duplicate_of=b"
    assert reasons["d"] == "duplicate_of=e"


def test_keep_highest_quality_without_scores_keeps_the_smallest_id(tmp_path):
    text = " ".join(words(120, seed=10))
    stage = MinhashDedup(keep="highest_quality")
    kept, _, _ = run_stage(stage, [batch_of({"z": text, "y": text})], tmp_path)
    assert kept["id"].to_pylist() == ["y"]


def corpus_shards(tmp_path: Path) -> list[pa.Table]:
    base = [words(150, seed=100 + k) for k in range(12)]
    shards = []
    for s in range(3):
        texts = {}
        for k, doc in enumerate(base):
            edited = list(doc)
            edited[(s * 37 + k) % 150] = "edit" + "abc"[s]
            texts[f"s{s}-d{k:02d}"] = " ".join(edited)
        shards.append(batch_of(texts))
    return shards


def test_reduce_killed_mid_way_resumes_at_the_first_missing_band(tmp_path, monkeypatch):
    shards = corpus_shards(tmp_path)
    _, _, expected = run_stage(MinhashDedup(), shards, tmp_path / "fresh")
    original = MinhashDedup._compute_edges
    computed: list[int] = []

    def failing_at_band_5(self, band, files):
        if band == 5:
            raise KeyboardInterrupt("killed")
        return original(self, band, files)

    monkeypatch.setattr(MinhashDedup, "_compute_edges", failing_at_band_5)
    with pytest.raises(KeyboardInterrupt):
        run_stage(MinhashDedup(), shards, tmp_path / "killed")
    reduce_dir = tmp_path / "killed" / "reduce"
    assert sorted(p.name for p in reduce_dir.glob("band_*.npy")) == [
        f"band_{b:02d}.npy" for b in range(5)
    ]

    def counting(self, band, files):
        computed.append(band)
        return original(self, band, files)

    monkeypatch.setattr(MinhashDedup, "_compute_edges", counting)
    _, _, resumed = run_stage(MinhashDedup(), shards, tmp_path / "killed")
    assert computed == list(range(5, 14))
    assert resumed.sort_by("id").equals(expected.sort_by("id"))
    assert expected.num_rows == 36  # 12 clusters of 3


def test_edge_files_of_other_signatures_are_not_reused(tmp_path):
    shards = corpus_shards(tmp_path)
    run_stage(MinhashDedup(), shards[:1], tmp_path / "run")
    _, _, decisions = run_stage(MinhashDedup(), shards, tmp_path / "run")
    assert decisions.num_rows == 36


def write_jsonl(path: Path, records: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")


def test_same_kept_ids_whatever_the_worker_count_and_batch_size(tmp_path):
    shards = corpus_shards(tmp_path)
    for k, shard in enumerate(reversed(shards)):  # file order is not id order
        write_jsonl(tmp_path / "in" / f"part-{k}.jsonl", shard.select(["id", "text"]).to_pylist())
    write_jsonl(tmp_path / "in" / "part-9.jsonl", [{"id": "blank", "text": ""}])
    results = []
    for workers, batch_size in [(1, 1000), (2, 5), (1, 7)]:
        out = tmp_path / f"out-{workers}-{batch_size}"
        stats = Pipeline(["minhash_dedup"]).run(
            tmp_path / "in", out, workers=workers, batch_size=batch_size, progress=False
        )
        kept = pq.read_table(out / "data")
        rejects = pq.read_table(out / "rejects")
        results.append(
            (
                sorted(kept["id"].to_pylist()),
                sorted(
                    zip(
                        rejects["id"].to_pylist(), rejects["reject_reason"].to_pylist(), strict=True
                    )
                ),
            )
        )
        assert stats["read"] == 37 and stats["kept"] == 13 and stats["rejected"] == 24
    assert results[0] == results[1] == results[2]
    kept_ids, rejected = results[0]
    assert kept_ids == ["blank"] + [f"s0-d{k:02d}" for k in range(12)]
    assert ("s2-d03", "minhash_dedup:duplicate_of=s0-d03") in rejected


def test_groups_of_paths_recovers_each_group_in_order():
    edges = np.array([[1, 4], [4, 9], [2, 3], [5, 6], [6, 7]])
    members, starts = groups_of_paths(edges)
    assert members.tolist() == [1, 4, 9, 2, 3, 5, 6, 7]
    assert starts.tolist() == [0, 3, 5, 8]


def test_link_groups_links_only_pairs_that_agree_on_enough_hashes():
    a = np.arange(10, dtype=np.uint16)
    b = a.copy()
    b[:2] = 99  # agrees with a on 8 of 10
    c = b.copy()
    c[2:4] = 99  # agrees with b on 8, with a on 6
    d = np.full(10, 7, dtype=np.uint16)  # shares nothing
    signatures = np.stack([a, b, c, d])
    parent = np.arange(4)
    edges = link_groups(parent, np.array([0, 1, 2, 3]), np.array([0, 4]), signatures, 8, 64)
    # the chain a~b~c is one set (c reaches a through b), d stays alone
    assert [int(roots(parent)[k]) for k in range(4)] == [0, 0, 0, 3]
    assert edges.tolist() == [[0, 1], [1, 2]]


def test_link_groups_compares_each_member_only_within_the_window():
    signatures = np.zeros((3, 4), dtype=np.uint16)
    signatures[1] = 5  # 0 and 2 are identical, 1 differs from both
    parent = np.arange(3)
    link_groups(parent, np.array([0, 1, 2]), np.array([0, 3]), signatures, 4, 1)
    assert roots(parent).tolist() == [0, 1, 2]  # window 1: 2 is compared with 1 only
    link_groups(parent, np.array([0, 1, 2]), np.array([0, 3]), signatures, 4, 2)
    assert roots(parent).tolist() == [0, 1, 0]


@pytest.mark.parametrize("verify", [True, False])
def test_verification_keeps_candidates_whose_estimated_similarity_is_low(tmp_path, verify):
    # 20 bands of 1 row make almost any two overlapping documents candidates; verifying on
    # all 20 hashes (at J ≥ 0.8) separates the true copy from the half-shared text.
    text = words(200, seed=8)
    copy = list(text)
    copy[50] = "edited"
    half = text[:100] + words(100, seed=9)  # Jaccard of 5-grams ≈ 0.32 with `text`
    batch = batch_of({"a": " ".join(text), "b": " ".join(copy), "c": " ".join(half)})
    options = {"bands": 20, "rows": 1, "verify": verify, "verify_threshold": 0.8}
    stage = MinhashDedup(MinhashDedup.Options(**options))
    _, reasons, _ = run_stage(stage, [batch], tmp_path)
    assert reasons["b"] == "duplicate_of=a"
    assert reasons["c"] == (None if verify else "duplicate_of=a")


def test_verification_threshold_defaults_to_the_lsh_curve_or_the_given_threshold():
    assert MinhashDedup().link_rule == (81, 64)  # ⌈(1/14)^(1/8) × 112⌉ = ⌈80.5⌉
    by_threshold = MinhashDedup(MinhashDedup.Options(threshold=0.8))
    bands, rows = by_threshold.lsh_layout
    assert by_threshold.link_rule[0] == int(np.ceil(0.8 * bands * rows - 1e-9))
    assert MinhashDedup(MinhashDedup.Options(verify=False)).link_rule == (0, 1)
