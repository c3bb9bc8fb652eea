"""Lookup tables built from Python's Unicode database, kept on disk like numba's kernels.

A code-point table (character classes, MinHash normalisation) takes ~0.1-0.15 CPU-s to build
in a Python loop over 200k+ code points, in every process that runs a stage using it: a
fixed cost the size of the filtering itself on a small input. `disk_cached` stores the table
as .npy in `__pycache__` beside the module that builds it (where numba keeps its cache), else
under NUMBA_CACHE_DIR / ~/.cache/textmill, keyed by the module's source, the Unicode
database and the Python/numpy versions: any change rebuilds it. A folder that cannot be
written just means building the table as before.
"""

from __future__ import annotations

import functools
import hashlib
import os
import sys
import tempfile
import unicodedata
from collections.abc import Callable
from pathlib import Path

import numpy as np


def _folders(module_file: str) -> list[Path]:
    folders = [Path(module_file).parent / "__pycache__"]
    if os.environ.get("NUMBA_CACHE_DIR"):
        folders.append(Path(os.environ["NUMBA_CACHE_DIR"]) / "textmill")
    home = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    folders.append(Path(home) / "textmill")
    return folders


def _key(module_file: str, name: str) -> str:
    digest = hashlib.sha256(Path(module_file).read_bytes())
    digest.update(f"{name}|{unicodedata.unidata_version}|{sys.version}|{np.__version__}".encode())
    return digest.hexdigest()[:20]


def _save(table: np.ndarray, folder: Path, name: str) -> bool:
    """Write atomically (a reader sees the whole table or none); False where it cannot."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=folder, suffix=".tmp")
    except OSError:
        return False
    try:
        os.fchmod(handle, 0o644)  # readable by whoever else runs this install, as a .pyc is
        with os.fdopen(handle, "wb") as out:
            np.save(out, table, allow_pickle=False)
        os.replace(temporary, folder / f"{name}.npy")
        return True
    except OSError:
        Path(temporary).unlink(missing_ok=True)
        return False


def disk_cached(build: Callable[[], np.ndarray]) -> Callable[[], np.ndarray]:
    """`build` once per process (functools.cache) and, across processes, once per key."""
    module_file = sys.modules[build.__module__].__file__ or ""

    @functools.cache
    def load() -> np.ndarray:
        try:
            name = f"{build.__module__}.{build.__qualname__}-{_key(module_file, build.__name__)}"
        except OSError:
            return build()
        for folder in _folders(module_file):
            path = folder / f"{name}.npy"
            try:
                table = np.load(path, allow_pickle=False)
            except (OSError, ValueError):
                continue
            return table
        table = build()
        for folder in _folders(module_file):
            if _save(table, folder, name):
                break
        return table

    return functools.wraps(build)(load)
