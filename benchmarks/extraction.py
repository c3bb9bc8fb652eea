"""Main-text extraction quality and speed: trafilatura, resiliparse and textmill's `extract` stage.

Scores on the real evaluation sets in ../shared/data/extraction (see its README):
- AEB, CleanEval-dev, Dragnet: word-level precision / recall / F1 against `truth_text`, bags of
  case-folded `\\w+` words with multiplicity, averaged over pages (a page with no output scores
  0/0/0); macro = mean over the three sets.
- trafilatura's eval sample: snippet checks on whitespace-normalised text: `with` = share of
  `truth_with` snippets found, `without` = share of `truth_without` snippets absent, `pass` =
  both together over all snippets.
- pages/s over all four sets, one process, one engine at a time.

    .venv/bin/python benchmarks/extraction.py [--data DIR] [--limit N]
"""

from __future__ import annotations

import argparse
import collections
import gzip
import json
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path

from textmill.document import make_batch
from textmill.stages.extract import Extract, extract_with_resiliparse, extract_with_trafilatura

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "extraction"
GOLD_SETS = {
    "aeb": "aeb_scrapinghub.jsonl.gz",
    "cleaneval": "cleaneval_dev.jsonl.gz",
    "dragnet": "dragnet_sample100.jsonl.gz",
}
SNIPPET_SET = ("trafilatura", "trafilatura_eval_sample200.jsonl.gz")
WORD = re.compile(r"\w+")
WHITESPACE = re.compile(r"\s+")

Pages = list[dict]
Extractor = Callable[[Pages], list[str]]


def read_jsonl_gz(path: Path, limit: int | None) -> Pages:
    """Records split on '\\n' only: some texts hold U+2028/U+2029 (see the data README)."""
    with gzip.open(path, "rt", encoding="utf-8") as stream:
        lines = [line for line in stream.read().split("\n") if line.strip()]
    return [json.loads(line) for line in lines[:limit]]


def word_bag(text: str) -> collections.Counter[str]:
    return collections.Counter(WORD.findall(text.casefold()))


def precision_recall_f1(predicted: str, truth: str) -> tuple[float, float, float]:
    predicted_bag, truth_bag = word_bag(predicted), word_bag(truth)
    overlap = sum((predicted_bag & truth_bag).values())
    predicted_words, truth_words = sum(predicted_bag.values()), sum(truth_bag.values())
    precision = overlap / predicted_words if predicted_words else 0.0
    recall = overlap / truth_words if truth_words else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def normalise_whitespace(text: str) -> str:
    return WHITESPACE.sub(" ", text).strip()


def snippet_scores(outputs: list[str], pages: Pages) -> tuple[float, float, float]:
    found = missing = absent = present = 0
    for output, page in zip(outputs, pages, strict=True):
        text = normalise_whitespace(output)
        for snippet in page.get("truth_with") or []:
            if normalise_whitespace(snippet) in text:
                found += 1
            else:
                missing += 1
        for snippet in page.get("truth_without") or []:
            if normalise_whitespace(snippet) in text:
                present += 1
            else:
                absent += 1
    total = found + missing + absent + present
    return (
        found / max(found + missing, 1),
        absent / max(absent + present, 1),
        (found + absent) / max(total, 1),
    )


def per_page(extract: Callable[[str, str | None], str]) -> Extractor:
    """An extractor over pages from a per-page function; a failure yields empty text."""

    def run(pages: Pages) -> list[str]:
        outputs = []
        for page in pages:
            try:
                outputs.append(extract(page["html"], page.get("url")) or "")
            except Exception:  # a failure scores as an empty extraction
                outputs.append("")
        return outputs

    return run


def stage_extractor(stage: Extract) -> Extractor:
    """textmill's stage as the runner calls it: one batch per set; dropped rows score empty."""

    def run(pages: Pages) -> list[str]:
        batch = make_batch(
            [str(page["id"]) for page in pages],
            [None] * len(pages),
            urls=[page.get("url") for page in pages],
            html=[page["html"] for page in pages],
        )
        out, decision = stage.process(batch)
        texts = out["text"].to_pylist()
        return [text if keep else "" for text, keep in zip(texts, decision.keep, strict=True)]

    return run


def import_trafilatura_extract() -> Callable[..., str | None]:
    import trafilatura

    return trafilatura.extract


ENGINES: dict[str, Callable[[], Extractor]] = {
    "trafilatura (defaults)": lambda: per_page(
        lambda html, url: import_trafilatura_extract()(html, url=url) or ""
    ),
    "trafilatura favour_precision": lambda: per_page(
        lambda html, url: import_trafilatura_extract()(html, url=url, favor_precision=True) or ""
    ),
    "trafilatura FineWeb (precision, no comments)": lambda: per_page(
        lambda html, url: extract_with_trafilatura(html, url, favour_precision=True)
    ),
    "resiliparse": lambda: per_page(lambda html, url: extract_with_resiliparse(html)),
    "textmill extract (default)": lambda: stage_extractor(Extract()),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--limit", type=int, default=None, help="pages per set (quick runs)")
    args = parser.parse_args(argv)
    if not args.data.is_dir():
        print(f"{args.data} not found: the extraction benchmark needs ../shared/data; skipped.")
        return 0

    sets = {name: read_jsonl_gz(args.data / file, args.limit) for name, file in GOLD_SETS.items()}
    sets[SNIPPET_SET[0]] = read_jsonl_gz(args.data / SNIPPET_SET[1], args.limit)
    total_pages = sum(len(pages) for pages in sets.values())
    print(f"{total_pages} pages: " + ", ".join(f"{k} {len(v)}" for k, v in sets.items()))

    header = (
        f"{'engine':46} "
        + " ".join(f"{name + ' P/R/F1':>20}" for name in GOLD_SETS)
        + f" {'macro F1':>8} {'with':>6} {'without':>7} {'pass':>6} {'pages/s':>8}"
    )
    print(header)
    print("-" * len(header))
    for engine_name, make in ENGINES.items():
        extractor = make()
        extractor([sets["aeb"][0]])  # imports and first-call set-up stay out of the timing
        started = time.perf_counter()
        outputs = {name: extractor(pages) for name, pages in sets.items()}
        pages_per_s = total_pages / (time.perf_counter() - started)
        cells, f1s = [], []
        for name in GOLD_SETS:
            scores = [
                precision_recall_f1(output, page["truth_text"] or "")
                for output, page in zip(outputs[name], sets[name], strict=True)
            ]
            p, r, f = (sum(column) / max(len(scores), 1) for column in zip(*scores, strict=True))
            f1s.append(f)
            cells.append(f"{p:.3f}/{r:.3f}/{f:.3f}")
        with_rate, without_rate, pass_rate = snippet_scores(
            outputs[SNIPPET_SET[0]], sets[SNIPPET_SET[0]]
        )
        print(
            f"{engine_name:46} "
            + " ".join(f"{cell:>20}" for cell in cells)
            + f" {sum(f1s) / len(f1s):8.4f} {with_rate:6.3f} {without_rate:7.3f} {pass_rate:6.3f}"
            + f" {pages_per_s:8.1f}",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
