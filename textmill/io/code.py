"""Source code as documents: folders of repositories, and The-Stack-style JSONL/Parquet.

A folder of repositories becomes one shard per repository and one document per file, with
the columns of `textmill.code` (repo, path, lang, size, license). A file that cannot be text
is an error naming it (binary: a NUL byte in its first 8,000 bytes, git's test; or not
UTF-8), counted as errored; vendored, generated and minified files are documents that the
`code_heuristics` stage rejects with a reason, so that they are counted and kept in rejects.

The-Stack-style records (`content`, `path` or `max_stars_repo_path`, `repo` or
`max_stars_repo_name`, `license` or `max_stars_repo_licenses`, `lang` or `language`) read
with `--input-kind code` come out in the same shape, whatever the reader.
"""

from __future__ import annotations

import configparser
import contextlib
import json
import os
import re
from collections.abc import Iterator
from typing import Any

import pyarrow as pa

from textmill.code import CODE_FIELDS, LANG, LICENSE, PATH, REPO, SIZE
from textmill.code.files import BINARY_SNIFF_BYTES, is_binary
from textmill.code.languages import known_languages, language_of
from textmill.code.licenses import license_files, repository_license
from textmill.document import METADATA, TEXT, make_batch
from textmill.io.base import ReadBatch, ReadError, ReadOptions

VCS_DIRS = frozenset({".git", ".hg", ".svn"})
# The-Stack-style field names per column, first present wins (v1, v2 and plain spellings)
STACK_FIELDS: dict[str, tuple[str, ...]] = {
    PATH: ("path", "max_stars_repo_path", "max_forks_repo_path", "max_issues_repo_path"),
    REPO: ("repo", "repo_name", "max_stars_repo_name", "max_forks_repo_name"),
    LICENSE: ("license", "max_stars_repo_licenses", "detected_licenses", "licenses"),
    LANG: ("lang", "language"),
    SIZE: ("size", "bytes", "length_bytes"),
}
_REMOTE_REPO = re.compile(r"[:/]([^/:]+/[^/]+?)(?:\.git)?/?$")


def is_repository(folder: str) -> bool:
    """A version-control checkout: it holds `.git` (a folder, or a worktree's file)."""
    return os.path.exists(os.path.join(folder, ".git"))


def _subfolders(folder: str) -> list[str]:
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError:
        return []
    return [
        e.path for e in entries if e.is_dir(follow_symlinks=False) and not e.name.startswith(".")
    ]


def _has_loose_files(folder: str) -> bool:
    try:
        return any(
            e.is_file(follow_symlinks=False) and not e.name.startswith(".")
            for e in os.scandir(folder)
        )
    except OSError:
        return False


def is_source_tree(folder: str) -> bool:
    """Whether a folder is a repository or a folder of them (`.git` in it, its subfolders or
    theirs, as `owner/name/` layouts have): what `--input-kind auto` reads as code. A checkout
    whose bytes are mostly dataset files (a Hugging Face dataset cloned with git: Parquet,
    JSONL, WARC) is a dataset, read file by file."""
    if not os.path.isdir(folder):
        return False
    if is_repository(folder):
        return not holds_datasets(folder)
    checkouts = [
        path
        for child in _subfolders(folder)
        for path in ([child] if is_repository(child) else _subfolders(child))
        if is_repository(path)
    ]
    return bool(checkouts) and not all(holds_datasets(path) for path in checkouts)


DATASET_FORMATS = frozenset({"jsonl", "parquet", "arrow", "warc"})


def holds_datasets(repo_dir: str) -> bool:
    """Whether more than half of a checkout's bytes are files in a dataset format (`.json`,
    which code repositories are full of, does not count)."""
    from textmill.io.files import detect_format, split_compression

    data_bytes = total = 0
    for path, _ in source_files(repo_dir):
        try:
            size = os.path.getsize(path)
        except OSError:
            continue
        total += size
        stem = split_compression(path.lower())[0]
        if not stem.endswith(".json") and detect_format(path) in DATASET_FORMATS:
            data_bytes += size
    return total > 0 and data_bytes * 2 > total


def find_repositories(folder: str) -> list[str]:
    """The repositories under a folder: the folder itself when it is a checkout, holds a
    licence file or loose files; else each subfolder (or, for `owner/name/` layouts, each
    checkout one level further down)."""
    if is_repository(folder) or license_files(folder) or _has_loose_files(folder):
        return [folder]
    repositories: list[str] = []
    for child in _subfolders(folder):
        grandchildren = [g for g in _subfolders(child) if is_repository(g)]
        if is_repository(child) or not grandchildren:
            repositories.append(child)
        else:
            repositories.extend(grandchildren)
    return repositories


def repository_name(repo_dir: str) -> str:
    """`owner/name` from the checkout's `origin` remote, else the folder's name."""
    config = os.path.join(repo_dir, ".git", "config")
    if os.path.isfile(config):
        parser = configparser.ConfigParser(strict=False, interpolation=None)
        try:
            parser.read(config, encoding="utf-8")
            url = parser.get('remote "origin"', "url", fallback="")
        except (configparser.Error, UnicodeDecodeError):
            url = ""
        match = _REMOTE_REPO.search(url.strip())
        if match:
            return match.group(1)
    return os.path.basename(os.path.normpath(repo_dir))


def source_files(repo_dir: str, skipped: dict[str, int] | None = None) -> Iterator[tuple[str, str]]:
    """(absolute path, `/`-separated path in the repository) of every regular file, sorted,
    outside version-control folders and textmill output folders. Links are not followed
    (a link inside a checkout points at a file it holds anyway, or outside it); they and
    other non-files are counted in `skipped` (`code:symlink`, `code:not_a_regular_file`)."""

    def skip(kind: str) -> None:
        if skipped is not None:
            skipped[kind] = skipped.get(kind, 0) + 1

    for root, dirs, files in os.walk(repo_dir):
        kept_dirs = []
        for d in sorted(dirs):
            if d in VCS_DIRS or os.path.isfile(os.path.join(root, d, ".textmill", "run.json")):
                continue
            if os.path.islink(os.path.join(root, d)):
                skip("code:symlink")
                continue
            kept_dirs.append(d)
        dirs[:] = kept_dirs
        for name in sorted(files):
            path = os.path.join(root, name)
            if os.path.islink(path):
                skip("code:symlink")
            elif not os.path.isfile(path):
                skip("code:not_a_regular_file")
            else:
                yield path, os.path.relpath(path, repo_dir).replace(os.sep, "/")


def tree_size(repo_dir: str) -> int:
    total = 0
    for path, _ in source_files(repo_dir):
        with contextlib.suppress(OSError):  # a file gone since listing: its read says so
            total += os.path.getsize(path)
    return total


class _Rows:
    """A batch of code documents under construction."""

    def __init__(self, repo_dir: str, repo: str, license_id: str | None):
        self.repo_dir, self.repo, self.license_id = repo_dir, repo, license_id
        self.texts: list[str] = []
        self.paths: list[str] = []
        self.sizes: list[int] = []
        self.errors: list[ReadError] = []
        self.skipped: dict[str, int] = {}
        self.progress = 0

    def __len__(self) -> int:
        return len(self.texts) + len(self.errors)

    def flush(self) -> ReadBatch:
        ids = [f"{self.repo}/{path}" for path in self.paths]
        docs = make_batch(ids, self.texts, source=self.repo_dir)
        columns = {
            REPO: [self.repo] * len(ids),
            PATH: self.paths,
            LANG: [
                language_of(path, text) for path, text in zip(self.paths, self.texts, strict=True)
            ],
            SIZE: self.sizes,
            LICENSE: [self.license_id] * len(ids),
        }
        for field in CODE_FIELDS:
            docs = docs.append_column(field, pa.array(columns[field.name], field.type))
        batch = ReadBatch(docs, self.errors, self.skipped, self.progress)
        self.texts, self.paths, self.sizes, self.errors, self.skipped = [], [], [], [], {}
        self.progress = 0
        return batch


def read_source_tree(repo_dir: str, options: ReadOptions) -> Iterator[ReadBatch]:
    """One repository's files as code documents, `options.batch_size` rows a batch."""
    rows = _Rows(repo_dir, repository_name(repo_dir), repository_license(repo_dir))
    skipped: dict[str, int] = {}
    for path, relative in source_files(repo_dir, skipped):
        for kind, n in skipped.items():
            rows.skipped[kind] = rows.skipped.get(kind, 0) + n
        skipped.clear()
        _add_file(rows, path, relative, options)
        if len(rows) >= options.batch_size:
            yield rows.flush()
    for kind, n in skipped.items():  # links after the last file
        rows.skipped[kind] = rows.skipped.get(kind, 0) + n
    yield rows.flush()


def _add_file(rows: _Rows, path: str, relative: str, options: ReadOptions) -> None:
    def error(message: str) -> None:
        rows.errors.append(ReadError(path, "file", message))

    try:
        size = os.path.getsize(path)
        if size > options.max_document_bytes:
            error(
                f"file of {size:,} bytes exceeds max_document_bytes={options.max_document_bytes:,}"
            )
            return
        with open(path, "rb") as handle:
            data = handle.read(options.max_document_bytes + 1)
    except OSError as exc:
        error(f"cannot read ({type(exc).__name__}: {exc})")
        return
    rows.progress += len(data)
    if not data.strip():
        rows.skipped["code:empty_file"] = rows.skipped.get("code:empty_file", 0) + 1
        return
    if is_binary(data):
        error(f"binary file (a NUL byte in its first {BINARY_SNIFF_BYTES:,} bytes, git's test)")
        return
    try:
        text = data.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as exc:
        error(f"not UTF-8 text (invalid byte at offset {exc.start:,}): binary or another encoding")
        return
    rows.texts.append(text)
    rows.paths.append(relative)
    rows.sizes.append(len(data))


# ------------------------------------------------------------- The-Stack-style records


def stack_read_options(options: ReadOptions) -> ReadOptions:
    """The-Stack records keep the file in `content`: the text field unless one was given
    (`--text-field text` included: RunSettings passes it as `code_text_field`)."""
    from dataclasses import replace

    if options.text_field != ReadOptions.text_field:
        return options
    return replace(options, text_field=options.code_text_field)


def _canonical_languages() -> dict[str, str]:
    return {name.lower(): name for name in known_languages()}


def _license_value(value: Any) -> str | None:
    """A licence field: an SPDX id, or The Stack's list of the ids found in the repository
    (all of them apply: joined by AND)."""
    if isinstance(value, list):
        ids = sorted({str(v) for v in value if v})
        return " AND ".join(ids) if ids else None
    return str(value) if value else None


def stack_columns(docs: pa.Table) -> pa.Table:
    """Lift The-Stack-style fields out of `metadata` into the code columns; `lang` is the
    record's own when it is a linguist name (any case), else the path's."""
    canonical = _canonical_languages()
    values: dict[str, list[Any]] = {field.name: [] for field in CODE_FIELDS}
    metadata_out: list[str | None] = []
    texts = docs[TEXT].to_pylist()
    for raw, text in zip(docs[METADATA].to_pylist(), texts, strict=True):
        record = json.loads(raw) if raw else {}
        picked = {}
        for column, names in STACK_FIELDS.items():
            name = next((n for n in names if record.get(n) is not None), None)
            picked[column] = record.pop(name) if name else None
        path = str(picked[PATH]) if picked[PATH] is not None else None
        lang = canonical.get(str(picked[LANG]).lower()) if picked[LANG] else None
        size = picked[SIZE]
        values[PATH].append(path)
        values[REPO].append(str(picked[REPO]) if picked[REPO] is not None else None)
        values[LANG].append(lang or (language_of(path, text) if path else None))
        values[SIZE].append(
            int(size) if isinstance(size, int) else len((text or "").encode("utf-8"))
        )
        values[LICENSE].append(_license_value(picked[LICENSE]))
        metadata_out.append(json.dumps(record, ensure_ascii=False) if record else None)
    docs = docs.set_column(
        docs.column_names.index(METADATA), METADATA, pa.array(metadata_out, pa.string())
    )
    for field in CODE_FIELDS:
        array = pa.array(values[field.name], field.type)
        if field.name in docs.column_names:
            docs = docs.set_column(docs.column_names.index(field.name), field, array)
        else:
            docs = docs.append_column(field, array)
    return docs
