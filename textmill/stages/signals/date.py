"""When a document was written: `date`, `date_source`, `date_confidence` columns.

Four signals, strongest first: the page's markup (htmldate: meta tags, JSON-LD, `<time>`,
in its fast mode), the URL (`/2019/05/12/`, `2019-05-12`, `20190512`), a full date printed
near the top of the text, and the year the text mentions most (weak). The WARC crawl date bounds
them all from above (a page cannot be published after it was fetched) and 1995-01-01, htmldate's
own floor, from below; a candidate outside the bounds is discarded, never clipped.

`date` is an ISO 8601 string of the precision the signal has (`2019-05-12`, `2019-05`,
`2019`): a year mention stays a year, not a made-up 1 January, and strings compare and slice
(`textmill slice --by year`) in date order. Rows without a date keep a null date, the column
`no_date_reason` says why, and the reasons are counted (`no_date:...` in stats.json); no row is
ever dropped.

The stage needs `html` for the markup signal: run it before `extract` (which drops the HTML),
or after `extract: {keep_html: true}`. Rows without `text` (HTML before extraction) get their
text signals from the page's visible text (resiliparse).
"""

from __future__ import annotations

import datetime
import functools
import logging
from typing import NamedTuple

import pyarrow as pa
from pydantic import Field, field_validator, model_validator

from textmill.budget import RowBudgetOptions, map_rows_within_budget
from textmill.document import HTML, METADATA, TEXT, URL
from textmill.pipeline import Decision, Mapper, register, value_counts
from textmill.stages.extract import MAX_HTML_BYTES
from textmill.stages.provenance import CRAWL_DATE, metadata_field
from textmill.text.dates import iso_date, mentioned_year, text_date, url_date

DATE, DATE_SOURCE, DATE_CONFIDENCE = "date", "date_source", "date_confidence"
NO_DATE_REASON = "no_date_reason"  # why a row has no date (null where it has one)
SIGNALS = ("html", "url", "text", "text_year")  # strongest first
SOURCES = (*SIGNALS, "crawl")
# Reasons a row has no date (counted as `no_date:REASON`): nothing to read, no signal at all,
# signals that all lie after the upper bound (crawl date or `latest_date`), a page past its
# time budget or one htmldate failed on.
NO_DATE_REASONS = ("no_input", "no_signal", "after_bound", "time_budget", "failed")
# htmldate's MIN_DATE: before the web, a date on a page is a date in its content.
MIN_DATE = "1995-01-01"

# Confidence per source: priors under each signal's share right on the tune half of
# benchmarks/dates.py when it alone is asked (markup 54/56 days right, URL 11/14, printed text
# dates 38/43, most-mentioned year 33/47 years right); agreement of another signal lifts it.
CONFIDENCE = {"html": 0.9, "url": 0.75, "text": 0.75, "text_year": 0.4, "crawl": 0.1}
AGREEMENT_BONUS = 0.1
PRECISION_PENALTY = {10: 0.0, 7: 0.15, 4: 0.3}  # a month or a year path is vaguer than a day


class Dated(NamedTuple):
    """One row's outcome: date and source (None with a reason when no date was found)."""

    date: str | None
    source: str | None
    confidence: float | None
    reason: str | None = None


def html_date(
    html: str, url: str | None, low: str, high: str | None, *, extensive: bool, original: bool
) -> str | None:
    """htmldate's date for a page within [low, high] (high None: htmldate's own, today)."""
    from htmldate import find_date

    return find_date(
        html.encode("utf-8"),  # a str that looks like a URL htmldate would download; bytes never
        url=url,
        extensive_search=extensive,
        original_date=original,
        min_date=low,
        max_date=high,
    )


def visible_text(html: str) -> str:
    """A page's text in reading order, navigation included (bylines and dates often sit outside
    the main content)."""
    from resiliparse.extract.html2text import extract_plain_text
    from resiliparse.parse.html import HTMLTree

    return extract_plain_text(HTMLTree.parse(html), main_content=False, alt_texts=False)


@functools.cache
def prepare() -> None:
    """Import htmldate (and dateparser under it) and resiliparse's extractor once per process."""
    import htmldate  # noqa: F401
    import resiliparse.extract.html2text  # noqa: F401


@register("date")
class Date(Mapper):
    """Publication date of every document: `date` (ISO string: YYYY-MM-DD, YYYY-MM or YYYY),
    `date_source` (html, url, text, text_year, crawl) and `date_confidence` (0-1), from the
    HTML (htmldate), the URL, the text, bounded by the WARC crawl date; null with a counted
    reason when none is found. The markup signal needs `html`: run it before `extract`, or after
    `extract: {keep_html: true}`."""

    class Options(RowBudgetOptions):
        # htmldate settings. Fast mode (no text heuristics: textmill's own text signals follow)
        # with original_date (the first publication, not the last edit): BENCHMARKS.md, "Dates".
        extensive_search: bool = Field(False, description="htmldate's slower text heuristics")
        original_date: bool = Field(
            True, description="htmldate: the first publication date, not the last edit"
        )
        earliest_date: str = Field(MIN_DATE, description="lower bound: earlier dates are discarded")
        # the one place a run depends on the clock
        latest_date: str | None = Field(
            None,
            description="upper bound where a row has no crawl date (None: today; set it "
            "for reproducible runs)",
        )
        head_chars: int = Field(
            default=5000,
            gt=0,
            description="characters of text searched for printed dates and year mentions",
        )
        use_html: bool = Field(True, description="date from the markup (htmldate)")
        use_url: bool = Field(True, description="date from the URL (/2019/05/12/, 20190512 ...)")
        use_text: bool = Field(True, description="a full date printed near the top of the text")
        use_year_mentions: bool = Field(
            True, description="the year the text mentions most (weak signal)"
        )
        crawl_fallback: bool = Field(
            False,
            description="rows with no other signal take their crawl date (source crawl, "
            "lowest confidence)",
        )
        max_html_bytes: int | None = Field(
            default=MAX_HTML_BYTES,
            gt=0,
            description="a larger page gets no markup signal (URL and text only), as in extract",
        )
        time_budget_s: float | None = Field(
            default=60.0, gt=0, description="seconds one row may take (then no_date:time_budget)"
        )

        @field_validator("earliest_date", "latest_date", mode="before")
        @classmethod
        def _iso(cls, value: object) -> object:
            """YYYY-MM-DD, given as text or (in Python) as a `datetime.date`."""
            if isinstance(value, datetime.datetime):
                value = value.date()
            if isinstance(value, datetime.date):
                return value.isoformat()
            if isinstance(value, str):  # raises ValueError with the reason
                return datetime.date.fromisoformat(value).isoformat()
            return value  # None, or a type the field refuses

        @model_validator(mode="after")
        def _bounds_in_order(self) -> Date.Options:
            if self.latest_date is not None and self.latest_date < self.earliest_date:
                early, late = self.earliest_date, self.latest_date
                raise ValueError(f"earliest_date ({early}) is after latest_date ({late})")
            return self

    @functools.cached_property
    def today(self) -> str:
        """The upper bound of undated rows without `latest_date`: htmldate's own (today)."""
        return datetime.date.today().isoformat()

    def date_one(self, html: str | None, url: str | None, text: str | None, crawl: str | None):
        """The date of one document (see the module docstring for the order of signals)."""
        o = self.options
        low = o.earliest_date
        crawled = _crawl_day(crawl)
        high = min(d for d in (crawled, o.latest_date) if d) if crawled or o.latest_date else None
        high = high or self.today
        if html is None and not url and not text:
            return Dated(None, None, None, "no_input")
        markup = None
        if html and o.max_html_bytes is not None and len(html) > o.max_html_bytes:
            html = None  # past the size guard (as in `extract`): URL and text signals only
        if o.use_html and html:
            markup = html_date(
                html, url, low, high, extensive=o.extensive_search, original=o.original_date
            )
        from_url = url_date(url, low, high) if o.use_url else None
        if markup is not None and markup == from_url:
            markup = None  # htmldate reads a URL's full date before the markup: it is the URL's
        printed = year = None
        if markup is None and (from_url is None or len(from_url) < 10):  # text only as needed
            if text is None and html and (o.use_text or o.use_year_mentions):
                text = visible_text(html)
            printed = text_date(text, low, high, o.head_chars) if o.use_text else None
            year = mentioned_year(text, low, high, o.head_chars) if o.use_year_mentions else None
        dated = combine(markup, from_url, printed, year)
        if dated is not None:
            return dated
        if o.crawl_fallback and crawled:
            return Dated(crawled, "crawl", CONFIDENCE["crawl"])
        if (crawled or o.latest_date) and _any_after(
            self, html if crawled else None, url, text, low
        ):
            return Dated(None, None, None, "after_bound")
        return Dated(None, None, None, "no_signal")

    def date_column(self, batch: pa.Table) -> list[Dated]:
        n = batch.num_rows
        columns = batch.column_names
        htmls = batch[HTML].to_pylist() if HTML in columns else [None] * n
        urls = batch[URL].to_pylist() if URL in columns else [None] * n
        texts = batch[TEXT].to_pylist() if TEXT in columns else [None] * n
        crawls = crawl_dates(batch).to_pylist()
        prepare()  # here, not once per forked child (importing htmldate takes ~0.5 s)

        def work(row: int) -> Dated:
            return self.date_one(htmls[row], urls[row], texts[row], crawls[row])

        # Only pages go through the time budget (a forked child): parsing markup is what can
        # hang; text-only rows are a bounded regex pass (head_chars) and run here, which is
        # 2x faster than streaming their results back from a child.
        pages = [row for row in range(n) if htmls[row] is not None]
        plain = [row for row in range(n) if htmls[row] is None]
        outcomes = dict(
            zip(pages, map_rows_within_budget(work, pages, self.options.time_budget_s), strict=True)
        )
        outcomes.update(zip(plain, map_rows_within_budget(work, plain, None), strict=True))
        results = []
        for row in range(n):
            outcome = outcomes[row]
            if outcome.failure is None:
                results.append(outcome.value)
                continue
            logging.getLogger(__name__).debug("date failed on row %d: %s", row, outcome.failure)
            reason = "time_budget" if outcome.failure.timed_out else "failed"
            results.append(Dated(None, None, None, reason))
        return results

    def map(self, batch: pa.Table) -> pa.Table:
        dated = self.date_column(batch)
        for name, kind, values in (
            (DATE, pa.string(), [d.date for d in dated]),
            (DATE_SOURCE, pa.string(), [d.source for d in dated]),
            (DATE_CONFIDENCE, pa.float32(), [d.confidence for d in dated]),
            (NO_DATE_REASON, pa.string(), [d.reason for d in dated]),
        ):
            if name in batch.column_names:
                batch = batch.drop_columns([name])
            batch = batch.append_column(pa.field(name, kind), pa.array(values, kind))
        return batch

    def counters(self, out: pa.Table, decision: Decision | None) -> dict[str, int]:
        """Rows per date source (`source:html`, ...) and, for rows without a date, per reason
        (`no_date:no_signal`, ...): stats.json's per-stage counters."""
        sources = {f"source:{k}": v for k, v in value_counts(out[DATE_SOURCE]).items()}
        reasons = {f"no_date:{k}": v for k, v in value_counts(out[NO_DATE_REASON]).items()}
        return {**sources, **reasons}


def combine(
    markup: str | None, from_url: str | None, printed: str | None, year: str | None
) -> Dated | None:
    """One date from the signals found: the strongest, more confident when another agrees."""
    candidates = [
        (s, d) for s, d in zip(SIGNALS, (markup, from_url, printed, year), strict=True) if d
    ]
    if not candidates:
        return None
    source, date = candidates[0]
    if source == "html" and from_url and len(from_url) == 10 and from_url[:7] != date[:7]:
        source, date = "url", from_url  # a URL's full date beats a markup date of another month
    agreeing = [(s, d) for s, d in candidates if s != source and _agree(date, d)]
    finer = [(s, d) for s, d in agreeing if len(d) > len(date)]
    if finer:  # `2021` from the URL and `2021-10-18` printed in the text: the day, from the text
        source, date = finer[0]
    confidence = CONFIDENCE[source] - PRECISION_PENALTY[len(date)] * (source != "text_year")
    confidence = min(1.0, confidence + AGREEMENT_BONUS * len(agreeing))
    return Dated(date, source, round(confidence, 3))


def _agree(a: str, b: str) -> bool:
    """Two dates agree at the precision of the coarser one."""
    n = min(len(a), len(b))
    return a[:n] == b[:n]


def _any_after(stage: Date, html, url, text, low: str) -> bool:
    """Whether a signal would have dated the row but for its upper bound (crawl date or
    `latest_date`): it is then dated after it, up to today. The markup is asked again only
    under a crawl date (a second htmldate pass costs as much as the first)."""
    o = stage.options
    high = max(o.latest_date or stage.today, stage.today)
    if url_date(url, low, high) or text_date(text, low, high, o.head_chars):
        return True
    if o.use_html and html:
        return bool(html_date(html, url, low, high, extensive=False, original=o.original_date))
    return False


@functools.lru_cache(maxsize=4096)
def _crawl_day(crawl: str | None) -> str | None:
    """The day of a WARC-Date (`2019-05-12T08:00:00Z`), None when it is not a date."""
    if not crawl or len(crawl) < 10:
        return None
    try:
        day = datetime.date.fromisoformat(crawl[:10])
    except ValueError:
        return None
    return iso_date(day.year, day.month, day.day)


def crawl_dates(batch: pa.Table) -> pa.Array:
    """Each row's crawl date: the `crawl_date` column (provenance) or the WARC-Date the reader
    kept in `metadata`; null where neither is known."""
    n = batch.num_rows
    if CRAWL_DATE in batch.column_names:
        dates = batch[CRAWL_DATE].cast(pa.string())
    elif METADATA in batch.column_names:
        dates = metadata_field(batch[METADATA], "warc_date")
    else:
        return pa.nulls(n, pa.string())
    return dates.combine_chunks() if isinstance(dates, pa.ChunkedArray) else dates
