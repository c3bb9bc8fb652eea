"""Unicode lookup tables kept on disk: built once, loaded after, rebuilt when unreadable."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from textmill.text import table_cache
from textmill.text.chars import char_flags
from textmill.text.table_cache import disk_cached

BUILDS: list[int] = []


def build_table() -> np.ndarray:
    BUILDS.append(1)
    return np.arange(10, dtype=np.uint16) * 3


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(table_cache, "_folders", lambda _module: [tmp_path])
    BUILDS.clear()
    return tmp_path


def test_a_table_is_built_once_then_loaded_by_later_processes(folder: Path) -> None:
    first = disk_cached(build_table)()
    assert BUILDS == [1] and len(list(folder.glob("*.npy"))) == 1
    again = disk_cached(build_table)()  # a fresh wrapper: what a new process sees
    assert BUILDS == [1]
    assert again.dtype == np.uint16 and again.tolist() == first.tolist()


def test_an_unreadable_cache_file_is_rebuilt_and_replaced(folder: Path) -> None:
    disk_cached(build_table)()
    (path,) = folder.glob("*.npy")
    path.write_bytes(b"not a table")
    assert disk_cached(build_table)().tolist() == build_table().tolist()
    assert np.load(path).tolist() == build_table().tolist()


def test_an_unwritable_folder_only_means_building(tmp_path: Path, monkeypatch) -> None:
    blocked = tmp_path / "file"
    blocked.write_text("a file where the folder would be")
    monkeypatch.setattr(table_cache, "_folders", lambda _module: [blocked / "sub"])
    BUILDS.clear()
    assert disk_cached(build_table)().tolist() == build_table().tolist()
    assert not list(tmp_path.rglob("*.tmp"))


def test_the_shipped_character_table_loads_as_it_is_built() -> None:
    assert np.array_equal(char_flags(), char_flags.__wrapped__())
