"""Publication-date accuracy: textmill's `date` stage vs htmldate alone, same run, same pages.

Pages: ../shared/data/dates/htmldate_eval_pages.jsonl.gz (htmldate's own evaluation pages with
gold dates; a page whose gold says it has no date counts as right when no date is returned).
Scored: the share of pages with the exact day right and with the year right. htmldate runs with
the settings the stage gives it (fast mode, original_date) and with its defaults (extensive
search). The pages are split by a fixed hash of their id: the stage's rules and confidences
were tuned on the `tune` half only; `held_out` is the other half, `all` both.

    python benchmarks/dates.py [--data ../shared/data/dates/...jsonl.gz] [--repeat 3]

docs/s is per core (one process), the fastest of `--repeat` passes, htmldate's caches emptied
before each pass (the stage runs its rows in a forked child, whose caches die with it).
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from textmill.document import make_batch
from textmill.stages.signals.date import MIN_DATE, Date, html_date

ROOT = Path(__file__).resolve().parents[1]
_RELATIVE = Path("shared/data/dates/htmldate_eval_pages.jsonl.gz")
# ../shared beside the checkout (a worktree may sit deeper: the nearest one up)
DEFAULT_DATA = next(
    (p / _RELATIVE for p in ROOT.parents if (p / _RELATIVE).is_file()), ROOT.parent / _RELATIVE
)


def reset_caches() -> None:
    """Empty every lru cache of htmldate's modules (its own reset_caches leaves some), so that
    no pass or side reuses what another parsed."""
    import htmldate.core
    import htmldate.extractors
    import htmldate.meta
    import htmldate.validators

    htmldate.meta.reset_caches()
    for module in (htmldate.core, htmldate.extractors, htmldate.validators):
        for value in vars(module).values():
            if callable(getattr(value, "cache_clear", None)):
                value.cache_clear()


def load_pages(path: Path) -> list[dict]:
    with gzip.open(path, "rt", encoding="utf-8") as lines:
        return [json.loads(line) for line in lines]


def split_of(page: dict) -> str:
    """`tune` or `held_out`, by the first byte of sha256(id): fixed, independent of order."""
    return "tune" if hashlib.sha256(page["id"].encode()).digest()[0] % 2 == 0 else "held_out"


def textmill_dates(pages: list[dict], **options) -> list[str | None]:
    batch = make_batch(
        [p["id"] for p in pages],
        [None] * len(pages),
        urls=[p["url"] for p in pages],
        html=[p["html"] for p in pages],
    )
    return Date(**options).map(batch)["date"].to_pylist()


def htmldate_dates(pages: list[dict], *, extensive: bool, original: bool) -> list[str | None]:
    return [
        html_date(p["html"], p["url"], MIN_DATE, None, extensive=extensive, original=original)
        for p in pages
    ]


def scores(pages: list[dict], predicted: list[str | None]) -> dict[str, float]:
    day = year = 0
    for page, date in zip(pages, predicted, strict=True):
        gold = page["date"] if page["has_date"] else None
        day += (date if date and len(date) == 10 else None) == gold
        year += (date[:4] if date else None) == (gold[:4] if gold else None)
    return {"pages": len(pages), "day": day / len(pages), "year": year / len(pages)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--repeat", type=int, default=3, help="timed passes; the fastest counts")
    args = parser.parse_args()
    if not args.data.is_file():
        print(f"{args.data}: not found (../shared/data is not part of the repository); skipped")
        return
    pages = load_pages(args.data)
    sides: dict[str, Callable[[list[dict]], list[str | None]]] = {
        "textmill date": textmill_dates,
        "htmldate (same settings: fast, original_date)": lambda p: htmldate_dates(
            p, extensive=False, original=True
        ),
        "htmldate (defaults: extensive search)": lambda p: htmldate_dates(
            p, extensive=True, original=False
        ),
        "textmill date, extensive_search: true": lambda p: textmill_dates(p, extensive_search=True),
        "htmldate (same: extensive, original_date)": lambda p: htmldate_dates(
            p, extensive=True, original=True
        ),
    }
    htmldate_dates(pages[:5], extensive=True, original=False)  # imports and caches warm
    textmill_dates(pages[:5])
    results = {}
    for name, run in sides.items():
        seconds = []
        for _ in range(args.repeat):  # a shared machine: the fastest pass is the least disturbed
            reset_caches()  # htmldate's lru caches: no pass reuses another's (or a side's)
            started = time.perf_counter()
            predicted = run(pages)
            seconds.append(time.perf_counter() - started)
        results[name] = (predicted, len(pages) / min(seconds))
    splits = {
        "tune": [i for i, p in enumerate(pages) if split_of(p) == "tune"],
        "held_out": [i for i, p in enumerate(pages) if split_of(p) == "held_out"],
        "all": list(range(len(pages))),
    }
    print(f"{len(pages)} pages ({args.data.name})")
    print(f"{'side':50} {'split':9} {'pages':>5} {'day':>6} {'year':>6} {'docs/s':>7}")
    table = {}
    for name, (predicted, speed) in results.items():
        for split, rows in splits.items():
            s = scores([pages[i] for i in rows], [predicted[i] for i in rows])
            table[(name, split)] = s
            print(
                f"{name:50} {split:9} {s['pages']:5d} {s['day']:6.3f} {s['year']:6.3f} {speed:7.1f}"
            )
    web_text = args.data.parents[1] / "web" / "web_text.jsonl.gz"
    if web_text.is_file():
        text_only_speed(web_text, args.repeat)
    pairs = (
        ("textmill date", "htmldate (same settings: fast, original_date)"),
        ("textmill date", "htmldate (defaults: extensive search)"),
        ("textmill date, extensive_search: true", "htmldate (same: extensive, original_date)"),
    )
    for ours, theirs in pairs:
        speed = results[ours][1] / results[theirs][1]
        print(f"{ours} vs {theirs} ({speed:.2f}x its docs/s):")
        for split in splits:
            a, b = table[(ours, split)], table[(theirs, split)]
            print(
                f"  {split:9} year {100 * (a['year'] - b['year']):+5.1f} points, "
                f"day {100 * (a['day'] - b['day']):+5.1f} points"
            )


def text_only_speed(path: Path, repeat: int) -> None:
    """The stage on text without markup (no peer: htmldate needs HTML): docs/s and sources."""
    with gzip.open(path, "rt", encoding="utf-8") as lines:
        rows = [json.loads(line) for line in lines]
    batch = make_batch(
        [r["id"] for r in rows],
        [r["text"] for r in rows],
        urls=[(r.get("metadata") or {}).get("url") for r in rows],
    )
    stage = Date(latest_date="2026-01-01")
    stage.map(batch.slice(0, 20))
    seconds = []
    for _ in range(repeat):
        started = time.perf_counter()
        out = stage.map(batch)
        seconds.append(time.perf_counter() - started)
    megabytes = sum(len(r["text"].encode()) for r in rows) / 1e6
    sources = Counter(out["date_source"].to_pylist())
    print(
        f"text only ({path.name}, {len(rows)} documents): {len(rows) / min(seconds):.0f} docs/s, "
        f"{megabytes / min(seconds):.1f} MB/s; sources {dict(sources.most_common())}"
    )


if __name__ == "__main__":
    main()
