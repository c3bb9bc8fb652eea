"""`textmill topic fit`: k-means topics on a sample of a corpus, saved for the `topic` stage."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from textmill.cli.args import whole
from textmill.cli.quality import guard


def cmd_fit(args: argparse.Namespace) -> int:
    from textmill.api import fit_topics

    print(f"fitting {args.k} topics ({args.embedder})", file=sys.stderr, flush=True)
    model = fit_topics(
        args.inputs, args.output, args.k, sample=args.sample, embedder=args.embedder,
        seed=args.seed, text_field=args.text_field,
    )  # fmt: skip
    for topic, (size, label) in enumerate(zip(model.sample_sizes, model.labels(8), strict=True)):
        print(f"topic {topic:>3}  {size:>7,} docs  {label}")
    print(f"model: {args.output}  (use it with the topic stage: model_path: {args.output})")
    return 0


def register(commands: Any) -> None:
    """Add `topic fit` to the `textmill` subcommands."""
    topic = commands.add_parser("topic", help="unsupervised topics (k-means + c-TF-IDF)")
    actions = topic.add_subparsers(dest="topic_command", required=True)
    fit = actions.add_parser("fit", help="fit k topics on a sample; save centroids and keywords")
    fit.add_argument("inputs", nargs="+", help="documents (files/dirs, any textmill input)")
    fit.add_argument("-o", "--output", required=True, help="topic model path, e.g. topics.npz")
    fit.add_argument("--k", type=whole(2), required=True, help="number of topics")
    fit.add_argument(
        "--sample", type=whole(1), default=100_000, help="documents sampled for the fit"
    )
    fit.add_argument(
        "--embedder", default="tfidf",
        help="tfidf (LSA, fast on CPU; default), minilm (the packaged all-MiniLM-L6-v2), or a "
        "model2vec / sentence-transformers directory",
    )  # fmt: skip
    fit.add_argument("--seed", type=int, default=0)
    fit.add_argument("--text-field", default="text", help="JSONL/Parquet text field")
    fit.set_defaults(handler=guard(cmd_fit))
