"""End-to-end speed and peak memory of MinHash dedup: textmill's minhash_dedup against datatrove's
full 4-stage MinHash pipeline, one core each, on the same synthetic ~2 KB documents.

Documents are drawn word by word from the shared crawl's vocabulary (web_text.jsonl.gz, words
weighted by their frequency there), a line break every ~20 words; a share of them (10 % by
default) are near-duplicates of an earlier document (1–3 % of words substituted, or an exact
copy). Both tools read the same JSONL shards of 50,000 documents; each run is a subprocess
pinned to one core with one thread, so docs/s per core = documents / wall seconds (and, as a
check on a shared machine, documents / CPU seconds of the whole process tree). Peak RSS is
the whole process tree's (summed /proc RSS sampled every 0.1 s, and the kernel's ru_maxrss).

textmill: `Pipeline(["minhash_dedup"]).run(inputs, out, workers=1, progress=False)` after one
small warm-up run that fills numba's cache. datatrove 0.10.1: datatrove_minhash.py in its venv
(FineWeb's configuration; signatures, 14 bucket tasks, clustering and filtering, one worker).

usage: .venv/bin/python benchmarks/dedup_speed.py [--sizes 100000 1000000]
                                                  [--datatrove-sizes 100000] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import datetime
import gzip
import json
import os
import shutil
import sys
import tempfile
from collections import Counter
from pathlib import Path

import numpy as np
from _dedup_common import (
    ONE_THREAD,
    WEB_TEXT,
    Measured,
    datatrove_python,
    run_datatrove_minhash,
    run_measured,
)

SHARD = 50_000
MEAN_WORDS = 330  # ~2 KB of text with the crawl's word lengths
TEXTMILL = """
import json, sys
from textmill.api import Pipeline
inputs, out = json.loads(sys.argv[1]), sys.argv[2]
Pipeline(["minhash_dedup"]).run(inputs, out, workers=1, progress=False)
"""


def vocabulary(path: Path, size: int = 50_000) -> tuple[np.ndarray, np.ndarray]:
    """The crawl's most frequent words and their cumulative frequency."""
    counts: Counter[str] = Counter()
    with gzip.open(path, "rb") as handle:
        for line in handle.read().decode("utf-8").split("\n"):
            if line:
                counts.update(json.loads(line)["text"].split())
    words, freq = zip(*counts.most_common(size), strict=True)
    cumulative = np.cumsum(np.array(freq, dtype=np.float64))
    return np.array(words, dtype=object), cumulative / cumulative[-1]


def generate(folder: Path, count: int, seed: int, duplicates: float) -> list[Path]:
    """`count` documents in shards of SHARD; returns the shard paths in order."""
    rng = np.random.default_rng(seed)
    words, cumulative = vocabulary(WEB_TEXT)
    folder.mkdir(parents=True, exist_ok=True)
    shards, previous = [], []
    for start in range(0, count, SHARD):
        n = min(SHARD, count - start)
        lengths = np.clip(rng.normal(MEAN_WORDS, 60, n).astype(np.int64), 50, None)
        drawn = words[np.searchsorted(cumulative, rng.random(int(lengths.sum())))]
        ends = np.cumsum(lengths)
        texts = []
        for i, (begin, end) in enumerate(zip(ends - lengths, ends, strict=True)):
            if previous and rng.random() < duplicates:
                tokens = previous[int(rng.integers(len(previous)))].split(" ")
                if rng.random() < 0.8:  # near copy: 1–3 % of words substituted
                    touched = rng.choice(len(tokens), int(len(tokens) * rng.uniform(0.01, 0.03)))
                    for t in touched.tolist():
                        tokens[t] = words[int(rng.integers(1000, len(words)))]
            else:
                tokens = drawn[begin:end].tolist()
                for t in range(20, len(tokens), 20):
                    tokens[t] = tokens[t] + "\n"
            text = " ".join(tokens).replace("\n ", "\n")
            texts.append(text)
            if i % 10 == 0:
                previous.append(text)
        previous = previous[-20_000:]
        path = folder / f"part-{start // SHARD:04d}.jsonl"
        with open(path, "w", encoding="utf-8") as out:
            for i, text in enumerate(texts):
                out.write(json.dumps({"id": f"doc{start + i:08d}", "text": text}) + "\n")
        shards.append(path)
    return shards


def subset(shards: list[Path], count: int, folder: Path) -> Path:
    """A folder of links to the first `count` documents' shards (whole shards)."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    for path in shards[: max(1, count // SHARD)]:
        (folder / path.name).symlink_to(path)
    return folder


def run_textmill(inputs: Path, out: Path) -> tuple[dict, Measured]:
    """({"removed_count": n}, measures) of one textmill run in a subprocess."""
    import pyarrow.parquet as pq

    files = sorted(str(p) for p in inputs.glob("*.jsonl"))
    command = [sys.executable, "-c", TEXTMILL, json.dumps(files), str(out)]
    measured = run_measured(command)
    removed = pq.read_table(out / "rejects", columns=["id"]).num_rows
    shutil.rmtree(out, ignore_errors=True)
    return {"removed_count": removed}, measured


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--datatrove-sizes", type=int, nargs="*", default=[100_000])
    parser.add_argument("--duplicates", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workdir", type=Path, help="kept; default a temporary folder")
    args = parser.parse_args()
    if not WEB_TEXT.exists():
        print(f"{WEB_TEXT} is absent: nothing to benchmark (the shared data is not mounted)")
        return 0
    os.environ.update(ONE_THREAD)
    work = args.workdir or Path(tempfile.mkdtemp(prefix="dedup_speed_"))
    try:
        return measure(args, work)
    finally:
        if args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)


def measure(args: argparse.Namespace, work: Path) -> int:
    shards = sorted((work / "corpus").glob("part-*.jsonl"))
    if len(shards) * SHARD < max(args.sizes):
        shards = generate(work / "corpus", max(args.sizes), args.seed, args.duplicates)
    with open(shards[0], encoding="utf-8") as handle:
        text_bytes = np.mean([len(json.loads(line)["text"].encode()) for line in handle])
    print(
        f"{datetime.date.today()} · {len(shards) * SHARD:,} synthetic documents "
        f"({text_bytes:,.0f} bytes of text each), {args.duplicates:.0%} "
        f"near-duplicates; one core, one thread per tool; {os.cpu_count()} cores on the machine",
        flush=True,
    )
    warm = subset(shards, SHARD, work / "warm")
    run_textmill(warm, work / "out-warm")  # numba's cache, not timed

    rows, dt_python = [], None
    for count in args.sizes:
        inputs = subset(shards, count, work / f"in-{count}")
        result, textmill = run_textmill(inputs, work / f"out-{count}")
        rows.append(("textmill", count, textmill))
        report(rows[-1], result)
        if count in args.datatrove_sizes:
            dt_python = dt_python or datatrove_python()
            result, datatrove = run_datatrove_minhash(dt_python, inputs, work / f"dt-{count}")
            shutil.rmtree(work / f"dt-{count}", ignore_errors=True)
            rows.append(("datatrove 0.10.1", count, datatrove))
            report(rows[-1], result)
            print(
                f"  textmill / datatrove at {count:,}: {datatrove.seconds / textmill.seconds:.1f}×"
            )
    print(
        "\n| tool | documents | wall s | CPU s | docs/s per core (wall) | docs per CPU s "
        "| peak RSS (MB) |\n|---|--:|--:|--:|--:|--:|--:|"
    )
    for name, count, m in rows:
        print(
            f"| {name} | {count:,} | {m.seconds:,.1f} | {m.cpu_seconds:,.1f} "
            f"| {count / m.seconds:,.0f} | {count / m.cpu_seconds:,.0f} "
            f"| {m.peak_rss / 2**20:,.0f} |"
        )
    tm = {count: m for name, count, m in rows if name == "textmill"}
    dt = {count: m for name, count, m in rows if name != "textmill"}
    for count in sorted(set(tm) & set(dt)):
        ratio = dt[count].seconds / tm[count].seconds
        cpu = dt[count].cpu_seconds / tm[count].cpu_seconds
        print(f"\nspeed ratio at {count:,}: {ratio:.1f}× wall, {cpu:.1f}× CPU (target ≥ 20×)")
    if dt:
        count, m = max(dt.items())
        rate = count / m.seconds
        print(
            f"datatrove at 1,000,000 would take ~{1_000_000 / rate / 60:,.0f} min at {rate:,.0f}/s"
        )
    if len(tm) > 1:
        small, large = min(tm), max(tm)
        print(
            f"textmill peak RSS {tm[small].peak_rss / 2**20:,.0f} MB at {small:,} → "
            f"{tm[large].peak_rss / 2**20:,.0f} MB at {large:,} "
            f"(+{(tm[large].peak_rss - tm[small].peak_rss) / 2**20:,.0f} MB; target ≤ 2 GB at 1M)"
        )
    return 0


def report(row: tuple[str, int, Measured], result: dict) -> None:
    name, count, m = row
    seconds = result.get("seconds", {})
    stages = " · " + ", ".join(f"{k} {v:,.0f} s" for k, v in seconds.items()) if seconds else ""
    removed = f" · removed {result['removed_count']:,}"
    print(
        f"{name} {count:,}: {m.seconds:,.1f} s wall, {m.cpu_seconds:,.1f} s CPU, "
        f"{count / m.seconds:,.0f} docs/s per core, peak RSS {m.peak_rss / 2**20:,.0f} MB"
        f"{stages}{removed}",
        flush=True,
    )


if __name__ == "__main__":
    sys.exit(main())
