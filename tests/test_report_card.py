"""The dataset card and the report of a finished demo run: YAML that parses, numbers that are
stats.json's, and `textmill report OUT` regenerating both from what the run saved."""

import argparse
import json
import re
from pathlib import Path

import pytest
import yaml

from textmill.cli import main
from textmill.cli import report as cli_report


@pytest.fixture(scope="module")
def demo_out(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("report") / "demo-out"
    assert main(["demo", "-o", str(out), "--workers", "2", "--no-progress"]) == 0
    return out


def report_command(out: Path) -> int:
    parser = argparse.ArgumentParser()
    cli_report.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["report", str(out)])
    return args.handler(args)


def front_matter(card: str) -> dict:
    match = re.match(r"---\n(.*?)\n---\n", card, re.S)
    assert match, "the card starts with YAML front matter"
    return yaml.safe_load(match.group(1))


def table_rows(card: str, first_header: str) -> list[list[str]]:
    """The rows of the markdown table whose first header cell is `first_header`."""
    lines = card.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"| {first_header} |"))
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip("|").split(" | ")])
    return rows


def test_every_run_writes_the_report_and_the_card(demo_out):
    assert (demo_out / "report.html").stat().st_size > 10_000
    assert (demo_out / "README.md").read_text().startswith("---\n")


def test_card_front_matter_is_hugging_face_metadata(demo_out):
    meta = front_matter((demo_out / "README.md").read_text())
    assert meta["license"] == "other"  # the demo pipeline does not detect licences
    assert meta["language"] == ["en"]
    assert meta["size_categories"] == ["n<1K"]
    assert meta["task_categories"] == ["text-generation"]
    config = meta["configs"][0]
    assert config["data_files"][0]["path"] == "data/*.parquet"
    assert list(demo_out.glob(config["data_files"][0]["path"]))


def test_card_numbers_equal_stats_json(demo_out):
    stats = json.loads((demo_out / "stats.json").read_text())
    card = (demo_out / "README.md").read_text()
    totals = dict(table_rows(card, "count"))
    assert int(totals["documents read"]) == stats["read"]
    assert int(totals["documents kept"]) == stats["kept"]
    assert int(totals["documents rejected"]) == stats["rejected"]
    assert int(totals["documents errored"]) == stats["errored"]
    assert int(totals["kept text bytes"]) == stats["stages"][-1]["bytes_out"]
    funnel = table_rows(card, "stage")
    assert [row[0] for row in funnel] == [s["name"] for s in stats["stages"]]
    for row, stage in zip(funnel, stats["stages"], strict=True):
        assert [int(v) for v in row[1:]] == [
            stage["docs_in"], stage["docs_out"], stage["dropped"], stage["errored"]
        ]  # fmt: skip
    languages = {row[0]: int(row[1]) for row in table_rows(card, "language")}
    assert languages == stats["languages"]


def test_card_lists_every_stage_with_all_its_parameters(demo_out):
    card = (demo_out / "README.md").read_text()
    assert '"min_score": 0.65' in card  # langid, given in the preset
    assert '"min_words": 50' in card  # gopher_quality, a default
    assert "email@example.com" in card  # PII placeholder named under PII handling
    assert "Crawl dates (WARC-Date of kept documents): 2024-" in card


def test_card_claims_no_toxicity_filtering_beyond_the_url_filter_the_preset_runs(demo_out):
    card = (demo_out / "README.md").read_text()
    assert "No toxicity filtering ran beyond the URL block list" in card


def test_report_shows_the_funnel_with_stats_numbers(demo_out):
    stats = json.loads((demo_out / "stats.json").read_text())
    html = (demo_out / "report.html").read_text()
    assert f"{stats['kept']:,} of {stats['read']:,} documents kept" in html
    for stage in stats["stages"]:
        for reason, count in stage["reasons"].items():
            assert f"{reason} {count:,}" in html


def test_report_audits_every_drop_reason_with_samples(demo_out):
    stats = json.loads((demo_out / "stats.json").read_text())
    html = (demo_out / "report.html").read_text()
    for stage in stats["stages"]:
        for reason, count in stage["reasons"].items():
            assert f"{stage['name']}: {reason} — {count:,} dropped" in html
    assert "rule: drop if <span class=metric>lang_score &lt; 0.65</span>" in html
    assert "kept, nearest the threshold" in html


def test_report_command_regenerates_both_from_a_finished_run(demo_out, capsys):
    before = {name: (demo_out / name).read_text() for name in ("report.html", "README.md")}
    for name in before:
        (demo_out / name).unlink()
    assert report_command(demo_out) == 0
    assert "wrote" in capsys.readouterr().out
    for name, text in before.items():
        assert (demo_out / name).read_text() == text, name


def test_report_command_refuses_a_directory_that_is_not_a_run(tmp_path, capsys):
    assert report_command(tmp_path) == 2
    assert "not a textmill output folder" in capsys.readouterr().err
