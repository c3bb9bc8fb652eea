"""paragraph_dedup: first occurrence kept, text edited, emptied documents dropped, determinism."""

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from conftest import run_global_stage, write_jsonl

from textmill.api import Pipeline
from textmill.document import make_batch
from textmill.stages.dedup.paragraph import (
    ParagraphDedup,
    decisions_by_document,
    repeated_occurrences,
)


def run_stage(stage: ParagraphDedup, shards: list[pa.Table], workdir: Path):
    batch, decision, _ = run_global_stage(stage, shards, workdir)
    ids = batch["id"].to_pylist()
    texts = dict(zip(ids, batch["text"].to_pylist(), strict=True))
    removed = dict(zip(ids, batch["paragraphs_removed"].to_pylist(), strict=True))
    reasons = dict(zip(ids, decision.reasons.to_pylist(), strict=True))
    return texts, removed, reasons


def test_repeated_paragraph_is_kept_only_in_the_smallest_id(tmp_path):
    batch = make_batch(
        ["b", "a"],
        ["Cookie notice here.\n\nBody of b.", "Body of a.\n\nCookie notice here."],
    )
    texts, removed, reasons = run_stage(ParagraphDedup(), [batch], tmp_path)
    assert texts == {"b": "Body of b.", "a": "Body of a.\n\nCookie notice here."}
    assert removed == {"b": 1, "a": 0}
    assert reasons == {"b": None, "a": None}


def test_normalisation_ignores_case_punctuation_digits_and_spacing(tmp_path):
    batch = make_batch(
        ["a", "b", "c"],
        [
            "Call 555-1234 today!\n\nUnique a.",
            "call   555 9876 TODAY\n\nUnique b.",
            "Call today for 555\n\nUnique c.",
        ],
    )
    texts, removed, _ = run_stage(ParagraphDedup(), [batch], tmp_path)
    assert texts["b"] == "Unique b."
    assert removed == {"a": 0, "b": 1, "c": 0}  # word order differs: not the same paragraph


def test_later_repeat_inside_the_same_document_is_removed(tmp_path):
    batch = make_batch(["a"], ["Menu\n\nStory text.\n\nMenu\n\nEnd."])
    texts, removed, _ = run_stage(ParagraphDedup(), [batch], tmp_path)
    assert texts["a"] == "Menu\n\nStory text.\n\nEnd."
    assert removed["a"] == 1


def test_document_left_empty_is_dropped_with_a_reason(tmp_path):
    batch = make_batch(["a", "b"], ["Same words.\n\nMore.", "same words\n\n\nMORE!"])
    texts, removed, reasons = run_stage(ParagraphDedup(), [batch], tmp_path)
    assert reasons == {"a": None, "b": "empty_after_paragraph_dedup"}
    assert removed["b"] == 2


def test_document_under_min_words_after_editing_is_dropped_but_untouched_short_ones_stay(
    tmp_path,
):
    batch = make_batch(
        ["a", "b", "c"], ["Shared footer line.", "Shared footer line.\n\nTwo words", "Tiny"]
    )
    _, _, reasons = run_stage(ParagraphDedup(min_words=3), [batch], tmp_path)
    assert reasons == {"a": None, "b": "too_short_after_paragraph_dedup", "c": None}


def test_keep_first_false_removes_every_occurrence_as_ccnet_paper(tmp_path):
    batch = make_batch(["a", "b"], ["Boilerplate.\n\nText a.", "Text b.\n\nBoilerplate."])
    texts, _, _ = run_stage(ParagraphDedup(keep_first=False), [batch], tmp_path)
    assert texts == {"a": "Text a.", "b": "Text b."}


def test_line_unit_removes_single_lines(tmp_path):
    batch = make_batch(["a", "b"], ["Home | About\nFirst story.", "Home | About\nSecond story."])
    texts, removed, _ = run_stage(ParagraphDedup(unit="lines"), [batch], tmp_path)
    assert texts == {"a": "Home | About\nFirst story.", "b": "Second story."}
    paragraphs, _, _ = run_stage(ParagraphDedup(), [batch], tmp_path / "p")
    assert paragraphs["b"] == "Home | About\nSecond story."  # one paragraph each: no repeat


def test_blank_and_punctuation_only_pieces_are_never_duplicates(tmp_path):
    batch = make_batch(["a", "b", "c"], ["x\n\n---\n\ny", "z\n\n---\n\nw", None])
    texts, removed, reasons = run_stage(ParagraphDedup(), [batch], tmp_path)
    assert texts["b"] == "z\n\n---\n\nw"
    assert removed == {"a": 0, "b": 0, "c": 0}
    assert reasons["c"] is None


LETTERS = "abcdefghijklmnopqrstuvwxyz"  # digits all normalise to "0": labels are letters


def test_spilled_partitions_give_the_same_decisions(tmp_path):
    shards = [
        make_batch(
            [f"d{k}-{i:02d}" for i in range(20)],
            [f"p{LETTERS[i % 7]}\n\nq{LETTERS[i]}\n\nr{LETTERS[k]}" for i in range(20)],
        )
        for k in range(3)
    ]
    in_memory = run_stage(ParagraphDedup(), shards, tmp_path / "one")
    spilled = run_stage(ParagraphDedup(rows_per_partition=10), shards, tmp_path / "many")
    assert in_memory == spilled
    assert in_memory[0]["d0-00"] == "pa\n\nqa\n\nra"
    assert in_memory[0]["d0-07"] == "qh"  # pa and ra first seen in d0-00
    assert in_memory[0]["d1-07"] == ""  # every paragraph seen in shard 0 first
    assert list((tmp_path / "many" / "reduce").glob("*.parquet")) == []  # partitions removed


def test_same_output_whatever_the_worker_count(tmp_path):
    boiler = "Subscribe to our newsletter for more."
    for shard in range(3):
        write_jsonl(
            tmp_path / "in" / f"part-{shard}.jsonl",
            [
                {
                    "id": f"s{2 - shard}-{i}",
                    "text": f"{boiler}\n\nStory {LETTERS[i % 4]}.\n\nEnd {LETTERS[shard]}",
                }
                for i in range(6)
            ],
        )
    results = []
    for workers in (1, 2):
        out = tmp_path / f"out-{workers}"
        stats = Pipeline(["paragraph_dedup"]).run(
            tmp_path / "in", out, workers=workers, batch_size=4, progress=False
        )
        kept = pq.read_table(out / "data").sort_by("id")
        results.append(list(zip(kept["id"].to_pylist(), kept["text"].to_pylist(), strict=True)))
        assert stats["read"] == 18 and stats["kept"] == 6 and stats["rejected"] == 12
    assert results[0] == results[1]
    assert results[0] == [
        ("s0-0", f"{boiler}\n\nStory a.\n\nEnd c"),
        ("s0-1", "Story b."),
        ("s0-2", "Story c."),
        ("s0-3", "Story d."),
        ("s1-0", "End b"),
        ("s2-0", "End a"),
    ]
    rejects = pq.read_table(tmp_path / "out-2" / "rejects")
    assert set(rejects["reject_reason"].to_pylist()) == {
        "paragraph_dedup:empty_after_paragraph_dedup"
    }
    assert pq.read_table(tmp_path / "out-2" / "data").sort_by("id")[
        "paragraphs_removed"
    ].to_pylist() == [0, 2, 2, 2, 2, 2]


def test_the_reduce_rule_gives_the_same_decisions_on_any_split_by_hash_and_document():
    """What lets the Ray reduce shuffle: hash groups and documents may be split anywhere."""
    rng = np.random.default_rng(5)
    documents = rng.integers(0, 30, 400)
    rows = pa.table(
        {
            "doc_key": pa.array(documents, pa.int64()),
            "id": [f"d{i:02d}" for i in documents],
            "paragraph": pa.array(rng.integers(0, 50, 400), pa.int32()),
            "paragraph_hash": pa.array(rng.integers(0, 90, 400).astype(np.uint64)),
        }
    )
    for keep_first in (True, False):
        whole = decisions_by_document(repeated_occurrences(rows, keep_first))
        by_hash = rows["paragraph_hash"].to_numpy() % 4
        removed = pa.concat_tables(
            repeated_occurrences(rows.filter(pa.array(by_hash == q)), keep_first) for q in range(4)
        )
        by_document = removed["doc_key"].to_numpy() % 3
        parts = [
            decisions_by_document(removed.filter(pa.array(by_document == r))) for r in range(3)
        ]
        assert pa.concat_tables(parts).sort_by("doc_key").equals(whole)
        assert whole["doc_key"].to_pylist() == sorted(whole["doc_key"].to_pylist())
        lists = whole["removed_paragraphs"].to_pylist()
        assert all(indices == sorted(indices) for indices in lists) and len(lists) >= 20
