"""Runs datatrove's n-gram decontamination (NGramsDecontIndexer + NGramsDecontFilter) on one
core and writes the flagged document ids and timings as JSON. Executed by decontamination.py
inside the datatrove venv (benchmarks/.venv-datatrove); it imports nothing from textmill.

The indexer's `run` takes items as documents (text = label, metadata query/task) but then loads
lighteval tasks unconditionally, and its constructor requires lighteval; so this driver calls
the indexer's own `compute_hashes` for every item and writes `<task>.index.hashes` exactly as
`run` does, then loads them with the filter's own `load_index_hashes`.

usage: datatrove_decon.py ITEMS.jsonl CORPUS.jsonl OUTPUT.json [--ngram N] [--norm-numbers]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from collections import defaultdict
from pathlib import Path


def read_jsonl(path: str) -> list[dict]:
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle.read().split("\n") if line.strip()]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("items")
    parser.add_argument("corpus")
    parser.add_argument("output")
    parser.add_argument("--ngram", type=int, default=13)
    parser.add_argument("--norm-numbers", action="store_true")
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[-1]})

    import numpy as np
    from datatrove.data import Document
    from datatrove.pipeline.decont.n_grams import (
        NGramsDecontConfig,
        NGramsDecontFilter,
        NGramsDecontIndexer,
    )
    from datatrove.utils.hashing import create_hash_func
    from datatrove.utils.text import TextNormConfig
    from datatrove.utils.word_tokenizers import load_word_tokenizer

    # the shared config: every n-gram of query + label (query-only ones too), same n
    config = NGramsDecontConfig(
        n_grams=args.ngram,
        find_query_ngrams=True,
        find_overlap_ngrams=True,
        norm_config=TextNormConfig(norm_numbers=args.norm_numbers),
    )
    items = read_jsonl(args.items)
    docs = read_jsonl(args.corpus)
    with tempfile.TemporaryDirectory() as index_folder:
        started, started_cpu = time.perf_counter(), time.process_time()
        indexer = object.__new__(NGramsDecontIndexer)  # its __new__ insists on lighteval
        indexer.config = config
        indexer.tokenizer = load_word_tokenizer("en")
        indexer.hash_func = create_hash_func(config.hash_config)
        hashes: dict[str, set] = defaultdict(set)
        for item in items:
            hashes[item["task"]].update(indexer.compute_hashes(item["label"], item["query"]))
        for task, task_hashes in hashes.items():
            array = np.array(list(task_hashes), dtype=config.hash_config.np_descr)
            array.tofile(Path(index_folder) / f"{task}.index.hashes")
        index_seconds = time.perf_counter() - started
        index_cpu = time.process_time() - started_cpu

        decont = NGramsDecontFilter(index_folder, config=config, language="en")
        decont.load_index_hashes()
        decont.filter(Document(text="warm up the tokenizer", id="warmup"))
        flagged = {}
        started, started_cpu = time.perf_counter(), time.process_time()
        for record in docs:
            doc = Document(text=record["text"], id=record["id"])
            if decont.filter(doc) is not True:
                flagged[record["id"]] = doc.metadata.get("contaminated_task")
        seconds = time.perf_counter() - started
        cpu = time.process_time() - started_cpu
    with open(args.output, "w", encoding="utf-8") as out:
        timings = {"index_seconds": index_seconds, "index_cpu": index_cpu, "seconds": seconds}
        json.dump({**timings, "cpu": cpu, "flagged": flagged}, out)


if __name__ == "__main__":
    main()
