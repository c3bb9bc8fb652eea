"""Syntax validation: SwallowCode's first stage (Fujii et al. 2025: files that do not compile
are dropped) for Python, and a tree-sitter error-share rule for the other languages."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field

from textmill.code import LANG
from textmill.code.columns import code_languages, code_paths
from textmill.code.syntax import PYTHON, error_share, parser_for, python_syntax_error
from textmill.document import TEXT
from textmill.pipeline import Decision, Filter, StageOptions, register, value_counts


@register("code_syntax")
class CodeSyntax(Filter):
    """Drops Python files CPython cannot compile, and files of other languages whose
    tree-sitter parse tree has more than `max_error_share` ERROR/MISSING nodes; languages
    without a grammar pass unchecked (`error_share` null).

    0.1: on the 2,462 real files of ../shared/data/code (11 repositories, all of which build),
    grammar gaps (zsh read by the bash grammar, C macros) reach 0.075, EJS templates named
    `.html` 0.24-0.38; a JavaScript file with one broken function scores 0.08-0.13."""

    class Options(StageOptions):
        python: bool = Field(True, description="compile Python files (SwallowCode)")
        tree_sitter: bool = Field(True, description="parse the other languages with tree-sitter")
        max_error_share: float = Field(
            0.1,
            ge=0.0,
            le=1.0,
            description="share of ERROR/MISSING parse nodes above which to drop",
        )
        languages: list[str] | None = Field(
            None, description="check only these linguist languages (default: every one known)"
        )

    def setup(self) -> None:
        for lang in self.options.languages or ():
            parser_for(lang)  # load grammars once per worker, before the first batch

    def measure(self, batch: pa.Table) -> pa.Table:
        """`syntax_error` (Python's message) and `error_share` (tree-sitter), null where not
        checked. Per file in Python: the compiler and the parser are libraries' loops."""
        o = self.options
        n = batch.num_rows
        langs = code_languages(batch).to_pylist()
        paths = code_paths(batch).to_pylist()
        wanted = set(o.languages) if o.languages is not None else None
        # UTF-8 bytes straight from Arrow's buffer: what tree-sitter parses, without a str between
        texts = pc.cast(batch[TEXT], pa.large_binary()).to_pylist()
        errors: list[str | None] = [None] * n
        shares: list[float | None] = [None] * n
        for i, lang in enumerate(langs):
            if lang is None or (wanted is not None and lang not in wanted):
                continue
            if lang == PYTHON:
                if o.python:
                    text = (texts[i] or b"").decode("utf-8")
                    errors[i] = python_syntax_error(text, paths[i] or "<file>")
                    shares[i] = 1.0 if errors[i] else 0.0
            elif o.tree_sitter and parser_for(lang) is not None:
                shares[i] = error_share(texts[i] or b"", lang, paths[i])
        return pa.table(
            {
                "syntax_error": pa.array(errors, pa.string()),
                "error_share": pa.array(shares, pa.float64()),
                LANG: pa.array(langs, pa.string()),
            }
        )

    def counters(self, out: pa.Table, decision: Decision | None) -> dict[str, int]:
        """How many files each checker saw (`python_compiled`, `tree_sitter_parsed`) and how
        many no checker covers (`unchecked`): a drop rate means little without them."""
        o = self.options
        counts = {"python_compiled": 0, "tree_sitter_parsed": 0, "unchecked": 0}
        langs = code_languages(out)
        for lang, n in value_counts(pc.fill_null(langs, "")).items():
            wanted = o.languages is None or lang in o.languages
            if lang == PYTHON and o.python and wanted:
                counts["python_compiled"] += n
            elif lang and o.tree_sitter and wanted and parser_for(lang) is not None:
                counts["tree_sitter_parsed"] += n
            else:
                counts["unchecked"] += n
        return counts

    def decide(self, metrics: pa.Table) -> Decision:
        python = pc.equal(metrics[LANG], PYTHON)
        return Decision.first_failing(
            ("python_syntax_error", pc.and_(python, pc.is_valid(metrics["syntax_error"]))),
            (
                "parse_errors",
                pc.and_(
                    pc.invert(pc.fill_null(python, False)),
                    pc.greater(metrics["error_share"], self.options.max_error_share),
                ),
            ),
            num_rows=metrics.num_rows,
        )
