"""The `date` stage: markup, URL, text and year signals, the crawl-date bound, no-date reasons,
and a real run over WARC and JSONL input."""

import datetime
import gzip
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import reconciled_run, write_jsonl

from textmill.document import make_batch
from textmill.stages.signals.date import Date
from textmill.text.dates import mentioned_year, text_date, url_date

BODY = "<p>" + "Plain words about gardens and the weather in spring. " * 8 + "</p>"


def page(head: str = "", body: str = BODY) -> str:
    return f"<html><head><title>A page</title>{head}</head><body>{body}</body></html>"


META = '<meta property="article:published_time" content="2019-05-12T10:00:00+00:00">'


def dated(html=None, url=None, text=None, metadata=None, **options) -> list[dict]:
    n = max(len(x) for x in (html, url, text, metadata) if x is not None)
    batch = make_batch(
        [f"d{i}" for i in range(n)],
        text or [None] * n,
        urls=url,
        html=html,
        metadata=metadata,
    )
    options = {"time_budget_s": None, "latest_date": "2026-01-01", **options}
    out = Date(**options).map(batch)
    return out.select(["date", "date_source", "date_confidence", "no_date_reason"]).to_pylist()


def test_meta_date_in_the_markup_is_the_html_source():
    (row,) = dated(html=[page(META)], url=["https://example.org/garden-news"])
    assert (row["date"], row["date_source"], row["no_date_reason"]) == ("2019-05-12", "html", None)
    assert 0.8 <= row["date_confidence"] <= 1.0


def test_url_day_path_dates_a_page_without_markup_dates():
    (row,) = dated(html=[page()], url=["https://blog.example.org/2018/03/07/my-post/"])
    assert (row["date"], row["date_source"]) == ("2018-03-07", "url")


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://x.org/2019/05/", "2019-05"),
        ("https://x.org/news/2019-05-12-title", "2019-05-12"),
        ("https://x.org/a/20190512/b.html", "2019-05-12"),
        ("https://x.org/archive/2021/item.html", "2021"),
        ("https://x.org/2019/13/40/", "2019"),  # no month 13: the year segment is what is left
        ("https://x.org/1850/05/12/", None),  # before the web: not a publication date
        ("https://x.org/products/12345678", None),
        ("https://web.archive.org/web/20130217080612/http://x.de/2012/08/title/", "2012-08"),
    ],
)
def test_url_dates_and_their_sanity_bounds(url, expected):
    assert url_date(url, "1995-01-01", "2026-01-01") == expected


def test_printed_dates_in_several_languages_and_year_mentions():
    assert text_date("Veröffentlicht am 3. Mai 2020 von Anna", "1995-01-01", None, 500) == (
        "2020-05-03"
    )
    assert text_date("Posted March 4, 2021 by Bob", "1995-01-01", None, 500) == "2021-03-04"
    assert text_date("le 12/31 et 31.02.2020 puis 02.03.2020", "1995-01-01", None, 500) == (
        "2020-03-02"  # 31 February does not exist
    )
    text = "Results of 2017 and 2018. In 2018 we grew; 2018 was good. Call 2017-1234."
    assert mentioned_year(text, "1995-01-01", None, 500) == "2018"


def test_text_only_document_gets_the_year_it_mentions_most():
    text = "The 2016 harvest was late. Growers said 2016 was the wettest year since 2009."
    (row,) = dated(text=[text])
    assert (row["date"], row["date_source"]) == ("2016", "text_year")
    assert row["date_confidence"] < 0.5


def test_copyright_notices_are_no_year_mentions():
    # a site's footer year is on every page of the site: a page that only has it is undated
    assert mentioned_year("News. © Cork's 96FM 2020. Powered by", "1995-01-01", None, 500) is None
    footer = "Report of 2017. © 2019 ACME, all rights reserved. Copyright ACME 2019."
    assert mentioned_year(footer, "1995-01-01", None, 500) == "2017"
    (row,) = dated(text=["Home. Latest shows. (c) 2021 Radio One"])
    assert (row["date"], row["no_date_reason"]) == (None, "no_signal")


def test_printed_full_date_beats_a_year_mention():
    (row,) = dated(text=["Berlin, 14.02.2022 – Die Messe 2021 und 2021 war gut."])
    assert (row["date"], row["date_source"]) == ("2022-02-14", "text")


def test_conflicting_markup_and_url_the_url_day_wins_and_agreement_raises_confidence():
    conflicting, agreeing = dated(
        html=[page(META), page(META)],
        url=["https://x.org/2020/07/01/post.html", "https://x.org/2019/05/post.html"],
    )
    assert (conflicting["date"], conflicting["date_source"]) == ("2020-07-01", "url")
    assert (agreeing["date"], agreeing["date_source"]) == ("2019-05-12", "html")
    assert agreeing["date_confidence"] > dated(html=[page(META)])[0]["date_confidence"]


def test_a_date_after_the_crawl_date_is_discarded_not_clipped():
    future = '<meta property="article:published_time" content="2024-06-01T10:00:00+00:00">'
    crawled_2020 = {"warc_date": "2020-01-15T08:00:00Z"}
    bounded, fallback, kept = dated(
        html=[page(future), page(future), page(future)],
        url=["https://x.org/a", "https://x.org/2019/11/20/a", "https://x.org/a"],
        metadata=[crawled_2020, crawled_2020, {"warc_date": "2024-07-01T00:00:00Z"}],
    )
    assert (bounded["date"], bounded["no_date_reason"]) == (None, "after_bound")
    assert (fallback["date"], fallback["date_source"]) == ("2019-11-20", "url")
    assert kept["date"] == "2024-06-01"


def test_no_date_is_null_with_a_reason_and_the_row_is_kept():
    rows = dated(html=[page(), None], url=["https://x.org/about", None], text=[None, None])
    assert [r["date"] for r in rows] == [None, None]
    assert [r["no_date_reason"] for r in rows] == ["no_signal", "no_input"]
    counted = Date(time_budget_s=None).counters(
        pa.table({"date_source": [None, "url"], "no_date_reason": ["no_signal", None]}), None
    )
    assert counted == {"source:url": 1, "no_date:no_signal": 1}


def test_crawl_fallback_dates_an_undated_page_by_its_crawl():
    (row,) = dated(
        html=[page()],
        url=["https://x.org/about"],
        metadata=[{"warc_date": "2021-09-30T23:00:00Z"}],
        crawl_fallback=True,
    )
    assert (row["date"], row["date_source"]) == ("2021-09-30", "crawl")
    assert row["date_confidence"] == pytest.approx(0.1)


def test_bad_bound_option_is_refused():
    with pytest.raises(ValueError, match="earliest_date"):
        Date(earliest_date="2019-13-01")


def test_bounds_are_kept_as_iso_text_whether_given_as_text_or_as_a_date():
    options = Date(earliest_date="20000102", latest_date=datetime.date(2026, 1, 1)).options
    assert (options.earliest_date, options.latest_date) == ("2000-01-02", "2026-01-01")


def _warc(path: Path, pages: list[tuple[str, str, str]]) -> Path:
    """A gzipped WARC of HTTP responses (uri, WARC-Date, html), one gzip member per record."""
    records = []
    for number, (uri, when, html) in enumerate(pages):
        body = html.encode()
        http = b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n"
        http += f"Content-Length: {len(body)}\r\n\r\n".encode() + body
        head = (
            f"WARC/1.0\r\nWARC-Type: response\r\n"
            f"WARC-Record-ID: <urn:uuid:00000000-0000-0000-0000-{number:012d}>\r\n"
            f"WARC-Date: {when}\r\nWARC-Target-URI: {uri}\r\n"
            "Content-Type: application/http; msgtype=response\r\n"
            f"Content-Length: {len(http)}\r\n\r\n"
        ).encode()
        records.append(gzip.compress(head + http + b"\r\n\r\n"))
    path.write_bytes(b"".join(records))
    return path


def warc_fixture(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    return _warc(
        folder / "crawl.warc.gz",
        [
            ("https://news.example.org/2019/05/12/garden/", "2020-02-01T00:00:00Z", page()),
            ("https://news.example.org/story", "2021-03-01T00:00:00Z", page(META)),
            ("https://news.example.org/about", "2021-03-01T00:00:00Z", page()),
            (
                "https://news.example.org/future",
                "2018-01-01T00:00:00Z",
                page(META),  # published "after" its crawl: discarded
            ),
        ],
    )


def test_run_end_to_end_on_warc_dates_before_extract(tmp_path):
    stages = ["provenance", ("date", {"latest_date": "2026-01-01"}), ("extract", {})]
    stats, _ = reconciled_run(stages, [str(warc_fixture(tmp_path / "in"))], tmp_path / "out")
    table = pa.concat_tables(
        pq.read_table(p) for p in sorted((tmp_path / "out" / "data").glob("*.parquet"))
    )
    by_url = {r["url"]: r for r in table.to_pylist()}
    assert by_url["https://news.example.org/2019/05/12/garden/"]["date"] == "2019-05-12"
    assert by_url["https://news.example.org/story"]["date_source"] == "html"
    assert by_url["https://news.example.org/future"]["no_date_reason"] == "after_bound"
    assert "html" not in table.column_names  # extract still drops the markup after `date`
    date_stage = stats["stages"][1]
    assert date_stage["name"] == "date" and date_stage["dropped"] == 0
    assert date_stage["counters"]["source:url"] == 1
    assert date_stage["counters"]["no_date:after_bound"] == 1
    assert sum(v for k, v in date_stage["counters"].items()) == date_stage["docs_in"]


def test_run_end_to_end_on_jsonl_text(tmp_path):
    records = [
        {"id": "a", "text": "Posted March 4, 2021. " + "Words about things. " * 5},
        {"id": "b", "text": "Nothing to date here. " * 5, "url": "https://x.org/2017/02/x"},
        {"id": "c", "text": "No date at all. " * 5},
    ]
    inputs = [str(write_jsonl(tmp_path / "in" / "docs.jsonl", records))]
    stats, _ = reconciled_run([("date", {"latest_date": "2026-01-01"})], inputs, tmp_path / "out")
    table = pq.read_table(next((tmp_path / "out" / "data").glob("*.parquet")))
    assert table.sort_by("id")["date"].to_pylist() == ["2021-03-04", "2017-02", None]
    assert stats["kept"] == 3
    card = (tmp_path / "out" / "README.md").read_text("utf-8")
    assert "date_source" in card
    assert (
        json.loads((tmp_path / "out" / "stats.json").read_text())["stages"][0]["counters"][
            "no_date:no_signal"
        ]
        == 1
    )


def test_a_page_htmldate_fails_on_is_kept_with_the_reason_failed(monkeypatch):
    import textmill.stages.signals.date as date_module

    def html_date(html, *args, **kwargs):
        if "broken" in html:
            raise ValueError("lxml could not parse it")
        return "2019-05-12"

    monkeypatch.setattr(date_module, "html_date", html_date)
    rows = dated(html=[page(body="broken"), page(META)], url=["https://x.org/a", "https://x.org/b"])
    assert [(r["date"], r["no_date_reason"]) for r in rows] == [
        (None, "failed"),
        ("2019-05-12", None),
    ]


def test_after_extract_with_keep_html_the_extracted_text_is_used(tmp_path):
    records = [
        {
            "id": "p",
            "url": "https://x.org/page",
            "html": page(body="<p>Gepostet am 3. Mai 2020.</p>" + BODY),
        }
    ]
    inputs = [str(write_jsonl(tmp_path / "in" / "pages.jsonl", records))]
    stages = [("extract", {"keep_html": True}), ("date", {"latest_date": "2026-01-01"})]
    reconciled_run(stages, inputs, tmp_path / "out")
    table = pq.read_table(next((tmp_path / "out" / "data").glob("*.parquet")))
    assert table.select(["date", "date_source"]).to_pylist() == [
        {"date": "2020-05-03", "date_source": "text"}
    ]


def test_bounds_out_of_order_are_refused():
    with pytest.raises(ValueError, match="earliest_date .* is after latest_date"):
        Date(earliest_date="2020-01-01", latest_date="2019-01-01")


def test_markup_that_is_a_bare_url_is_never_downloaded(monkeypatch):
    import htmldate.utils

    def fetch_url(url):
        raise AssertionError(f"htmldate tried to download {url}")

    monkeypatch.setattr(htmldate.utils, "fetch_url", fetch_url)
    (row,) = dated(html=["https://example.org/2019/05/12/page"], url=[None])
    assert row["no_date_reason"] != "failed"


def test_the_earlier_of_crawl_date_and_latest_date_bounds_and_big_pages_skip_the_markup():
    crawled_2024 = {"warc_date": "2024-07-01T00:00:00Z"}
    meta_2023 = '<meta property="article:published_time" content="2023-06-01T10:00:00+00:00">'
    bounded, big = dated(
        html=[page(meta_2023), page(META, body=BODY * 40)],
        url=["https://x.org/a", "https://x.org/b"],
        metadata=[crawled_2024, crawled_2024],
        latest_date="2022-12-31",
        max_html_bytes=len(page(META)) + 100,
    )
    assert (bounded["date"], bounded["no_date_reason"]) == (None, "after_bound")
    assert (big["date"], big["no_date_reason"]) == (None, "no_signal")


def test_textmill_stages_describes_the_date_stage(capsys):
    from textmill.cli import main

    assert main(["stages", "date"]) == 0
    described = capsys.readouterr().out
    assert "date_source" in described and "latest_date" in described
