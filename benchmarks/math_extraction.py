"""Formulas kept by `extract`, with and without `math: latex`, on the real pages that carry
math markup (../shared/data: the extraction sets and web/web_docs.jsonl.gz).

A formula is a TeX source the page's markup holds (MathJax 2 script, MathML's TeX annotation or
alttext: what textmill.extraction.math_latex finds); it is kept when the extracted text holds
it as math: between `$`, `$$`, `\\(` `\\)` or `\\[` `\\]` (trafilatura's own MathML recovery
counts), whitespace aside. A TeX source flattened into the text without delimiters, or glyphs
without their TeX, is not kept.

    .venv/bin/python benchmarks/math_extraction.py [--data DIR]
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from resiliparse.parse.html import HTMLTree

from textmill.document import make_batch
from textmill.extraction.math_latex import has_math_markup, latex_math
from textmill.extraction.scoring import read_jsonl_gz
from textmill.stages.extract import Extract

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
FILES = ("extraction/*.jsonl.gz", "web/web_docs.jsonl.gz")
ENGINES = ("trafilatura", "resiliparse", "textmill")
DELIMITED = re.compile(r"\$\$(.+?)\$\$|\$(.+?)\$|\\\((.+?)\\\)|\\\[(.+?)\\\]", re.DOTALL)
SPACE = re.compile(r"\s+")


def squeeze(text: str) -> str:
    return SPACE.sub("", text)


def math_pages(data: Path) -> list[tuple[str, str, list[str]]]:
    """(url, html, TeX sources) of every page whose markup holds at least one formula."""
    pages = []
    for pattern in FILES:
        for path in sorted(data.glob(pattern)):
            for record in read_jsonl_gz(path):
                html = record.get("html") or ""
                if not has_math_markup(html):
                    continue
                formulas = latex_math(HTMLTree.parse(html))
                if formulas:
                    url = record.get("url") or record.get("url_or_path") or path.name
                    pages.append((url, html, formulas))
    return pages


def kept(text: str, formulas: list[str]) -> int:
    """How many of the formulas the text holds between math delimiters (each found once)."""
    found: dict[str, int] = {}
    for match in DELIMITED.finditer(text):
        tex = squeeze(next(group for group in match.groups() if group is not None))
        found[tex] = found.get(tex, 0) + 1
    count = 0
    for formula in formulas:
        key = squeeze(formula)
        if found.get(key, 0) > 0:
            found[key] -= 1
            count += 1
    return count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    args = parser.parse_args()
    if not args.data.is_dir():
        raise SystemExit(f"{args.data} not found: this benchmark needs ../shared/data")
    pages = math_pages(args.data)
    total = sum(len(formulas) for _, _, formulas in pages)
    print(f"{len(pages)} pages with TeX in their math markup, {total} formulas")
    batch = make_batch(
        [str(i) for i in range(len(pages))],
        [None] * len(pages),
        urls=[url for url, _, _ in pages],
        html=[html for _, html, _ in pages],
    )
    for engine in ENGINES:
        for math in (None, "latex"):
            out, _ = Extract(engine=engine, math=math, time_budget_s=None).process(batch)
            texts = out["text"].to_pylist()
            counts = [kept(t or "", f) for t, (_, _, f) in zip(texts, pages, strict=True)]
            print(
                f"  {engine:<11} math={math!s:<5}: {sum(counts):>4} / {total} formulas kept "
                f"({', '.join(str(c) for c in counts)} per page)"
            )


if __name__ == "__main__":
    main()
