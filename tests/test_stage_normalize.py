import pyarrow as pa
import yaml

from textmill.config import preset_text
from textmill.document import make_batch
from textmill.pipeline import build_stage
from textmill.stages.normalize import Normalize


def three_rows() -> pa.Table:
    return make_batch(
        ["mojibake", "ascii", "decomposed"],
        [
            "cafÃ© â€” “quoted” &amp; ﬁne",
            "plain  ascii   text\n\n\n\nend ",
            "e\u0301te\u0301\u00a0 x\r\ny",
        ],
    )


def test_mojibake_is_repaired_and_entities_quotes_ligatures_are_kept():
    out = build_stage("normalize").process(three_rows())[0]
    assert out["text"].to_pylist() == [
        "café — “quoted” &amp; ﬁne",
        "plain  ascii   text\n\n\n\nend ",
        "été\u00a0 x\ny",
    ]


def test_collapse_whitespace_joins_space_runs_and_limits_blank_lines():
    out = Normalize(collapse_whitespace=True).map(three_rows())
    assert out["text"].to_pylist() == [
        "café — “quoted” &amp; ﬁne",
        "plain ascii text\n\nend",
        "été x\ny",
    ]


def test_html_unescape_and_nfkc_are_options():
    batch = make_batch(["a"], ["Fish &amp; chips ﬁ ＡＢ"])
    out = Normalize(unescape_html=True, normalization="NFKC").map(batch)
    assert out["text"][0].as_py() == "Fish & chips fi AB"


def test_null_text_stays_null_and_schema_is_unchanged():
    batch = make_batch(["a", "b"], [None, "ok"])
    out = Normalize().map(batch)
    assert out["text"].to_pylist() == [None, "ok"]
    assert out.schema == batch.schema


def test_latin_ligatures_are_written_as_letters_when_asked_as_the_books_preset_does():
    batch = make_batch(["a"], ["the ﬁeld, ﬂour and oﬀ; ĳs"])
    assert Normalize(fix_latin_ligatures=True).map(batch)["text"][0].as_py() == (
        "the field, flour and off; ijs"
    )
    stages = dict(next(iter(s.items())) for s in yaml.safe_load(preset_text("books"))["stages"])
    assert stages["normalize"] == {"fix_latin_ligatures": True}
