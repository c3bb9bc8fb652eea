"""Benchmark decontamination in the report: per benchmark, which of its items occur in the
corpus and what became of the documents holding them.

The collector calls `observe` with each `decontaminate` stage call; counts key on the benchmark
a document's decision names (the first benchmark it matched), so that `dropped` summed over
benchmarks is the stage's dropped count in stats.json; `matched` counts a document under every
benchmark it matched. Item keys are kept as sets (at most the benchmark's size) so that shards
merge to the exact number of distinct items found.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pyarrow as pa

from textmill.pipeline import Decision, Stage

STAGE = "decontaminate"


def observe(state: dict[str, Any], stage: Stage, out: pa.Table, decision: Decision | None) -> None:
    """Add one stage call's matches to `state` (benchmark name -> counts and item keys)."""
    from textmill.stages.safety.decontaminate import DECON_BENCHMARKS, DECON_CUT, DECON_ITEMS

    for bench in stage.benchmark_table():  # type: ignore[attr-defined]
        entry = state.setdefault(bench["name"], _empty())
        entry.update({k: bench[k] for k in ("path", "items", "short_items", "sha256")})
    if DECON_BENCHMARKS not in out.column_names:
        return
    keep = decision.keep if decision is not None else np.ones(out.num_rows, dtype=bool)
    cuts = (
        out[DECON_CUT].to_numpy(zero_copy_only=False)
        if DECON_CUT in out.column_names
        else np.zeros(out.num_rows, dtype=np.int32)
    )
    benchmarks = out[DECON_BENCHMARKS].to_pylist()
    for row in np.flatnonzero([bool(b) for b in benchmarks]).tolist():
        names = benchmarks[row]
        for name in names:
            state[name]["matched"] += 1
        first = state[names[0]]
        if not keep[row]:
            first["dropped"] += 1
        elif cuts[row]:
            first["cut"] += 1
    new: dict[str, set[str]] = {}
    for items in out[DECON_ITEMS].to_pylist():
        for item in items or ():
            name, _, key = item.partition(":")
            new.setdefault(name, set()).add(key)
    for name, keys in new.items():
        state[name]["found"] = sorted(set(state[name]["found"]) | keys)


def _empty() -> dict[str, Any]:
    return {"matched": 0, "dropped": 0, "cut": 0, "found": []}


def merge(target: dict[str, Any], source: dict[str, Any]) -> None:
    for name, entry in source.items():
        into = target.setdefault(name, _empty())
        for key, value in entry.items():
            if key in ("matched", "dropped", "cut"):
                into[key] += value
            elif key == "found":
                into["found"] = sorted(set(into["found"]) | set(value))
            else:
                into[key] = value


def summary(state: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per benchmark checked: items, items found in the corpus, documents."""
    return [
        {
            "benchmark": name,
            "path": entry.get("path", ""),
            "items": entry.get("items", 0),
            "short_items": entry.get("short_items", 0),
            "items_found": len(entry["found"]),
            "docs_matched": entry["matched"],
            "docs_dropped": entry["dropped"],
            "docs_cut": entry["cut"],
        }
        for name, entry in state.items()
    ]


def card_section(
    state: dict[str, Any], options: dict[str, Any] | None, table: Callable, code: Callable
) -> str:
    """The dataset card's account: which benchmarks were checked, how, and what was found
    (`table` and `code` are the card's escaping Markdown helpers)."""
    if options is None:
        return (
            "## Benchmark decontamination\n\nNo benchmark decontamination ran: the corpus may "
            "contain evaluation items (run the `decontaminate` stage to check).\n"
        )
    rows = summary(state)
    mode = options.get("mode", "drop")
    rule = (
        f"{options.get('ngram', 13)}-gram overlap after normalisation (case, punctuation, "
        "whitespace, Unicode NFKC and accents); a document matches an item when it holds "
        + (
            f"at least {options['min_coverage']:.0%} of the item's n-grams"
            if options.get("min_coverage")
            else "any one of the item's n-grams"
        )
    )
    action = {
        "drop": "matching documents were dropped",
        "cut": f"matching spans were cut with {options.get('margin', 200)} characters on each "
        f"side; documents left in more than {options.get('max_pieces', 10)} pieces were dropped",
        "flag": "matching documents were kept and flagged (`decon_*` columns)",
    }[mode]
    lines = [
        "## Benchmark decontamination\n",
        f"Checked against {len(rows)} benchmark(s) by {rule}; {action}.\n",
        table(
            [
                "benchmark", "file", "items", "items found in the corpus", "documents matched",
                "dropped", "cut",
            ],
            [
                [
                    r["benchmark"], code(r["path"]), r["items"], r["items_found"],
                    r["docs_matched"], r["docs_dropped"], r["docs_cut"],
                ]
                for r in rows
            ],
        ),
    ]  # fmt: skip
    short = [f"{r['benchmark']} {r['short_items']}" for r in rows if r["short_items"]]
    if short:
        lines.append(
            "\nItems shorter than one n-gram cannot be checked: " + ", ".join(short) + ".\n"
        )
    return "\n".join(lines) + "\n"
