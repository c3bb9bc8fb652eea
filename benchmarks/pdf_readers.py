"""PDF text extraction: pages/s per core of textmill's PDF engines against pdfplumber, on the
64 real PDFs of shared/data/books/pdfs (1,050 pages: Debian Reference en/ja/zh-cn, TeX Live
manuals, hard cases from the pdf.js and pypdf test corpora), and how far the engines agree.

Timed, one file after another in this one process (one core):
- `pdfplumber extract_text()`: the peer, as data-juicer's PDF mapper and most scripts call it;
- textmill's engines through `textmill.io.pdf.extract_pdf` (pypdfium2, the default; pdfplumber
  with pdfminer's layout analysis; pypdf), text clean-up and metadata included;
- the whole reader `read_pdfs` with the default engine, as `textmill run` reads: files in a
  forked child under the per-file time limit (its CPU time counts the children).

Agreement: per page, the character similarity 1 - Levenshtein / max(len) of the page texts
with all whitespace removed (engines differ in spacing and line breaks, not only in text),
each page capped at CAP characters; mean over pages, per origin and overall.

    python benchmarks/pdf_readers.py [--pdfs DIR] [--json OUT.json]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import re
import sys
import time
from collections import defaultdict
from pathlib import Path

import numba
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from textmill.io import ReadOptions  # noqa: E402
from textmill.io.pdf import PdfUnreadable, extract_pdf, read_pdfs  # noqa: E402

SHARED = next(  # shared/ beside the checkout (a worktree may sit a level deeper)
    (up / "shared" / "data" / "books" for up in ROOT.parents if (up / "shared" / "data").is_dir()),
    ROOT.parent / "shared" / "data" / "books",
)
PEER = "pdfplumber extract_text() (peer)"
DEFAULT = "textmill pypdfium2 (default)"
LAYOUT = "textmill pdfplumber (layout)"
PYPDF = "textmill pypdf"
CAP = 6000  # characters per page compared (Levenshtein is quadratic)
TARGET = 20.0  # issue 16: the default reader >= 20x pdfplumber's pages/s
_SPACE = re.compile(r"\s+")


def plumber_pages(max_pages: int | None):
    def pages(path: str) -> list[str]:
        import pdfplumber

        with pdfplumber.open(path) as pdf:
            return [page.extract_text() or "" for page in pdf.pages[:max_pages]]

    return pages


def textmill_pages(engine: str, max_pages: int | None):
    def pages(path: str) -> list[str]:
        return extract_pdf(path, engine, max_pages=max_pages).texts

    return pages


def timed(name: str, pages_of, files: list[str]) -> dict:
    """Pages, seconds and texts of one engine over every file (a file that fails is counted)."""
    texts: dict[str, list[str]] = {}
    failed: dict[str, str] = {}
    cpu, wall = time.process_time(), time.perf_counter()
    for path in files:
        try:
            texts[path] = pages_of(path)
        except (PdfUnreadable, Exception) as exc:  # noqa: BLE001 - a peer's failure is counted
            failed[Path(path).name] = f"{type(exc).__name__}: {exc}"[:120]
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    pages = sum(len(t) for t in texts.values())
    print(
        f"{name:<34}{pages:>6} pages {wall:>8.2f} s wall {cpu:>8.2f} s CPU "
        f"{pages / cpu:>8.1f} pages/s/core  failed {len(failed)}",
        flush=True,
    )
    return {"pages": pages, "wall_s": wall, "cpu_s": cpu, "texts": texts, "failed": failed}


def timed_reader(files: list[str]) -> dict:
    """The reader as a run uses it: children under the time limit, their CPU time counted."""
    before, wall = os.times(), time.perf_counter()
    pages = errors = 0
    for batch in read_pdfs(files, ReadOptions()):
        pages += batch.counts.get("pdf:pages", 0)
        errors += sum(1 for e in batch.errors if e.record == "file")
    after, wall = os.times(), time.perf_counter() - wall
    cpu = sum(after[:4]) - sum(before[:4])  # user + system, self + children
    print(
        f"{'textmill read_pdfs (pypdfium2)':<34}{pages:>6} pages {wall:>8.2f} s wall "
        f"{cpu:>8.2f} s CPU {pages / cpu:>8.1f} pages/s/core  file errors {errors}",
        flush=True,
    )
    return {"pages": pages, "wall_s": wall, "cpu_s": cpu, "file_errors": errors}


@numba.njit(cache=True)
def levenshtein(a: np.ndarray, b: np.ndarray) -> int:
    if len(a) < len(b):
        a, b = b, a
    previous = np.arange(len(b) + 1, dtype=np.int32)
    current = np.empty(len(b) + 1, dtype=np.int32)
    for i in range(1, len(a) + 1):
        current[0] = i
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
        previous, current = current, previous
    return previous[len(b)]


def similarity(x: str, y: str) -> float:
    x, y = _SPACE.sub("", x)[:CAP], _SPACE.sub("", y)[:CAP]
    if not x and not y:
        return 1.0
    a = np.frombuffer(x.encode("utf-32-le"), dtype=np.int32)
    b = np.frombuffer(y.encode("utf-32-le"), dtype=np.int32)
    return 1.0 - levenshtein(a, b) / max(len(a), len(b))


def agreement(left: dict, right: dict, origin: dict[str, str]) -> dict:
    """Mean page similarity over the pages both engines read, per origin and overall."""
    scores: dict[str, list[float]] = defaultdict(list)
    for path, pages in left["texts"].items():
        other = right["texts"].get(path)
        if other is None or len(other) != len(pages):
            continue
        for x, y in zip(pages, other, strict=True):
            value = similarity(x, y)
            scores[origin[path]].append(value)
            scores["all"].append(value)
    return {key: (round(float(np.mean(v)), 4), len(v)) for key, v in sorted(scores.items())}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pdfs", default=str(SHARED / "pdfs"))
    parser.add_argument("--manifest", default=str(SHARED / "pdfs_manifest.jsonl.gz"))
    parser.add_argument("--json", help="write the figures here")
    parser.add_argument(
        "--max-pages",
        type=int,
        help="time and compare only the first N pages of each file (pdfplumber takes ~0.1-0.3 "
        "CPU s a page); the default engine and the reader also run on every page",
    )
    args = parser.parse_args()
    files = sorted(str(p) for p in Path(args.pdfs).glob("*.pdf"))
    origin = {path: Path(path).name.split("__")[0] for path in files}
    if Path(args.manifest).exists():
        with gzip.open(args.manifest, "rt") as handle:
            by_name = {(r := json.loads(line))["id"]: r["origin"] for line in handle}
        origin = {path: by_name.get(Path(path).name, origin[path]) for path in files}
    print(f"{len(files)} PDFs from {args.pdfs}; one process, one core\n", flush=True)
    cap = args.max_pages
    engines = {
        PEER: plumber_pages(cap),
        DEFAULT: textmill_pages("pypdfium2", cap),
        LAYOUT: textmill_pages("pdfplumber", cap),
        PYPDF: textmill_pages("pypdf", cap),
    }
    if cap:
        print(f"the first {cap} pages of each file (--max-pages)", flush=True)
    results = {name: timed(name, pages_of, files) for name, pages_of in engines.items()}
    if cap:
        print("every page:", flush=True)
        timed(f"{DEFAULT} all pages", textmill_pages("pypdfium2", None), files)
    reader = timed_reader(files)
    peer = results[PEER]
    peer_rate = peer["pages"] / peer["cpu_s"]
    print()
    for name, result in results.items():
        rate = result["pages"] / result["cpu_s"]
        print(f"{name:<34}{rate / peer_rate:>7.1f}x pdfplumber's pages/s per core")
    reader_ratio = reader["pages"] / reader["cpu_s"] / peer_rate
    print(
        f"{'textmill read_pdfs (pypdfium2)':<34}{reader_ratio:>7.1f}x  (target >= {TARGET:g}x; "
        "every page of every file)"
    )
    print("\nagreement (mean page character similarity, whitespace removed; pages compared):")
    pairs = {
        "pypdfium2 ~ pdfplumber": (DEFAULT, PEER),
        "pypdfium2 ~ pypdf": (DEFAULT, PYPDF),
        "pdfplumber ~ pypdf": (PEER, PYPDF),
        "pypdfium2 ~ pdfplumber layout": (DEFAULT, LAYOUT),
    }
    agreements = {}
    for label, (left, right) in pairs.items():
        agreements[label] = agreement(results[left], results[right], origin)
        cells = "  ".join(f"{k} {v:.3f} ({n})" for k, (v, n) in agreements[label].items())
        print(f"  {label:<30}{cells}")
    for name, result in results.items():
        if result["failed"]:
            print(f"\n{name} failed on: {result['failed']}")
    if args.json:
        summary = {
            name: {k: v for k, v in r.items() if k != "texts"} for name, r in results.items()
        }
        summary["read_pdfs"] = reader
        Path(args.json).write_text(json.dumps({"engines": summary, "agreement": agreements}))
    return 0 if reader_ratio >= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
