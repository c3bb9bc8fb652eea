"""Figures behind the `extract` stage's limits: sizes and tree depths of real pages, per-page
extraction times (--times, slow), and time and peak RSS of the hostile pages of issue 18
(100k nested <div>, a 15 MiB page) with the guards on and, with --unguarded, off.

    .venv/bin/python benchmarks/extraction_limits.py [--times] [--unguarded]
"""

from __future__ import annotations

import argparse
import gzip
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"  # ../shared/data
JSONL = [*sorted((DATA / "extraction").glob("*.jsonl.gz")), DATA / "web" / "web_docs.jsonl.gz"]
HOSTILE = {
    "100k nested div (1.1 MB)": "'<html><body>' + '<div>' * 100_000 + 'deep' + '</div>' * 100_000",
    "15 MiB page": "'<html><body>' + ('<p>' + 'the river valley ' * 40 + '</p>\\n') * 23_000",
    "33k nested table/tr/td": "'<html><body>' + '<table><tr><td>' * 33_000",
    "100k unclosed <a> (flat)": "'<html><body>' + '<a href=#>x' * 100_000",
    "90k sibling <p> (1.98 MB)": "'<html><body>' + '<p>some words here</p>' * 90_000",
}


def real_pages() -> dict[str, list[str]]:
    """HTML of every real page: the JSONL sets' `html` and the WARC responses."""
    from textmill.io import ReadOptions, plan_shards, read_shard

    pages: dict[str, list[str]] = {}
    for path in JSONL:
        with gzip.open(path, "rb") as handle:
            records = [json.loads(line) for line in handle.read().split(b"\n") if line.strip()]
        pages[path.name] = [r["html"] for r in records if r.get("html")]
    shards, _ = plan_shards([str(DATA / "web" / "warc")])
    options = ReadOptions(max_document_bytes=1 << 40)
    pages["warc responses"] = [
        html
        for shard in shards
        for read in read_shard(shard, options)
        if "html" in read.docs.column_names
        for html in read.docs["html"].to_pylist()
        if html
    ]
    return pages


def tree_depth(html: str) -> int:
    """Element depth of lexbor's tree, by bisection on the stage's own depth check."""
    from resiliparse.parse.html import HTMLTree

    from textmill.stages.extract import is_deeper_than

    tree, low, high = HTMLTree.parse(html), 0, 4096
    while low < high:
        middle = (low + high + 1) // 2
        low, high = (middle, high) if is_deeper_than(tree, middle - 1) else (low, middle - 1)
    return low


def distribution(label: str, values: list[float], unit: str, scale: float = 1.0) -> None:
    v = np.asarray(values, dtype=float) / scale
    p50, p99, p999 = np.percentile(v, [50, 99, 99.9])
    print(f"| {label} | {len(v)} | {p50:.3g} | {p99:.3g} | {p999:.3g} | {v.max():.3g} | {unit} |")


def hostile(unguarded: bool) -> None:
    """Each page in a fresh process, which prints its reason, seconds and peak RSS (VmHWM,
    which, unlike ru_maxrss, does not inherit the parent's high-water mark)."""
    options = "max_html_bytes=None, max_depth=None, time_budget_s=None" if unguarded else ""
    for label, html in HOSTILE.items():
        code = (
            "import re, time; from textmill.document import make_batch;"
            "from textmill.stages.extract import Extract;"
            f"b = make_batch(['p'], [None], html=[{html}]); t = time.perf_counter();"
            f"_, d = Extract({options}).process(b);"
            "print(d.reasons[0].as_py(), round(time.perf_counter() - t, 2),"
            " int(re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read())[1]) // 1024)"
        )
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        reason, seconds, rss = (out.stdout.split() + ["error", "?", "?"])[:3]
        print(f"| {label} | {'off' if unguarded else 'on'} | {reason} | {seconds} | {rss} |")


def size(html: str) -> int:
    return len(html.encode("utf-8", "replace"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--times", action="store_true", help="time every real page (slow)")
    parser.add_argument("--unguarded", action="store_true", help="also run hostile pages bare")
    args = parser.parse_args()
    if DATA.exists():
        pages = real_pages()
        everything = [p for group in pages.values() for p in group]
        print("| pages | n | p50 | p99 | p99.9 | max | unit |\n|---|---|---|---|---|---|---|")
        for name, group in pages.items():
            distribution(
                f"{name} size", [len(p.encode("utf-8", "replace")) for p in group], "kB", 1e3
            )
        distribution(
            "all: size", [len(p.encode("utf-8", "replace")) for p in everything], "kB", 1e3
        )
        distribution("all: element depth", [tree_depth(p) for p in everything], "levels")
        if args.times:
            from textmill.stages.extract import Extract

            stage, seconds = Extract(), []
            for page in everything:
                started = time.perf_counter()
                stage.extract_one(page, None)
                seconds.append(time.perf_counter() - started)
            distribution("all: extraction time", seconds, "s")
    else:
        print(f"{DATA} not found: real-page figures skipped")
    print("\n| hostile page | guards | reason | seconds | peak RSS MiB |\n|---|---|---|---|---|")
    for unguarded in (False, True) if args.unguarded else (False,):
        hostile(unguarded)


if __name__ == "__main__":
    main()
