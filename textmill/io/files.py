"""Finding inputs (paths, directories, globs, fsspec URLs), naming their format, and opening
them with transparent decompression and byte counting for the progress bar."""

from __future__ import annotations

import bz2
import gzip
import hashlib
import io
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import fsspec

from textmill.io.base import CountingReader
from textmill.io.hf_folders import MissingDataFile, hf_metadata_among

COMPRESSIONS = {".gz": "gzip", ".zst": "zstd", ".zstd": "zstd", ".bz2": "bz2"}
FORMATS = {
    ".warc": "warc",
    ".wet": "warc",
    ".jsonl": "jsonl",
    ".json": "jsonl",
    ".ndjson": "jsonl",
    ".parquet": "parquet",
    ".arrow": "arrow",
    ".feather": "arrow",  # Feather v2 is the Arrow IPC file format
    ".txt": "text",
    ".text": "text",
    ".md": "text",
    ".html": "html",
    ".htm": "html",
}
STATE_DIR = ".textmill"  # a run's own folder inside its output folder
RUN_MANIFEST = f"{STATE_DIR}/run.json"  # its presence makes a folder a textmill output
SMALL_FILE_FORMATS = {"text", "html"}  # one document per file: many files make one shard
FILES_PER_SMALL_FILE_SHARD = 2000


class InputError(ValueError):
    """An input argument that names nothing readable (reported before the run starts)."""


def split_compression(path: str) -> tuple[str, str | None]:
    """('x.jsonl', 'gzip') for 'x.jsonl.gz'."""
    for suffix, kind in COMPRESSIONS.items():
        if path.endswith(suffix):
            return path[: -len(suffix)], kind
    return path, None


def detect_format(path: str) -> str | None:
    stem, _ = split_compression(path.lower())
    if stem.endswith((".warc.wet", ".warc.wat")):
        return "warc"
    for suffix, fmt in FORMATS.items():
        if stem.endswith(suffix):
            return fmt
    return None


def open_input(path: str) -> tuple[IO[bytes], CountingReader]:
    """A decompressed byte stream over `path` and the counter of raw bytes behind it."""
    counter = CountingReader(fsspec.open(path, "rb").open())
    _, compression = split_compression(path.lower())
    if compression == "gzip":
        return gzip.GzipFile(fileobj=counter, mode="rb"), counter
    if compression == "zstd":
        import zstandard

        reader = zstandard.ZstdDecompressor().stream_reader(counter, read_across_frames=True)
        return io.BufferedReader(reader, buffer_size=1 << 20), counter
    if compression == "bz2":
        return bz2.BZ2File(counter, "rb"), counter
    return io.BufferedReader(counter, buffer_size=1 << 20), counter


@dataclass(frozen=True)
class Shard:
    """The unit of parallel work and of resumption: a stable name, the files it reads, and its
    place in the run's shard list (the high half of its documents' `doc_key`)."""

    name: str
    format: str
    paths: tuple[str, ...]
    size_bytes: int
    index: int


def has_magic(argument: str) -> bool:
    return any(c in argument for c in "*?[")


def is_run_output(folder: str | os.PathLike) -> bool:
    """Whether a folder is a textmill run's output: it holds the run's manifest."""
    return os.path.isfile(os.path.join(folder, RUN_MANIFEST))


def skip_reason(path: str) -> str:
    """Why planning left a file out (said to the user, once per file)."""
    if "://" not in path:
        if os.path.islink(path) and not os.path.exists(path):
            return f"dangling symbolic link to {os.readlink(path)}"
        if os.path.isdir(path):
            return "symbolic link to a folder (not followed)"
        if os.path.exists(path) and not os.path.isfile(path):
            return "not a regular file"
    return "unknown format"


def _expand_one(argument: str, exclude: tuple[str, ...]) -> tuple[list[tuple[str, int]], list[str]]:
    """The files an argument names with their sizes, and the entries that are not readable
    files (dangling links, FIFOs, links to folders). Hidden files and textmill's own output
    folders are never inputs: a run's output inside an input folder is not read back."""
    if "://" not in argument:
        argument = os.path.abspath(argument)  # one spelling per file: ids and sources use it
    fs, _, roots = fsspec.get_fs_token_paths(argument)
    protocol = fs.protocol if isinstance(fs.protocol, str) else fs.protocol[0]
    local = protocol in ("file", "local")
    prefix = "" if local else f"{protocol}://"
    found: list[tuple[str, int]] = []
    broken: list[str] = []
    for root in roots:
        if fs.isdir(root):
            listing, before = fs.find(root, detail=True), len(found) + len(broken)
            outputs = tuple(
                path[: -len(RUN_MANIFEST)] for path in listing if path.endswith("/" + RUN_MANIFEST)
            )
            for path, info in sorted(listing.items()):
                name = path.rsplit("/", 1)[-1]
                if name.startswith(".") or "/." in path[len(root) :]:
                    continue
                if any(path == ex or path.startswith(ex + "/") for ex in exclude):
                    continue
                if path.startswith(outputs):
                    continue
                if info.get("type") == "file" or (local and os.path.isfile(path)):
                    found.append((prefix + path, int(info.get("size") or 0)))
                else:  # fsspec lists links and special files as "other"
                    broken.append(prefix + path)
            if len(found) + len(broken) == before and not has_magic(argument):
                hint = " (it is a textmill output: give its data/ folder)" if outputs else ""
                raise InputError(f"no input files found in {root}{hint}")
        elif fs.exists(root):
            if has_magic(argument) and root.rsplit("/", 1)[-1].startswith("."):
                continue
            found.append((prefix + root, int(fs.size(root) or 0)))
        elif local and os.path.islink(root):
            raise InputError(f"{root}: {skip_reason(root)}")
    try:  # a save_to_disk folder's JSON files describe its .arrow data, they are not data
        metadata = hf_metadata_among(fs, [path[len(prefix) :] for path, _ in found])
    except MissingDataFile as exc:
        raise InputError(str(exc)) from None
    found = [(path, size) for path, size in found if path[len(prefix) :] not in metadata]
    if not found and not broken:
        raise InputError(f"{argument}: no such file, directory or matching glob")
    return found, broken


def plan_shards(
    arguments: Iterable[str], exclude: Iterable[str] = ()
) -> tuple[list[Shard], list[str]]:
    """Shards for every readable file under the arguments, and the files skipped (unknown
    format, or not a readable file: `skip_reason` says which).

    Big formats get a shard per file; single-document files (.txt, .html) are grouped so a
    directory of a million pages is not a million tasks. Names depend only on paths, so a
    resumed run finds the same shards whatever its worker count. `exclude` keeps a run's own
    output directory out of its inputs when it lies inside an input directory.
    """
    excluded = tuple(str(Path(p).resolve()) for p in exclude)
    files: dict[str, int] = {}
    broken: set[str] = set()
    for argument in arguments:
        found, unreadable = _expand_one(argument, excluded)
        for path, size in found:
            files.setdefault(path, size)
        broken.update(unreadable)
    shards: list[Shard] = []
    small: dict[str, list[tuple[str, int]]] = {}
    unknown: list[str] = sorted(broken - files.keys())
    for path, size in sorted(files.items()):
        fmt = detect_format(path)
        if fmt is None:
            unknown.append(path)
        elif fmt in SMALL_FILE_FORMATS:
            small.setdefault(fmt, []).append((path, size))
        else:
            shards.append(Shard(_shard_name(path), fmt, (path,), size, len(shards)))
    for fmt, entries in small.items():
        for start in range(0, len(entries), FILES_PER_SMALL_FILE_SHARD):
            group = entries[start : start + FILES_PER_SMALL_FILE_SHARD]
            paths = tuple(p for p, _ in group)
            size = sum(s for _, s in group)
            shards.append(Shard(_shard_name(*paths), fmt, paths, size, len(shards)))
    return shards, sorted(unknown)


def _shard_name(*paths: str) -> str:
    stem = paths[0].rstrip("/").rsplit("/", 1)[-1]
    stem = "".join(c if c.isalnum() or c in "-_." else "_" for c in stem)[:60]
    digest = hashlib.sha1("\0".join(paths).encode()).hexdigest()[:10]
    return f"{stem}-{digest}"
