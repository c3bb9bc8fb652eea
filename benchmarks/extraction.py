"""Main-text extraction quality and speed: trafilatura, resiliparse and textmill's `extract` stage.

Scores on the real evaluation sets in ../shared/data/extraction (see its README):
- AEB, CleanEval-dev, Dragnet: word-level precision / recall / F1 against `truth_text`, bags of
  case-folded `\\w+` words with multiplicity, averaged over pages (a page with no output scores
  0/0/0); macro = mean over the three sets.
- trafilatura's eval sample: snippet checks on whitespace-normalised text: `with` = share of
  `truth_with` snippets found, `without` = share of `truth_without` snippets absent, `pass` =
  both together over all snippets.
- pages/s per core over all four sets: pages per CPU second of the process and its children
  (the `extract` stage runs pages in a forked child under its time budget), one engine at a
  time in the same run, and the ratio to trafilatura in FineWeb's setting; CPU time, not wall
  time, so that other work on a shared machine does not skew the ratios.
- per language (the pages' `lang`), F1 over the gold sets' non-English pages and snippet pass
  rate over the trafilatura sample's, for the engines named in PER_LANGUAGE.

    .venv/bin/python benchmarks/extraction.py [--data DIR] [--limit N]
"""

from __future__ import annotations

import argparse
import collections
import resource
import sys
from collections.abc import Callable
from pathlib import Path

from textmill.document import make_batch
from textmill.extraction import extract_page
from textmill.extraction.scoring import precision_recall_f1, read_jsonl_gz, snippet_scores
from textmill.stages.extract import Extract, extract_with_resiliparse, extract_with_trafilatura

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "extraction"
GOLD_SETS = {
    "aeb": "aeb_scrapinghub.jsonl.gz",
    "cleaneval": "cleaneval_dev.jsonl.gz",
    "dragnet": "dragnet_sample100.jsonl.gz",
}
SNIPPET_SET = ("trafilatura", "trafilatura_eval_sample200.jsonl.gz")
BASELINE = "trafilatura FineWeb (precision, no comments)"
PER_LANGUAGE = ("textmill extract (default)", "textmill extract {engine: textmill}", BASELINE)

Pages = list[dict]
Extractor = Callable[[Pages], list[str]]


def cpu_seconds() -> float:
    """CPU time of this process and of its waited-for children (the budget's forked workers)."""
    own, children = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def page_language(page: dict) -> str:
    """The page's `lang` where the data set gives one, else lid.176 (as `langid` runs it) on its
    true text or its `truth_with` snippets: most pages come without a label."""
    if page.get("lang"):
        return page["lang"]
    from textmill.stages.langid import bundled_lid_model_path, label_to_language, load_lid_model

    text = page.get("truth_text") or " ".join(page.get("truth_with") or [])
    text = " ".join(text.split())[:2000]
    if not text:
        return "?"
    labels, _ = load_lid_model(str(bundled_lid_model_path())).predict(text, k=1)
    return label_to_language(labels[0])


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
    "trafilatura FineWeb (precision, no comments)": lambda: per_page(
        lambda html, url: extract_with_trafilatura(html, url, favour_precision=True)
    ),
    "trafilatura (defaults)": lambda: per_page(
        lambda html, url: import_trafilatura_extract()(html, url=url) or ""
    ),
    "trafilatura favour_precision": lambda: per_page(
        lambda html, url: import_trafilatura_extract()(html, url=url, favor_precision=True) or ""
    ),
    "resiliparse": lambda: per_page(lambda html, url: extract_with_resiliparse(html)),
    "textmill extract (default)": lambda: stage_extractor(Extract()),
    "textmill extract {engine: textmill}": lambda: stage_extractor(Extract(engine="textmill")),
    "textmill engine, in-process (no budget fork)": lambda: per_page(
        lambda html, url: extract_page(html).text
    ),
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
    for pages in sets.values():
        for page in pages:
            page["lang"] = page_language(page)
    print(f"{total_pages} pages: " + ", ".join(f"{k} {len(v)}" for k, v in sets.items()))

    header = (
        f"{'engine':46} "
        + " ".join(f"{name + ' P/R/F1':>20}" for name in GOLD_SETS)
        + f" {'macro F1':>8} {'worst':>6} {'with':>6} {'without':>7} {'pass':>6}"
        + f" {'pages/s/core':>12} {'x trafilatura':>13}"
    )
    print(header)
    print("-" * len(header))
    rates: dict[str, float] = {}
    languages: dict[str, dict[str, list[float]]] = {}
    for engine_name, make in ENGINES.items():
        extractor = make()
        extractor([sets["aeb"][0]])  # imports and first-call set-up stay out of the timing
        started = cpu_seconds()
        outputs = {name: extractor(pages) for name, pages in sets.items()}
        rates[engine_name] = total_pages / max(cpu_seconds() - started, 1e-9)
        cells, f1s = [], []
        by_language: dict[str, list[float]] = collections.defaultdict(list)
        for name in GOLD_SETS:
            scores = [
                precision_recall_f1(output, page["truth_text"] or "")
                for output, page in zip(outputs[name], sets[name], strict=True)
            ]
            for score, page in zip(scores, sets[name], strict=True):
                by_language[page.get("lang") or "?"].append(score[2])
            p, r, f = (sum(column) / max(len(scores), 1) for column in zip(*scores, strict=True))
            f1s.append(f)
            cells.append(f"{p:.3f}/{r:.3f}/{f:.3f}")
        snippet_pages = sets[SNIPPET_SET[0]]
        with_rate, without_rate, pass_rate = snippet_scores(outputs[SNIPPET_SET[0]], snippet_pages)
        for lang in {page.get("lang") or "?" for page in snippet_pages}:
            mine = [i for i, page in enumerate(snippet_pages) if (page.get("lang") or "?") == lang]
            by_language[f"{lang} (snippets)"].append(
                snippet_scores(
                    [outputs[SNIPPET_SET[0]][i] for i in mine], [snippet_pages[i] for i in mine]
                )[2]
            )
        languages[engine_name] = by_language
        ratio = rates[engine_name] / rates[BASELINE] if BASELINE in rates else float("nan")
        print(
            f"{engine_name:46} "
            + " ".join(f"{cell:>20}" for cell in cells)
            + f" {sum(f1s) / len(f1s):8.4f} {min(f1s):6.3f} {with_rate:6.3f} {without_rate:7.3f}"
            + f" {pass_rate:6.3f} {rates[engine_name]:12.1f} {ratio:13.2f}",
            flush=True,
        )
    print_languages(languages, sets)
    return 0


def print_languages(languages: dict[str, dict[str, list[float]]], sets: dict[str, Pages]) -> None:
    """Non-English pages: mean F1 per language over the gold sets, snippet pass rate per
    language over the trafilatura sample (`lang` as the data sets give it)."""
    shown = [name for name in PER_LANGUAGE if name in languages]
    keys = sorted(
        {k for name in shown for k in languages[name] if not k.startswith(("en", "?"))},
        key=lambda k: (k.endswith("(snippets)"), k),
    )
    if not keys:
        return
    counts = collections.Counter(
        (page.get("lang") or "?") + ("" if name in GOLD_SETS else " (snippets)")
        for name, pages in sets.items()
        for page in pages
    )
    print("\nnon-English pages: F1 (gold sets) or snippet pass rate (trafilatura sample)")
    print(f"{'language':18} {'pages':>5} " + " ".join(f"{name[:30]:>30}" for name in shown))
    for key in keys:
        values = [languages[name].get(key) for name in shown]
        cells = [f"{sum(v) / len(v):30.3f}" if v else f"{'-':>30}" for v in values]
        print(f"{key:18} {counts[key]:5} " + " ".join(cells))


if __name__ == "__main__":
    sys.exit(main())
