"""Runs datatrove's FineWeb heuristic chain on a JSONL.gz file, on one core, and writes each
document's verdict plus the timing as JSON. Executed by filters_vs_datatrove.py inside the
datatrove venv (benchmarks/.venv-datatrove); it imports nothing from textmill.

usage: datatrove_chain.py INPUT.jsonl.gz OUTPUT.json [--warmup N]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import time


def read_docs(path: str) -> list[dict]:
    with gzip.open(path, "rb") as handle:
        text = handle.read().decode("utf-8")
    return [json.loads(line) for line in text.split("\n") if line.strip()]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("input")
    parser.add_argument("output")
    parser.add_argument("--warmup", type=int, default=8)
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})

    from datatrove.data import Document
    from datatrove.pipeline.filters import (
        C4QualityFilter,
        FineWebQualityFilter,
        GopherQualityFilter,
        GopherRepetitionFilter,
    )
    from datatrove.pipeline.filters.base_filter import get_filter_result

    # FineWeb's configuration: library defaults, C4 without the terminal-punctuation rule
    chain = [
        ("gopher_repetition", GopherRepetitionFilter()),
        ("gopher_quality", GopherQualityFilter()),
        ("c4_quality", C4QualityFilter(filter_no_terminal_punct=False)),
        ("fineweb_quality", FineWebQualityFilter()),
    ]
    records = read_docs(args.input)

    def run(docs: list[Document]) -> list[dict]:
        verdicts = []
        for doc in docs:
            verdict = {"id": doc.id, "keep": True, "stage": None, "reason": None}
            for stage, step in chain:
                keep, reason = get_filter_result(step.filter(doc))
                if not keep:
                    verdict.update(keep=False, stage=stage, reason=reason)
                    break
            verdicts.append(verdict)
        return verdicts

    def documents(rows: list[dict]) -> list[Document]:
        return [
            Document(text=r["text"], id=str(r["id"]), metadata=r.get("metadata") or {})
            for r in rows
        ]

    run(documents(records[: args.warmup]))  # loads spaCy and fills lazy caches
    docs = documents(records)
    started = time.perf_counter()
    verdicts = run(docs)
    seconds = time.perf_counter() - started
    with open(args.output, "w") as handle:
        json.dump({"seconds": seconds, "docs": len(docs), "verdicts": verdicts}, handle)


if __name__ == "__main__":
    main()
