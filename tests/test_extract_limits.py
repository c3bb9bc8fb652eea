"""Hostile pages never stall a worker: too large, too deep and too slow pages are rejected with
their own reason, fast, and normal pages are extracted exactly as without the guards."""

import json
import os
import time

import pyarrow.parquet as pq
import pytest

from textmill.api import Pipeline
from textmill.budget import map_rows_within_budget
from textmill.document import make_batch
from textmill.report.collect import ReportCollector
from textmill.report.stats import RunCounters
from textmill.runner import run_stages, stage_call
from textmill.stages.extract import MAX_HTML_BYTES, Extract

ARTICLE = (
    "<html><head><title>Valley</title></head><body><nav><a href='/'>Home</a></nav><article>"
    "<h1>The valley</h1>"
    + "".join(
        f"<p>Paragraph {i}: the farmers grew barley and wheat along the fertile banks of the "
        "river for many generations, and the floods brought fresh silt every spring.</p>"
        for i in range(6)
    )
    + "</article><footer>Copyright 2024</footer></body></html>"
)
UNGUARDED = {"max_html_bytes": None, "max_depth": None, "time_budget_s": None}


def nested_divs(depth: int) -> str:
    return "<html><body>" + "<div>" * depth + "deep text" + "</div>" * depth + "</body></html>"


def reasons_and_seconds(stage: Extract, pages: list[str]) -> tuple[list[str | None], float]:
    batch = make_batch([f"p{i}" for i in range(len(pages))], [None] * len(pages), html=pages)
    started = time.perf_counter()
    _, decision = stage.process(batch)
    return decision.reasons.to_pylist(), time.perf_counter() - started


@pytest.mark.parametrize("engine", ["trafilatura", "resiliparse"])
def test_100k_nested_divs_are_rejected_fast_as_too_deep(engine):
    reasons, seconds = reasons_and_seconds(Extract(engine=engine), [nested_divs(100_000), ARTICLE])
    assert reasons == ["too_deep", None]
    assert seconds < 20  # unguarded: ~5 minutes


def test_deep_but_real_nesting_is_extracted():
    reasons, _ = reasons_and_seconds(Extract(engine="resiliparse"), [nested_divs(400)])
    assert reasons == [None]


def test_page_over_the_size_limit_is_rejected_fast_as_too_large():
    paragraph = "<p>" + "word " * 200 + "</p>\n"
    big = "<html><body>" + paragraph * (MAX_HTML_BYTES // len(paragraph) + 10) + "</body></html>"
    reasons, seconds = reasons_and_seconds(Extract(), [big, ARTICLE])
    assert reasons == ["too_large", None]
    assert seconds < 20
    reasons, _ = reasons_and_seconds(Extract(max_html_bytes=len(ARTICLE) - 1), [ARTICLE])
    assert reasons == ["too_large"]


def test_the_size_limit_counts_utf8_bytes_not_characters():
    page = "<html><body><p>" + "é" * 600 + "</p></body></html>"
    reasons, _ = reasons_and_seconds(Extract(max_html_bytes=len(page) + 100), [page])
    assert reasons == ["too_large"]


def test_slow_page_is_stopped_at_its_time_budget_inside_native_code():
    # resiliparse's C extraction of 6k nested divs takes seconds; no signal can stop it
    stage = Extract(engine="resiliparse", max_depth=None, time_budget_s=0.2)
    reasons, seconds = reasons_and_seconds(stage, [ARTICLE, nested_divs(6_000), ARTICLE])
    assert reasons == [None, "time_budget", None]
    assert seconds < 10


def test_normal_pages_are_extracted_identically_with_and_without_guards():
    pages = [ARTICLE, ARTICLE.replace("barley", "rye"), "<p>short</p>", "  "]
    batch = make_batch([f"p{i}" for i in range(4)], [None] * 4, html=pages)
    for engine in ("trafilatura", "resiliparse"):
        guarded, guarded_decision = Extract(engine=engine).process(batch)
        plain, plain_decision = Extract(engine=engine, **UNGUARDED).process(batch)
        assert guarded["text"].to_pylist() == plain["text"].to_pylist()
        assert guarded_decision.reasons.to_pylist() == plain_decision.reasons.to_pylist()
        assert "barley" in guarded["text"][0].as_py()


def test_budgeted_rows_keep_order_and_a_slow_or_crashing_row_fails_alone():
    def work(row: int) -> int:
        if row == 1:
            time.sleep(30)
        if row == 3:
            os._exit(3)  # the process dies on this row, as on a segfault
        if row == 4:
            raise ValueError("bad row")
        return row * 10

    started = time.perf_counter()
    outcomes = map_rows_within_budget(work, list(range(6)), 0.5)
    assert time.perf_counter() - started < 10
    assert [o.value for o in outcomes] == [0, None, 20, None, None, 50]
    failures = [o.failure for o in outcomes]
    assert failures[1].timed_out and not failures[3].timed_out
    assert "status 3" in failures[3].message
    assert failures[4].message == "ValueError: bad row"


def test_without_a_budget_rows_run_in_process_and_failures_are_still_per_row():
    outcomes = map_rows_within_budget(lambda row: 1 // row, [1, 0], None)
    assert outcomes[0].value == 1
    assert outcomes[1].failure.message.startswith("ZeroDivisionError")


def test_a_run_rejects_hostile_pages_with_reasons_and_reconciles(tmp_path):
    inputs = tmp_path / "in"
    inputs.mkdir()
    records = [
        {"id": "deep", "html": nested_divs(100_000)},
        {"id": "big", "html": "<p>" + "x" * (MAX_HTML_BYTES + 1) + "</p>"},
        {"id": "good", "html": ARTICLE},
    ]
    (inputs / "pages.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    started = time.perf_counter()
    stats = Pipeline([("extract", {})]).run(inputs, tmp_path / "out", workers=1, progress=False)
    assert time.perf_counter() - started < 60
    assert (stats["read"], stats["kept"], stats["rejected"], stats["errored"]) == (3, 1, 2, 0)
    assert stats["stages"][0]["reasons"] == {"too_deep": 1, "too_large": 1}
    rejects = pq.read_table(tmp_path / "out" / "rejects")
    assert sorted(
        zip(rejects["id"].to_pylist(), rejects["reject_reason"].to_pylist(), strict=True)
    ) == [
        ("big", "extract:too_large"),
        ("deep", "extract:too_deep"),
    ]


def test_the_report_audit_shows_rejected_pages_without_extracting_them_again(monkeypatch):
    calls = []
    real = Extract.extract_one
    monkeypatch.setattr(Extract, "extract_one", lambda self, *a: calls.append(1) or real(self, *a))
    stage = Extract(time_budget_s=None)  # in-process, so that the calls are counted here
    collector = ReportCollector("shard/s0", 0, True)
    chain = collector.instrument([(0, stage, stage_call(stage))])
    batch = make_batch(["good", "empty"], [None, None], html=[ARTICLE, "<p></p>"])
    collector.observe_kept(run_stages(chain, batch, RunCounters()).kept)
    audit = collector.state()["audit"]["0:extract:no_text"]
    assert [sample["id"] for sample in audit["samples"]] == ["empty"]
    assert len(calls) == 2  # each page once: the audit did not run extraction again


def test_a_killed_worker_takes_its_budgeted_child_with_it(tmp_path):
    import multiprocessing
    import signal

    marker = tmp_path / "child.pid"

    def stuck(row: int) -> int:
        marker.write_text(str(os.getpid()))
        time.sleep(60)
        return row

    worker = multiprocessing.get_context("fork").Process(
        target=map_rows_within_budget, args=(stuck, [0], 120)
    )
    worker.start()
    deadline = time.monotonic() + 10
    while not marker.exists() or not marker.read_text():
        assert time.monotonic() < deadline
        time.sleep(0.05)
    os.kill(worker.pid, signal.SIGKILL)
    worker.join()
    child = int(marker.read_text())
    while time.monotonic() < deadline + 5:
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    raise AssertionError("the budgeted child outlived its killed worker")
