"""The source-tree reader and The-Stack-style records: one document per file with repo, path,
lang, size and licence; binary and undecodable files are errors naming the file."""

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from textmill.code.languages import language_of
from textmill.code.licenses import identify_license, repository_license
from textmill.io import ReadOptions, plan_shards, read_shard
from textmill.io.code import find_repositories, is_source_tree, repository_name
from textmill.runner import concat_tables

MIT = """MIT License

Copyright (c) 2024 Example

Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the "Software"), to deal
in the Software without restriction.
"""
APACHE = """                                 Apache License
                           Version 2.0, January 2004
                        http://www.apache.org/licenses/
"""
BSD3 = """Redistribution and use in source and binary forms, with or without
modification, are permitted provided that the following conditions are met:
3. Neither the name of the copyright holder nor the names of its
   contributors may be used to endorse or promote products derived from
   this software without specific prior written permission.
"""


def make_repo(root: Path, name: str, files: dict[str, bytes | str], remote: str | None = None):
    repo = root / name
    (repo / ".git").mkdir(parents=True)
    if remote:
        (repo / ".git" / "config").write_text(f'[remote "origin"]\n\turl = {remote}\n')
    for path, content in files.items():
        target = repo / path
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, str):
            target.write_text(content, encoding="utf-8")
        else:
            target.write_bytes(content)
    return repo


def read_all(inputs, **options) -> tuple[pa.Table, list, dict]:
    shards, _ = plan_shards([str(i) for i in inputs], input_kind=options.get("input_kind", "auto"))
    tables, errors, skipped = [], [], {}
    for shard in shards:
        for batch in read_shard(shard, ReadOptions(**options)):
            tables.append(batch.docs)
            errors.extend(batch.errors)
            for kind, n in batch.skipped.items():
                skipped[kind] = skipped.get(kind, 0) + n
    return concat_tables(tables), errors, skipped


@pytest.mark.parametrize(
    ("path", "lang"),
    [
        ("src/app.py", "Python"),
        ("lib/x.TSX", "TSX"),
        ("a/b/CMakeLists.txt", "CMake"),
        ("Makefile", "Makefile"),
        ("include/uv.h", "C"),
        ("core.cc", "C++"),
        ("notes.txt", "Text"),
        ("data.xyz", None),
        (".gitignore", None),
        ("README", None),
    ],
)
def test_language_follows_linguist_names_by_file_name_then_extension(path, lang):
    assert language_of(path) == lang


@pytest.mark.parametrize(
    ("text", "spdx"),
    [
        (MIT, "MIT"),
        (APACHE, "Apache-2.0"),
        (BSD3, "BSD-3-Clause"),
        (BSD3.split("3.")[0], "BSD-2-Clause"),
        ("GNU GENERAL PUBLIC LICENSE\n Version 3, 29 June 2007\n", "GPL-3.0"),
        ("GNU GENERAL PUBLIC LICENSE\nVersion 2, June 1991", "GPL-2.0"),
        (
            "GNU LESSER GENERAL PUBLIC LICENSE\nVersion 3, 29 June 2007\n"
            "incorporates the terms of version 3 of the GNU General Public License",
            "LGPL-3.0",
        ),
        ("Mozilla Public License Version 2.0\n==================", "MPL-2.0"),
        (
            "Permission to use, copy, modify, and/or distribute this software for any\n"
            "purpose with or without fee is hereby granted",
            "ISC",
        ),
        ("This is free and unencumbered software released into the public domain.", "Unlicense"),
        ("# SPDX-License-Identifier: BSD-2-Clause-Patent\nwhatever", "BSD-2-Clause-Patent"),
        ("All rights reserved. Do not copy.", None),
    ],
)
def test_licence_texts_are_identified_by_their_own_wording(text, spdx):
    assert identify_license(text) == spdx


def test_two_licence_files_offer_a_choice(tmp_path):
    (tmp_path / "LICENSE-MIT").write_text(MIT)
    (tmp_path / "LICENSE-APACHE").write_text(APACHE)
    (tmp_path / "COPYING.md").write_text("no licence here")
    assert repository_license(str(tmp_path)) == "Apache-2.0 OR MIT"


def test_folder_of_repositories_becomes_one_document_per_file(tmp_path):
    root = tmp_path / "repos"
    make_repo(
        root,
        "widget",
        {"LICENSE": MIT, "src/app.py": "def f():\n    return 1\n", "web/app.js": "let a = 1;\n"},
        remote="git@github.com:acme/widget.git",
    )
    make_repo(root, "tool", {"main.go": "package main\n", "notes.xyz": "data\n"})
    assert is_source_tree(str(root))
    docs, errors, _ = read_all([root])
    rows = {r["path"]: r for r in docs.drop_columns(["text"]).to_pylist()}
    assert errors == []
    assert rows["src/app.py"]["repo"] == "acme/widget"
    assert rows["src/app.py"]["lang"] == "Python"
    assert rows["src/app.py"]["license"] == "MIT"
    assert rows["src/app.py"]["size"] == len("def f():\n    return 1\n")
    assert rows["src/app.py"]["id"] == "acme/widget/src/app.py"
    assert rows["web/app.js"]["lang"] == "JavaScript"
    assert rows["main.go"]["repo"] == "tool" and rows["main.go"]["license"] is None
    assert rows["notes.xyz"]["lang"] is None  # unknown extension: read, rejected later
    assert ".git/config" not in rows


def test_binary_nul_and_undecodable_files_are_errors_naming_the_file(tmp_path):
    repo = make_repo(
        tmp_path,
        "r",
        {
            "ok.py": "x = 1\n",
            "logo.png": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
            "nul.c": b"int x;\x00\n",
            "latin1.c": "/* caf\xe9 */\n".encode("latin-1"),
            "empty.py": b"",
        },
    )
    (repo / "link.py").symlink_to(repo / "ok.py")
    docs, errors, skipped = read_all([repo])
    assert docs["path"].to_pylist() == ["ok.py"]
    messages = {Path(e.file).name: e.message for e in errors}
    assert set(messages) == {"logo.png", "nul.c", "latin1.c"}
    assert messages["nul.c"].startswith("binary file (a NUL byte")
    assert messages["latin1.c"].startswith("not UTF-8 text")
    assert skipped == {"code:empty_file": 1, "code:symlink": 1}


def test_file_over_the_size_limit_is_an_error_without_being_read(tmp_path):
    repo = make_repo(tmp_path, "r", {"big.min.js": "a" * 5000, "small.js": "let a;\n"})
    docs, errors, _ = read_all([repo], max_document_bytes=1000)
    assert docs["path"].to_pylist() == ["small.js"]
    assert "5,000 bytes exceeds max_document_bytes=1,000" in errors[0].message


def test_owner_name_layout_and_plain_folders_with_input_kind_code(tmp_path):
    make_repo(tmp_path / "gh" / "acme", "one", {"a.rs": "fn main() {}\n"})
    plain = tmp_path / "plain"
    (plain / "proj" / "src").mkdir(parents=True)
    (plain / "proj" / "src" / "m.rb").write_text("puts 1\n")
    assert [Path(p).name for p in find_repositories(str(tmp_path / "gh"))] == ["one"]
    assert not is_source_tree(str(plain))  # no checkout: auto reads it as files
    docs, _, _ = read_all([plain], input_kind="code")
    assert docs.select(["repo", "path", "lang"]).to_pylist() == [
        {"repo": "proj", "path": "src/m.rb", "lang": "Ruby"}
    ]


def test_repository_name_from_https_remote(tmp_path):
    repo = make_repo(tmp_path, "x", {}, remote="https://github.com/pallets/flask.git")
    assert repository_name(str(repo)) == "pallets/flask"


def test_stack_style_jsonl_and_parquet_map_to_the_same_columns(tmp_path):
    records = [
        {
            "content": "import os\n",
            "max_stars_repo_path": "a/b.py",
            "max_stars_repo_name": "o/r",
            "max_stars_repo_licenses": ["MIT", "Apache-2.0"],
            "lang": "Python",
            "size": 10,
            "hexsha": "abc",
        },
        {
            "content": "echo hi\n",
            "path": "run.sh",
            "repo": "o/s",
            "license": "MIT",
            "lang": "shell",
        },
        {"content": "?", "path": "x.unknownext", "repo": "o/t", "license": None},
    ]
    jsonl = tmp_path / "stack.jsonl"
    jsonl.write_text("".join(json.dumps(r) + "\n" for r in records))
    parquet = tmp_path / "stack.parquet"
    pq.write_table(pa.Table.from_pylist(records[1:]), parquet)
    docs, errors, _ = read_all([jsonl], input_kind="code")
    assert errors == []
    columns = ["text", "repo", "path", "lang", "size", "license"]
    assert docs.select(columns).to_pylist() == [
        {
            "text": "import os\n",
            "repo": "o/r",
            "path": "a/b.py",
            "lang": "Python",
            "size": 10,
            "license": "Apache-2.0 AND MIT",
        },
        {
            "text": "echo hi\n",
            "repo": "o/s",
            "path": "run.sh",
            "lang": "Shell",
            "size": 8,
            "license": "MIT",
        },
        {
            "text": "?",
            "repo": "o/t",
            "path": "x.unknownext",
            "lang": None,
            "size": 1,
            "license": None,
        },
    ]
    assert json.loads(docs["metadata"][0].as_py()) == {"hexsha": "abc"}
    from_parquet, _, _ = read_all([parquet], input_kind="code")
    assert from_parquet.select(columns).to_pylist() == docs.select(columns).to_pylist()[1:]


def test_stack_record_without_content_is_an_error_naming_the_line(tmp_path):
    path = tmp_path / "s.jsonl"
    path.write_text(json.dumps({"path": "a.py"}) + "\n")
    docs, errors, _ = read_all([path], input_kind="code")
    assert docs.num_rows == 0
    assert errors[0].record == "line 1" and "missing field 'content'" in errors[0].message


def test_read_code_gives_the_documents_and_the_unreadable_files(tmp_path):
    import textmill

    repo = make_repo(tmp_path, "r", {"LICENSE": MIT, "a.py": "x = 1\n", "b.bin": b"\x00\x01"})
    docs, errors = textmill.read_code(repo)
    assert docs.select(["path", "lang", "license"]).to_pylist() == [
        {"path": "LICENSE", "lang": "Text", "license": "MIT"},
        {"path": "a.py", "lang": "Python", "license": "MIT"},
    ]
    assert [Path(e.file).name for e in errors] == ["b.bin"]


def test_a_dataset_cloned_with_git_is_read_as_files_not_as_code(tmp_path):
    dataset = make_repo(tmp_path, "hf-dataset", {"README.md": "# data\n", "package.json": "{}"})
    (dataset / "train.jsonl").write_text(json.dumps({"text": "a document " * 50}) + "\n")
    assert not is_source_tree(str(dataset))
    shards, _ = plan_shards([str(dataset)])
    assert {shard.format for shard in shards} == {"jsonl", "text"}
    code = make_repo(tmp_path / "code", "app", {"main.py": "x = 1\n" * 100, "fixture.jsonl": "{}"})
    assert is_source_tree(str(code))


def test_unknown_input_kind_is_refused_before_reading(tmp_path):
    from textmill import Pipeline
    from textmill.executors.local import SettingsError
    from textmill.io import InputError

    with pytest.raises(SettingsError, match="input_kind must be one of auto, code, files"):
        Pipeline(["code_heuristics"]).run([tmp_path], tmp_path / "out", input_kind="source")
    with pytest.raises(InputError, match="unknown input kind"):
        plan_shards([str(tmp_path)], input_kind="source")


def test_text_field_text_is_honoured_for_records_read_as_code(tmp_path):
    """`--text-field text` with `--input-kind code` reads `text`, not The Stack's `content`."""
    from textmill.cli import main

    path = tmp_path / "code.jsonl"
    path.write_text(json.dumps({"id": "a", "text": "x = 1\n", "path": "a.py"}) + "\n")
    args = ["run", "--preset", "code", str(path), "--input-kind", "code", "--no-progress"]
    assert main([*args, "-o", str(tmp_path / "out"), "--text-field", "text"]) == 0
    stats = json.loads((tmp_path / "out" / "stats.json").read_text())
    assert (stats["kept"], stats["errored"]) == (1, 0)
    assert main([*args, "-o", str(tmp_path / "default")]) == 0  # default: `content`
    assert json.loads((tmp_path / "default" / "stats.json").read_text())["errored"] == 1
