"""Hugging Face `datasets` folders: which of their files are data, and which split a file holds.

`Dataset.save_to_disk(dir)` writes `dir/state.json` (which lists the `data-*-of-*.arrow` Arrow
IPC streams), `dir/dataset_info.json` and the data files; `DatasetDict.save_to_disk(dir)` writes
`dir/dataset_dict.json` (`{"splits": [...]}`) and one such folder per split. A `load_dataset`
cache folder holds `dataset_info.json` beside `<builder>-<split>[-00000-of-00002].arrow`. The
JSON files are metadata: reading them as JSON Lines would count them as broken documents.
"""

from __future__ import annotations

import json
import posixpath
import re

import fsspec

STATE = "state.json"
INFO = "dataset_info.json"
DICT = "dataset_dict.json"


class MissingDataFile(ValueError):
    """A save_to_disk folder whose state.json names a data file that is not there."""


def _read_json(fs: fsspec.AbstractFileSystem, path: str) -> dict | None:
    try:
        with fs.open(path, "rb") as handle:
            value = json.loads(handle.read(1 << 20))
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def _state(fs: fsspec.AbstractFileSystem, folder: str) -> dict | None:
    """state.json of a save_to_disk Dataset folder, or None when `folder` is not one."""
    if not fs.isfile(posixpath.join(folder, INFO)):
        return None
    state = _read_json(fs, posixpath.join(folder, STATE))
    if state is None or not isinstance(state.get("_data_files"), list):
        return None
    return state


def hf_metadata_files(fs: fsspec.AbstractFileSystem, folder: str) -> list[str] | None:
    """The files of `folder` that are save_to_disk metadata (never data), or None when the
    folder is not a save_to_disk Dataset or DatasetDict. Raises MissingDataFile when a data
    file state.json lists is missing: its records would be lost without a word."""
    state = _state(fs, folder)
    if state is not None:
        for entry in state["_data_files"]:
            name = entry.get("filename") if isinstance(entry, dict) else None
            if isinstance(name, str) and not fs.isfile(posixpath.join(folder, name)):
                raise MissingDataFile(f"{folder}: {STATE} lists {name}, which is missing")
        return [posixpath.join(folder, STATE), posixpath.join(folder, INFO)]
    splits = (_read_json(fs, posixpath.join(folder, DICT)) or {}).get("splits")
    if isinstance(splits, list) and any(
        isinstance(s, str) and _state(fs, posixpath.join(folder, s)) is not None for s in splits
    ):
        return [posixpath.join(folder, DICT)]
    if fs.isfile(posixpath.join(folder, INFO)) and fs.glob(posixpath.join(folder, "*.arrow")):
        return [posixpath.join(folder, INFO)]  # a load_dataset cache folder
    return None


def hf_split(path: str) -> str | None:
    """The split an .arrow data file of a save_to_disk folder holds: state.json's `_split`,
    else the folder's name when the parent's dataset_dict.json lists it; None otherwise."""
    fs, _, (resolved,) = fsspec.get_fs_token_paths(path)
    folder = posixpath.dirname(resolved)
    state = _state(fs, folder)
    if state is None:
        return _cache_split(fs, folder, posixpath.basename(resolved))
    if isinstance(state.get("_split"), str):
        return state["_split"]
    parent, name = posixpath.split(folder)
    splits = (_read_json(fs, posixpath.join(parent, DICT)) or {}).get("splits")
    return name if isinstance(splits, list) and name in splits else None


def _cache_split(fs: fsspec.AbstractFileSystem, folder: str, name: str) -> str | None:
    """The split of a load_dataset cache file, `<builder>-<split>[-NNNNN-of-NNNNN].arrow`,
    when dataset_info.json names that builder and split."""
    info = _read_json(fs, posixpath.join(folder, INFO)) or {}
    builder, splits = info.get("builder_name"), info.get("splits")
    if not isinstance(builder, str) or not isinstance(splits, dict):
        return None
    match = re.fullmatch(re.escape(builder) + r"-(.+?)(?:-\d{5}-of-\d{5})?\.arrow", name)
    return match.group(1) if match and match.group(1) in splits else None


def hf_metadata_among(fs: fsspec.AbstractFileSystem, paths: list[str]) -> set[str]:
    """Which of `paths` (an input listing) are metadata of save_to_disk folders."""
    folders = {posixpath.dirname(p) for p in paths if posixpath.basename(p) in (STATE, INFO, DICT)}
    return {path for folder in sorted(folders) for path in hf_metadata_files(fs, folder) or ()}
