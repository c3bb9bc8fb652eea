import pyarrow as pa
import pytest

from textmill.document import make_batch
from textmill.pipeline import build_stage
from textmill.stages import extract as extract_module
from textmill.stages.extract import Extract

PARAGRAPHS = [
    "The river valley was settled by farmers who grew barley and wheat along the fertile "
    "banks for many generations.",
    "Each spring the floods brought fresh silt, and the villages built raised granaries to "
    "keep their harvest dry and safe.",
    "Historians still argue about when the first stone bridge was built, but the oldest "
    "records mention it in the twelfth century.",
]
ARTICLE = (
    '<html><head><title>Valley</title></head><body><nav><a href="/">Home</a> | '
    '<a href="/about">About</a></nav><article><h1>The valley</h1>'
    + "".join(f"<p>{paragraph}</p>" for paragraph in PARAGRAPHS)
    + "</article><footer>Copyright 2024 Example</footer></body></html>"
)
MAIN_TEXT_LINES = ["The valley", *PARAGRAPHS]


def three_rows() -> pa.Table:
    return make_batch(
        ["page", "plain", "blank"],
        [None, "already plain text", None],
        urls=["https://example.com/valley", None, None],
        html=[ARTICLE, None, "   "],
    )


def test_trafilatura_extracts_main_text_without_navigation_or_footer():
    out, decision = Extract(fallback_ratio=None).process(three_rows())
    assert out["text"][0].as_py() == "\n".join(MAIN_TEXT_LINES)
    assert decision.keep.tolist() == [True, True, False]
    assert decision.reasons.to_pylist() == [None, None, "no_text"]


def test_default_stage_is_registered_and_extracts_the_article():
    stage = build_stage("extract")
    out, _ = stage.process(three_rows())
    assert out["text"][0].as_py() == "\n".join(MAIN_TEXT_LINES)


def test_resiliparse_engine_extracts_the_same_paragraphs():
    out, decision = Extract(engine="resiliparse").process(three_rows())
    assert out["text"][0].as_py() == "\n\n".join(MAIN_TEXT_LINES)
    assert decision.reasons.to_pylist() == [None, None, "no_text"]


def test_rows_without_html_keep_their_text_and_html_column_is_dropped():
    out, _ = Extract().process(three_rows())
    assert out["text"][1].as_py() == "already plain text"
    assert "html" not in out.column_names
    assert out.schema.field("text").type == pa.large_string()


def test_keep_html_option_keeps_the_markup_column():
    out, _ = Extract(keep_html=True).process(three_rows())
    assert out["html"][0].as_py() == ARTICLE


def test_batch_without_html_column_passes_through_unchanged():
    batch = make_batch(["a", "b"], ["one", "two"])
    out, decision = Extract().process(batch)
    assert out.equals(batch)
    assert decision.keep.tolist() == [True, True]


def test_broken_html_row_yields_no_text_without_failing_the_batch():
    batch = make_batch(
        ["good", "broken", "binary"],
        [None, None, None],
        html=[ARTICLE, "<html><body><div><p>unclosed <<<", "\x00\x01\x02"],
    )
    out, decision = Extract(fallback_ratio=None).process(batch)
    assert out["text"].to_pylist() == ["\n".join(MAIN_TEXT_LINES), "unclosed <<<", ""]
    assert decision.reasons.to_pylist() == [None, None, "no_text"]


def test_exception_on_one_page_drops_that_page_as_extraction_failed(monkeypatch):
    real = extract_module.extract_with_trafilatura

    def explode_on_marker(html, url=None, **options):
        if "EXPLODE" in html:
            raise RuntimeError("parser crashed")
        return real(html, url, **options)

    monkeypatch.setattr(extract_module, "extract_with_trafilatura", explode_on_marker)
    batch = make_batch(["ok", "bad"], [None, None], html=[ARTICLE, "<p>EXPLODE</p>"])
    out, decision = Extract(fallback_ratio=None).process(batch)
    assert out["text"].to_pylist() == ["\n".join(MAIN_TEXT_LINES), ""]
    assert decision.reasons.to_pylist() == [None, "extraction_failed"]


@pytest.mark.parametrize(("fallback_ratio", "expected"), [(5.0, "x" * 60), (None, "tiny")])
def test_fallback_takes_resiliparse_when_its_text_is_much_longer(
    monkeypatch, fallback_ratio, expected
):
    monkeypatch.setattr(extract_module, "extract_with_trafilatura", lambda html, url, **o: "tiny")
    monkeypatch.setattr(extract_module, "extract_with_resiliparse", lambda html: "x" * 60)
    batch = make_batch(["a"], [None], html=["<p>page</p>"])
    out, _ = Extract(fallback_ratio=fallback_ratio).process(batch)
    assert out["text"][0].as_py() == expected


def test_fallback_keeps_trafilatura_when_lengths_are_close(monkeypatch):
    monkeypatch.setattr(extract_module, "extract_with_trafilatura", lambda html, url, **o: "x" * 20)
    monkeypatch.setattr(extract_module, "extract_with_resiliparse", lambda html: "y" * 99)
    batch = make_batch(["a"], [None], html=["<p>page</p>"])
    out, _ = Extract(fallback_ratio=5.0).process(batch)
    assert out["text"][0].as_py() == "x" * 20


def test_measure_reports_extracted_length_and_null_for_rows_without_html():
    metrics = Extract().measure(three_rows())
    assert metrics["extracted_chars"].to_pylist() == [len("\n".join(MAIN_TEXT_LINES)), None, 0]
    assert metrics["html_bytes"].to_pylist() == [len(ARTICLE), None, 3]
    assert metrics["extraction_problem"].to_pylist() == [None, None, None]
