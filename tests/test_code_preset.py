"""The `code` preset end to end through `textmill run` on a folder of repositories."""

import json

import pyarrow.parquet as pq
from test_code_input import MIT, make_repo

from textmill.cli import main

GOOD = "def add(a, b):\n    return a + b\n\n\nprint(add(1, 2))\n"
UTILS = "\n".join(f"def f{i}(x):\n    return x * {i} + {i}" for i in range(30)) + "\n"


def test_code_preset_on_repositories_reconciles_with_a_reason_for_every_file(tmp_path, capsys):
    root = tmp_path / "repos"
    make_repo(
        root,
        "alpha",
        {
            "LICENSE": MIT,
            "src/good.py": GOOD,
            "src/utils.py": UTILS,
            "src/broken.py": "def f(:\n    pass\n",
            "web/broken.js": "function f( {\n  return [1, 2\n}\nconst = ;\n",
            "web/ok.js": "export function add(a, b) {\n  return a + b;\n}\n",
            "node_modules/dep/index.js": "module.exports = function () { return 1; };\n",
            "assets/logo.png": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
            "data/blob.c": b"int x;\x00\n",
            "notes.weird": "some text in a file nobody knows\n",
            "dist/app.js": "function a(b){return b+1};" * 800_000,  # 20 MB on one line
        },
        remote="https://github.com/acme/alpha.git",
    )
    make_repo(root, "beta", {"copy/utils.py": UTILS, "main.go": "package main\n\nfunc main() {}\n"})
    out = tmp_path / "out"
    code = main(
        ["run", "--preset", "code", str(root), "-o", str(out), "--no-progress", "-w", "1"]
        + ["--max-doc-bytes", str(32 * 1024 * 1024)]
    )
    assert code == 0
    stats = json.loads((out / "stats.json").read_text())
    assert stats["reconciled"]
    assert (stats["read"], stats["errored"]) == (13, 2)  # 13 files; the PNG and the NUL file
    assert stats["kept"] + stats["rejected"] + stats["errored"] == stats["read"]
    by_stage = {stage["name"]: stage["reasons"] for stage in stats["stages"]}
    assert by_stage["code_heuristics"] == {
        "vendored": 1,
        "unknown_language": 1,
        "max_line_length": 1,
    }
    assert by_stage["code_syntax"] == {"python_syntax_error": 1, "parse_errors": 1}
    syntax = next(stage for stage in stats["stages"] if stage["name"] == "code_syntax")
    assert syntax["counters"] == {"python_compiled": 4, "tree_sitter_parsed": 3, "unchecked": 1}
    assert sum(by_stage["exact_dedup"].values()) == 1  # utils.py in both repositories
    kept = pq.read_table(out / "data").to_pylist()
    assert sorted(row["path"] for row in kept) == [
        "LICENSE",
        "main.go",
        "src/good.py",
        "src/utils.py",
        "web/ok.js",
    ]
    good = next(row for row in kept if row["path"] == "src/good.py")
    assert (good["repo"], good["lang"], good["license"]) == ("acme/alpha", "Python", "MIT")
    errors = [json.loads(line) for f in (out / "errors").glob("*.jsonl") for line in f.open()]
    assert sorted(e["file"].rsplit("/", 1)[-1] for e in errors) == ["blob.c", "logo.png"]
    assert "code_syntax" in capsys.readouterr().out


HUMANEVAL_PROMPT = (
    "from typing import List\n\n\ndef has_close_elements(numbers: List[float], threshold: float)"
    " -> bool:\n"
    '    """ Check if in given list of numbers, are any two numbers closer to each other than\n'
    '    given threshold.\n    """\n'
)
HUMANEVAL_SOLUTION = (
    "    for idx, elem in enumerate(numbers):\n        for idx2, elem2 in enumerate(numbers):\n"
    "            if idx != idx2:\n                distance = abs(elem - elem2)\n"
    "                if distance < threshold:\n                    return True\n"
    "\n    return False\n"
)


def test_code_preset_with_humaneval_decontamination_drops_the_leaked_solution(tmp_path):
    from textmill import Pipeline

    bench = tmp_path / "HumanEval.jsonl"
    item = {"task_id": "HumanEval/0", "prompt": HUMANEVAL_PROMPT}
    bench.write_text(json.dumps(item | {"canonical_solution": HUMANEVAL_SOLUTION}) + "\n")
    make_repo(
        tmp_path / "repos",
        "leak",
        {"solutions.py": HUMANEVAL_PROMPT + HUMANEVAL_SOLUTION, "app.py": GOOD},
    )
    code = Pipeline.from_preset("code")
    stages = [{spec.name: spec.options} for spec in code.specs]
    decon = {"decontaminate": {"benchmarks": [f"humaneval:{bench}"], "lang": "en"}}
    stats = Pipeline([*stages, decon]).run(
        [tmp_path / "repos"], tmp_path / "out", progress=False, workers=1
    )
    assert stats["reconciled"]
    assert stats["stages"][-1]["reasons"] == {"benchmark": 1}
    kept = pq.read_table(tmp_path / "out" / "data")["path"].to_pylist()
    assert kept == ["app.py"]


def test_input_kind_code_reads_a_plain_folder_as_one_repository(tmp_path):
    import pytest

    plain = tmp_path / "project"
    (plain / "src").mkdir(parents=True)
    (plain / "src" / "app.py").write_text(GOOD)
    (plain / "LICENSE").write_text(MIT)
    out = tmp_path / "out"
    args = ["run", "--preset", "code", str(plain), "-o", str(out), "--no-progress", "-w", "1"]
    assert main([*args, "--input-kind", "code"]) == 0
    kept = pq.read_table(out / "data").select(["repo", "path", "license"]).to_pylist()
    assert {"repo": "project", "path": "src/app.py", "license": "MIT"} in kept
    with pytest.raises(SystemExit) as exit_info:
        main([*args, "--input-kind", "source"])
    assert exit_info.value.code == 2


def test_source_files_in_a_folder_without_git_are_not_silently_ignored(tmp_path, capsys):
    folder = tmp_path / "plain"
    folder.mkdir()
    (folder / "a.py").write_text(GOOD)
    (folder / "notes.txt").write_text("some notes\n")
    out = tmp_path / "out"
    assert main(["run", "--preset", "code", str(folder), "-o", str(out), "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "note: 1 file not read (no format textmill reads: " in printed
    assert (
        "a.py; stats.json unknown_files); to read source code from a folder without .git" in printed
    )
    assert printed.rstrip().count("--input-kind code") == 1
    assert json.loads((out / "stats.json").read_text())["unknown_files"] == [str(folder / "a.py")]


def test_code_preset_reads_lang_and_path_a_plain_jsonl_keeps_in_metadata(tmp_path):
    """Records read without --input-kind code keep `lang`/`path` in metadata: the code stages
    read them there (as lint_score does) instead of rejecting every row as unknown_language."""
    rows = [
        {"id": "a", "text": GOOD, "lang": "python"},  # any case, as lint_score reads it
        {"id": "b", "text": "def f(:\n    pass\n", "path": "src/b.py"},  # the path's language
        {"id": "c", "text": "some words", "lang": "Klingon"},
    ]
    path = tmp_path / "code.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    out = tmp_path / "out"
    assert main(["run", "--preset", "code", str(path), "-o", str(out), "--no-progress"]) == 0
    stats = json.loads((out / "stats.json").read_text())
    by_stage = {stage["name"]: stage for stage in stats["stages"]}
    assert by_stage["code_heuristics"]["reasons"] == {"unknown_language": 1}
    assert by_stage["code_syntax"]["reasons"] == {"python_syntax_error": 1}
    assert by_stage["code_syntax"]["counters"]["python_compiled"] == 2
    assert stats["kept"] == 1
