"""Runs datatrove's `DocumentTokenizer` (JsonlReader -> DocumentTokenizer, no shuffle, EOS after
each document) on a JSONL folder on one core and writes the timing as JSON. Executed by
tokenize_vs_datatrove.py inside the datatrove venv (benchmarks/.venv-datatrove); it imports
nothing from textmill.

usage: datatrove_tokenize.py INPUT_FOLDER TOKENIZER.json OUTPUT_FOLDER RESULT.json
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import time


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("input")
    parser.add_argument("tokenizer")
    parser.add_argument("output")
    parser.add_argument("result")
    parser.add_argument("--eos-token", default="<|endoftext|>")
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    logging.disable(logging.WARNING)

    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.readers import JsonlReader
    from datatrove.pipeline.tokens import DocumentTokenizer

    executor = LocalPipelineExecutor(
        pipeline=[
            JsonlReader(args.input, glob_pattern="*.jsonl"),
            DocumentTokenizer(
                output_folder=args.output,
                tokenizer_name_or_path=args.tokenizer,
                eos_token=args.eos_token,
                shuffle_documents=False,
                save_filename="dt",
            ),
        ],
        tasks=1,
        workers=1,
        logging_dir=os.path.join(args.output, "logs"),
        skip_completed=False,
    )
    started, cpu = time.perf_counter(), time.process_time()
    executor.run()
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    with open(args.result, "w") as out:
        json.dump({"seconds": seconds, "cpu": cpu}, out)


if __name__ == "__main__":
    main()
