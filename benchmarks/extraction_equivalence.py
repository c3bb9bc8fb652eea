"""Same blocks, same features: textmill's extractor at a reference commit against the working tree.

A pure-speed change to `textmill.extraction.blocks` must leave the model's input untouched, or
the shipped `model.npz` would decide differently from how it was fitted and scored. This script
runs `page_blocks` of the reference commit (its `textmill/` taken with `git archive`, run in a
subprocess) and of the working tree on every HTML page of ../shared/data/extraction and
../shared/data/web/web_docs.jsonl.gz, and compares per page, all exactly (bit for bit): block
texts and kinds, the float32 feature matrix (same names, same order), the model's input (the
page-relative and neighbourhood columns, `neighbours.model_input`) and the shipped model's
probabilities on it as each side's own `TreeEnsemble.probability` computes them (so faster
feature and tree code is checked too). Exit status 1 on any difference.

    .venv/bin/python benchmarks/extraction_equivalence.py [--data DIR] [--reference REV] [--limit N]
"""

from __future__ import annotations

import argparse
import io
import os
import pickle
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import numpy as np

from textmill.extraction.scoring import read_jsonl_gz

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"
# The commit that merged the shipped model (A and C averaged, issue 19): its blocks, model input
# and probabilities. (Before it, 564115c: the blocks the earlier model was fitted on; a reference
# needs `neighbours.model_input`, which that one lacks.)
DEFAULT_REFERENCE = "ff67db9"
# Run in the reference tree: the blocks of every page, as extract_page computes them.
DUMP = """
import pickle, sys
from resiliparse.parse.html import HTMLTree
from textmill.extraction.blocks import FEATURES, page_blocks
from textmill.extraction.engine import page_language
from textmill.extraction.model import shipped_model
from textmill.extraction.neighbours import model_input

pages = pickle.load(open(sys.argv[1], "rb"))
out = []
for html in pages:
    tree = HTMLTree.parse(html)
    blocks = page_blocks(tree, page_language(tree))
    x = model_input(blocks.features)
    probability = shipped_model().probability(x)
    out.append((blocks.texts, blocks.kinds, blocks.features, x, probability))
pickle.dump((FEATURES, out), open(sys.argv[2], "wb"))
"""


def bit_difference(what: str, ref: np.ndarray, now: np.ndarray) -> str | None:
    """What differs between two arrays bit for bit (shape, dtype, first value), or None."""
    if now.shape != ref.shape or now.dtype != ref.dtype:
        return f"{what} {ref.shape} {ref.dtype} -> {now.shape} {now.dtype}"
    bits = np.dtype(f"u{ref.dtype.itemsize}")
    same = now.view(bits) == ref.view(bits)
    if same.all():
        return None
    row, column = np.argwhere(~same)[0]
    return (
        f"{int((~same).sum())} {what} values differ, first block {row} column {column}: "
        f"{ref[row, column]!r} -> {now[row, column]!r}"
    )


def read_pages(data: Path, limit: int | None) -> list[tuple[str, str]]:
    """(source:id, html) of every page with HTML in the extraction sets and web_docs."""
    sources = [*sorted((data / "extraction").glob("*.jsonl.gz"))]
    sources.append(data / "web" / "web_docs.jsonl.gz")
    pages = []
    for source in sources:
        for record in read_jsonl_gz(source, limit):
            if record.get("html"):
                pages.append((f"{source.name.split('.')[0]}:{record.get('id')}", record["html"]))
    return pages


def dump_blocks(textmill_parent: Path, pages_file: Path, out_file: Path) -> tuple[tuple, list]:
    # Run from `textmill_parent`: `python -c` puts the working directory first on sys.path, which
    # would import the working tree's textmill for the reference too.
    subprocess.run(
        [sys.executable, "-c", DUMP, str(pages_file), str(out_file)],
        check=True,
        cwd=textmill_parent,
        env={**os.environ, "PYTHONPATH": str(textmill_parent)},
    )
    with open(out_file, "rb") as stream:
        return pickle.load(stream)


def reference_tree(revision: str, into: Path) -> Path:
    """The reference commit's `textmill/` package, unpacked under `into`."""
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", "--format=tar", revision, "textmill"],
        check=True,
        capture_output=True,
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into


def compare(names: list[str], reference: list, current: list) -> list[str]:
    """One line per page whose blocks, features or model probabilities differ."""
    problems = []
    for name, (ref_texts, ref_kinds, ref_x, ref_input, ref_p), (texts, kinds, x, x_in, p) in zip(
        names, reference, current, strict=True
    ):
        if texts != ref_texts:
            first = next(
                (i for i, (a, b) in enumerate(zip(texts, ref_texts, strict=False)) if a != b),
                min(len(texts), len(ref_texts)),
            )
            was, now = ref_texts[first : first + 1], texts[first : first + 1]
            problems.append(
                f"{name}: texts differ ({len(ref_texts)} -> {len(texts)} blocks; first at "
                f"{first}: {was!r:.120} -> {now!r:.120})"
            )
            continue
        if kinds != ref_kinds:
            problems.append(f"{name}: kinds differ")
            continue
        problem = bit_difference("features", ref_x, x) or bit_difference(
            "model input", ref_input, x_in
        )
        if problem:
            problems.append(f"{name}: {problem}")
            continue
        if p.shape != ref_p.shape or not (p.view(np.uint64) == ref_p.view(np.uint64)).all():
            problems.append(
                f"{name}: model probabilities differ (max {np.abs(p - ref_p).max():.3g})"
            )
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference", default=DEFAULT_REFERENCE, help="git commit to compare to")
    parser.add_argument("--data", type=Path, default=SHARED_DATA, help="../shared/data")
    parser.add_argument("--limit", type=int, default=None, help="pages per source (quick runs)")
    args = parser.parse_args(argv)
    if not args.data.is_dir():
        print(f"{args.data} not found: the check needs ../shared/data; skipped.")
        return 0
    pages = read_pages(args.data, args.limit)
    with tempfile.TemporaryDirectory() as folder:
        temp = Path(folder)
        pages_file = temp / "pages.pkl"
        with open(pages_file, "wb") as stream:
            pickle.dump([html for _, html in pages], stream)
        # The reference's blocks are cached per commit and limit: the check runs after each edit.
        commit = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", args.reference],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
        cached = Path(tempfile.gettempdir()) / f"textmill-blocks-3-{commit}-{args.limit}.pkl"
        if cached.exists():
            with open(cached, "rb") as stream:
                ref_features, reference = pickle.load(stream)
        else:
            tree = reference_tree(commit, temp / "reference")
            ref_features, reference = dump_blocks(tree, pages_file, temp / "reference.pkl")
            (temp / "reference.pkl").replace(cached)
        features, current = dump_blocks(ROOT, pages_file, temp / "current.pkl")
    if features != ref_features:
        print("FEATURES differ in names or order:", ref_features, features)
        return 1
    problems = compare([name for name, _ in pages], reference, current)
    blocks = sum(len(texts) for texts, *_ in current)
    for line in problems[:20]:
        print(line)
    print(
        f"{len(pages)} pages, {blocks} blocks: {len(pages) - len(problems)} bit-identical to "
        f"{args.reference}, {len(problems)} differ"
    )
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
