"""Sequence lengths of a textmill output, in the tokens of the trainer's own tokenizer, so the
planner sees the corpus the way training will."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from textmill.io import ReadOptions, plan_shards, read_shard
from textmill.plan.simulate import LengthsError

ENCODE_BATCH = 1000


def token_lengths(inputs: Sequence[str | Path], tokenizer_path: str | Path) -> np.ndarray:
    """Token count of every document's text under a Hugging Face `tokenizer.json`, in input
    order. An input that is a run's output directory means its `data/` folder."""
    try:
        from tokenizers import Tokenizer
    except ImportError as exc:  # pragma: no cover - exercised only without the extra
        raise RuntimeError(
            "token lengths need the `tokenizers` package: pip install 'textmill[verify]'"
        ) from exc
    try:
        tokenizer = Tokenizer.from_file(str(tokenizer_path))
    except Exception as exc:  # noqa: BLE001 - the Rust library raises a bare Exception
        raise LengthsError(f"--tokenizer {tokenizer_path}: not a tokenizer.json ({exc})") from None
    paths = [str(Path(p) / "data") if (Path(p) / "stats.json").exists() else str(p) for p in inputs]
    shards, _ = plan_shards(paths)
    lengths: list[np.ndarray] = []
    for shard in shards:
        for read in read_shard(shard, ReadOptions(batch_size=ENCODE_BATCH)):
            texts = [t or "" for t in read.docs["text"].to_pylist()]
            encodings = tokenizer.encode_batch(texts, add_special_tokens=False)
            lengths.append(np.array([len(e.ids) for e in encodings], dtype=np.int64))
    return np.concatenate(lengths) if lengths else np.zeros(0, dtype=np.int64)


def tok_lengths(folder: str | Path) -> np.ndarray:
    """Token lengths of a `textmill tokenize` output folder, in output order: per piece when it
    is packed (what attention sees once masked per document: TOK/pieces.parquet), else per
    document (TOK/documents.parquet)."""
    import json

    import pyarrow.parquet as pq

    folder = Path(folder)
    try:
        manifest = json.loads((folder / "manifest.json").read_text("utf-8"))
    except (OSError, ValueError) as exc:
        raise LengthsError(f"{folder}: not a tokenize output ({exc})") from None
    name = "pieces.parquet" if manifest.get("packing") else "documents.parquet"
    try:
        lengths = pq.read_table(folder / name, columns=["tokens"]).column("tokens")
    except (OSError, KeyError) as exc:
        raise LengthsError(f"{folder / name}: unreadable ({exc})") from None
    return lengths.to_numpy().astype(np.int64)


def is_tok_folder(path: str | Path) -> bool:
    """A folder `textmill tokenize` wrote (its manifest.json and documents.parquet)."""
    path = Path(path)
    return (path / "manifest.json").is_file() and (path / "documents.parquet").is_file()
