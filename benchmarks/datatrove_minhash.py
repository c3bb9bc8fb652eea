"""Runs datatrove's 4-stage MinHash deduplication (FineWeb's configuration) on a folder of JSONL
files, on one core, and writes the removed ids and each stage's seconds as JSON. Executed by
dedup_accuracy.py and dedup_speed.py inside the datatrove venv (benchmarks/.venv-datatrove);
it imports nothing from textmill.

Configuration: word 5-grams, 14 buckets × 8 hashes, 64-bit hashes (datatrove's
examples/fineweb.py: `MinhashConfig(hash_config=HashConfig(precision=64), num_buckets=14,
hashes_per_bucket=8, n_grams=5)`), English word tokenizer (datatrove's default). One task for
signatures, clustering and filtering; the buckets stage must have a multiple of 14 tasks, so it
runs 14 tasks one after another in one worker.

usage: datatrove_minhash.py INPUT_DIR WORK_DIR OUTPUT.json [--no-ids]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import time
from pathlib import Path


def minhash_executors(reader, work: Path, finishing: tuple = ()) -> dict:
    """FineWeb's four MinHash steps as LocalPipelineExecutors, one core; `reader()` makes a
    fresh reader of the documents, `finishing` are steps run on the kept ones before writing
    (datatrove_fineweb.py adds FineWeb's PII formatter)."""
    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.dedup.minhash import (
        MinhashConfig,
        MinhashDedupBuckets,
        MinhashDedupCluster,
        MinhashDedupFilter,
        MinhashDedupSignature,
    )
    from datatrove.pipeline.writers import JsonlWriter
    from datatrove.utils.hashing import HashConfig

    config = MinhashConfig(
        hash_config=HashConfig(precision=64), num_buckets=14, hashes_per_bucket=8, n_grams=5
    )
    return {
        "signature": LocalPipelineExecutor(
            [reader(), MinhashDedupSignature(output_folder=str(work / "sigs"), config=config)],
            tasks=1,
            workers=1,
            logging_dir=str(work / "logs" / "signature"),
        ),
        "buckets": LocalPipelineExecutor(
            [
                MinhashDedupBuckets(
                    input_folder=str(work / "sigs"),
                    output_folder=str(work / "buckets"),
                    config=config,
                )
            ],
            tasks=config.num_buckets,
            workers=1,
            logging_dir=str(work / "logs" / "buckets"),
        ),
        "cluster": LocalPipelineExecutor(
            [
                MinhashDedupCluster(
                    input_folder=str(work / "buckets"),
                    output_folder=str(work / "remove_ids"),
                    config=config,
                )
            ],
            tasks=1,
            workers=1,
            logging_dir=str(work / "logs" / "cluster"),
        ),
        "filter": LocalPipelineExecutor(
            [
                reader(),
                MinhashDedupFilter(
                    input_folder=str(work / "remove_ids"),
                    exclusion_writer=JsonlWriter(str(work / "removed"), compression=None),
                ),
                *finishing,
                JsonlWriter(str(work / "deduplicated"), compression=None),
            ],
            tasks=1,
            workers=1,
            logging_dir=str(work / "logs" / "filter"),
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("input", type=Path, help="folder of *.jsonl files with id and text")
    parser.add_argument("workdir", type=Path)
    parser.add_argument("output", type=Path)
    parser.add_argument("--no-ids", action="store_true", help="write counts, not removed ids")
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})

    from datatrove.pipeline.readers import JsonlReader

    work = args.workdir

    def reader():
        return JsonlReader(str(args.input), glob_pattern="*.jsonl", compression=None)

    seconds = {}
    for name, executor in minhash_executors(reader, work).items():
        started = time.perf_counter()
        executor.run()
        seconds[name] = time.perf_counter() - started

    removed: list[str] = []
    for path in sorted((work / "removed").glob("*.jsonl*")):
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rt", encoding="utf-8") as handle:
            removed.extend(json.loads(line)["id"] for line in handle if line.strip())
    result = {"seconds": seconds, "removed_count": len(removed)}
    if not args.no_ids:
        result["removed"] = removed
    args.output.write_text(json.dumps(result))


if __name__ == "__main__":
    main()
