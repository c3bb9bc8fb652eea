"""What the report costs: collection while a run executes, and writing report.html + README.md.

Runs the same pipeline twice in this process on the same synthetic corpus — once as textmill
runs it, once with the report collector switched off — and prints the difference (the cost
of collecting statistics while the pipeline runs), then times `textmill report OUT` (rebuilding
report.html and the dataset card from the saved state). The issue's bar: a 1M-document run's
report and card take seconds, not minutes.

usage: .venv/bin/python benchmarks/report_speed.py [--docs 1000000] [--shards 20]
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import tempfile
import time
from pathlib import Path

from textmill.api import Pipeline
from textmill.report import collect, write_report

PIPELINE = ["gopher_quality", "exact_dedup"]
WORDS = [
    "the",
    "of",
    "and",
    "to",
    "in",
    "that",
    "is",
    "was",
    "for",
    "with",
    "as",
    "on",
    "by",
    "at",
    "from",
    "this",
    "have",
    "be",
    "are",
    "river",
    "city",
    "market",
    "history",
    "science",
    "people",
    "year",
    "water",
    "music",
    "school",
    "light",
    "garden",
    "winter",
    "paper",
    "road",
    "study",
    "system",
    "energy",
    "family",
    "north",
    "street",
    "report",
    "table",
    "window",
    "stone",
]


def write_corpus(folder: Path, docs: int, shards: int, seed: int = 0) -> None:
    rng = random.Random(seed)
    per_shard = docs // shards
    for shard in range(shards):
        with open(folder / f"part-{shard:03d}.jsonl", "w", encoding="utf-8") as out:
            for i in range(per_shard):
                words = rng.choices(WORDS, k=rng.randint(20, 120))
                text = " ".join(words).capitalize() + "."
                record = {"id": f"s{shard}-{i}", "text": text, "url": f"https://d{i % 97}.test/{i}"}
                out.write(json.dumps(record) + "\n")


class _Off:
    """A collector that collects nothing (the baseline run)."""

    def __init__(self, *args, **kwargs):
        pass

    def instrument(self, chain):
        return list(chain)

    def observe_input(self, batch):
        pass

    def observe_kept(self, kept):
        pass

    def save(self, path):
        pass


def timed_run(inputs: Path, out: Path, workers: int) -> float:
    shutil.rmtree(out, ignore_errors=True)
    started = time.perf_counter()
    Pipeline(PIPELINE).run([inputs], out, workers=workers, progress=False)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=1_000_000)
    parser.add_argument("--shards", type=int, default=20)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="textmill-report-bench-") as tmp:
        root = Path(tmp)
        (root / "in").mkdir()
        write_corpus(root / "in", args.docs, args.shards)
        import textmill.executors.local as local

        with_report = timed_run(root / "in", root / "out", args.workers)
        report_html = (root / "out" / "report.html").stat().st_size
        started = time.perf_counter()
        write_report(root / "out")
        rebuild = time.perf_counter() - started

        real_collector, real_writer = local.ReportCollector, local.write_report
        local.ReportCollector, local.write_report = _Off, lambda out: None
        try:
            without = timed_run(root / "in", root / "bare", args.workers)
        finally:
            local.ReportCollector, local.write_report = real_collector, real_writer
        assert collect.ReportCollector is real_collector
    docs = args.docs // args.shards * args.shards
    print(
        f"{docs:,} documents in {args.shards} shards, pipeline {PIPELINE}, {args.workers} worker(s)"
    )
    print(f"run with report      : {with_report:8.2f} s")
    print(f"run without report   : {without:8.2f} s")
    print(
        f"collection + writing : {with_report - without:8.2f} s "
        f"({(with_report - without) / without:+.1%} of the run)"
    )
    print(f"textmill report OUT  : {rebuild:8.2f} s (report.html {report_html / 1e3:,.0f} kB)")


if __name__ == "__main__":
    main()
