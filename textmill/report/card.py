"""OUT/README.md: a Hugging Face dataset card written from the run itself.

The YAML front matter is what the Hub reads (licence, languages, size, task, the Parquet files
as the default config); the sections document provenance, every processing step with all its
parameters, the statistics (quoted from stats.json, never recomputed) and known limitations."""

from __future__ import annotations

import html
import json
import re
from typing import Any

import yaml

from textmill import __version__
from textmill.report.build import RunReport
from textmill.report.ids import repeated_ids_note

SIZE_CATEGORIES = (
    (1_000, "n<1K"),
    (10_000, "1K<n<10K"),
    (100_000, "10K<n<100K"),
    (1_000_000, "100K<n<1M"),
    (10_000_000, "1M<n<10M"),
    (100_000_000, "10M<n<100M"),
    (1_000_000_000, "100M<n<1B"),
    (10_000_000_000, "1B<n<10B"),
)
NO_LICENSE = "none"
COLUMN_NOTES = {
    "id": "document id (the WARC-Record-ID for WARC input)",
    "text": "the document text",
    "source": "input file the document was read from",
    "url": "URL of the page",
    "metadata": "JSON object: reader metadata (for WARC: warc_record_id, warc_date, "
    "content_type, charset, http_status, ...)",
    "lang": "language (ISO 639 code) from language identification",
    "lang_score": "language identifier's confidence",
    "lang_script": "script of the text",
    "dup_cluster_id": "id of the kept document of its near-duplicate cluster",
    "dup_cluster_size": "documents in its near-duplicate cluster (1 = unique)",
    "pii_email": "email addresses replaced in this document",
    "pii_ip": "IP addresses replaced in this document",
    "pii_phone": "phone numbers replaced in this document",
    "pii_credit_card": "payment card numbers (Luhn-valid) replaced in this document",
    "pii_iban": "IBANs (mod-97-valid) replaced in this document",
    "pii_national_id": "national id numbers (check rule valid) replaced in this document",
    "pii_secret": "API keys, private keys and passwords replaced in this document",
    "pii_url_credentials": "user:password parts of URLs replaced in this document",
    "pii_person": "person names (NER model) replaced in this document",
    "quality_score": "quality classifier score",
    "warc_record_id": "WARC-Record-ID of the record the document came from",
    "crawl_date": "WARC-Date: when the page was crawled",
    "license": "licence the page declares (Creative Commons link or meta tag), if any",
    "date": "publication date (ISO: YYYY-MM-DD, YYYY-MM or YYYY) from the date stage",
    "date_source": "where the date came from: html, url, text, text_year or crawl",
    "date_confidence": "the date stage's confidence in the date (0-1)",
    "no_date_reason": "why the document has no date (null where it has one)",
    "decon_benchmarks": "benchmarks with an item whose n-grams the document holds",
    "decon_items": "matched benchmark items (benchmark:item id)",
    "decon_ngrams": "n-grams of the document shared with a matched item",
    "decon_coverage": "largest share of a matched item's n-grams found in the document",
    "decon_cut": "benchmark spans cut from the document (decontaminate mode cut)",
    "flagged_words": "listed toxic words or phrases in the document",
    "flagged_ratio": "share of the document's words covered by a listed toxic entry",
    "profanity_score": "alt-profanity-check's probability of profanity",
    "toxicity_score": "a fastText toxicity classifier's probability of the positive label",
    "title": "title of the volume (reader metadata)",
    "author": "author of the volume (reader metadata)",
    "year": "year of the volume (metadata `year`, else the year of its creation date)",
    "identifier": "catalogue identifier of the volume (metadata identifier, barcode, ISBN, ...)",
    "ocr_quality": "OCR quality of the volume: word-shaped token share x (1 - garbage share) x "
    "OCR confidence",
    "page_ocr_quality": "the same OCR quality per page",
    "page_langs": "language of each page (null where too short or unsure)",
    "page_matter": "per page: toc, index, stamp (front/back matter) or null (body)",
    "removed_lines": "running header, footer and page-number lines removed from the volume",
    "topic_id": "k-means topic of the document (textmill topic fit, the topic stage)",
    "topic_keywords": "the topic's c-TF-IDF keywords",
}


# Characters that open inline Markdown (emphasis, code, links, images, table cells,
# strikethrough); `<`, `>` and `&` become HTML entities instead, so no tag or entity opens. An
# `_` inside a word opens nothing (CommonMark), so `url_filter` stays as it reads.
_MARKDOWN_SPECIAL = re.compile(r"([\\`*\[\]()!|~]|(?<![^\W_])_|_(?![^\W_]))")
# What the Hub accepts as a language code (ISO 639-1/2/3) or a licence id; anything else that
# data carries never reaches the YAML front matter.
_LANGUAGE_CODE = re.compile(r"[a-z]{2,3}")
_LICENSE_ID = re.compile(r"[a-z0-9][a-z0-9.+-]*")


class _Markdown(str):
    """A value already made safe Markdown (e.g. a code span): `_cell` leaves it as it is."""


def text(value: Any) -> str:
    """A data-derived value (domain, file name, language, reason) as inert Markdown text: the
    Hub renders a card's Markdown and inline HTML, so data must not open either."""
    one_line = " ".join(str(value).split())
    return _MARKDOWN_SPECIAL.sub(r"\\\1", html.escape(one_line, quote=False))


def code(value: Any) -> _Markdown:
    """A value as a Markdown code span (never rendered as HTML or Markdown): its fence is one
    backtick longer than the longest run of backticks inside it. A value with `<`, `>` or `&`
    is escaped text instead, so that no reader of the raw file meets live markup either."""
    one_line = " ".join(str(value).split())
    if any(c in one_line for c in "<>&"):
        return _Markdown(text(one_line))
    runs = [len(run) for run in re.findall(r"`+", one_line)]
    fence = "`" * (max(runs, default=0) + 1)
    pad = " " if one_line.startswith("`") or one_line.endswith("`") else ""
    return _Markdown(f"{fence}{pad}{one_line}{pad}{fence}")


def size_category(n: int) -> str:
    for limit, name in SIZE_CATEGORIES:
        if n < limit:
            return name
    return "n>10B"


def licenses(report: RunReport) -> tuple[list[str], str]:
    """The YAML licence list and a sentence explaining it."""
    found = {
        k: v
        for k, v in report.state["licenses"].items()
        if k != NO_LICENSE and _LICENSE_ID.fullmatch(k)
    }
    missing = report.state["licenses"].get(NO_LICENSE, 0)
    if "license" not in report.columns:
        return ["other"], (
            "Licences were not detected in this run (the pipeline had no `provenance` stage, "
            "which looks for Creative Commons links and licence meta tags in the HTML). Web "
            "pages remain under their authors' copyright unless they state otherwise; check the "
            "terms of each source before use."
        )
    if found and not missing:
        listed = ", ".join(f"{code(k)} ({v:,} documents)" for k, v in sorted(found.items()))
        return sorted(found), f"Every kept document declares a licence: {listed}."
    listed = ", ".join(f"{code(k)} {v:,}" for k, v in sorted(found.items())) or "none"
    return ["other"], (
        f"Licences declared by pages (Creative Commons links or licence meta tags): {listed}; "
        f"{missing:,} kept documents declare none and remain under their authors' copyright. "
        "Per-document licences are in the `license` column."
    )


def front_matter(report: RunReport) -> dict[str, Any]:
    stats = report.stats
    languages = sorted(
        {
            base
            for lang in stats.get("languages", {})
            if _LANGUAGE_CODE.fullmatch(base := str(lang).split("_", 1)[0]) and base != "und"
        }
    )
    license_ids, _ = licenses(report)
    meta: dict[str, Any] = {
        "license": license_ids if len(license_ids) > 1 else license_ids[0],
    }
    if license_ids == ["other"]:
        meta["license_name"] = "mixed-web-content"
    if languages:
        meta["language"] = languages
    meta.update(
        {
            "size_categories": [size_category(stats["kept"])],
            "task_categories": ["text-generation"],
            "pretty_name": report.out.name,
            "tags": ["textmill", "pretraining", "web"],
            "configs": [
                {
                    "config_name": "default",
                    "data_files": [{"split": "train", "path": "data/*.parquet"}],
                }
            ],
        }
    )
    return meta


def render_card(report: RunReport) -> str:
    stats = report.stats
    meta = yaml.safe_dump(front_matter(report), sort_keys=False, allow_unicode=True)
    parts = [
        f"---\n{meta}---\n",
        f"# {text(report.out.name)}\n",
        f"A pre-training text corpus built with textmill {__version__}: "
        f"{stats['kept']:,} documents kept of {stats['read']:,} read from "
        f"{len(stats.get('sources', {})):,} input files, through {len(stats['stages'])} "
        "processing stages. Plots, per-filter audit samples, demographic-term frequencies and "
        "diversity metrics are in `report.html` next to this card.\n",
        *([_slice(report)] if report.stats.get("slice") else []),
        _structure(report),
        _provenance(report),
        _processing(report),
        _statistics(report),
        _topics(report),
        _pii(report),
        _decontamination(report),
        _limitations(report),
    ]
    return "\n".join(parts)


def _slice(report: RunReport) -> str:
    """What a `textmill slice` folder is a slice of (textmill/slices.py)."""
    info = report.stats["slice"]
    what = (
        f"{text(info['by'])} (of {code(info['column'])})"
        if info["by"] != info["column"]
        else code(info["column"])
    )
    value = info.get("value")
    which = f"whose {what} is {code(value)}" if value is not None else f"without a {what}"
    return (
        "## Slice\n\n"
        f"The documents {which}: {info['docs']:,} of the "
        f"{info['run_kept']:,} documents kept by the run in {code(info['of'])} (`textmill "
        "slice`). The processing steps and per-stage counts below are that whole run's.\n"
    )


def _table(headers: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def _cell(value: Any) -> str:
    """A table cell: numbers as they are, Markdown made here kept, everything else inert text."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, _Markdown):
        return value.replace("|", "\\|")  # GFM splits cells on `|` even inside code spans
    return text(value)


def _structure(report: RunReport) -> str:
    rows = [[code(c), COLUMN_NOTES.get(c, "")] for c in report.columns]
    return (
        "## Dataset structure\n\n"
        f"{len(report.data_files)} Parquet files under `data/` (one split, `train`). Columns:\n\n"
        + _table(["column", "meaning"], rows)
    )


def _provenance(report: RunReport) -> str:
    stats, state = report.stats, report.state
    sources = _table(
        ["input", "documents read", "documents kept"],
        [[code(k), v["read"], v["kept"]] for k, v in stats.get("sources", {}).items()],
    )
    domains = report.domains(limit=15)
    domain_table = (
        _table(
            ["domain", "documents read", "documents kept"],
            [[d["domain"], d["read"], d["kept"]] for d in domains],
        )
        if domains
        else "No URLs were recorded.\n"
    )
    if state["crawl_range"]:
        low, high = state["crawl_range"]
        months = ", ".join(f"{text(m)}: {n:,}" for m, n in sorted(state["crawl_months"].items()))
        dates = (
            f"Crawl dates (WARC-Date of kept documents): {text(low)} to {text(high)}. Kept "
            "documents per "
            f"month: {months}.\n"
        )
    else:
        dates = "Crawl dates: none recorded (the inputs carried no WARC-Date).\n"
    _, license_note = licenses(report)
    provenance_columns = [
        c
        for c in ("source", "url", "warc_record_id", "crawl_date", "license")
        + ("title", "author", "year", "identifier")
        if c in report.columns
    ]
    in_metadata = "metadata" in report.columns
    columns_note = (
        "Per-document provenance columns: "
        + ", ".join(f"`{c}`" for c in provenance_columns)
        + (
            " and the reader's `metadata` JSON (WARC record id and date for WARC input)."
            if in_metadata
            else "."
        )
    )
    blocklists = [name for name, _ in report.stage_options() if name in ("url_filter", "url_dedup")]
    opt_out = (
        "Opt-out handling: textmill does not fetch robots.txt, ai.txt or TDM-reservation "
        "signals; compliance with robots.txt at crawl time is that of the crawler that wrote the "
        "input files. "
        + (
            "URLs were checked against block lists of domains and words (`url_filter`); "
            "add opted-out domains with its `blocked_domains` or `blocklist_files` options."
            if "url_filter" in blocklists
            else "No URL block list ran."
        )
    )
    return (
        "## Sources and provenance\n\n"
        + sources
        + f"\nTop {len(domains)} domains by documents read:\n\n"
        + domain_table
        + "\n"
        + dates
        + f"\nLicences: {license_note}\n\n{columns_note}\n\n{opt_out}\n"
    )


def _processing(report: RunReport) -> str:
    from textmill.pipeline import stage_class

    stages = report.stats["stages"]
    lines = [
        "## Processing steps\n",
        "Stages in order, with every parameter (defaults included):\n",
    ]
    for i, (name, options) in enumerate(report.stage_options()):
        try:
            doc = " ".join((stage_class(name).__doc__ or "").strip().split("\n\n")[0].split())
        except KeyError:
            doc = ""
        counts = ""
        if i < len(stages):
            st = stages[i]
            reasons = ", ".join(f"{text(r)} {n}" for r, n in st["reasons"].items())
            counts = f" In {st['docs_in']}, out {st['docs_out']}, dropped {st['dropped']}" + (
                f" ({reasons})." if reasons else "."
            )
        params = json.dumps(options, ensure_ascii=False, sort_keys=True)
        if len(params) > 1500:
            params = params[:1500] + " …"
        lines.append(f"{i + 1}. **{text(name)}** — {doc}{counts}\n   Parameters: {code(params)}")
    return "\n".join(lines) + "\n"


def _statistics(report: RunReport) -> str:
    s = report.stats
    totals = _table(
        ["count", "value"],
        [
            ["documents read", s["read"]],
            ["documents kept", s["kept"]],
            ["documents rejected", s["rejected"]],
            ["documents errored", s["errored"]],
            ["reconciled", s["reconciled"]],
            ["ids occurring more than once", (s.get("repeated_ids") or {}).get("ids", 0)],
            ["kept text bytes", report.kept_bytes()],
        ],
    )
    repeated = repeated_ids_note(s)
    funnel = _table(
        ["stage", "docs in", "docs out", "dropped", "errored"],
        [
            [st["name"], st["docs_in"], st["docs_out"], st["dropped"], st["errored"]]
            for st in s["stages"]
        ],
    )
    languages = _table(
        ["language", "documents", "words"],
        [[r["lang"], r["docs"], r["words"]] for r in report.languages() if r["docs"]],
    )
    d = report.diversity
    diversity = (
        f"Diversity on a sample of {d['docs']:,} documents ({d['words']:,} words): distinct-1 "
        f"{d['distinct_1']}, distinct-2 {d['distinct_2']}, zlib compression ratio "
        f"{d['compression_ratio']}.\n"
        if d.get("words")
        else ""
    )
    return (
        "## Statistics\n\nFrom `stats.json` (read = kept + rejected + errored):\n\n"
        + totals
        + (f"\n**{html.escape(repeated, quote=False)}**\n" if repeated else "")
        + "\nPer stage:\n\n"
        + funnel
        + "\nLanguages of kept documents:\n\n"
        + (languages if s.get("languages") else "No language identification ran.\n")
        + "\n"
        + diversity
    )


def _topics(report: RunReport) -> str:
    rows = report.topics()
    if not rows:
        return ""
    table = _table(
        ["topic_id", "documents", "share", "keywords"],
        [[r["topic_id"], r["docs"], f"{r['share']:.1%}", r["keywords"]] for r in rows],
    )
    return "## Topics\n\nDocuments per `topic_id` (the topic stage's k-means topics):\n\n" + table


def _pii(report: RunReport) -> str:
    options = dict(report.stage_options())
    if "pii" not in options:
        return (
            "## PII handling\n\nNo PII redaction ran: the text may contain email addresses, "
            "phone numbers, IP addresses and other personal data.\n"
        )
    rows = [[kind, matches, docs] for kind, matches, docs in report.pii()]
    o = options["pii"]
    kinds = [k for k in o.get("kinds", ["email", "ip"]) if o.get(_SWITCHES.get(k, ""), True)]
    emails, ips = "email" in kinds, "ip" in kinds
    others = [k for k in kinds if k not in ("email", "ip")]
    if o.get("mode") == "hash":
        how = (
            "The `pii` stage replaced each "
            + ", ".join(_PII_KIND_NAMES.get(k, k) for k in kinds)
            + " with a salted hash token (`<KIND:hex>`: one value, one token; the salt is not "
            "published)"
        )
    else:
        how = (
            "The `pii` stage replaced "
            + ("email addresses with " + code(o.get("email_placeholder")) if emails else "")
            + (" and " if emails and ips else "")
            + (
                f"IP addresses with the documentation addresses {code(o.get('ipv4_placeholder'))}"
                f" / {code(o.get('ipv6_placeholder'))}"
                if ips
                else ""
            )
            + (
                ("; " if emails or ips else "")
                + ", ".join(_PII_KIND_NAMES.get(k, k) for k in others)
                + " with `<KIND>` placeholders"
                if others
                else ""
            )
        )
    if o.get("mode") == "drop":
        unit = "word" if o.get("density_unit") == "word" else "1,000 characters"
        how += (
            f". Documents with more than {o.get('max_density')} matches per {unit} were dropped"
            " (`pii:density`)"
        )
    missing = [name for k, name in _PII_KIND_NAMES.items() if k not in kinds]
    return (
        "## PII handling\n\n"
        + how
        + ". "
        + (
            "Not detected: " + ", ".join(missing) + ", postal addresses and other personal data."
            if missing
            else "Postal addresses and other personal data are not detected."
        )
        + "\n\n"
        + _table(["type", "matches replaced", "documents affected"], rows)
    )


def _decontamination(report: RunReport) -> str:
    from textmill.report.decon import STAGE, card_section

    options = dict(report.stage_options()).get(STAGE)
    return card_section(report.state.get("decon", {}), options, _table, code)


_SWITCHES = {"email": "emails", "ip": "ips"}
_PII_KIND_NAMES = {
    "email": "email addresses",
    "ip": "IP addresses",
    "phone": "phone numbers",
    "credit_card": "payment card numbers",
    "iban": "IBANs",
    "national_id": "national id numbers",
    "secret": "secrets (API keys, private keys, passwords)",
    "url_credentials": "credentials in URLs",
    "person": "person names",
}


def _toxicity_limitation(stage_names: set[str]) -> str:
    """What the card may claim about toxic content: only what a stage of this run did."""
    if "toxicity" in stage_names:
        done = (
            "Toxic content was filtered by the `toxicity` stage (its drops per rule are listed "
            "above, sampled in `report.html`): word lists miss what they do not list, and "
            "classifiers inherit their training labels' biases"
        )
    elif "url_filter" in stage_names:
        done = "No toxicity filtering ran beyond the URL block list"
    else:
        done = "No toxicity filtering ran"
    return (
        done + "; demographic-term frequencies in `report.html` describe the corpus, they do "
        "not correct its biases."
    )


def _limitations(report: RunReport) -> str:
    names = {name for name, _ in report.stage_options()}
    items = [
        "Filters are heuristics (Gopher, C4, FineWeb rules) tuned on English web text; they "
        "drop some good documents and keep some bad ones. See the audit samples in "
        "`report.html`.",
        "Deduplication only sees the documents of this run, not other corpora."
        if names & {"exact_dedup", "minhash_dedup", "url_dedup", "paragraph_dedup"}
        else "No deduplication ran: the corpus may contain duplicates.",
        "Language identification is unreliable on short and mixed-language documents."
        if "langid" in names
        else "No language identification ran.",
        _toxicity_limitation(names),
        "Licences are taken from what pages declare; a declaration may be wrong or cover only "
        "part of a page.",
    ]
    return "## Known limitations\n\n" + "\n".join(f"- {item}" for item in items) + "\n"
