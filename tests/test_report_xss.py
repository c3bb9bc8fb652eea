"""Hostile data never becomes markup: a run over inputs whose URLs, ids, file names, metadata
and texts carry HTML and Markdown payloads (and a pipeline whose options do) writes a
report.html and a dataset card in which no payload is a tag, an attribute, a link or an image;
in a real browser (tests/test_report_browser.py's headless chromium) no payload runs."""

import re
from pathlib import Path

import pytest
from lxml import html as lxml_html

from textmill.cli import main
from textmill.report.build import RunReport
from textmill.report.card import render_card
from textmill.report.html import render_html

# Each payload, if it ever ran, would set the page title (what --dump-dom shows) to PWNED.
RUN = "document.title='PWNED'"
PAYLOADS = (
    f"<svg onload={RUN}>",
    f"<img src=x onerror={RUN}>",
    f"<script>{RUN}</script>",
    f'"><img src=x onerror="{RUN}">',
    f"'><svg onload={RUN}>",
    f"</textarea><img src=x onerror={RUN}>",
    f"</title></style><script>{RUN}</script>",
    f'<a href="javascript:{RUN}">click</a>',
    f"javascript:{RUN}",
    f"[click](javascript:{RUN}) ![x](javascript:{RUN}) <javascript:{RUN}>",
    "`` ` ``| --- |\n---\nlicense: pwned\n---\n**bold** <!-- comment",
)
PROSE = (
    "The river runs past the old mill and the children of the village walk along it to school "
    "every morning, and they stop at the bridge to watch the water turn the great wheel that "
    "has ground the flour of the valley for more than two hundred years. In the evening the "
    "miller closes the gates and the water is quiet again, and the people of the village come "
    "to sit on the wall and talk about the harvest and the weather and the news from the town. "
)


def slashless(payload: str, instead: str) -> str:
    """The payload as a URL host or file name hold it (no `/`, `:`, `?`, `#`); `instead` where
    dropping the `/` leaves an unclosed <script>, <textarea>, <title> or <style>, which would
    swallow the rest of a page written raw and so hide the other payloads from the browser."""
    cut = re.sub(r"[/:?#\n]", "", payload)
    return instead if re.search(r"<(script|textarea|title|style|!--)", cut) else cut


def hostile_records() -> list[dict]:
    records = []
    for i, payload in enumerate(PAYLOADS):
        host = slashless(payload, "example.org")
        common = {
            "url": f"http://{host}/{payload}",
            "lang": payload,
            "source_name": payload,
            "metadata": {"title": payload, "domain": payload},
        }
        # a kept document (long prose carrying the payload) and a dropped one (too short)
        records.append({"id": f"{payload}#kept{i}", "text": f"{PROSE}{payload} {PROSE}", **common})
        records.append({"id": f"{payload}#short{i}", "text": f"{payload} too short", **common})
    records.append({"id": "dup-a", "text": PROSE * 2, "url": f"http://x.org/{PAYLOADS[0]}"})
    records.append({"id": "dup-b", "text": PROSE * 2, "url": f"http://x.org/{PAYLOADS[1]}"})
    return records


@pytest.fixture(scope="module")
def hostile_run(tmp_path_factory) -> Path:
    import json

    root = tmp_path_factory.mktemp("xss")
    inputs = root / "in"
    inputs.mkdir()
    for i, payload in enumerate(PAYLOADS[:4]):  # markup in the source file names
        name = slashless(payload, "plain") + f"{i}.jsonl"
        records = hostile_records()[i::4]
        (inputs / name).write_text("".join(json.dumps(r) + "\n" for r in records), "utf-8")
    pipeline = root / "pipeline.yaml"
    blocked = json.dumps([p.replace("\n", " ") for p in PAYLOADS])
    pipeline.write_text(
        "stages:\n"
        f"  - url_filter: {{blocked_domains: {blocked}, banned_words: {blocked}}}\n"
        "  - langid: {languages: [en]}\n"
        "  - gopher_quality: {}\n"
        "  - exact_dedup: {}\n"
        f"  - pii: {{email_placeholder: {json.dumps(PAYLOADS[5])}}}\n",
        "utf-8",
    )
    out = root / "out"
    argv = ["run", str(pipeline), str(inputs), "-o", str(out), "-w", "1", "--no-progress"]
    assert main(argv) == 0
    return out


def payload_tags() -> list[str]:
    """The payloads' opening tags and comments, as they would appear if written raw (closing
    tags like `</script>` are also the page's own)."""
    return [t for p in PAYLOADS for t in re.findall(r"<[a-z!][^<]*", p)]


def assert_no_active_markup(page: str, own_scripts: int) -> None:
    """No element a payload could make: no on* attribute, no javascript: URL, no image, frame or
    object, and only the page's own scripts."""
    tree = lxml_html.document_fromstring(page)
    assert len(tree.xpath("//script")) == own_scripts
    links = "//a[@href and not(starts-with(@href, '#'))]"
    assert tree.xpath(f"//img|//iframe|//object|//embed|//textarea|//form|{links}") == []
    for element in tree.iter():
        for name, value in element.attrib.items():
            assert not name.lower().startswith("on"), (element.tag, name, value)
            assert "javascript:" not in value.lower(), (element.tag, name, value)


def test_hostile_run_reaches_every_section(hostile_run):
    report = RunReport.load(hostile_run)
    assert report.stats["kept"] > 0 and report.stats["rejected"] > 0
    assert report.audit(), "dropped documents give audit samples"
    assert any("<" in d["domain"] for d in report.domains()), "markup in a domain"
    assert any("<" in name for name in report.stats["sources"]), "markup in a file name"


def test_report_html_shows_payloads_only_as_text(hostile_run):
    page = (hostile_run / "report.html").read_text("utf-8")
    for tag in payload_tags():
        assert tag not in page, tag
    assert_no_active_markup(page, own_scripts=1)
    text = lxml_html.document_fromstring(page).text_content()
    assert "onerror=" in text  # shown, escaped, as the data it is


def test_card_shows_payloads_only_as_text(hostile_run):
    from markdown_it import MarkdownIt

    card = (hostile_run / "README.md").read_text("utf-8")
    for tag in payload_tags():
        assert tag not in card, tag
    assert "](javascript:" not in card
    rendered = MarkdownIt("commonmark", {"html": True}).enable("table").render(card)
    assert_no_active_markup(f"<html><body>{rendered}</body></html>", own_scripts=0)
    front = re.match(r"---\n(.*?)\n---\n", card, re.S).group(1)
    assert "pwned" not in front.lower()


def test_every_data_field_of_a_report_is_escaped(hostile_run):
    """Fields a run over files cannot fill with markup (languages, licences, crawl dates,
    warnings, score columns, audit metrics) are escaped too."""
    report = RunReport.load(hostile_run)
    payload = PAYLOADS[1]
    report.stats["languages"] = {payload: 3, "en": 1}
    report.state["languages"]["kept_words"] = {payload: 10}
    report.state["licenses"] = {payload: 2, "cc-by-4.0": 1}
    report.columns.append("license")
    report.state["crawl_range"] = [payload, payload]
    report.state["crawl_months"] = {payload: 1}
    report.state["warnings"] = [payload]
    report.state["scores"] = {payload: {"stage": payload, "kept": [1] * 20}}
    for entry in report.state["audit"].values():
        entry["reason"] = payload
        for sample in entry["samples"]:
            sample["metrics"] = {payload: payload}
            sample["reason"] = f"x={payload}"
            sample["url"] = None
            sample["id"] = 12345  # ids need not be strings in a saved state
    page, card = render_html(report), render_card(report)
    assert "<img" not in page and "<img" not in card
    assert_no_active_markup(page, own_scripts=1)
    from markdown_it import MarkdownIt

    rendered = MarkdownIt("commonmark", {"html": True}).enable("table").render(card)
    assert_no_active_markup(f"<html><body>{rendered}</body></html>", own_scripts=0)
    front = re.match(r"---\n(.*?)\n---\n", card, re.S).group(1)
    assert "img" not in front and "language:\n- en" in front


def test_no_payload_runs_in_a_browser(hostile_run, tmp_path):
    from test_report_browser import CHROMIUM, chromium

    if CHROMIUM is None:
        pytest.skip("chromium not installed (apt-get install -y chromium)")
    result = chromium(tmp_path, "--dump-dom", (hostile_run / "report.html").as_uri())
    assert result.returncode == 0, result.stderr[-2000:]
    title = re.search(r"<title>(.*?)</title>", result.stdout, re.S).group(1)
    assert title.startswith("textmill report"), title
    assert "pwned" not in title.lower()
    assert 'data-errors="0"' in result.stdout
