"""Calibration sanity: thresholds `textmill calibrate` derives from reference text vs the ones
FineWeb-2 published for the same language. A report, not a target: nothing here tunes calibrate.

Reference text (../shared/data), one source at a time, never mixed:

- leipzig   langid/langid_dev.jsonl.gz, granularity `sentence` (clean Leipzig-derived sentences,
            ~500 per language, 75 languages): consecutive sentences of one language grouped into
            pseudo-documents of 15 sentences, joined by a space. The sentences are unrelated and
            have no newlines, so the line thresholds (dup_line_frac, new_line_ratio,
            line_punct_thr) say nothing here and show as n/a.
- register  quality/register_labeled_web_docs.jsonl.gz (real web documents, ar ca fr hi id pt sv
            ur), the ones not flagged machine-translated or generated. Real web text, spam
            included; newlines were flattened in the source, so line thresholds are n/a too.
            (langid's `web_document` records are a subset of these and are not read again.)
- turku     quality/turku_line_quality.jsonl.gz (web documents in de en es fi fr sv with a label
            per line): only the lines labelled running text, joined by newlines. The one source
            with line structure.

"Enough" reference for a language and source: at least 30 documents (with fewer, the 5% tail
that sets a threshold is one document) and at least 5,000 words (textmill's word splitter for
the language). The FineWeb-2 config is `../shared/data/fineweb2/configs/{lang}_{script}.yml`,
the script being the dominant one of the reference; FineWeb-2 has no English config.

For each (language, source): `textmill.lang.calibrate.calibrate` with its defaults (at least 95%
of the reference passes each filter, gopher_repetition, fineweb_quality and gopher_quality, on
all its calibrated thresholds at once; 20 stop words by document frequency; lid.176 language
score), and each threshold printed as `textmill/FineWeb-2`. `*` marks a value calibrate kept at
FineWeb's default because the reference never shows the metric (left out of the summary). The
summary gives per threshold and source: languages compared, median signed and absolute
difference, how many lie within a tolerance, and the median share of the reference that
FineWeb-2's own value lets through (textmill's, each threshold alone, is at least 95% by
construction), and per row the share of the reference that passes all compared thresholds at
once with each set (language score and stop words left out, line thresholds only where the
source has lines). Stop words: Jaccard of
the two lists and the share of FineWeb-2's list found in textmill's. language_score compares
lid.176 (textmill's default) with GlotLID (FineWeb-2's): different models, shown for completeness.

usage: .venv/bin/python benchmarks/calibration_sanity.py [--sentences-per-doc 15]
       [--pass-share 0.95] [--markdown PATH]
"""

from __future__ import annotations

import os

for _name in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")

import argparse  # noqa: E402
import gzip  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections import Counter, defaultdict  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pyarrow as pa  # noqa: E402

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
LEIPZIG = SHARED / "langid" / "langid_dev.jsonl.gz"
REGISTER = SHARED / "quality" / "register_labeled_web_docs.jsonl.gz"
TURKU = SHARED / "quality" / "turku_line_quality.jsonl.gz"
CONFIGS = SHARED / "fineweb2" / "configs"
MIN_DOCS = 30
MIN_WORDS = 5_000
LINE_THRESHOLDS = ("dup_line_frac", "new_line_ratio", "line_punct_thr")


@dataclass(frozen=True)
class Threshold:
    """One compared threshold: where it sits in the options, the metric column it bounds."""

    name: str
    stage: str
    option: str
    metric: str
    upper: bool  # True: a document fails above it; False: below it
    tolerance: float
    n: int | None = None  # the n of an n-gram threshold


THRESHOLDS = [
    Threshold("language_score", "langid", "min_score", "lang_score", False, 0.1),
    Threshold("dup_line_frac", "gopher_repetition", "dup_line_frac", "dup_line_frac", True, 0.05),
    *[
        Threshold(f"top_{n}_gram", "gopher_repetition", "top_n_grams", f"top_{n}_gram_char_frac",
                  True, 0.05, n)
        for n in (2, 3, 4)
    ],
    *[
        Threshold(f"dup_{n}_gram", "gopher_repetition", "dup_n_grams", f"dup_{n}_gram_char_frac",
                  True, 0.05, n)
        for n in (5, 6, 7, 8, 9, 10)
    ],
    Threshold("new_line_ratio", "fineweb_quality", "new_line_ratio", "new_line_ratio", True, 0.05),
    Threshold("line_punct_thr", "fineweb_quality", "line_punct_thr", "line_punct_ratio", False,
              0.05),
    Threshold("min_alpha_words", "gopher_quality", "min_alpha_words_ratio", "alpha_words_ratio",
              False, 0.05),
    Threshold("min_word_len", "gopher_quality", "min_mean_word_length", "mean_word_length", False,
              1.0),
    Threshold("max_word_len", "gopher_quality", "max_mean_word_length", "mean_word_length", True,
              1.0),
]  # fmt: skip
SHOWN = (
    "language_score",
    "dup_line_frac",
    "top_2_gram",
    "top_4_gram",
    "dup_5_gram",
    "dup_10_gram",
    "new_line_ratio",
    "line_punct_thr",
    "min_alpha_words",
    "min_word_len",
    "max_word_len",
)


@dataclass
class Row:
    lang: str
    source: str
    config: str
    documents: int
    words: int
    ours: dict[str, float | None] = field(default_factory=dict)
    theirs: dict[str, float] = field(default_factory=dict)
    defaulted: set[str] = field(default_factory=set)
    fw2_pass: dict[str, float] = field(default_factory=dict)
    stop_jaccard: float = 0.0
    stop_recall: float = 0.0
    has_lines: bool = False
    all_pass: tuple[float, float] = (0.0, 0.0)  # (ours, FineWeb-2's) on every compared metric


def read_records(path: Path) -> list[dict]:
    with gzip.open(path, "rb") as handle:
        text = handle.read().decode("utf-8")
    # split on \n only: texts may hold U+2028/U+2029, which str.splitlines() would cut at
    return [json.loads(line) for line in text.split("\n") if line.strip()]


def leipzig_documents(per_doc: int) -> dict[str, list[str]]:
    """Pseudo-documents of `per_doc` consecutive sentences of one language, joined by spaces."""
    sentences: dict[str, list[str]] = defaultdict(list)
    for record in read_records(LEIPZIG):
        if record["granularity"] == "sentence" and record["text"].strip():
            sentences[record["lang"]].append(record["text"].strip())
    return {
        lang: [" ".join(items[i : i + per_doc]) for i in range(0, len(items), per_doc)]
        for lang, items in sentences.items()
    }


def register_documents() -> dict[str, list[str]]:
    docs: dict[str, list[str]] = defaultdict(list)
    for record in read_records(REGISTER):
        flagged = str(record.get("is_machine_translated_or_generated")).lower() == "true"
        if not flagged and record["text"].strip():
            docs[record["lang"]].append(record["text"])
    return docs


def turku_documents() -> dict[str, list[str]]:
    """The running-text lines (label 1) of each document, one line each."""
    docs: dict[str, list[str]] = defaultdict(list)
    for record in read_records(TURKU):
        pairs = zip(record["lines"], record["labels"], strict=True)
        kept = [line.strip() for line, label in pairs if label == 1 and line.strip()]
        if kept:
            docs[record["lang"]].append("\n".join(kept))
    return docs


def words_and_script(table: pa.Table, lang: str) -> tuple[int, str | None]:
    from textmill.text import decode, split_words
    from textmill.text.segmenters import dominant_scripts

    chars = decode(table["text"])
    words = len(split_words(chars, lang).starts)
    scripts = Counter(s for s in dominant_scripts(chars) if s)
    return words, scripts.most_common(1)[0][0] if scripts else None


def option(options: dict, threshold: Threshold) -> float | None:
    value = options.get(threshold.stage, {}).get(threshold.option)
    if threshold.n is not None and value is not None:
        value = value.get(threshold.n)
    return None if value is None else float(value)


def measure(table: pa.Table, lang: str) -> dict[str, np.ndarray]:
    """Every compared metric of every reference document (to see where FineWeb-2's values cut)."""
    from textmill.pipeline import build_stage
    from textmill.stages.langid import same_language

    top = {n: 1.0 for n in (2, 3, 4)}
    dup = {n: 1.0 for n in (5, 6, 7, 8, 9, 10)}
    specs = [
        ("gopher_repetition", {"top_n_grams": top, "dup_n_grams": dup}),
        ("fineweb_quality", {}),
        ("gopher_quality", {}),
        ("langid", {}),
    ]
    metrics: dict[str, np.ndarray] = {}
    for name, extra in specs:
        stage = build_stage(name, {"lang": lang, **extra} if name != "langid" else {})
        out = stage.measure(table)
        for column in out.column_names:
            if column == "lang_score":
                mine = [same_language(label, lang) for label in out["lang"].to_pylist()]
                scores = out[column].to_numpy().astype(np.float64)
                metrics[column] = np.where(mine, scores, np.nan)  # others fail, as in calibrate
            elif pa.types.is_floating(out[column].type) or pa.types.is_integer(out[column].type):
                metrics[column] = out[column].to_numpy(zero_copy_only=False).astype(np.float64)
    return metrics


def passing(values: np.ndarray, threshold: float, upper: bool) -> np.ndarray:
    """Reference documents that pass `threshold` alone (a NaN language score fails)."""
    if upper:
        return ~(values > threshold)
    return np.nan_to_num(values, nan=-1.0) >= threshold


def pass_share(values: np.ndarray, threshold: float, upper: bool) -> float:
    return float(np.mean(passing(values, threshold, upper)))


def compare(lang: str, source: str, texts: list[str], share: float) -> Row | str:
    """One (language, source) row, or why it is skipped."""
    from textmill.lang.calibrate import calibrate
    from textmill.lang.fineweb2 import (
        FineWeb2ConfigError,
        find_fineweb2_config,
        read_fineweb2_config,
    )
    from textmill.pipeline import stage_class

    table = pa.table({"text": pa.array(texts, pa.string())})
    words, script = words_and_script(table, lang)
    if len(texts) < MIN_DOCS or words < MIN_WORDS:
        return f"{len(texts)} documents, {words:,} words: not enough"
    try:
        path = find_fineweb2_config(CONFIGS, f"{lang}_{script}" if script else lang)
    except FineWeb2ConfigError as exc:
        return f"no FineWeb-2 config ({exc})"
    theirs = read_fineweb2_config(path)
    result = calibrate(table, lang, pass_share=share)
    metrics = measure(table, lang)
    row = Row(lang, source, path.stem, len(texts), words, has_lines=source == "turku")
    passes = {"ours": np.ones(len(texts), bool), "fw2": np.ones(len(texts), bool)}
    for threshold in THRESHOLDS:
        ours = option(result.options, threshold)
        fw2 = option(theirs, threshold)
        row.ours[threshold.name] = ours
        if fw2 is not None:
            row.theirs[threshold.name] = fw2
            row.fw2_pass[threshold.name] = pass_share(
                metrics[threshold.metric], fw2, threshold.upper
            )
        combined = threshold.name != "language_score" and (
            row.has_lines or threshold.name not in LINE_THRESHOLDS
        )
        for key, value in (("ours", ours), ("fw2", fw2)):
            if combined and value is not None:
                passes[key] &= passing(metrics[threshold.metric], value, threshold.upper)
        if threshold.stage in ("gopher_repetition", "fineweb_quality") and ours is not None:
            default = stage_class(threshold.stage).Options.model_fields[threshold.option].default
            if threshold.n is not None:
                default = default.get(threshold.n)
            if default is not None and ours == float(default):
                row.defaulted.add(threshold.name)
    mine = {w.lower() for w in result.options["gopher_quality"]["stop_words"]}
    fw2_words = {w.lower() for w in theirs["gopher_quality"]["stop_words"]}
    row.stop_jaccard = len(mine & fw2_words) / len(mine | fw2_words) if mine | fw2_words else 0.0
    row.stop_recall = len(mine & fw2_words) / len(fw2_words) if fw2_words else 0.0
    row.all_pass = (float(passes["ours"].mean()), float(passes["fw2"].mean()))
    return row


def applies(row: Row, name: str) -> bool:
    """Whether the reference says anything about threshold `name`."""
    return (row.has_lines or name not in LINE_THRESHOLDS) and name not in row.defaulted


def cell(row: Row, name: str) -> str:
    if not row.has_lines and name in LINE_THRESHOLDS:
        return "n/a"
    ours, fw2 = row.ours.get(name), row.theirs.get(name)
    if ours is None or fw2 is None:
        return "–"
    mark = "*" if name in row.defaulted else ""
    return f"{ours:g}{mark}/{fw2:g}"


def tables(rows: list[Row], skipped: list[str], share: float) -> str:
    lines = [
        f"### Thresholds per language: textmill calibrate ({share:.0%} pass each filter) / "
        "FineWeb-2",
        "",
        "| lang | source | FW2 config | docs | words | "
        + " | ".join(SHOWN)
        + " | stop Jaccard | FW2 stop in ours | pass all, ours/FW2 |",
        "|---" * (len(SHOWN) + 8) + "|",
    ]
    for row in rows:
        cells = " | ".join(cell(row, name) for name in SHOWN)
        lines.append(
            f"| {row.lang} | {row.source} | {row.config} | {row.documents} | {row.words:,} | "
            f"{cells} | {row.stop_jaccard:.2f} | {row.stop_recall:.0%} | "
            f"{row.all_pass[0]:.0%}/{row.all_pass[1]:.0%} |"
        )
    lines += [
        "",
        "n/a: the source has no line structure; *: calibrate kept FineWeb's default because the "
        "reference never shows the metric; top_3 and dup_6..9 are in the summary only. "
        "pass all: share of the reference passing every compared threshold at once (language "
        "score and stop words left out, line thresholds only where the source has lines).",
        "",
        "### Summary per threshold (differences are textmill − FineWeb-2)",
        "",
        "| threshold | source | langs | median diff | median abs diff | within tol | "
        f"reference passing FW2's value (median; ours ≥ {share:.0%}) | default kept |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for source in sorted({r.source for r in rows}):
        group = [r for r in rows if r.source == source]
        for threshold in THRESHOLDS:
            name = threshold.name
            if not group[0].has_lines and name in LINE_THRESHOLDS:
                lines.append(f"| {name} | {source} | n/a (no lines) | | | | | |")
                continue
            used = [
                r
                for r in group
                if applies(r, name) and name in r.theirs and r.ours[name] is not None
            ]
            defaulted = sum(name in r.defaulted for r in group)
            if not used:
                lines.append(f"| {name} | {source} | 0 | | | | | {defaulted} |")
                continue
            diffs = [r.ours[name] - r.theirs[name] for r in used]
            within = sum(abs(d) <= threshold.tolerance + 1e-9 for d in diffs)
            passing = statistics.median(r.fw2_pass[name] for r in used)
            lines.append(
                f"| {name} | {source} | {len(used)} | {statistics.median(diffs):+.3f} | "
                f"{statistics.median(abs(d) for d in diffs):.3f} | {within}/{len(used)} "
                f"(±{threshold.tolerance:g}) | {passing:.0%} | {defaulted} |"
            )
        jaccard = statistics.median(r.stop_jaccard for r in group)
        recall = statistics.median(r.stop_recall for r in group)
        lines.append(
            f"| stop words | {source} | {len(group)} | Jaccard median {jaccard:.2f} | "
            f"FW2's list found in ours, median {recall:.0%} | | | |"
        )
        ours = statistics.median(r.all_pass[0] for r in group)
        fw2 = statistics.median(r.all_pass[1] for r in group)
        lines.append(
            f"| pass all at once | {source} | {len(group)} | ours median {ours:.0%} | "
            f"FW2 median {fw2:.0%} | | | |"
        )
    if skipped:
        lines += ["", "Skipped: " + "; ".join(skipped)]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sentences-per-doc", type=int, default=15)
    parser.add_argument("--pass-share", type=float, default=0.95)
    parser.add_argument("--markdown", type=Path, default=None, help="also write the tables here")
    args = parser.parse_args()
    missing = [p for p in (LEIPZIG, REGISTER, TURKU, CONFIGS) if not p.exists()]
    if missing:
        print(
            f"{', '.join(map(str, missing))} not found: the shared evaluation data is absent, "
            "nothing to compare"
        )
        return 0
    started = time.perf_counter()
    sources = {
        "leipzig": leipzig_documents(args.sentences_per_doc),
        "register": register_documents(),
        "turku": turku_documents(),
    }
    rows: list[Row] = []
    skipped: list[str] = []
    for source, by_lang in sources.items():
        for lang in sorted(by_lang):
            outcome = compare(lang, source, by_lang[lang], args.pass_share)
            if isinstance(outcome, Row):
                rows.append(outcome)
            else:
                skipped.append(f"{lang}/{source}: {outcome}")
    text = tables(rows, skipped, args.pass_share)
    print(text)
    print(f"\n{len(rows)} (language, source) pairs in {time.perf_counter() - started:.0f} s")
    if args.markdown:
        args.markdown.write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
