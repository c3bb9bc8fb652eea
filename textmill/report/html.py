"""OUT/report.html: one self-contained page (inline CSS, inline SVG, no network) that shows what
each stage removed and why, with samples to judge every filter, and what the kept corpus is
made of. Counts come from stats.json; distributions and samples from the collectors."""

from __future__ import annotations

from html import escape
from typing import Any

from textmill.report import svg
from textmill.report.build import RunReport
from textmill.report.collect import LENGTH_EDGES, SCORE_EDGES
from textmill.report.ids import repeated_ids_note

CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:0;color:#222;background:#fafafa}
header{background:#263238;color:#fff;padding:14px 24px}
header h1{margin:0 0 4px;font-size:20px}
nav{padding:6px 24px;background:#eceff1;font-size:13px}
nav a{margin-right:12px;color:#1a4d7a}
main{padding:8px 24px 40px;max-width:1500px}
section{background:#fff;border:1px solid #e0e0e0;border-radius:6px;padding:8px 16px 14px;
margin:14px 0}
h2{font-size:17px;margin:8px 0}
h3{font-size:14px;margin:10px 0 4px}
table{border-collapse:collapse;font-size:13px;margin:6px 0}
th,td{border-bottom:1px solid #e6e6e6;padding:3px 10px;text-align:right;vertical-align:top}
th{background:#f3f5f7}
td.l,th.l{text-align:left}
.cards{display:flex;gap:12px;flex-wrap:wrap}
.card{background:#f3f5f7;border-radius:6px;padding:6px 14px}
.card b{display:block;font-size:18px}
.ok{color:#2e7d32}.bad{color:#c62828;font-weight:600}
.plots{display:flex;flex-wrap:wrap;gap:10px}
.audit{border-top:2px solid #cfd8dc;margin-top:10px;padding-top:4px}
.cols{display:grid;grid-template-columns:1fr 1fr;gap:14px}
.doc{background:#fbfbfb;border:1px solid #eee;border-left:4px solid #e15759;padding:4px 8px;
margin:6px 0;font-size:12.5px;white-space:pre-wrap;word-break:break-word;max-height:9.5em;
overflow:hidden}
.doc.kept{border-left-color:#59a14f}
.meta{color:#555;font-size:12px;display:block;white-space:normal}
.metric{font-weight:600;color:#1a4d7a}
.muted{color:#777}
"""

# The browser test reads these attributes: every plot has a non-empty box, and errors are kept.
SCRIPT = """
window.__errors=[];window.addEventListener('error',function(e){window.__errors.push(String(e.message))});
window.addEventListener('load',function(){var p=document.querySelectorAll('svg.plot'),ok=0;
p.forEach(function(s){var b=s.getBBox();if(b.width>0&&b.height>0&&s.childElementCount>1){ok++;
s.setAttribute('data-rendered','yes')}});document.body.setAttribute('data-plots',p.length);
document.body.setAttribute('data-plots-rendered',ok);
document.body.setAttribute('data-errors',window.__errors.length)});
"""

SECTIONS = (
    ("funnel", "Funnel"),
    ("languages", "Languages"),
    ("audit", "Audit samples"),
    ("lengths", "Lengths"),
    ("sources", "Sources & domains"),
    ("topics", "Topics"),
    ("scores", "Scores"),
    ("duplicates", "Duplicates"),
    ("pii", "PII"),
    ("decon", "Decontamination"),
    ("terms", "Demographic terms"),
    ("diversity", "Diversity"),
)


def render_html(report: RunReport) -> str:
    stats = report.stats
    body = [
        _summary(report),
        _funnel(report),
        _languages(report),
        _audit(report),
        _lengths(report),
        _sources(report),
        _topics(report),
        _scores(report),
        _duplicates(report),
        _pii(report),
        _decontamination(report),
        _terms(report),
        _diversity(report),
        _warnings(report),
    ]
    nav = "".join(f'<a href="#{key}">{label}</a>' for key, label in SECTIONS)
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>textmill report: {escape(report.out.name)}</title><style>{CSS}</style>"
        f"<script>{SCRIPT}</script></head><body>"
        f"<header><h1>textmill report — {escape(report.out.name)}</h1>"
        f"{stats['kept']:,} of {stats['read']:,} documents kept · {len(stats['stages'])} stages · "
        f"{stats.get('wall_seconds', 0):.1f} s</header><nav>{nav}</nav><main>"
        + "".join(part for part in body if part)
        + "</main></body></html>\n"
    )


# ---------------------------------------------------------------- helpers


def _section(key: str, title: str, *parts: str) -> str:
    return f'<section id="{key}"><h2>{escape(title)}</h2>{"".join(parts)}</section>'


def _table(headers: list[str], rows: list[list[Any]], left: tuple[int, ...] = (0,)) -> str:
    """A table whose `left` columns are text (left-aligned) and the rest numbers."""

    def align(i: int) -> str:
        return ' class="l"' if i in left or i - len(headers) in left else ""

    head = "".join(f"<th{align(i)}>{escape(h)}</th>" for i, h in enumerate(headers))
    body = "".join(
        "<tr>" + "".join(f"<td{align(i)}>{_cell(v)}</td>" for i, v in enumerate(row)) + "</tr>"
        for row in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def _cell(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.3g}" if abs(value) < 1000 else f"{value:,.0f}"
    if value is None:
        return '<span class="muted">–</span>'
    return escape(str(value))  # every cell is data (domains, sources, languages): never markup


def _percent(value: float | None) -> str:
    return "–" if value is None else f"{value:.1%}"


def _bytes(value: float) -> str:
    return svg.human(value) + "B"


# ---------------------------------------------------------------- sections


def _summary(report: RunReport) -> str:
    s = report.stats
    reconciled = (
        '<span class="ok">reconciled</span>'
        if s["reconciled"]
        else '<span class="bad">NOT RECONCILED</span>'
    )
    cards = [
        ("read", f"{s['read']:,}"),
        ("kept", f"{s['kept']:,}"),
        ("rejected", f"{s['rejected']:,}"),
        ("errored", f"{s['errored']:,}"),
        ("kept text", _bytes(report.kept_bytes())),
        ("languages", str(len(s.get("languages", {})))),
        ("shards", str(s.get("shards", "–"))),
    ]
    html = "".join(f'<div class="card">{escape(k)}<b>{v}</b></div>' for k, v in cards)
    skipped = sum(s.get("skipped_records", {}).values())
    repeated = repeated_ids_note(s)
    return _section(
        "summary",
        "Summary",
        f'<div class="cards">{html}</div>',
        f'<p class="bad">{escape(repeated)}</p>' if repeated else "",
        f"<p>read {s['read']:,} = kept {s['kept']:,} + rejected {s['rejected']:,} + errored "
        f"{s['errored']:,} ({reconciled}; {skipped:,} non-document records skipped). "
        f"Output: <code>data/</code> ({len(report.data_files)} Parquet files), rejects in "
        f"<code>rejects/</code>, errors in <code>errors/</code>; dataset card in "
        f"<code>README.md</code>.</p>",
        _reader_counts(s),
    )


def _reader_counts(stats: dict) -> str:
    """The readers' own counters (PDF pages without text, OCR'd pages, ...), when any."""
    counts = stats.get("reader_counts") or {}
    if not counts:
        return ""
    cells = ", ".join(f"{escape(k)} {v:,}" for k, v in counts.items())
    return f"<p>Readers: {cells}.</p>"


def _funnel(report: RunReport) -> str:
    stages = report.stats["stages"]
    labels = [f"{i + 1}. {st['name']}" for i, st in enumerate(stages)]
    docs = svg.hbars(
        labels,
        [
            ("docs in", [st["docs_in"] for st in stages]),
            ("docs out", [st["docs_out"] for st in stages]),
        ],
        "Documents through each stage",
    )
    size = svg.hbars(
        labels,
        [
            ("text bytes in", [st["bytes_in"] for st in stages]),
            ("text bytes out", [st["bytes_out"] for st in stages]),
        ],
        "Text bytes through each stage (UTF-8 of the text column; raw HTML is not counted)",
    )
    rows = []
    for label, st in zip(labels, stages, strict=True):
        reasons = ", ".join(f"{r} {n:,}" for r, n in st["reasons"].items()) or ""
        share = st["dropped"] / st["docs_in"] if st["docs_in"] else None
        rows.append(
            [
                label,
                st["docs_in"],
                st["docs_out"],
                st["dropped"],
                _percent(share),
                st["errored"],
                _bytes(st["bytes_in"]),
                _bytes(st["bytes_out"]),
                f"{st['seconds']:.2f}",
                reasons,
            ]
        )
    table = _table(
        ["stage", "docs in", "docs out", "dropped", "dropped %", "errored", "bytes in",
         "bytes out", "seconds", "drops by reason"],
        rows,
        left=(0, -1),
    )  # fmt: skip
    return _section("funnel", "Funnel", table, f'<div class="plots">{docs}{size}</div>')


def _languages(report: RunReport) -> str:
    rows = report.languages()
    if not rows:
        return _section("languages", "Languages", "<p>No language identification ran.</p>")
    table = _table(
        ["language", "docs kept", "words kept", "dropped after LID", "keep rate"],
        [[r["lang"], r["docs"], r["words"], r["dropped"], _percent(r["keep_rate"])] for r in rows],
    )
    note = (
        '<p class="muted">Keep rate = kept / (kept + dropped at or after language '
        "identification); documents dropped before it have no language. Words are "
        "whitespace-delimited.</p>"
    )
    return _section("languages", "Languages", table, note)


def _audit(report: RunReport) -> str:
    entries = report.audit()
    if not entries:
        return _section("audit", "Audit samples", "<p>No document was dropped.</p>")
    parts = [
        '<p class="muted">For every drop reason: a uniform sample of dropped documents (red) '
        "with the value of the metric the reason is about, and the kept documents whose value lay "
        "closest to the threshold (green) — judge whether the line is drawn in the right place. "
        "Excerpts are cut at 600 characters.</p>"
    ]
    stages = report.stats["stages"]
    for entry in entries:
        index, reason = entry["index"], entry["reason"]
        dropped = stages[index]["reasons"].get(reason, 0) if index < len(stages) else 0
        rule = entry.get("rule")
        rule_text = (
            f" · rule: drop if <span class=metric>{escape(rule['metric'])} "
            f"{escape(rule['drops_if'])} {rule['threshold']:g}</span>"
            if rule
            else ""
        )
        rejected = "".join(_doc(s, "") for s in entry["samples"]) or '<p class="muted">none</p>'
        near = "".join(_doc(s, "kept") for s in entry.get("near", []))
        if not near:
            near = (
                '<p class="muted">no metric threshold for this reason'
                + (" (kept documents: none measured)" if rule else "")
                + "</p>"
            )
        parts.append(
            f'<div class="audit"><h3>{escape(entry["stage"])}: {escape(reason)} — '
            f"{dropped:,} dropped{rule_text}</h3><div class=cols><div><b>dropped</b>{rejected}"
            f"</div><div><b>kept, nearest the threshold</b>{near}</div></div></div>"
        )
    return _section("audit", "Audit samples", *parts)


def _doc(sample: dict[str, Any], kind: str) -> str:
    metrics = " ".join(
        f"<span class=metric>{escape(str(k))} = {escape(str(v))}</span>"
        for k, v in (sample.get("metrics") or {}).items()
    )
    reason = str(sample.get("reason", ""))
    detail = f" · {escape(reason)}" if "=" in reason else ""
    where = escape(str(sample.get("url") or sample.get("id") or ""))
    return (
        f'<div class="doc {kind}"><span class=meta>{metrics} {where}{detail}</span>'
        f"{escape(str(sample['excerpt']))}</div>"
    )


def _lengths(report: RunReport) -> str:
    lengths = report.state["lengths"]
    kept, rejected = lengths.get("kept", {}), lengths.get("rejected", {})
    plots = []
    for name in ("chars", "words", "lines"):
        after = kept.get(name) or [0] * (len(LENGTH_EDGES) - 1)
        gone = rejected.get(name) or [0] * len(after)
        before = [a + b for a, b in zip(after, gone, strict=True)]
        plots.append(
            svg.histogram(
                LENGTH_EDGES,
                [("before filtering", before), ("kept", after)],
                f"{name.capitalize()} per document",
                f"{name} (log scale)",
                log_x=True,
            )
        )
    note = (
        '<p class="muted">Before filtering = kept documents plus every rejected one that had '
        "text when it was dropped (documents dropped before extraction have none).</p>"
    )
    return _section("lengths", "Lengths", note, f'<div class="plots">{"".join(plots)}</div>')


def _sources(report: RunReport) -> str:
    sources = report.stats.get("sources", {})
    rows = [
        [name, v["read"], v["kept"], _percent(v["kept"] / v["read"] if v["read"] else None)]
        for name, v in sources.items()
    ]
    domains = report.domains()
    domain_table = _table(
        ["domain", "read", "kept", "keep rate"],
        [[d["domain"], d["read"], d["kept"], _percent(d["keep_rate"])] for d in domains],
    )
    truncated = (
        '<p class="muted">Some shards had more than 2,000 domains; counts are those of each '
        "shard's top 2,000.</p>"
        if report.state["domains_truncated"]
        else ""
    )
    return _section(
        "sources",
        "Sources & domains",
        "<h3>Sources</h3>",
        _table(["source", "read", "kept", "keep rate"], rows),
        f"<h3>Top {len(domains)} domains (by documents read)</h3>",
        domain_table if domains else "<p>No URLs.</p>",
        truncated,
    )


def _topics(report: RunReport) -> str:
    rows = report.topics()
    if not rows:
        return _section("topics", "Topics", "<p>No topic stage ran.</p>")
    table = _table(
        ["topic_id", "documents", "share", "keywords"],
        [[r["topic_id"], r["docs"], _percent(r["share"]), r["keywords"]] for r in rows],
        left=(0, 3),
    )
    return _section("topics", "Topics", table)


def _scores(report: RunReport) -> str:
    plots = []
    for column, entry in sorted(report.state["scores"].items()):
        series = [(f"kept by {entry.get('stage', '?')}", entry.get("kept", []))]
        if entry.get("dropped"):
            series.append(("dropped by it", entry["dropped"]))
        if entry.get("final"):
            series.append(("in the output", entry["final"]))
        series = [(name, counts) for name, counts in series if counts]
        if series:
            plots.append(
                svg.histogram(
                    SCORE_EDGES,
                    series,
                    f"{column} distribution",
                    column,
                    log_x=False,
                    threshold=entry.get("threshold"),
                )
            )
    if not plots:
        return _section("scores", "Scores", "<p>No LID or quality scores in this run.</p>")
    note = (
        '<p class="muted">Documents scored by the stage that adds the score; a stage '
        "may also drop on other rules (e.g. wrong language), so dropped documents can lie above "
        "the threshold.</p>"
    )
    return _section("scores", "Scores", note, f'<div class="plots">{"".join(plots)}</div>')


def _duplicates(report: RunReport) -> str:
    sizes = {int(k): v for k, v in report.state["cluster_sizes"].items()}
    dedup = [st for st in report.stats["stages"] if "dedup" in st["name"]]
    if not sizes and not dedup:
        return _section("duplicates", "Duplicates", "<p>No deduplication ran.</p>")
    parts = [
        _table(
            ["stage", "docs in", "duplicates dropped", "dropped %"],
            [
                [
                    st["name"],
                    st["docs_in"],
                    st["dropped"],
                    _percent(st["dropped"] / st["docs_in"] if st["docs_in"] else None),
                ]
                for st in dedup
            ],
        )  # fmt: skip
    ]
    if sizes:
        ordered = sorted(sizes)
        parts.append(
            svg.hbars(
                [f"cluster of {k}" for k in ordered],
                [("kept documents", [sizes[k] for k in ordered])],
                "Near-duplicate cluster size of each kept document (dup_cluster_size)",
            )
        )
    return _section("duplicates", "Duplicates", *parts)


def _pii(report: RunReport) -> str:
    rows = report.pii()
    if not rows:
        return _section("pii", "PII", "<p>No PII stage ran (no pii_* columns).</p>")
    table = _table(["type", "matches replaced", "documents with one"], [list(r) for r in rows])
    return _section("pii", "PII", table)


def _decontamination(report: RunReport) -> str:
    from textmill.report.decon import summary

    rows = summary(report.state.get("decon", {}))
    title = "Benchmark decontamination"
    if not rows:
        return _section("decon", title, "<p>No decontaminate stage ran.</p>")
    headers = ["benchmark", "items", "items found", "documents matched", "dropped", "cut"]
    table = _table(
        headers,
        [
            [r["benchmark"], r["items"], r["items_found"], r["docs_matched"],
             r["docs_dropped"], r["docs_cut"]]
            for r in rows
        ],
    )  # fmt: skip
    return _section("decon", title, table)


def _terms(report: RunReport) -> str:
    axes = report.terms()
    words = report.state["words"]
    if not words:
        return _section("terms", "Demographic terms", "<p>No kept text.</p>")
    names = sorted(axes)
    chart = svg.hbars(
        names,
        [("mentions per million words", [axes[a]["per_million"] for a in names])],
        "Demographic-term mentions per million words, by axis",
    )
    rows = []
    for axis in names:
        top = ", ".join(f"{t} {per:,.0f}" for t, n, per in axes[axis]["terms"][:8] if n)
        rows.append([axis, axes[axis]["count"], round(axes[axis]["per_million"], 1), top or "–"])
    note = (
        f'<p class="muted">Counts of the terms in textmill\'s list (report/terms/'
        f"demographic_terms.txt; ROBBIE-style axes) as whole lower-cased words over all "
        f'{words:,} kept words. A term is a mention, not a judgement: "black" and "old" '
        "have other senses.</p>"
    )
    table = _table(
        ["axis", "mentions", "per million words", "top terms (per million)"], rows, left=(0, 3)
    )
    return _section("terms", "Demographic terms", note, f'<div class="plots">{table}{chart}</div>')


def _diversity(report: RunReport) -> str:
    d = report.diversity
    if not d.get("words"):
        return _section("diversity", "Diversity", "<p>No kept text to measure.</p>")
    table = _table(
        ["metric", "value"],
        [
            ["distinct-1 (unique words / words)", d["distinct_1"]],
            ["distinct-2 (unique bigrams / bigrams)", d["distinct_2"]],
            ["zlib compression ratio (raw / compressed; higher = more repetitive)",
             d["compression_ratio"]],
            ["sample", f"{d['docs']:,} documents, {d['words']:,} words"],
        ],
        left=(0, 1),
    )  # fmt: skip
    growth = svg.line(d["vocabulary_growth"], "Vocabulary growth", "words read", "distinct words")
    note = (
        '<p class="muted">Measured on a fixed-size sample of the output (first row group of '
        "up to 32 files, 2,000 documents, 200,000 words), so runs compare.</p>"
    )
    return _section("diversity", "Diversity", note, f'<div class="plots">{table}{growth}</div>')


def _warnings(report: RunReport) -> str:
    warnings = report.state.get("warnings", [])
    if not warnings:
        return ""
    items = "".join(f"<li>{escape(w)}</li>" for w in warnings)
    return _section("warnings", "Collection warnings", f"<ul>{items}</ul>")
