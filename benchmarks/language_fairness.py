"""Fairness across languages on parallel content: keep rates per language, English thresholds vs
textmill's per-language adaptation.

Data: ../shared/data/web/web_docs.jsonl.gz, the records whose `source.component` is
`debian_doc_html`: LibreOffice help (`debian_package` libreoffice-help-xx: the same 40 pages in
18 languages) and Debian Reference (debian-reference-xx: the same 15 chapters in 11 language
variants). The same content in every language, so a fair pipeline keeps about the same share
of each language. Every page goes through `extract` once; then, on the same texts:

- english      FineWeb's English chain with its defaults: gopher_repetition → gopher_quality →
               c4_quality → fineweb_quality (lang en), no language id
- fallback     the previous `multilingual` preset: langid, then the three filters with
               `lang: auto` (each document's detected language picks its word splitter and
               thresholds; English keeps FineWeb's, every other language gets the lenient
               generic fallback). The filter options are the current preset's
               corpus_thresholds `filters`, run as plain filters; url_filter, dedup and pii are
               left out (no URLs here, and dedup is not a per-language quality decision)
- fineweb2     the same, with FineWeb-2's published thresholds for every language that has a
               config in ../shared/data/fineweb2/configs
- corpus       the `multilingual` preset now: langid (the fastText → CLD2 cascade), then
               corpus_thresholds, which derives every language's thresholds from this run's own
               documents (textmill/stages/corpus_thresholds.py: quantile transfer of English's
               pass shares; languages under `min_documents` pooled by script and held to the
               same shares), run as signatures → reduce → apply, one run per collection (the
               collection is the corpus whose distributions set the thresholds)
- corpus_pooled the same, one run over the pages of both collections together: languages
               present in both (de es fr it ja pt zh) then pool Debian Reference's code-heavy
               pages with LibreOffice help, while English's pass shares come from its own pool
- corpus_tau   `corpus` with FineWeb-2's per-language language-score threshold from the run
               (langid_thresholds: τ = max(0.3, min(0.9, median − σ)), English fixed at 0.65)
               between langid and corpus_thresholds, one run per collection

It prints the keep rate per language and the spread (max − min over languages) of each variant,
per collection, with the reasons of the drops, and the spread over every (collection, language)
group of both collections together (the figure a user running one corpus of both would see).
Target (issue 4): spread with adaptation ≤ 1/3 of the spread with English thresholds, without
lowering the English keep rate; issue 18: a small language no more leniently judged than English.

usage: .venv/bin/python benchmarks/language_fairness.py [--markdown PATH]
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
DATA = SHARED / "web" / "web_docs.jsonl.gz"
FINEWEB2_CONFIGS = SHARED / "fineweb2" / "configs"
COLLECTIONS = {"libreoffice-help-": "LibreOffice help", "debian-reference-": "Debian Reference"}
ENGLISH_CHAIN = ("gopher_repetition", "gopher_quality", "c4_quality", "fineweb_quality")
ADAPTED = ("fallback", "fineweb2", "corpus", "corpus_pooled", "corpus_tau")
TAU = ("langid_thresholds", {"fixed": {"en": 0.65}})


def read_records(path: Path) -> list[dict]:
    with gzip.open(path, "rb") as handle:
        text = handle.read().decode("utf-8")
    # split on \n only: texts may hold U+2028/U+2029, which str.splitlines() would cut at
    return [json.loads(line) for line in text.split("\n") if line.strip()]


def parallel_pages(records: list[dict]) -> list[tuple[str, str, dict]]:
    """(collection, language, record) of every LibreOffice help and Debian Reference page."""
    pages = []
    for record in records:
        package = (record.get("source") or {}).get("debian_package") or ""
        for prefix, collection in COLLECTIONS.items():
            if package.startswith(prefix) and record.get("html"):
                lang = package.removeprefix(prefix)
                pages.append((collection, "en" if lang == "en-us" else lang, record))
    return pages


def extracted_batch(pages: list[tuple[str, str, dict]]):
    from textmill.document import make_batch
    from textmill.pipeline import build_stage

    batch = make_batch(
        [record["id"] for _, _, record in pages],
        [None] * len(pages),
        html=[record["html"] for _, _, record in pages],
    )
    out, decision = build_stage("extract").process(batch)
    return out if decision is None else out.filter(decision.keep)


def run_chain(specs: list[tuple[str, dict]], batch) -> tuple[dict[str, str | None], float]:
    """First drop reason per document id (None: kept) and the seconds the chain took. A global
    stage runs as the executors run it: signatures of the whole batch, reduce, apply."""
    import tempfile

    import pyarrow.parquet as pq

    from textmill.document import assign_keys
    from textmill.pipeline import GlobalStage, build_stage

    batch = assign_keys(batch, 0, 0)  # the executor's doc_key, which global stages join on
    stages = [build_stage(name, options) for name, options in specs]
    verdicts: dict[str, str | None] = dict.fromkeys(batch["id"].to_pylist())
    started = time.perf_counter()
    for stage in stages:
        if batch.num_rows == 0:
            break
        stage.setup()
        if isinstance(stage, GlobalStage):
            with tempfile.TemporaryDirectory() as workdir:
                signatures = Path(workdir) / "signatures.parquet"
                pq.write_table(stage.signatures(batch), signatures)
                decisions = stage.reduce([signatures], Path(workdir))
            batch, decision = stage.apply(batch, decisions)
        else:
            batch, decision = stage.process(batch)
        if decision is None:
            continue
        dropped_ids = batch["id"].filter(~decision.keep).to_pylist()
        reasons = decision.reasons.filter(~decision.keep).to_pylist()
        for doc_id, reason in zip(dropped_ids, reasons, strict=True):
            verdicts[doc_id] = f"{stage.name}:{reason.split('=')[0]}"
        batch = batch.filter(decision.keep)
    return verdicts, time.perf_counter() - started


def preset_specs() -> list[tuple[str, dict]]:
    """The `multilingual` preset's language stages: langid, langid_thresholds, corpus_thresholds."""
    import yaml

    from textmill.config import preset_text

    stages = yaml.safe_load(preset_text("multilingual"))["stages"]
    specs = [next(iter(item.items())) for item in stages]
    wanted = ("langid", "langid_thresholds", "corpus_thresholds")
    return [(name, options) for name, options in specs if name in wanted]


def fallback_specs(tables: dict[str, dict] | None = None) -> list[tuple[str, dict]]:
    """langid and the preset's three filters as plain `lang: auto` filters (English fixed, the
    generic fallback elsewhere), with `tables` ({lang: {filter: options}}) added to by_language."""
    preset = dict(preset_specs())
    langid, options, corpus = "langid", preset["langid"], preset["corpus_thresholds"]
    langid_options = json.loads(json.dumps(options))
    for lang, table in (tables or {}).items():
        if "min_score" in table.get("langid", {}):
            scores = langid_options.setdefault("min_score_by_language", {})
            scores[lang] = table["langid"]["min_score"]
    specs = [(langid, langid_options)]
    for name, filter_options in corpus["filters"].items():
        filter_options = {"lang": "auto", **json.loads(json.dumps(filter_options))}
        for lang, table in (tables or {}).items():
            if name in table:
                filter_options.setdefault("by_language", {})[lang] = table[name]
        specs.append((name, filter_options))
    return specs


def fineweb2_specs(languages: list[str]) -> tuple[list[tuple[str, dict]], list[str]]:
    """The fallback variant with FineWeb-2's thresholds for every language that has a config."""
    from textmill.lang.fineweb2 import (
        FineWeb2ConfigError,
        find_fineweb2_config,
        read_fineweb2_config,
    )

    tables, found = {}, []
    for lang in languages:
        if lang == "en":  # FineWeb-2 has no English config: English keeps FineWeb's
            continue
        try:
            path = find_fineweb2_config(FINEWEB2_CONFIGS, lang.split("-")[0])
        except FineWeb2ConfigError:
            continue
        tables[lang.split("-")[0]] = read_fineweb2_config(path)
        found.append(f"{lang}:{path.stem}")
    return fallback_specs(tables), found


def keep_rates(pages, verdicts) -> dict[str, dict[str, tuple[int, int]]]:
    """collection -> language -> (kept, total); pages extract dropped count as dropped."""
    counts: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(lambda: [0, 0]))
    for collection, lang, record in pages:
        cell = counts[collection][lang]
        cell[1] += 1
        cell[0] += record["id"] in verdicts and verdicts[record["id"]] is None
    return {c: {lang: tuple(v) for lang, v in by.items()} for c, by in counts.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--input", type=Path, default=DATA)
    parser.add_argument("--markdown", type=Path, default=None, help="also write the tables here")
    args = parser.parse_args()
    import pyarrow as pa
    import pyarrow.compute as pc

    if not args.input.is_file():
        print(f"{args.input} not found: the shared evaluation data is absent, nothing to measure")
        return 0
    pages = parallel_pages(read_records(args.input))
    started = time.perf_counter()
    batch = extracted_batch(pages)
    print(
        f"{len(pages)} pages, {batch.num_rows} with text after extract "
        f"({time.perf_counter() - started:.1f} s)"
    )
    languages = sorted({lang for _, lang, _ in pages})
    fw2, found = fineweb2_specs(languages)
    variants = {
        "english": [(name, {}) for name in ENGLISH_CHAIN],
        "fallback": fallback_specs(),
        "fineweb2": fw2,
        "corpus": preset_specs(),
        "corpus_pooled": preset_specs(),
        "corpus_tau": [preset_specs()[0], TAU, *preset_specs()[1:]],
    }
    print("FineWeb-2 configs:", ", ".join(found))
    rates, reasons = {}, {}
    for name, specs in variants.items():
        if name in (
            "corpus",
            "corpus_tau",
        ):  # one run per collection: each collection is the corpus
            verdicts, seconds = {}, 0.0
            for collection in COLLECTIONS.values():
                ids = pa.array([record["id"] for c, _, record in pages if c == collection])
                part = batch.filter(pc.is_in(batch["id"], value_set=ids))
                part_verdicts, part_seconds = run_chain(specs, part)
                verdicts.update(part_verdicts)
                seconds += part_seconds
        else:
            verdicts, seconds = run_chain(specs, batch)
        rates[name] = keep_rates(pages, verdicts)
        reasons[name] = verdicts
        print(f"{name}: {seconds:.1f} s")
    lines = []
    for collection in COLLECTIONS.values():
        langs = sorted(rates["english"][collection])
        lines += ["", f"### {collection}: keep rate per language (%)", ""]
        lines.append("| variant | " + " | ".join(langs) + " | spread (max − min) |")
        lines.append("|---" * (len(langs) + 2) + "|")
        spreads = {}
        for name in variants:
            by_lang = rates[name][collection]
            values = [100 * by_lang[lang][0] / by_lang[lang][1] for lang in langs]
            spreads[name] = max(values) - min(values)
            cells = " | ".join(f"{v:.0f}" for v in values)
            lines.append(f"| {name} | {cells} | {spreads[name]:.0f} |")
        english_rates = {n: rates[n][collection]["en"] for n in variants}
        for name in ADAPTED:
            met = spreads[name] <= spreads["english"] / 3
            en_ok = english_rates[name][0] >= english_rates["english"][0]
            lines.append(
                f"\n{name}: spread {spreads[name]:.0f} vs English-threshold spread "
                f"{spreads['english']:.0f} → target ≤ {spreads['english'] / 3:.1f} "
                f"{'met' if met else 'NOT met'}; English kept {english_rates[name][0]}/"
                f"{english_rates[name][1]} vs {english_rates['english'][0]}/"
                f"{english_rates['english'][1]} ({'not lowered' if en_ok else 'LOWERED'})"
            )
        lines += ["", f"Drop reasons, {collection} (variant: reason × documents):", ""]
        ids = {record["id"] for c, _, record in pages if c == collection}
        for name in variants:
            counter = Counter(r for i, r in reasons[name].items() if i in ids and r is not None)
            top = ", ".join(f"{reason} × {n}" for reason, n in counter.most_common(8))
            lines.append(f"- {name}: {top or 'none'}")
    lines += ["", "### Both collections together", ""]
    lines.append(
        "spread: max − min keep rate over every (collection, language) group; gap to English: "
        "the largest |keep rate − English's keep rate on the same collection| (the two "
        "collections' content differs, English keeps 50% of one and 0% of the other, so the "
        "spread over both cannot fall under 0.50 without changing English)"
    )
    lines += ["", "| variant | spread | gap to English | English LibreOffice / Debian |"]
    lines.append("|---|---|---|---|")
    for name in variants:
        by_collection = rates[name]
        groups = [kept / total for by in by_collection.values() for kept, total in by.values()]
        gap = max(
            abs(kept / total - by["en"][0] / by["en"][1])
            for by in by_collection.values()
            for kept, total in by.values()
        )
        english = " / ".join(
            f"{rates[name][c]['en'][0]}/{rates[name][c]['en'][1]}" for c in COLLECTIONS.values()
        )
        lines.append(f"| {name} | {max(groups) - min(groups):.2f} | {gap:.2f} | {english} |")
    text = "\n".join(lines)
    print(text)
    if args.markdown:
        args.markdown.write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
