"""The `swallowcode` preset end to end through `textmill run` on a folder of repositories,
against the OpenAI-protocol test server: the code stages and lint_score decide first, then
SGCR and SCOR rewrite the Python files that are left, each rewrite re-validated."""

import json
from pathlib import Path

import pyarrow.parquet as pq
from openai_server import FakeOpenAI
from test_code_input import MIT, make_repo

from textmill.cli import main

CLEAN = '''"""Arithmetic helpers."""


def add(first: int, second: int) -> int:
    """Return the sum."""
    return first + second


def scale(value: int, factor: int) -> int:
    """Return value times factor."""
    return value * factor
'''
OTHER = '''"""Text helpers."""


def shout(message: str) -> str:
    """Return the message in capitals, with an exclamation mark."""
    return message.upper() + "!"
'''
# a clean file whose rewrites the server answers with code that does not compile
BADPYTHON = '''"""Sorting [[badpython]]."""


def largest(numbers: list[float]) -> float:
    """Return the largest of the numbers."""
    return sorted(numbers)[-1]
'''
MESSY = "import os,sys\n" + "".join(
    f"def F{i}(A,B):\n  x=1;y=2;z=3\n  return A\n" for i in range(8)
)


def test_swallowcode_preset_on_repositories(tmp_path: Path):
    root = tmp_path / "repos"
    files = {
        "LICENSE": MIT,
        "src/clean.py": CLEAN,
        "src/other.py": OTHER,
        "src/bad_rewrite.py": BADPYTHON,
        "src/messy.py": MESSY,  # lint_score under 7.0
        "src/broken.py": "def f(:\n    pass\n",  # code_syntax
        "web/ok.js": "export function add(a, b) {\n  return a + b;\n}\n",  # not Python: kept as is
        "node_modules/dep/index.js": "module.exports = 1;\n",  # vendored
        "copy.py": CLEAN,  # an exact duplicate of src/clean.py
    }
    make_repo(root, "alpha", files, remote="https://github.com/acme/alpha.git")
    out = tmp_path / "out"
    with FakeOpenAI() as fake:
        args = ["run", "--preset", "swallowcode", str(root), "-o", str(out), "--no-progress"]
        assert main([*args, "-w", "1", "--llm-base-url", fake.base_url, "--llm-model", "m"]) == 0
    stats = json.loads((out / "stats.json").read_text())
    assert stats["reconciled"] and stats["errored"] == 0
    assert (stats["read"], stats["kept"], stats["rejected"]) == (9, 5, 4)
    reasons = {stage["name"]: stage["reasons"] for stage in stats["stages"] if stage["reasons"]}
    assert reasons["code_heuristics"] == {"vendored": 1}
    assert reasons["code_syntax"] == {"python_syntax_error": 1}
    assert sum(reasons["lint_score"].values()) == 1
    assert sum(reasons["exact_dedup"].values()) == 1
    sgcr, scor = (stage for stage in stats["stages"] if stage["name"] == "llm_rewrite")
    for rewrite in (sgcr, scor):  # three Python files: two rewritten, one rewrite did not compile
        counters = rewrite["counters"]
        assert counters["rewritten"] == 2 and counters["invalid_python"] == 1
        assert counters["skipped"] == 2  # LICENSE and ok.js
        assert counters["requests_sent"] == 3 and rewrite["dropped"] == 0
    assert fake.total_answered == 6 and max(fake.answered.values()) == 1
    rows = {row["path"]: row for row in pq.read_table(out / "data").to_pylist()}
    (kept_copy,) = {"copy.py", "src/clean.py"} & set(rows)  # exact dedup keeps one of the two
    assert sorted(set(rows) - {kept_copy}) == [
        "LICENSE",
        "src/bad_rewrite.py",
        "src/other.py",
        "web/ok.js",
    ]
    clean = rows[kept_copy]
    assert clean["text_original"] == CLEAN  # the code before SGCR, not SGCR's output
    assert clean["text"].startswith("def rewritten_") and "```" not in clean["text"]
    compile(clean["text"], "clean.py", "exec")
    assert (clean["sgcr_status"], clean["scor_status"]) == ("rewritten", "rewritten")
    bad = rows["src/bad_rewrite.py"]
    assert bad["text"] == BADPYTHON and bad["sgcr_status"] == bad["scor_status"] == "invalid_python"
    assert rows["web/ok.js"]["text"] == files["web/ok.js"]
    assert rows["web/ok.js"]["sgcr_status"] == "skipped"
