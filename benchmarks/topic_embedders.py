"""Topic assignment speed per embedder (docs/s, one core) on real web text, and how the topics
read: `textmill topic fit` with the default LSA embedder and with all-MiniLM-L6-v2.

Data: ../shared/data/web/web_text.jsonl.gz (2,215 crawl documents, ~12 languages). Fits k topics
on every document, then times the topic stage's assignment (embed + nearest centroid).

usage: python benchmarks/topic_embedders.py [--k 12] [--minilm-docs 300] [--data DIR]
"""

from __future__ import annotations

import os

for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_name] = "1"  # docs/s per core

import argparse  # noqa: E402
import gzip  # noqa: E402
import json  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

from textmill.topics import MINILM, TFIDF, fit_topics  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--k", type=int, default=12)
    parser.add_argument("--minilm-docs", type=int, default=300, help="MiniLM is slow on CPU")
    parser.add_argument("--data", type=Path, default=Path("/work/shared/data"))
    parser.add_argument("--embedders", nargs="+", default=[TFIDF, MINILM])
    args = parser.parse_args()
    path = args.data / "web" / "web_text.jsonl.gz"
    if not path.is_file():
        print(f"{path} not found: this benchmark needs ../shared/data; skipped")
        return
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        texts = [json.loads(line)["text"] for line in handle.read().split("\n") if line]
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:
        pass
    runs = {TFIDF: texts, MINILM: texts[: args.minilm_docs]}
    for embedder, docs in ((name, runs[name]) for name in args.embedders):
        start = time.perf_counter()
        model = fit_topics(docs, args.k, embedder=embedder, seed=0)
        fit_s = time.perf_counter() - start
        start = time.perf_counter()
        model.assign(docs)
        rate = len(docs) / (time.perf_counter() - start)
        print(
            f"\n{embedder}: {len(docs):,} docs, fit {fit_s:.1f} s, assign {rate:,.0f} docs/s/core"
        )
        for topic, (size, label) in enumerate(
            zip(model.sample_sizes, model.labels(6), strict=True)
        ):
            print(f"  {topic:>2} {size:>5}  {label}")


if __name__ == "__main__":
    main()
