"""SwallowCode's style filter: a linter score on pylint's 0-10 scale per Python file, and a cut.

SwallowCode (Fujii et al. 2025) keeps Python files whose pylint score, after a penalty for
comment-heavy files, is at least 7.0. `engine: pylint` runs real pylint (each file alone, a
pool of worker processes, a per-file time limit); `engine: ruff` (default) scores the same
scale from the ruff binary with pylint's checks mapped onto pylint's categories, in a fraction
of the time; `benchmarks/lint_agreement.py` measures how often the two agree.

Rows that are not Python pass untouched with a null score: Python is `lang` equal to "Python"
(any case; the column, or the key in `metadata`), else, where `lang` is null, a `path` ending in
one of `python_suffixes`, else `assume_python`. A Python file without a score is dropped with
the reason why: it does not parse (`syntax_error`), has no statement (`no_statements`), or
pylint did not finish within `time_limit` (`lint_timeout=...`) or crashed on it
(`lint_crashed=...`, with pylint's message).
Those files are valid input that SwallowCode's rule cannot vouch for, so they are rejects
(visible, re-lintable with a larger limit), not errors.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field

from textmill.code.columns import string_field
from textmill.code.lint.measure import score_python
from textmill.code.lint.pylint_engine import SWALLOWCODE_DISABLE
from textmill.document import TEXT
from textmill.pipeline import Decision, Filter, StageOptions, as_bool_mask, register
from textmill.stages.langid import LANG

LINT_SCORE = "lint_score"
LOW_LINT_SCORE = "low_lint_score"
PATH = "path"
_FAILURE = "lint_failure"  # a metric column of `measure`, never written to the output


@register("lint_score")
class LintScore(Filter):
    """Adds `lint_score` (float32, pylint's 0-10 scale; null for non-Python rows and unscored
    files); drops Python files below `threshold` (`low_lint_score`) or without a score."""

    class Options(StageOptions):
        engine: Literal["pylint", "ruff"] = "ruff"
        threshold: float | None = 7.0  # SwallowCode keeps files at 7.0 or above; None: score only
        time_limit: float = Field(30.0, gt=0)  # seconds per file (pylint engine)
        workers: int = Field(2, ge=1)  # pylint processes per textmill worker (pylint engine)
        # pylint checks that do not count (SwallowCode's list; pylint engine: the ruff engine's
        # rule table mirrors this default list, see textmill/code/lint/ruff_rules.py)
        disable: list[str] = list(SWALLOWCODE_DISABLE)
        comment_penalty: bool = True  # SwallowCode: score × (1 - share of comment tokens)
        python_suffixes: list[str] = [".py"]  # rows with a null `lang`, by `path`
        assume_python: bool = False  # rows with neither `lang` nor `path`

    def python_rows(self, batch: pa.Table) -> np.ndarray:
        """Mask of the rows this stage lints."""
        o = self.options
        lang = string_field(batch, LANG)
        path = string_field(batch, PATH)
        by_lang = pc.equal(pc.utf8_lower(lang), "python")
        suffixes = [pc.ends_with(path, suffix) for suffix in o.python_suffixes]
        by_path = pa.array(np.zeros(batch.num_rows, bool))
        for match in suffixes:
            by_path = pc.or_kleene(by_path, match)
        decided = pc.if_else(pc.is_valid(path), by_path, o.assume_python)
        python = pc.if_else(pc.is_valid(lang), by_lang, decided)
        return pc.fill_null(python, False).to_numpy(zero_copy_only=False).astype(bool)

    def measure(self, batch: pa.Table) -> pa.Table:
        o = self.options
        rows = np.flatnonzero(self.python_rows(batch))
        scores = np.full(batch.num_rows, np.nan, dtype=np.float32)
        failures: list[str | None] = [None] * batch.num_rows
        if len(rows):
            texts = pc.fill_null(batch[TEXT].take(rows), "").to_pylist()
            linted = score_python(
                texts,
                o.engine,
                comment_penalty=o.comment_penalty,
                workers=o.workers,
                time_limit=o.time_limit,
                disable=o.disable,
            )
            scores[rows] = linted.scores
            # `reason=detail`: stats count the reason, rejects keep what pylint said
            for row, failure, detail in zip(rows, linted.failures, linted.details, strict=True):
                failures[row] = failure if detail is None else f"{failure}={detail}"
        return pa.table(
            {
                LINT_SCORE: pa.array(scores, pa.float32(), mask=np.isnan(scores)),
                _FAILURE: pa.array(failures, pa.string()),
            }
        )

    def decide(self, metrics: pa.Table) -> Decision:
        failure = metrics[_FAILURE].combine_chunks()
        low = pa.array(np.zeros(metrics.num_rows, bool))
        if self.options.threshold is not None:
            low = pc.less(metrics[LINT_SCORE], pa.scalar(self.options.threshold, pa.float32()))
        reasons = pc.if_else(pc.fill_null(low, False), LOW_LINT_SCORE, failure)
        return Decision(~as_bool_mask(pc.is_valid(reasons)), reasons)

    def process(self, batch: pa.Table) -> tuple[pa.Table, Decision]:
        metrics = self.measure(batch)
        if LINT_SCORE in batch.column_names:
            batch = batch.drop_columns([LINT_SCORE])
        return batch.append_column(LINT_SCORE, metrics[LINT_SCORE]), self.decide(metrics)

    def counters(self, out: pa.Table, decision: Decision | None) -> dict[str, int]:
        """Python files scored, for the stats (the drop reasons count the rest)."""
        return {"python_scored": int(pc.sum(pc.is_valid(out[LINT_SCORE])).as_py() or 0)}
