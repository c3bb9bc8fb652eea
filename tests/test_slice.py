"""`textmill slice`: a finished run's output in one textmill output folder per year, month or
column value, with counts that add up to the run's."""

import json
import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from conftest import reconciled_run, write_jsonl

from textmill import slice_run
from textmill.cli import main
from textmill.report.build import RunReport
from textmill.slices import slice_name

WORDS = " Words about the garden and the weather this spring."
RECORDS = [
    {"id": "a1", "text": "Posted March 4, 2021." + WORDS, "lang": "en"},
    {"id": "a2", "text": "Berlin, 14.02.2021." + WORDS, "lang": "de"},
    {"id": "b1", "text": "Posted May 1, 2019." + WORDS, "lang": "en"},
    {"id": "c1", "text": "The 2016 harvest." + WORDS, "lang": "en"},  # year only
    {"id": "n1", "text": "Nothing dated here." + WORDS, "lang": "en"},
    {"id": "n2", "text": "Nor here." + WORDS, "lang": "fr"},
]


@pytest.fixture(scope="module")
def dated_run(tmp_path_factory) -> Path:
    """One run for the module (slicing never writes into the run's own files)."""
    tmp_path = tmp_path_factory.mktemp("sliced")
    inputs = [
        str(write_jsonl(tmp_path / "in" / "news.jsonl", RECORDS[:3])),
        str(write_jsonl(tmp_path / "in" / "blogs.jsonl", RECORDS[3:])),
    ]
    out = tmp_path / "run"
    reconciled_run([("date", {"latest_date": "2026-01-01"})], inputs, out)
    return out


def ids(folder: Path) -> list[str]:
    return sorted(
        i
        for p in sorted((folder / "data").glob("*.parquet"))
        for i in pq.read_table(p)["id"].to_pylist()
    )


def test_slice_by_year_writes_one_reconciled_output_per_year(dated_run, capsys):
    assert main(["slice", str(dated_run), "--by", "year"]) == 0
    dest = dated_run / "slices" / "year"
    summary = json.loads((dest / "slices.json").read_text())
    assert summary["slices"] == {"2016": 1, "2019": 1, "2021": 2, "unknown": 2}
    assert summary["total"] == summary["run_kept"] == 6 and summary["reconciled"]
    assert ids(dest / "2021") == ["a1", "a2"] and ids(dest / "unknown") == ["n1", "n2"]
    for name, docs in summary["slices"].items():
        stats = json.loads((dest / name / "stats.json").read_text())
        assert stats["read"] == stats["kept"] == docs and stats["reconciled"]
        value = None if name == "unknown" else name
        assert stats["slice"] == {**stats["slice"], "by": "year", "value": value, "run_kept": 6}
        assert stats["slice"]["folder"] == name and stats["shards"] == 1
        card = (dest / name / "README.md").read_text()
        assert f"{docs:,} documents kept" in card
        which = f"whose year (of `date`) is `{name}`" if value else "without a year (of `date`)"
        assert f"{which}: {docs:,} of the 6 documents kept by the run" in card
        assert (dest / name / "report.html").is_file()
        RunReport.load(dest / name)  # each slice is a textmill output `report` accepts
    sources = json.loads((dest / "unknown" / "stats.json").read_text())["sources"]
    assert [v for k, v in sources.items() if k.endswith("blogs.jsonl")] == [{"read": 2, "kept": 2}]
    assert "4 slices by year of 6 kept documents" in capsys.readouterr().out


def test_slice_by_month_puts_year_only_dates_in_unknown(dated_run, tmp_path):
    summary = slice_run(dated_run, "month", tmp_path / "months")
    assert summary["slices"] == {"2019-05": 1, "2021-02": 1, "2021-03": 1, "unknown": 3}
    assert summary["reconciled"]


def test_slice_by_any_column_and_overwrite(dated_run, tmp_path):
    dest = tmp_path / "by-lang"
    assert slice_run(dated_run, "date_source", dest)["slices"] == {
        "text": 3,
        "text_year": 1,
        "unknown": 2,
    }
    assert main(["slice", str(dated_run), "--by", "date_source", "-o", str(dest)]) == 2
    assert (
        main(["slice", str(dated_run), "--by", "date_source", "-o", str(dest), "--overwrite"]) == 0
    )
    summary = json.loads((dest / "slices.json").read_text())
    assert summary["slices"] == {"text": 3, "text_year": 1, "unknown": 2}
    assert not (dest / "en").exists()  # the previous slicing's folders are gone


def test_slice_of_a_folder_that_is_not_a_run_output_is_a_clear_error(tmp_path, capsys):
    (tmp_path / "plain").mkdir()
    (tmp_path / "plain" / "notes.txt").write_text("mine")
    assert main(["slice", str(tmp_path / "plain"), "--by", "year"]) == 2
    err = capsys.readouterr().err
    assert "not a textmill output folder" in err and err.count("\n") == 1
    assert not (tmp_path / "plain" / "slices").exists()


def test_slice_by_a_missing_column_or_too_many_values_is_refused(dated_run, capsys):
    assert main(["slice", str(dated_run), "--by", "year", "--date-column", "crawl_date"]) == 2
    assert "no column 'crawl_date'" in capsys.readouterr().err
    assert main(["slice", str(dated_run), "--by", "id", "--max-slices", "3"]) == 2
    assert "more than 3 slices" in capsys.readouterr().err


def test_slicing_into_the_run_itself_or_another_output_is_refused(dated_run, tmp_path, capsys):
    assert main(["slice", str(dated_run), "--by", "year", "-o", str(dated_run), "--overwrite"]) == 2
    assert "is or holds the run being sliced" in capsys.readouterr().err
    other = tmp_path / "other-run"
    write_jsonl(tmp_path / "o" / "x.jsonl", [{"id": "x", "text": "Posted May 1, 2019. Words."}])
    reconciled_run(["normalize"], [str(tmp_path / "o")], other)
    assert main(["slice", str(dated_run), "--by", "year", "-o", str(other), "--overwrite"]) == 2
    assert "not of a slice" in capsys.readouterr().err
    assert (other / "data").is_dir()  # untouched


def test_slice_names_never_reach_the_state_folder_or_the_summary():
    names = [slice_name(v) for v in (".textmill", "slices.json", "..", "", "a/b", None, "2019")]
    assert [name.split("~")[0] for name in names] == [
        "_.textmill",
        "slices.json",
        "_..",
        "unknown",
        "a_b",
        "unknown",
        "2019",
    ]
    assert [len(name.split("~")) for name in names] == [2, 2, 2, 1, 2, 1, 1]


def test_an_interrupted_slicing_is_replaced_with_overwrite(dated_run, tmp_path, monkeypatch):
    import textmill.slices

    def broken(folder):
        raise KeyboardInterrupt

    dest = tmp_path / "interrupted"
    monkeypatch.setattr(textmill.slices, "write_report", broken)
    with pytest.raises(KeyboardInterrupt):
        slice_run(dated_run, "year", dest)
    monkeypatch.undo()
    assert main(["slice", str(dated_run), "--by", "source", "-o", str(dest), "--overwrite"]) == 0
    left = {p.name for p in dest.iterdir() if not p.name.startswith(".")}
    assert left == {"slices.json", *json.loads((dest / "slices.json").read_text())["slices"]}


def test_distinct_values_never_share_a_slice_folder(tmp_path):
    """Values that differ only in characters a folder name cannot hold (non-ASCII, `/`, past
    100 characters) used to be merged into one slice; each now gets its own."""
    records = [
        {"id": f"t{i}", "text": "Words." + WORDS, "url": url}
        for i, url in enumerate(["日本", "中文", "a/b", "a_b", "unknown", "x" * 101, "x" * 102])
    ]
    out = tmp_path / "run"
    reconciled_run(["normalize"], [str(write_jsonl(tmp_path / "in.jsonl", records))], out)
    summary = slice_run(out, "url", tmp_path / "by-url")
    assert len(summary["slices"]) == 7 and set(summary["slices"].values()) == {1}
    assert summary["slices"]["a_b"] == 1 and "unknown" not in summary["slices"]
    assert sorted(summary["values"].values()) == sorted(r["url"] for r in records)
    for name, value in summary["values"].items():
        stats = json.loads((tmp_path / "by-url" / name / "stats.json").read_text())
        assert stats["slice"]["value"] == value and stats["slice"]["folder"] == name


def test_slicing_dates_from_a_column_that_holds_no_dates_is_refused(dated_run, tmp_path, capsys):
    """`--by year --date-column id` used to make a slice `a1`... of the ids' first characters."""
    dest = tmp_path / "ids"
    assert (
        main(["slice", str(dated_run), "--by", "year", "--date-column", "id", "-o", str(dest)]) == 2
    )
    err = capsys.readouterr().err
    assert "column 'id' holds '" in err and "no ISO date" in err and ".parquet:" in err
    assert err.count("\n") == 1 and not dest.exists()


def test_slicing_by_a_list_column_or_with_no_slices_allowed_is_a_one_line_error(
    dated_run, tmp_path, capsys
):
    import pyarrow as pa

    run = tmp_path / "listed"
    shutil.copytree(dated_run, run, ignore=shutil.ignore_patterns("slices"))
    for path in (run / "data").glob("*.parquet"):
        table = pq.read_table(path)
        tags = pa.array([["x"]] * table.num_rows, pa.list_(pa.string()))
        pq.write_table(table.append_column("tags", tags), path)
    assert main(["slice", str(run), "--by", "tags", "-o", str(tmp_path / "t")]) == 2
    err = capsys.readouterr().err
    assert "'tags' holds list<" in err and err.count("\n") == 1
    assert main(["slice", str(run), "--by", "year", "--max-slices", "0"]) == 2
    assert "--max-slices must be at least 1" in capsys.readouterr().err
    assert not (run / "slices").exists()


def test_replacing_a_run_removes_its_default_slices(tmp_path):
    """`run --overwrite` into a sliced run used to leave OUT/slices/year describing the old
    documents (slices.json still said reconciled); slices written elsewhere are the user's."""
    inputs = [str(write_jsonl(tmp_path / "in.jsonl", RECORDS))]
    out = tmp_path / "run"
    reconciled_run([("date", {"latest_date": "2026-01-01"})], inputs, out)
    slice_run(out, "year")
    slice_run(out, "date_source", tmp_path / "elsewhere")
    (out / "slices" / "notes.txt").write_text("mine")
    reconciled_run(["normalize"], inputs, out, overwrite=True)
    assert sorted(p.name for p in (out / "slices").iterdir()) == ["notes.txt"]
    assert json.loads((tmp_path / "elsewhere" / "slices.json").read_text())["total"] == 6


def test_slicing_the_folder_of_slices_names_the_slices_to_pick(dated_run, tmp_path, capsys):
    dest = tmp_path / "years"
    slice_run(dated_run, "year", dest)
    assert main(["slice", str(dest), "--by", "month", "-o", str(tmp_path / "m")]) == 2
    err = capsys.readouterr().err
    assert "holds the slices of" in err and str(dest / "2016") in err and err.count("\n") == 1
