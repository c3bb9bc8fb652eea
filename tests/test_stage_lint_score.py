"""lint_score: SwallowCode's pylint-score filter with real pylint and the ruff score, on small
tables and end to end; non-Python rows pass untouched, unscored files are rejects with a reason.

Every pylint test uses the stage's default settings, so they share one pool of workers
(`shared_pool`) and pay pylint's start-up once."""

import io
import json
import signal
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import reconciled_run, write_jsonl

from textmill.cli import main
from textmill.code.lint.ast_checks import analyse_module
from textmill.code.lint.comments import comment_ratio
from textmill.code.lint.pylint_engine import SWALLOWCODE_DISABLE, PylintPool, shared_pool
from textmill.code.lint.ruff_engine import known_rules
from textmill.code.lint.ruff_rules import EQUIVALENTS, RUFF_WEIGHTS, selected_rules
from textmill.code.lint.score import parse_python, pylint_score
from textmill.pipeline import build_stage
from textmill.stages.code.lint_score import LINT_SCORE

GOOD = '''"""Arithmetic helpers."""


def add(first, second):
    """Return the sum."""
    return first + second


class Counter:
    """Counts calls."""

    def __init__(self):
        self.calls = 0

    def tick(self):
        """One more call."""
        self.calls += 1
        return self.calls
'''

BAD = """import os, sys
from . import sibling
def f(a, b, c, d, e, f2, g):
    try:
        x = undefined_name
    except:
        pass
class thing:
    def m(self, unused):
        return eval("1")
"""

C_CODE = "int main(void) { return 0; }\n"

# docstrings, except handlers, nested functions, a with, a match: what pylint counts
STATEMENTS = '''"""Module doc."""
import re


def outer(value):
    """Doc."""

    def inner():
        return value

    try:
        with open(value, encoding="utf-8") as handle:
            text = handle.read()
    except OSError:
        text = ""
    except ValueError as error:
        raise RuntimeError(value) from error
    else:
        pass
    match text:
        case "a":
            return inner()
        case _:
            return re.sub("x", "y", text)
'''


def three_rows() -> pa.Table:
    return pa.table(
        {
            "id": ["good", "bad", "c"],
            "text": pa.array([GOOD, BAD, C_CODE], pa.large_string()),
            "lang": ["Python", "Python", "C"],
        }
    )


@pytest.mark.parametrize("engine", ["ruff", "pylint"])
def test_good_python_is_kept_bad_python_dropped_and_other_languages_pass(engine):
    out, decision = build_stage("lint_score", {"engine": engine}).process(three_rows())
    scores = out[LINT_SCORE].to_pylist()
    assert out.schema.field(LINT_SCORE).type == pa.float32()
    # pylint finds nothing; the ruff score's best is 10 less the messages per statement that
    # ruff cannot see on average (RUFF_WEIGHTS["unseen"])
    best = 10.0 if engine == "pylint" else 10.0 * (1 - RUFF_WEIGHTS["unseen"])
    assert scores[0] == pytest.approx(best, abs=1e-5)
    assert 0 <= scores[1] < 7.0
    assert scores[2] is None  # C passes untouched
    assert decision.keep.tolist() == [True, False, True]
    assert decision.reasons.to_pylist() == [None, "low_lint_score", None]
    assert out["text"].to_pylist() == three_rows()["text"].to_pylist()


def test_the_pylint_engine_gives_pylints_own_score(tmp_path):
    """The score is what pylint itself rates the file (its JSON2 reporter), not a re-derivation."""
    from pylint.lint import Run
    from pylint.reporters.json_reporter import JSON2Reporter

    path = tmp_path / "bad_module.py"
    path.write_text(BAD, encoding="utf-8")
    (tmp_path / "pylintrc").write_text("[MAIN]\n")
    buffer = io.StringIO()
    args = [f"--rcfile={tmp_path / 'pylintrc'}", "--persistent=n"]
    Run([*args, "--disable=" + ",".join(SWALLOWCODE_DISABLE), str(path)],
        reporter=JSON2Reporter(buffer), exit=False)  # fmt: skip
    expected = json.loads(buffer.getvalue())["statistics"]["score"]
    stage = build_stage("lint_score", {"engine": "pylint", "comment_penalty": False})
    out, _ = stage.process(three_rows().slice(1, 1))
    assert out[LINT_SCORE][0].as_py() == pytest.approx(expected, abs=1e-5)


def test_statements_are_counted_as_pylint_counts_them():
    lint = shared_pool(2, 30.0, SWALLOWCODE_DISABLE).lint([STATEMENTS])[0]["lint"]
    statements, _ = analyse_module(parse_python(STATEMENTS))
    assert statements == lint["statements"] == 15


def test_a_file_pylint_cannot_finish_in_time_is_a_reject_with_its_reason_not_a_hang():
    slow = "\n".join(f"def f{i}(a):\n    return [a] * {i}\n" for i in range(400))
    batch = pa.table({"id": ["slow", "c"], "text": [slow, C_CODE], "lang": ["Python", "C"]})
    stage = build_stage("lint_score", {"engine": "pylint", "time_limit": 0.01})
    out, decision = stage.process(batch)
    assert decision.reasons.to_pylist() == [
        "lint_timeout=pylint did not finish within time_limit=0.01 s", None,
    ]  # fmt: skip
    assert out[LINT_SCORE].to_pylist() == [None, None]


def test_a_worker_that_never_answers_is_killed_and_replaced():
    """The hard deadline: a worker the in-process timer cannot stop is killed, not awaited."""
    pool = PylintPool(workers=1, time_limit=0.5, grace=0.5)
    try:
        pool._start(0)
        pool._procs[0].send_signal(signal.SIGSTOP)  # SIGSTOP: the worker is alive but never answers
        started = time.monotonic()
        result = pool.lint(["x = 1\n"])[0]["lint"]
        assert result["failure"] == "timeout"
        assert time.monotonic() - started < 5
        assert pool.lint(["x = 1\n"])[0]["lint"]["failure"] is None  # a fresh worker took over
    finally:
        pool.close()


def test_unparsable_and_empty_python_files_are_rejected_with_their_reason():
    batch = pa.table({"id": ["broken", "empty"], "text": ["def f(:\n", '"""Only a docstring."""\n'],
                      "lang": ["Python", "Python"]})  # fmt: skip
    _, decision = build_stage("lint_score").process(batch)
    assert decision.reasons.to_pylist() == ["syntax_error", "no_statements"]


def test_without_lang_the_path_or_assume_python_decides():
    batch = pa.table({"id": ["a", "b", "c"], "text": [BAD, BAD, BAD],
                      "path": ["pkg/mod.py", "script.sh", None]})  # fmt: skip
    stage = build_stage("lint_score")
    assert stage.python_rows(batch).tolist() == [True, False, False]
    assert build_stage("lint_score", {"assume_python": True}).python_rows(batch).tolist() == [
        True, False, True,
    ]  # fmt: skip
    in_metadata = pa.table({"id": ["a", "b"], "text": [BAD, BAD],
                            "metadata": ['{"lang": "python"}', '{"lang": "Go"}']})  # fmt: skip
    assert stage.python_rows(in_metadata).tolist() == [True, False]


def test_swallowcodes_comment_penalty_lowers_comment_heavy_files():
    commented = "".join(f"# note {i}\n" for i in range(20)) + "VALUE = 1\n"
    batch = pa.table({"id": ["c"], "text": [commented], "lang": ["Python"]})
    plain, _ = build_stage("lint_score", {"comment_penalty": False}).process(batch)
    penalised, decision = build_stage("lint_score").process(batch)
    ratio = comment_ratio(commented)
    assert 0.3 < ratio < 1
    assert penalised[LINT_SCORE][0].as_py() == pytest.approx(
        plain[LINT_SCORE][0].as_py() * (1 - ratio), rel=1e-6
    )
    assert decision.reasons.to_pylist() == ["low_lint_score"]


def test_pylints_formula_floors_at_zero_and_fatal_scores_zero():
    scores = pylint_score([0, 3, 0, 0], [1, 0, 0, 0], [0, 0, 0, 0], [1, 0, 0, 0],
                          [10, 2, 0, 5], fatal=[0, 0, 0, 1])  # fmt: skip
    assert scores[0] == pytest.approx(8.0)
    assert scores[1] == 0.0
    assert str(scores[2]) == "nan"  # no statement: pylint gives no score
    assert scores[3] == 0.0


def test_every_mirrored_ruff_rule_exists_in_the_pinned_ruff():
    known = set(known_rules())
    assert set(EQUIVALENTS) <= known
    chosen = selected_rules(known)
    assert "PLR0913" in chosen and "PLR2004" not in chosen  # extensions stay out


def test_lint_score_end_to_end_through_textmill_run(tmp_path, capsys):
    inputs = write_jsonl(
        tmp_path / "in" / "code.jsonl",
        [
            {"id": "good", "text": GOOD, "lang": "Python"},
            {"id": "bad", "text": BAD, "lang": "Python"},
            {"id": "c", "text": C_CODE, "lang": "C"},
            {"id": "broken", "text": "def f(:\n", "lang": "Python"},
        ],
    )
    pipeline = tmp_path / "lint.yaml"
    pipeline.write_text("stages:\n  - lint_score: {engine: ruff, threshold: 7.0}\n")
    out = tmp_path / "out"
    argv = ["run", str(pipeline), str(inputs), "-o", str(out), "--no-progress"]
    assert main(argv) == 0
    stats = json.loads((out / "stats.json").read_text())
    assert (stats["read"], stats["kept"], stats["rejected"], stats["errored"]) == (4, 2, 2, 0)
    kept = pa.concat_tables(pq.read_table(p) for p in sorted((out / "data").glob("*.parquet")))
    scores = dict(zip(kept["id"].to_pylist(), kept[LINT_SCORE].to_pylist(), strict=True))
    assert scores.keys() == {"good", "c"} and scores["c"] is None and scores["good"] > 9
    rejects = pa.concat_tables(pq.read_table(p) for p in (out / "rejects").glob("*.parquet"))
    assert sorted(rejects["reject_reason"].to_pylist()) == [
        "lint_score:low_lint_score", "lint_score:syntax_error",
    ]  # fmt: skip
    assert main(["stages", "lint_score"]) == 0
    assert "time_limit" in capsys.readouterr().out


def test_the_python_api_runs_the_pylint_engine_and_counts_reconcile(tmp_path: Path):
    inputs = write_jsonl(
        tmp_path / "in.jsonl",
        [{"id": f"r{i}", "text": text, "lang": lang}
         for i, (text, lang) in enumerate([(GOOD, "Python"), (BAD, "Python"), (C_CODE, "C")])],
    )  # fmt: skip
    stats, errors = reconciled_run([build_stage("lint_score", {"engine": "pylint"})], [inputs],
                                   tmp_path / "out")  # fmt: skip
    assert (stats["kept"], stats["rejected"], errors) == (2, 1, [])
    assert stats["stages"][0]["counters"]["python_scored"] == 2
