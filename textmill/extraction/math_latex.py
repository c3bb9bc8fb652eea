"""Math in HTML as LaTeX text, before a text extractor sees the page (extract option `math`).

Web pages carry their equations as markup that the extractors drop or garble: MathJax 2's
`<script type="math/tex">` (scripts are skipped by all of them), MathML `<math>` (resiliparse
flattens it to "x2" for x², textmill's extractor skips it; trafilatura 2 recovers its TeX as
`\\(...\\)`, but not inside a hidden wrapper) and KaTeX's and MathJax's rendered glyph spans
(kept beside the TeX as duplicates: "πr2\\pi r^2"). Most of that markup carries the TeX source:
the script's text, MathML's `<annotation encoding="application/x-tex">` (KaTeX, MediaWiki,
MathJax's semantics output) or its `alttext`. This pass replaces each expression (with its
renderer's wrapper) by `$tex$`, or by a paragraph of its own holding `$$tex$$` when displayed,
as OpenWebMath and FineMath keep math for math corpora: one notation whatever the engine. TeX
already in the text (`$...$`, `\\(...\\)`) is text to every extractor and needs nothing. MathML
without a TeX source (hand written, MathJax 3's assistive copy) stays as it was: converting
presentation MathML is not attempted.
"""

from __future__ import annotations

import re

from resiliparse.parse.html import HTMLTree

TEX_SCRIPTS = 'script[type^="math/tex"]'  # MathJax 2: "math/tex", "math/tex; mode=display"
TEX_ANNOTATION = 'annotation[encoding="application/x-tex"]'
# Renderers' wrappers around one expression, outermost first: replaced as a whole, so that
# their rendered glyphs and fallback images go with the MathML.
WRAPPERS = (".katex-display", ".katex", "mjx-container", ".mwe-math-element")
# MathJax 2's rendered output next to its source script: glyph text, preview and the
# assistive MathML copy, all duplicates of the script's TeX.
MATHJAX2_RENDERED = (
    ".MathJax_Preview, .MathJax_Display, span.MathJax, .MathJax_SVG_Display, .MathJax_SVG, "
    ".MathJax_CHTML, .MJX_Assistive_MathML"
)
# MediaWiki writes every expression in display style: `{\displaystyle x^{2}}`
STYLE_WRAPPER = re.compile(r"^\{\\(?:display|text)style\s*(.*)\}$", re.DOTALL)
MARKERS = ("math", "Math", "katex")  # a page with none of these has no math markup


def has_math_markup(html: str) -> bool:
    return any(marker in html for marker in MARKERS)


def clean_tex(tex: str) -> str:
    tex = tex.strip()
    styled = STYLE_WRAPPER.match(tex)
    return styled.group(1).strip() if styled else tex


def latex_math(tree: HTMLTree) -> list[str]:
    """Replace the page's math markup by LaTeX text in place; returns the TeX of each
    expression, in the order replaced."""
    document = tree.document
    if document is None:
        return []
    scripts = document.query_selector_all(TEX_SCRIPTS)
    if len(scripts):
        for rendered in document.query_selector_all(MATHJAX2_RENDERED):
            if rendered.parent is not None:  # not inside one removed already
                rendered.decompose()
    placed: list[str] = []
    for script in scripts:
        display = "mode=display" in (script.getattr("type") or "")
        _replace(tree, script, clean_tex(script.text), display, placed)
    for math in document.query_selector_all("math"):
        if math.parent is None:  # inside a wrapper replaced already
            continue
        annotation = math.query_selector(TEX_ANNOTATION)
        tex = annotation.text if annotation is not None else math.getattr("alttext") or ""
        if not tex.strip():
            continue  # no TeX source: left to the extractor
        wrapper = next((w for s in WRAPPERS if (w := math.closest(s)) is not None), math)
        display = (
            math.getattr("display") == "block"
            or wrapper.matches(".katex-display")
            or wrapper.getattr("display") == "true"  # mjx-container
        )
        _replace(tree, wrapper, clean_tex(tex), display, placed)
    return placed


def _replace(tree: HTMLTree, node, tex: str, display: bool, placed: list[str]) -> None:
    if not tex:  # an empty script: nothing to keep
        node.decompose()
        return
    if display:  # a paragraph: every engine keeps it on a line of its own (a bare <div> of
        # one formula is dropped by trafilatura's precision mode)
        replacement = tree.create_element("p")
        replacement.append_child(tree.create_text_node(f"$${tex}$$"))
    else:
        replacement = tree.create_text_node(f"${tex}$")
    node.parent.replace_child(replacement, node)
    placed.append(tex)
