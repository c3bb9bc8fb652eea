"""`extract: {math: latex}`: MathJax 2, MathML and KaTeX markup reach the text as $tex$ / $$tex$$
through every engine; without the option, extraction is what it was."""

from pathlib import Path

import pytest
from conftest import reconciled_run, write_jsonl
from openai_server import FakeOpenAI
from resiliparse.parse.html import HTMLTree

from textmill import Pipeline
from textmill.config import load_preset
from textmill.document import make_batch
from textmill.extraction.math_latex import latex_math
from textmill.pipeline import build_stage
from textmill.stages.extract import (
    Extract,
    extract_with_resiliparse,
    extract_with_trafilatura,
)

PROSE = (
    "<p>Algebra studies the rules that numbers obey, and how those rules let us solve for an "
    "unknown quantity step by step, one careful transformation of the equation at a time.</p>"
)
ENGINES = ("trafilatura", "resiliparse", "textmill")
# What MathJax 2 leaves in the page: a preview, the rendered glyphs (duplicates of the TeX)
# and the TeX itself in a script, inline and displayed.
MATHJAX2 = (
    "<p>The roots of <span class='MathJax_Preview'>ax2</span><span class='MathJax'>"
    "<nobr>ax2+bx+c=0</nobr></span><script type='math/tex'>ax^2+bx+c=0</script> are</p>"
    "<div class='MathJax_Display'><span class='MathJax'>x=-b</span></div>"
    "<script type='math/tex; mode=display'>x=\\frac{-b\\pm\\sqrt{b^2-4ac}}{2a}</script>"
)
MATHJAX2_TEX = ["$ax^2+bx+c=0$", "$$x=\\frac{-b\\pm\\sqrt{b^2-4ac}}{2a}$$"]
# MathML with its TeX annotation, and MediaWiki's wrapper: hidden MathML, a fallback image,
# every formula in \displaystyle.
MATHML = (
    "<p>Einstein wrote <math alttext='E=mc^2'><semantics><mrow><mi>E</mi><mo>=</mo><mi>m</mi>"
    "<msup><mi>c</mi><mn>2</mn></msup></mrow><annotation encoding='application/x-tex'>"
    "E=mc^{2}</annotation></semantics></math> in 1905.</p>"
    "<p>The integral <span class='mwe-math-element'><span style='display:none'>"
    "<math alttext='{\\displaystyle \\int_0^1 x\\,dx}'><mrow><mi>x</mi></mrow></math></span>"
    "<img alt='{\\displaystyle \\int_0^1 x\\,dx}' src='f.svg'></span> is one half.</p>"
)
MATHML_TEX = ["$E=mc^{2}$", "$\\int_0^1 x\\,dx$"]
# KaTeX: hidden MathML with the annotation beside the rendered glyph spans.
KATEX = (
    "<p>A circle's area is <span class='katex'><span class='katex-mathml'><math><semantics>"
    "<mrow><mi>π</mi></mrow><annotation encoding='application/x-tex'>\\pi r^2</annotation>"
    "</semantics></math></span><span class='katex-html' aria-hidden='true'>"
    "<span class='mord'>πr2</span></span></span> exactly.</p>"
    "<span class='katex-display'><span class='katex'><span class='katex-mathml'><math "
    "display='block'><semantics><mrow><mi>n</mi></mrow><annotation "
    "encoding='application/x-tex'>\\sum_{i=1}^n i</annotation></semantics></math></span>"
    "<span class='katex-html' aria-hidden='true'>∑i</span></span></span>"
)
KATEX_TEX = ["$\\pi r^2$", "$$\\sum_{i=1}^n i$$"]
KINDS = {"mathjax2": (MATHJAX2, MATHJAX2_TEX), "mathml": (MATHML, MATHML_TEX)}
KINDS["katex"] = (KATEX, KATEX_TEX)
PLAIN = f"<html><body><article><h1>Algebra</h1>{PROSE * 2}</article></body></html>"


def page(math: str) -> str:
    return f"<html><body><article><h1>Algebra</h1>{PROSE}{math}{PROSE}</article></body></html>"


def extracted(html: str, **options) -> str:
    out, decision = Extract(**options).process(make_batch(["p"], [None], html=[html]))
    assert decision.keep.tolist() == [True]
    return out["text"][0].as_py()


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("kind", KINDS)
def test_math_reaches_the_text_as_latex(kind: str, engine: str):
    markup, tex = KINDS[kind]
    text = extracted(page(markup), engine=engine, math="latex")
    lines = text.splitlines()
    for formula in tex:
        assert formula in text
        if formula.startswith("$$"):  # displayed: a line of its own
            assert formula in lines
    assert "Algebra studies the rules" in text


@pytest.mark.parametrize("engine", ENGINES)
def test_displayed_math_inside_a_paragraph_splits_it_and_keeps_markup_characters(engine: str):
    """`<`, `&` in the TeX survive trafilatura's re-parse of the serialised page; the text
    after a displayed formula stays, on a line of its own."""
    markup = (
        "<p>Thus we find <script type='math/tex; mode=display'>a<b \\quad x &= 1</script> so "
        "the answer is one, which ends a fairly long sentence of text here.</p>"
    )
    lines = extracted(page(markup), engine=engine, math="latex").splitlines()
    at = lines.index("$$a<b \\quad x &= 1$$")
    assert "Thus we find" in "\n".join(lines[:at])
    assert "so the answer is one" in "\n".join(lines[at + 1 :])


@pytest.mark.parametrize("kind", KINDS)
def test_rendered_glyphs_and_fallbacks_go_with_the_markup(kind: str):
    text = extracted(page(KINDS[kind][0]), engine="resiliparse", math="latex")
    for duplicate in ("ax2", "x=-b", "πr2", "∑i", "displaystyle"):
        assert duplicate not in text


@pytest.mark.parametrize("kind", KINDS)
def test_without_the_option_extraction_is_unchanged(kind: str):
    html = page(KINDS[kind][0])
    assert extracted(html, engine="resiliparse") == extract_with_resiliparse(html)
    assert extracted(html, fallback_ratio=None) == extract_with_trafilatura(html)
    assert "$" not in extracted(html, engine="resiliparse")


@pytest.mark.parametrize("engine", ENGINES)
def test_a_page_without_math_is_extracted_as_without_the_option(engine: str):
    assert extracted(PLAIN, engine=engine, math="latex") == extracted(PLAIN, engine=engine)


def test_mathml_without_tex_and_empty_scripts():
    """MathML with no TeX source is left to the extractor; an empty TeX script is dropped."""
    tree = HTMLTree.parse(
        "<p>a <math><mi>y</mi></math> b <script type='math/tex'> </script> c "
        "<script type='math/tex'>z</script></p>"
    )
    assert latex_math(tree) == ["z"]
    assert tree.body.text == "a y b  c $z$"


def test_option_is_checked_and_shipped_in_the_swallowmath_preset():
    with pytest.raises(ValueError):
        build_stage("extract", {"math": "mathml"})
    first = load_preset("swallowmath")[0]
    assert (first.name, first.options) == ("extract", {"math": "latex"})


def test_swallowmath_preset_rewrites_html_with_its_math(tmp_path: Path):
    """HTML input: the rewrite prompt holds the page's formulas as LaTeX."""
    inputs = write_jsonl(tmp_path / "pages.jsonl", [{"id": "p", "html": page(MATHJAX2)}])
    with FakeOpenAI() as fake:
        pipeline = Pipeline.from_preset("swallowmath").with_endpoint(fake.base_url, "m")
        stages = [(spec.name, spec.options) for spec in pipeline.specs]
        reconciled_run(stages, inputs, tmp_path / "out", workers=1)
        (prompt,) = fake.attempts
    assert all(formula in prompt for formula in MATHJAX2_TEX)
