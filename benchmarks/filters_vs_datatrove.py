"""Speed and agreement of textmill's FineWeb heuristic filters against datatrove's.

Runs the chain gopher_repetition -> gopher_quality -> c4_quality -> fineweb_quality on the same
documents with both libraries, each on one core, timing only the filtering (imports, reading
and warm-up excluded), and prints docs/s per core, the speed ratio, the share of identical
keep/drop decisions and every document where the two disagree.

usage: .venv/bin/python benchmarks/filters_vs_datatrove.py [--input PATH] [--batch-size N]

datatrove runs in its own venv, benchmarks/.venv-datatrove, created on first use
(datatrove 0.10.1 with spaCy, pinned below).
"""

from __future__ import annotations

import os

# one core, one thread: set before numba / numpy import their thread pools
for _name in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_name] = "1"

import argparse  # noqa: E402
import gzip  # noqa: E402
import json  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

HERE = Path(__file__).resolve().parent
DATA = HERE.parents[1] / "shared" / "data" / "web" / "web_text.jsonl.gz"
DATATROVE_VENV = HERE / ".venv-datatrove"
DATATROVE_PACKAGES = ("datatrove==0.10.1", "spacy==3.8.18", "regex==2026.11.15")
STAGES = ("gopher_repetition", "gopher_quality", "c4_quality", "fineweb_quality")


def pin_to_one_core() -> int | None:
    if not hasattr(os, "sched_setaffinity"):
        return None
    core = sorted(os.sched_getaffinity(0))[0]
    os.sched_setaffinity(0, {core})
    return core


def ensure_datatrove_venv() -> Path:
    python = DATATROVE_VENV / "bin" / "python"
    probe = [str(python), "-c", "import datatrove, spacy, regex"]
    if python.exists() and subprocess.run(probe, capture_output=True).returncode == 0:
        return python
    print(f"creating {DATATROVE_VENV} with {' '.join(DATATROVE_PACKAGES)} ...", flush=True)
    subprocess.run([sys.executable, "-m", "venv", str(DATATROVE_VENV)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "-q", *DATATROVE_PACKAGES], check=True)
    return python


def read_records(path: Path) -> list[dict]:
    with gzip.open(path, "rb") as handle:
        text = handle.read().decode("utf-8")
    # split on \n only: texts may hold U+2028/U+2029, which str.splitlines() would cut at
    return [json.loads(line) for line in text.split("\n") if line.strip()]


def run_textmill(records: list[dict], batch_size: int) -> tuple[float, dict[str, dict]]:
    import numpy as np

    from textmill.document import make_batch
    from textmill.pipeline import build_stage

    stages = [build_stage(name) for name in STAGES]
    ids = [str(r["id"]) for r in records]
    batches = [
        make_batch(ids[i : i + batch_size], [r["text"] for r in records[i : i + batch_size]])
        for i in range(0, len(records), batch_size)
    ]

    def run(batch) -> list[dict]:
        verdicts = {
            i: {"keep": True, "stage": None, "reason": None} for i in batch["id"].to_pylist()
        }
        for stage in stages:
            if batch.num_rows == 0:
                break
            batch, decision = stage.process(batch)
            if decision is None:
                continue
            dropped = np.flatnonzero(~decision.keep)
            if len(dropped):
                dropped_ids = batch["id"].take(dropped).to_pylist()
                reasons = decision.reasons.take(dropped).to_pylist()
                for doc_id, reason in zip(dropped_ids, reasons, strict=True):
                    verdicts[doc_id] = {"keep": False, "stage": stage.name, "reason": reason}
            batch = batch.filter(decision.keep)
        return verdicts

    run(batches[0].slice(0, 8))  # JIT compilation / cache load and lazy tables
    started = time.perf_counter()
    verdicts: dict[str, dict] = {}
    for batch in batches:
        verdicts.update(run(batch))
    return time.perf_counter() - started, verdicts


def run_datatrove(python: Path, path: Path) -> tuple[float, dict[str, dict]]:
    with tempfile.TemporaryDirectory() as workdir:
        output = Path(workdir) / "datatrove.json"
        env = {**os.environ, "PYTHONNOUSERSITE": "1"}
        subprocess.run(
            [str(python), str(HERE / "datatrove_chain.py"), str(path), str(output)],
            check=True,
            env=env,
        )
        result = json.loads(output.read_text())
    return result["seconds"], {v["id"]: v for v in result["verdicts"]}


def describe(verdict: dict) -> str:
    return "keep" if verdict["keep"] else f"drop {verdict['stage']}:{verdict['reason']}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--input", type=Path, default=DATA)
    parser.add_argument("--batch-size", type=int, default=1000)
    args = parser.parse_args()
    if not args.input.exists():
        print(f"{args.input} is absent: nothing to benchmark (the shared data is not mounted).")
        return 0

    core = pin_to_one_core()
    python = ensure_datatrove_venv()
    records = read_records(args.input)
    print(f"{len(records)} documents from {args.input}; one core (cpu {core}), one thread each")

    tm_seconds, tm = run_textmill(records, args.batch_size)
    dt_seconds, dt = run_datatrove(python, args.input)

    n = len(records)
    tm_rate, dt_rate = n / tm_seconds, n / dt_seconds
    ids = [str(r["id"]) for r in records]
    disagree = [i for i in ids if tm[i]["keep"] != dt[i]["keep"]]
    same_stage = sum(
        tm[i]["keep"] == dt[i]["keep"] and tm[i]["stage"] == dt[i]["stage"] for i in ids
    )
    print(f"datatrove 0.10.1 : {dt_seconds:8.2f} s  {dt_rate:9.1f} docs/s per core")
    print(f"textmill         : {tm_seconds:8.2f} s  {tm_rate:9.1f} docs/s per core")
    print(f"speed ratio      : {tm_rate / dt_rate:8.1f}x")
    print(f"agreement        : {100 * (n - len(disagree)) / n:8.2f}% keep/drop identical")
    print(f"same stage       : {100 * same_stage / n:8.2f}% (both keep, or same stage drops)")
    print(
        f"kept             : datatrove {sum(v['keep'] for v in dt.values())}, "
        f"textmill {sum(v['keep'] for v in tm.values())}"
    )
    print(f"disagreements ({len(disagree)}):")
    for doc_id in disagree:
        print(f"  {doc_id}: datatrove {describe(dt[doc_id])} | textmill {describe(tm[doc_id])}")
    other_stage = [
        i
        for i in ids
        if not tm[i]["keep"] and not dt[i]["keep"] and tm[i]["stage"] != dt[i]["stage"]
    ]
    print(f"dropped by both, by different stages ({len(other_stage)}):")
    for doc_id in other_stage:
        print(f"  {doc_id}: datatrove {describe(dt[doc_id])} | textmill {describe(tm[doc_id])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
