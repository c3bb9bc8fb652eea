"""Found in review (issue 13): mixes that must be refused before they touch their inputs."""

from pathlib import Path

import pyarrow.parquet as pq
from test_mix_build import text_source

from textmill.cli import main


def test_overwriting_a_source_with_its_own_mixture_is_refused(tmp_path, capsys):
    text_source(tmp_path / "web", {"fr": 10, "en": 10})
    first = tmp_path / "first.yaml"
    first.write_text("sources: [{path: web}]\noutput: {format: text}\n", "utf-8")
    assert main(["mix", str(first), "-o", str(tmp_path / "mixed")]) == 0
    capsys.readouterr()
    before = sorted(p.name for p in (tmp_path / "mixed" / "data").iterdir())
    spec = tmp_path / "again.yaml"
    spec.write_text("sources: [{path: mixed}]\noutput: {format: text}\n", "utf-8")
    code = main(["mix", str(spec), "-o", str(tmp_path / "mixed"), "--overwrite"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1, err
    assert "overlaps source 'mixed'" in err
    (tmp_path / "holder").mkdir()
    spec.write_text("sources: [{path: holder/web}]\noutput: {format: text}\n", "utf-8")
    text_source(tmp_path / "holder" / "web", {"fr": 3})
    code = main(["mix", str(spec), "-o", str(tmp_path / "holder")])
    assert code == 2 and "textmill: error:" in capsys.readouterr().err
    # the source is untouched: --overwrite used to delete it before reading it
    assert sorted(p.name for p in (tmp_path / "mixed" / "data").iterdir()) == before
    assert sum(pq.read_metadata(p).num_rows for p in (tmp_path / "mixed" / "data").iterdir()) == 20


def test_a_failed_search_does_not_pin_its_settings_and_reads_run_outputs(tmp_path, capsys):
    from test_mix_law import SEARCH_GRID, tiny_corpora

    from textmill.executors.output import Layout

    general, domain = tiny_corpora(tmp_path)
    out = tmp_path / "search"
    base = ["mix", "search", "--general", general, "-o", str(out), *SEARCH_GRID]
    assert main([*base, "--domain", str(tmp_path / "typo.jsonl")]) == 2
    capsys.readouterr()
    assert not (out / "search_settings.json").exists()  # nothing to refuse the fixed command
    # a run's OUT is read through its data/, as tokenize and mix read it
    run = tmp_path / "run"
    (run / "data").mkdir(parents=True)
    (run / "data" / "part-0.jsonl").write_text(Path(domain).read_text())
    Layout(run).manifest.parent.mkdir(parents=True)
    Layout(run).manifest.write_text('{"shards": [], "files": []}')
    assert main([*base, "--domain", str(run), "--forms", "power_r"]) == 0, capsys.readouterr()
    assert (out / "search_settings.json").is_file() and (out / "law.json").is_file()


def test_a_law_that_predicts_a_negative_loss_at_the_target_says_so():
    import numpy as np

    from textmill.mix.law import Tolerance, critical_ratio

    class Falling:  # what a fit with E at its bound and a growing term extrapolates to
        def predict(self, r, tokens):
            return 3.0 - 1e-3 * tokens * (1 + np.asarray(r))

    assert not critical_ratio(Falling(), 100, Tolerance.parse("1%")).extrapolated
    far = critical_ratio(Falling(), 1e9, Tolerance.parse("1%"))
    assert any("no loss is negative" in note for note in far.extrapolated), far.extrapolated
