"""stats.json carries the safety figures (issue 14): PII per kind, decontamination per
benchmark, toxicity drops per language; they reconcile with the rejects and the data columns."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq
from conftest import reconciled_run, write_jsonl

ALPHA = " ".join(f"alpha{i:02d}" for i in range(20))
BETA = " ".join(f"beta{i:02d}" for i in range(20))
ENGLISH = "The river runs through the old town and the bridge has stood for many long years."
GERMAN = "Der Fluss fliesst durch die alte Stadt und die Brücke steht dort seit vielen Jahren."
TEXTS = {
    "clean": ENGLISH * 3,
    "drop_alpha": f"{ENGLISH} {ALPHA} {ENGLISH}",
    "cut_beta": f"{ENGLISH} {BETA} {ENGLISH} {ENGLISH}",
    "cut_beta_again": f"{ENGLISH} {ENGLISH} {BETA} {ENGLISH}",
    "pieces_beta": f"{ENGLISH} {BETA} {ENGLISH} {BETA} {ENGLISH}",
    "toxic_en": f"{ENGLISH} darnword darnword darnword darnword",
    "toxic_de": f"{GERMAN} Du Mistkerl, du Mistkerl, Mistkerl, Mistkerl!",
    "pii": f"{ENGLISH} Write to ann@example.org or bob@example.com, card 4111 1111 1111 1111.",
    "pii_de": f"{GERMAN} Schreib an eva@beispiel.de oder ruf 8.8.8.8 an.",
}


def safety_run_inputs(tmp_path: Path) -> tuple[list, Path]:
    """Stages with pii (several kinds), decontaminate (two benchmarks, drop and cut) and
    toxicity (two languages), and a two-shard corpus that triggers each of them."""
    alpha = write_jsonl(tmp_path / "alpha.jsonl", [{"question": ALPHA}])
    beta = write_jsonl(tmp_path / "beta.jsonl", [{"question": BETA}])
    english = tmp_path / "en.txt"
    english.write_text("darnword\n", encoding="utf-8")
    german = tmp_path / "de.txt"
    german.write_text("mistkerl\n", encoding="utf-8")
    benches = [
        {"path": str(alpha), "fields": ["question"], "name": "alpha"},
        {"path": str(beta), "fields": ["question"], "name": "beta"},
    ]
    stages = [
        ("langid", {"min_score": 0.0}),
        ("decontaminate", {"benchmarks": benches[:1]}),
        ("decontaminate", {"benchmarks": benches, "mode": "cut", "margin": 0, "max_pieces": 2}),
        (
            "toxicity",
            {
                "word_lists": {"en": str(english), "de": str(german)},
                "default_lists": False,
                "max_flagged_ratio": 0.05,
            },
        ),
        ("pii", {"kinds": ["email", "ip", "credit_card", "phone"]}),
    ]
    records = [{"id": name, "text": text} for name, text in TEXTS.items()]
    write_jsonl(tmp_path / "in" / "a.jsonl", records[:4])  # two shards: counters are summed
    write_jsonl(tmp_path / "in" / "b.jsonl", records[4:])
    return stages, tmp_path / "in"


def test_stats_carry_safety_counters_that_reconcile_with_rejects_and_columns(tmp_path):
    stages, inputs = safety_run_inputs(tmp_path)
    stats, _ = reconciled_run(stages, [str(inputs)], tmp_path / "out")
    assert stats == json.loads((tmp_path / "out" / "stats.json").read_text("utf-8"))
    counters = [stage["counters"] for stage in stats["stages"]]

    assert counters[1] == {"benchmark=alpha": 1, "flagged:alpha": 1}
    assert counters[2] == {
        "benchmark=beta": 1,
        "cut:beta": 2,
        "decon_cut": 2,
        "decon_cut_documents": 2,
        "flagged:beta": 3,
    }
    assert counters[3] == {"flagged_ratio=de": 1, "flagged_ratio=en": 1}
    assert counters[4] == {
        "pii_credit_card": 1,
        "pii_credit_card_documents": 1,
        "pii_email": 3,
        "pii_email_documents": 2,
        "pii_ip": 1,
        "pii_ip_documents": 1,
        "pii_phone": 0,
        "pii_phone_documents": 0,
    }
    # the stage reasons still count families; the counters keep what the rejects say
    assert stats["stages"][3]["reasons"] == {"flagged_ratio": 2}
    rejects = pq.read_table(tmp_path / "out" / "rejects")["reject_reason"].to_pylist()
    from_counters = Counter()
    for (name, _), stage_counters in zip(stages, counters, strict=True):
        from_counters.update({f"{name}:{k}": n for k, n in stage_counters.items() if "=" in k})
    assert from_counters == Counter(rejects)
    data = pq.read_table(tmp_path / "out" / "data")
    assert counters[2]["decon_cut"] == sum(data["decon_cut"].to_pylist())
    for kind in ("email", "ip", "credit_card", "phone"):
        column = data[f"pii_{kind}"].to_pylist()
        assert counters[4][f"pii_{kind}"] == sum(column)
        assert counters[4][f"pii_{kind}_documents"] == sum(1 for n in column if n)


def test_ray_executor_sums_the_same_counters_as_local(tmp_path, local_ray):
    from textmill.executors.local import LocalExecutor, RunSettings
    from textmill.executors.ray import RayExecutor

    stages, inputs = safety_run_inputs(tmp_path)
    settings = RunSettings(workers=2, progress=False, batch_size=3)
    local = LocalExecutor(stages, settings).run([str(inputs)], tmp_path / "local")
    distributed = RayExecutor(stages, settings, partitions=3).run([str(inputs)], tmp_path / "ray")
    assert [s["counters"] for s in distributed["stages"]] == [
        s["counters"] for s in local["stages"]
    ]
    assert local["stages"][4]["counters"]["pii_email"] == 3
