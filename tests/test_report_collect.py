"""Statistics collected while the stages run: histograms, per-language counts, terms, and
bottom-k audit samples that merge across shards like one reservoir."""

import numpy as np
import pyarrow as pa

from textmill.document import make_batch
from textmill.report.collect import (
    LENGTH_EDGES,
    SAMPLES_PER_REASON,
    ReportCollector,
    histogram,
    merge_states,
)
from textmill.report.stats import RunCounters
from textmill.runner import run_stages, stage_call
from textmill.stages.filters.gopher_quality import GopherQuality

PROSE = " ".join(["the cat sat on the mat and looked at the garden with care"] * 6)


def run_chain(collector: ReportCollector, stage, batch: pa.Table) -> pa.Table:
    chain = collector.instrument([(0, stage, stage_call(stage))])
    return run_stages(chain, batch, RunCounters()).kept


def test_histogram_bins_zero_apart_and_keeps_overflow_in_the_last_bin():
    counts = histogram(np.array([0, 1, 9, 10, 10**12]), LENGTH_EDGES)
    assert counts[0] == 1  # [0, 1)
    assert counts[1] == 1  # [1, 10^0.25)
    assert counts[-1] == 1  # past 10^8
    assert sum(counts) == 5


def test_dropped_documents_are_sampled_per_reason_with_metric_and_threshold():
    texts = [PROSE, "too short to keep", "also short", PROSE + " again"]
    batch = make_batch(
        [f"d{i}" for i in range(4)], texts, urls=[f"https://a.test/{i}" for i in range(4)]
    )
    collector = ReportCollector("shard/s0", 0, True)
    kept = run_chain(collector, GopherQuality(), batch)
    collector.observe_kept(kept)
    audit = collector.state()["audit"]["0:gopher_quality:too_few_words"]
    assert sorted(s["id"] for s in audit["samples"]) == ["d1", "d2"]
    assert audit["rule"] == {"metric": "num_real_words", "threshold": 50.0, "drops_if": "<"}
    assert {s["metrics"]["num_real_words"] for s in audit["samples"]} == {4, 2}
    nearest = audit["near"][0]
    assert nearest["id"] == "d0" and nearest["metrics"]["num_real_words"] == 78  # 13 words x 6


def test_kept_batches_count_languages_words_pii_terms_and_crawl_dates():
    batch = make_batch(
        ["a", "b"],
        ["Women and men, women too.", "An old man."],
        metadata=[{"warc_date": "2024-03-04T05:07:20Z"}, {"warc_date": "2023-12-01T00:00:00Z"}],
    )
    batch = batch.append_column("lang", pa.array(["en", "fr"]))
    batch = batch.append_column("pii_email", pa.array([2, 0], pa.int32()))
    batch = batch.append_column("dup_cluster_size", pa.array([1, 3]))
    collector = ReportCollector("shard/s0", 0, True)
    collector.observe_kept(batch)
    state = collector.state()
    assert state["languages"]["kept_docs"] == {"en": 1, "fr": 1}
    assert state["languages"]["kept_words"] == {"en": 5, "fr": 3}
    assert state["pii"] == {"matches": {"pii_email": 2}, "docs": {"pii_email": 1}}
    assert state["cluster_sizes"] == {"1": 1, "3": 1}
    assert state["terms"] == {"women": 2, "men": 1, "old": 1, "man": 1}
    assert state["words"] == 8
    assert state["crawl_range"] == ["2023-12-01T00:00:00Z", "2024-03-04T05:07:20Z"]
    assert state["crawl_months"] == {"2024-03": 1, "2023-12": 1}
    assert state["warnings"] == []


def test_samples_from_many_shards_merge_to_the_smallest_keys():
    states = []
    for shard in range(4):
        collector = ReportCollector(f"shard-{shard}/s0", 0, True)
        texts = ["short"] * 20
        run_chain(
            collector, GopherQuality(), make_batch([f"{shard}-{i}" for i in range(20)], texts)
        )
        states.append(collector.state())
    keys = sorted(
        s["key"]
        for state in states
        for s in state["audit"]["0:gopher_quality:too_few_words"]["samples"]
    )
    merged = merge_states(states)["audit"]["0:gopher_quality:too_few_words"]["samples"]
    assert [s["key"] for s in merged] == keys[:SAMPLES_PER_REASON]


def test_the_same_task_samples_the_same_documents_every_time():
    def sample() -> list[str]:
        collector = ReportCollector("shard-0/s0", 0, True)
        run_chain(collector, GopherQuality(), make_batch([str(i) for i in range(50)], ["x"] * 50))
        return [
            s["id"] for s in collector.state()["audit"]["0:gopher_quality:too_few_words"]["samples"]
        ]

    assert sample() == sample()


def test_a_collection_failure_is_a_report_warning_and_the_run_goes_on():
    collector = ReportCollector("shard/s0", 0, True)
    broken = make_batch(["a"], ["text"]).append_column("pii_email", pa.array(["not a number"]))
    collector.observe_kept(broken)
    assert len(collector.state()["warnings"]) == 1
