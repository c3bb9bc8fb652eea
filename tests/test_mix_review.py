"""Found in review (issue 13): mixes that must be refused before they touch their inputs."""

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
