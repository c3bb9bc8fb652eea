"""`textmill order` on a corpus bigger than its memory budget, beside an in-memory Arrow sort.

Writes N synthetic documents (random words, ~1 KB each, a float score) as Parquet files, then
in separate processes (peak RSS from the kernel): (1) `textmill order --by score --stages 10
--memory M`, DuckDB's external sort; (2) the in-memory way, `pyarrow` reading every file,
`sort_indices` and `take`, one Parquet file out. Checks both outputs hold the same documents and
that textmill's order is right; prints seconds, peak RSS and the ratios.

usage: .venv/bin/python benchmarks/order_scale.py [--documents 400000] [--memory 256MB]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

IN_MEMORY = """
import sys, pyarrow.parquet as pq, pyarrow.compute as pc, pyarrow.dataset as ds
table = ds.dataset(sys.argv[1], format="parquet").to_table()
table = table.take(pc.sort_indices(table, sort_keys=[("score", "ascending")]))
pq.write_table(table, sys.argv[2])
"""


def make_corpus(folder: Path, documents: int, files: int = 8) -> int:
    rng = np.random.default_rng(0)
    words = np.array([f"w{i}" for i in range(5000)])
    folder.mkdir(parents=True, exist_ok=True)
    total = 0
    for part, rows in enumerate(np.array_split(np.arange(documents), files)):
        texts = [" ".join(words[rng.integers(0, 5000, 170)]) for _ in rows]
        table = pa.table({"id": [f"d{i}" for i in rows], "text": texts,
                          "score": rng.random(len(rows))})  # fmt: skip
        pq.write_table(table, folder / f"part-{part:02d}.parquet")
        total += sum(len(t) for t in texts)
    return total


PEAK = """
import resource, subprocess, sys
subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""


def timed(command: list[str]) -> tuple[float, float]:
    """(seconds, peak RSS in MB) of a child process, measured by a fresh wrapper process so
    that one side's peak never hides the other's."""
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", PEAK, *command], check=True,
                          capture_output=True, text=True)  # fmt: skip
    return time.perf_counter() - started, int(done.stdout.split()[-1]) / 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--documents", type=int, default=400_000)
    parser.add_argument("--memory", default="256MB")
    parser.add_argument("--threads", type=int, help="DuckDB threads (default: the budget's)")
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    out = Path(args.out or tempfile.mkdtemp(prefix="textmill-order-"))
    chars = make_corpus(out / "in", args.documents)
    size = sum(p.stat().st_size for p in (out / "in").glob("*.parquet"))
    print(f"{args.documents:,} documents, {chars / 1e6:,.0f} MB of text, {size / 1e6:,.0f} MB "
          f"Parquet; memory budget {args.memory}")  # fmt: skip
    # the in-memory side first: RUSAGE_CHILDREN's peak is the largest child so far
    arrow_s, arrow_mb = timed([sys.executable, "-c", IN_MEMORY, str(out / "in"),
                               str(out / "arrow.parquet")])  # fmt: skip
    threads = ["--threads", str(args.threads)] if args.threads else []
    command = [sys.executable, "-m", "textmill", "order", str(out / "in"), "-o",
               str(out / "ordered"), "--by", "score", "--stages", "10", "--memory", args.memory,
               "--overwrite", *threads]  # fmt: skip
    mine_s, mine_mb = timed(command)
    ordered = pq.read_table(sorted((out / "ordered" / "data").glob("*.parquet")),
                            columns=["id", "score", "order_stage"])  # fmt: skip
    arrow = pq.read_table(out / "arrow.parquet", columns=["id"])
    stages = ordered["order_stage"].to_numpy()
    scores = ordered["score"].to_numpy()
    assert ordered.num_rows == arrow.num_rows == args.documents
    assert set(ordered["id"].to_pylist()) == set(arrow["id"].to_pylist())
    assert (np.diff(stages) >= 0).all()
    bounds = [(scores[stages == k].min(), scores[stages == k].max()) for k in range(1, 11)]
    assert all(bounds[k][1] <= bounds[k + 1][0] for k in range(9))
    report = json.loads((out / "ordered" / "order.json").read_text())
    print(f"textmill order (DuckDB, {args.memory}): {mine_s:.1f} s, peak RSS {mine_mb:,.0f} MB, "
          f"{len(report['files'])} files")  # fmt: skip
    print(f"in-memory Arrow sort + take:        {arrow_s:.1f} s, peak RSS {arrow_mb:,.0f} MB")
    print(f"ratios textmill/arrow: time {mine_s / arrow_s:.2f}x, memory {mine_mb / arrow_mb:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
