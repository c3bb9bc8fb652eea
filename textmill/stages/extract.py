"""HTML to main text (FineWeb step 2): the `html` column becomes `text`.

The extraction libraries work one document at a time, so this is the one stage where per-row
Python is unavoidable; it runs once per batch, catches failures per row (a broken page never fails
its batch) and drops pages that yield no text with a reason instead of passing empty documents on.

Hostile pages must not stall a worker, so three guards come before or around the libraries, each
dropping the page with its own reason: `too_large` (byte size, checked on the whole column),
`too_deep` (element nesting: resiliparse's extraction is quadratic in depth, ~5 minutes for 100k
nested `<div>`; the check is one linear lexbor parse, reused for extraction, and one selector
query; the textmill engine counts the same depth in its own scan of the tree instead), and
`time_budget` (each page runs under a wall-clock budget that kills native code,
`textmill.budget`).
"""

from __future__ import annotations

import logging
from typing import Literal, NamedTuple

import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field
from resiliparse.parse.html import HTMLTree

from textmill.budget import RowBudgetOptions, map_rows_within_budget
from textmill.document import HTML, TEXT, URL
from textmill.extraction.engine import extract_page, page_language, prepare
from textmill.extraction.flat_tree import is_deeper_than
from textmill.extraction.math_latex import has_math_markup, latex_math
from textmill.pipeline import Decision, Filter, register

Engine = Literal["trafilatura", "resiliparse", "textmill"]
Math = Literal["latex"]
# Page columns the stage can add next to `text` (options `page_columns`, `publication_date`).
TITLE, HTML_LANG, PUBLISHED = "title", "html_lang", "published"

# Limits, from the real pages in ../shared/data (BENCHMARKS.md, "Extraction limits"). Sizes of
# 1,906 pages (the four extraction sets, web_docs.jsonl.gz, the WARC responses): p50 39 kB,
# p99 593 kB, p99.9 1.44 MB, max 1.60 MB; 2 MiB keeps every one, and bounds extraction (linear
# in elements once the depth is checked) to ~1 s for prose, ~6 s (24 s under load) for markup
# as dense as 90k elements.
# Element depth in lexbor's tree: p50 13, p99 30, p99.9 42, max 51; 512 is Blink's own parser
# limit (kMaximumHTMLParserDOMTreeDepth), ten times the deepest real page.
MAX_HTML_BYTES = 2 * 1024 * 1024
MAX_DEPTH = 512
# Per page (1,806 of them, no WARC responses; default options; 2 cores, load ~10): p50 0.19 s,
# p99 3.7 s, p99.9 6.6 s, max 12 s; 60 s leaves real pages clear and still bounds a hostile one.
TIME_BUDGET_S = 60.0
PROBLEMS = ("too_large", "too_deep", "time_budget", "extraction_failed")


def extract_with_trafilatura(
    html: str,
    url: str | None = None,
    *,
    favour_precision: bool = True,
    include_comments: bool = False,
    include_tables: bool = True,
) -> str:
    """Trafilatura's main text; '' when it finds none (it returns None then)."""
    import trafilatura

    text = trafilatura.extract(
        html,
        url=url,
        favor_precision=favour_precision,
        include_comments=include_comments,
        include_tables=include_tables,
        deduplicate=False,  # its LRU cache spans documents: output would depend on batch order
    )
    return text or ""


def extract_with_resiliparse(html: str | HTMLTree) -> str:
    """Resiliparse's main-content heuristics: several times faster than trafilatura, less precise.

    Settings follow datatrove's Resiliparse extractor (no links, alt texts, forms or noscript),
    except that comment sections are left out, as FineWeb leaves them out of trafilatura's output.
    """
    from resiliparse.extract.html2text import extract_plain_text

    return extract_plain_text(
        HTMLTree.parse(html) if isinstance(html, str) else html,
        preserve_formatting=True,
        main_content=True,
        list_bullets=True,
        alt_texts=False,
        links=False,
        form_fields=False,
        noscript=False,
        comments=False,
    ).strip()


class PageOutput(NamedTuple):
    """What one page yields: its text and the optional page columns."""

    text: str
    title: str | None = None
    html_lang: str | None = None
    published: str | None = None


def publication_date(html: str, url: str | None) -> str | None:
    """htmldate's date in its fast mode (markup and URL only, no text heuristics)."""
    from htmldate import find_date

    # bytes: a str that looks like a URL is downloaded by htmldate
    return find_date(html.encode("utf-8"), url=url, extensive_search=False)


@register("extract")
class Extract(Filter):
    """Turns `html` into `text`; rows without html keep their text.

    Drops (with a reason) rows whose html yields no text: `too_large`, `too_deep` and
    `time_budget` for pages past the guards (module docstring), `extraction_failed` when the
    library raised, `no_text` when it found nothing. Rows without html are never dropped here.

    Engines: `trafilatura` (FineWeb's, with a resiliparse fallback: the default), `resiliparse`,
    and `textmill`, textmill's own extractor (textmill.extraction: lexbor blocks and a small
    boosted-tree model; 4-5x trafilatura's speed per core as this stage, 6x in-process:
    BENCHMARKS.md).
    """

    remeasure_for_audit = False  # measuring is extracting

    class Options(RowBudgetOptions):
        engine: Engine = Field(
            default="trafilatura",
            description="one of: trafilatura (FineWeb's), resiliparse, textmill (textmill's own)",
        )
        # FineWeb step 2: trafilatura favouring precision, no comments (datatrove's extractor).
        favour_precision: bool = True
        include_comments: bool = False
        include_tables: bool = True  # trafilatura's default
        # textmill's default: when resiliparse's main content is more than this many times longer
        # than trafilatura's (favour-precision sometimes keeps one fragment, or nothing), take
        # resiliparse's. On benchmarks/extraction.py it lifts macro word F1 over AEB, CleanEval and
        # Dragnet from 0.856 to 0.905 (plain trafilatura defaults: 0.833) and keeps the snippet
        # pass rate; 3 and 5 score alike. None: FineWeb's exact extraction. Trafilatura only.
        fallback_ratio: float | None = 5.0
        keep_html: bool = False  # outputs must not carry raw markup unless asked
        # textmill engine: a table row is one line, cells joined by " | " (False: a line a cell).
        table_rows: bool = True
        # Adds `title` (the page's <title>) and `html_lang` (its <html lang>) columns, any engine.
        page_columns: bool = False
        # Adds `published`: htmldate's publication date (YYYY-MM-DD, fast mode), null if none.
        publication_date: bool = False
        math: Math | None = Field(
            default=None,
            description="latex: keep equations (MathJax, MathML, KaTeX) as $tex$ / $$tex$$ "
            "(textmill.extraction.math_latex); null: as the engine leaves them",
        )
        # Guards (module docstring); None turns one off.
        max_html_bytes: int | None = Field(default=MAX_HTML_BYTES, gt=0)
        max_depth: int | None = Field(default=MAX_DEPTH, gt=0)
        time_budget_s: float | None = Field(default=TIME_BUDGET_S, gt=0)

    def extract_one(self, html: str, url: str | None) -> PageOutput | None:
        """Main text (and page columns) of one page under this stage's options, None when the
        page is too deep; may raise."""
        o = self.options
        latex = o.math == "latex" and has_math_markup(html)
        needs_tree = (
            o.engine != "trafilatura" or o.fallback_ratio is not None or o.page_columns or latex
        )
        tree = HTMLTree.parse(html) if needs_tree or o.max_depth is not None else None
        # The textmill engine's scan of the tree measures the depth itself (the same count).
        checked_here = tree is not None and o.max_depth is not None and o.engine != "textmill"
        if checked_here and is_deeper_than(tree, o.max_depth):
            return None
        title = lang = published = None
        if o.page_columns:
            title, lang = (tree.title or "").strip() or None, page_language(tree)
        page = html
        if latex and latex_math(tree) and o.engine == "trafilatura":
            page = str(tree)  # trafilatura parses markup of its own: the page with TeX in it
        text = self._main_text(page, url, tree)
        if text is None:
            return None
        if o.publication_date:
            published = publication_date(html, url)
        return PageOutput(text, title, lang, published)

    def _main_text(self, html: str, url: str | None, tree: HTMLTree | None) -> str | None:
        """The main text; None when the textmill engine finds the page too deep."""
        o = self.options
        if o.engine == "textmill":
            page = extract_page(tree, table_rows=o.table_rows, max_depth=o.max_depth)
            return None if page is None else page.text
        if o.engine == "resiliparse":
            return extract_with_resiliparse(tree)
        text = extract_with_trafilatura(
            html,
            url,
            favour_precision=o.favour_precision,
            include_comments=o.include_comments,
            include_tables=o.include_tables,
        )
        if o.fallback_ratio is not None:
            fallback = extract_with_resiliparse(tree)
            if len(fallback) > o.fallback_ratio * len(text):
                return fallback
        return text

    def extract_column(self, batch: pa.Table) -> tuple[pa.Array, pa.Array, pa.Array, pa.Table]:
        """Per row: extracted text (null where the row has no html), html bytes, the problem
        that stopped extraction (null when none), and the page columns asked for."""
        n = batch.num_rows
        if HTML not in batch.column_names:
            nulls = (
                pa.nulls(n, pa.large_string()),
                pa.nulls(n, pa.int64()),
                pa.nulls(n, pa.string()),
            )
            return (*nulls, self._page_columns([None] * n))
        column = batch[HTML].combine_chunks()
        html_bytes = pc.binary_length(column).cast(pa.int64())
        limit = self.options.max_html_bytes
        sizes = pc.fill_null(html_bytes, 0).to_numpy(zero_copy_only=False)
        pages = column.to_pylist()
        urls = batch[URL].to_pylist() if URL in batch.column_names else [None] * n
        outputs: list[PageOutput | None] = [None] * n
        problems: list[str | None] = [None] * n
        todo = []
        for row, html in enumerate(pages):
            if html is None:
                continue
            if limit is not None and sizes[row] > limit:
                outputs[row], problems[row] = PageOutput(""), "too_large"
            elif not html or html.isspace():  # what strip() would empty, without a copy
                outputs[row] = PageOutput("")
            else:
                todo.append(row)
        if todo and self.options.engine == "textmill":
            prepare()  # once here, not once per forked child
        outcomes = map_rows_within_budget(
            lambda row: self.extract_one(pages[row], urls[row]), todo, self.options.time_budget_s
        )
        log = logging.getLogger(__name__)
        for row, outcome in zip(todo, outcomes, strict=True):
            failure = outcome.failure
            outputs[row] = outcome.value or PageOutput("")
            if failure is not None:
                log.debug("extraction failed on row %d: %s", row, failure.message)
                problems[row] = "time_budget" if failure.timed_out else "extraction_failed"
            elif outcome.value is None:
                problems[row] = "too_deep"
        texts = [None if output is None else output.text for output in outputs]
        return (
            pa.array(texts, pa.large_string()),
            html_bytes,
            pa.array(problems, pa.string()),
            self._page_columns(outputs),
        )

    def _page_columns(self, outputs: list[PageOutput | None]) -> pa.Table:
        """The `title`/`html_lang`/`published` columns the options ask for (none: no columns)."""
        names = [TITLE, HTML_LANG] if self.options.page_columns else []
        names += [PUBLISHED] if self.options.publication_date else []
        return pa.table(
            {
                name: pa.array(
                    [None if o is None else getattr(o, name) for o in outputs], pa.string()
                )
                for name in names
            }
        )

    @staticmethod
    def metrics(extracted: pa.Array, html_bytes: pa.Array, problems: pa.Array) -> pa.Table:
        """`extracted_chars` and `html_bytes` are null where the row had no html."""
        chars = pc.utf8_length(pc.utf8_trim_whitespace(extracted))
        return pa.table(
            {"extracted_chars": chars, "html_bytes": html_bytes, "extraction_problem": problems}
        )

    def measure(self, batch: pa.Table) -> pa.Table:
        return self.metrics(*self.extract_column(batch)[:3])

    def decide(self, metrics: pa.Table) -> Decision:
        problem = metrics["extraction_problem"]
        return Decision.first_failing(
            *((reason, pc.equal(problem, reason)) for reason in PROBLEMS),
            ("no_text", pc.equal(metrics["extracted_chars"], 0)),
        )

    def process(self, batch: pa.Table) -> tuple[pa.Table, Decision]:
        extracted, html_bytes, problems, page_columns = self.extract_column(batch)
        decision = self.decide(self.metrics(extracted, html_bytes, problems))
        if HTML not in batch.column_names:
            return batch, decision
        previous = (
            batch[TEXT].cast(pa.large_string())
            if TEXT in batch.column_names
            else pa.nulls(batch.num_rows, pa.large_string())
        )
        text = pc.if_else(pc.is_valid(batch[HTML]), extracted, previous)
        if TEXT in batch.column_names:
            batch = batch.set_column(
                batch.column_names.index(TEXT), pa.field(TEXT, pa.large_string()), text
            )
        else:
            batch = batch.append_column(pa.field(TEXT, pa.large_string()), text)
        has_html = pc.is_valid(batch[HTML])
        for name in page_columns.column_names:
            values = page_columns[name]
            if name in batch.column_names:  # rows without html keep theirs
                values = pc.if_else(has_html, values, batch[name].cast(pa.string()))
                batch = batch.drop_columns([name])
            batch = batch.append_column(pa.field(name, pa.string()), values)
        if not self.options.keep_html:
            batch = batch.drop_columns([HTML])
        return batch, decision
