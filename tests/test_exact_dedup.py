"""exact_dedup on small tables: what counts as the same text, which copy stays, empty and null
texts, duplicates across shards, and a decision table that lists only what is dropped."""

import pyarrow as pa
import pyarrow.parquet as pq
from conftest import run_global_stage

from textmill.document import KEY, assign_keys, make_batch
from textmill.stages.dedup._keep import DROP_ONLY_SCHEMA
from textmill.stages.dedup.exact import HASH, ExactDedup


def shard(rows: dict[str, str | None]) -> pa.Table:
    return make_batch(list(rows), list(rows.values()))


def reasons_of(shards: list[pa.Table], workdir) -> dict[str, str | None]:
    batch, decision, _ = run_global_stage(ExactDedup(), shards, workdir)
    return dict(zip(batch["id"].to_pylist(), decision.reasons.to_pylist(), strict=True))


def test_identical_texts_keep_the_smallest_id_whatever_the_order(tmp_path):
    forward = reasons_of([shard({"b": "same", "a": "same", "c": "same"})], tmp_path / "f")
    backward = reasons_of([shard({"c": "same", "a": "same", "b": "same"})], tmp_path / "b")
    assert forward == backward == {"a": None, "b": "duplicate_of=a", "c": "duplicate_of=a"}


def test_only_byte_identical_texts_are_duplicates(tmp_path):
    texts = {
        "plain": "Café au lait.",
        "copy": "Café au lait.",
        "case": "café au lait.",
        "space": "Café au lait. ",
        "inner": "Café  au lait.",
        "nfd": "Cafe\u0301 au lait.",  # the same letters in another Unicode form
        "newline": "Café au lait.\n",
    }
    reasons = reasons_of([shard(texts)], tmp_path)
    assert {i: r for i, r in reasons.items() if r} == {"plain": "duplicate_of=copy"}


def test_empty_and_null_texts_are_never_duplicates(tmp_path):
    reasons = reasons_of(
        [shard({"e1": "", "e2": "", "n1": None}), shard({"n2": None, "e3": ""})], tmp_path
    )
    assert set(reasons.values()) == {None}
    signatures = ExactDedup().signatures(assign_keys(shard({"e": "", "n": None, "t": "x"}), 0, 0))
    assert signatures[HASH].null_count == 2 and signatures[HASH].type == pa.binary(16)


def test_duplicates_are_found_across_shards(tmp_path):
    reasons = reasons_of(
        [shard({"s0-1": "alpha", "s0-2": "beta"}), shard({}), shard({"s2-1": "alpha"})],
        tmp_path,
    )
    assert reasons == {"s0-1": None, "s0-2": None, "s2-1": "duplicate_of=s0-1"}


def test_copies_sharing_an_id_keep_the_first_read_and_other_texts_stay(tmp_path):
    first, second = shard({"x": "same", "y": "other"}), shard({"x": "same"})
    extra = shard({"x": "a different text under the same id"})
    batch, decision, decisions = run_global_stage(
        ExactDedup(), [first, pa.concat_tables([second, extra])], tmp_path
    )
    assert decision.keep.tolist() == [True, True, False, True]
    assert decisions.to_pylist() == [{KEY: 1 << 32, "id": "x", "reason": "duplicate_of=x"}]
    assert batch["text"].filter(pa.array(decision.keep)).to_pylist() == [
        "same",
        "other",
        "a different text under the same id",
    ]


def test_the_decision_table_lists_only_dropped_documents(tmp_path):
    _, _, decisions = run_global_stage(
        ExactDedup(), [shard({f"d{i}": f"text {i % 3}" for i in range(9)})], tmp_path
    )
    assert decisions.schema == DROP_ONLY_SCHEMA
    assert sorted(decisions["id"].to_pylist()) == ["d3", "d4", "d5", "d6", "d7", "d8"]
    assert set(decisions["reason"].to_pylist()) == {
        "duplicate_of=d0",
        "duplicate_of=d1",
        "duplicate_of=d2",
    }


def test_reduce_without_signatures_or_text_decides_nothing(tmp_path):
    stage = ExactDedup()
    assert stage.reduce([], tmp_path).equals(DROP_ONLY_SCHEMA.empty_table())
    path = tmp_path / "only-empty.parquet"
    pq.write_table(stage.signatures(assign_keys(shard({"e": "", "n": None}), 0, 0)), path)
    assert stage.reduce([path], tmp_path).num_rows == 0


def test_the_distributed_rule_keeps_what_the_local_reduce_keeps(tmp_path):
    """The Ray reduce applies `cluster_rule().choose` to whole clusters: the same rows."""
    stage = ExactDedup()
    shards = [shard({"b": "t", "a": "t", "c": "u"}), shard({"a": "t", "d": "u"})]
    _, _, local = run_global_stage(stage, shards, tmp_path)
    keyed = [assign_keys(s, k, 0) for k, s in enumerate(shards)]
    signatures = pa.concat_tables(stage.signatures(s) for s in keyed)
    clusters = {h: n for n, h in enumerate(dict.fromkeys(signatures[HASH].to_pylist()))}
    members = pa.table(
        {
            "cluster": pa.array([clusters[h] for h in signatures[HASH].to_pylist()], pa.int64()),
            KEY: signatures[KEY],
            "id": signatures["id"],
        }
    )
    distributed = stage.cluster_rule().choose(members)
    assert distributed.sort_by(KEY).equals(local.sort_by(KEY))
    assert local.sort_by(KEY)["id"].to_pylist() == ["b", "a", "d"]  # shard 1's "a" too
