"""The output folder: where a run's files live, which files are textmill's, and the lock that
keeps two runs out of one folder. Both executors use it.

A folder is textmill's only when it holds the run manifest (`.textmill/run.json`); a run starts
only in a new folder, an empty one or one of textmill's. Every file a run writes is named from
the manifest (its shards, its segment count, the files its stages' options write), so
`--overwrite` and the clean-up of half-written files touch exactly textmill's own files and
nothing a user keeps beside them. A run holds an exclusive `flock` on `.textmill/lock` for its
whole life; the kernel drops it when the process dies, so a killed run never blocks the next.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from textmill.io.files import (
    RUN_MANIFEST,
    STATE_DIR,
    has_text_name,
    is_run_output,
    printable_path,
)
from textmill.io.writers import final_name_of
from textmill.pipeline import output_file_options, stage_class

LOCK_NAME = "lock"
DATA_FOLDERS = ("data", "jsonl", "rejects", "errors", "rehydrated")  # textmill writes into these
RUN_FILES = ("stats.json", "report.html", "README.md")  # and these, at the top of OUT
SLICES_FOLDER = "slices"  # `textmill slice OUT`'s default destination: OUT/slices/BY


class RunError(RuntimeError):
    """A run that cannot start or whose counts do not reconcile; the message is for the user."""


@dataclass(frozen=True)
class Layout:
    """Where every file of a run lives; the one place that knows the output layout."""

    out: Path

    @property
    def state(self) -> Path:
        return self.out / STATE_DIR

    def data(self, shard: str) -> Path:
        return self.out / "data" / f"{shard}.parquet"

    def jsonl(self, shard: str) -> Path:
        return self.out / "jsonl" / f"{shard}.jsonl.gz"

    def rehydrated(self, shard: str) -> Path:
        """Where `textmill rehydrate` writes a shard's copies by default."""
        return self.out / "rehydrated" / self.data(shard).name

    def rejects(self, shard: str, segment: int) -> Path:
        return self.out / "rejects" / f"{shard}-s{segment}.parquet"

    def errors(self, shard: str, segment: int) -> Path:
        return self.out / "errors" / f"{shard}-s{segment}.jsonl"

    def intermediate(self, shard: str, segment: int) -> Path:
        return self.state / "work" / f"s{segment}" / f"{shard}.parquet"

    def signatures_dir(self, stage: int) -> Path:
        return self.state / "work" / f"g{stage}" / "signatures"

    def signatures(self, shard: str, stage: int) -> Path:
        return self.signatures_dir(stage) / f"{shard}.parquet"

    def decisions(self, stage: int) -> Path:
        return self.state / f"g{stage}" / "decisions.parquet"

    def reduce_dir(self, stage: int) -> Path:
        return self.state / "work" / f"g{stage}" / "reduce"

    def parts(self, shard: str, segment: int) -> Path:
        """Part files of a shard not yet finished (the Ray executor's blocks)."""
        return self.state / "work" / "parts" / f"s{segment}" / shard

    def done(self, shard: str, segment: int) -> Path:
        return self.state / "done" / f"s{segment}" / f"{shard}.json"

    @property
    def manifest(self) -> Path:
        return self.out / RUN_MANIFEST

    @property
    def lock(self) -> Path:
        return self.state / LOCK_NAME

    @property
    def stats(self) -> Path:
        return self.out / "stats.json"

    def written(self, folder: str) -> list[Path]:
        """The files of `folder` (data, rejects, ...) that this folder's run wrote, never a
        user's file beside them."""
        manifest = json.loads(self.manifest.read_text("utf-8")) if self.manifest.is_file() else {}
        return sorted(
            path
            for path in self.owned_files(manifest)
            if path.parent == self.out / folder and path.is_file()
        )

    def owned_files(self, manifest: dict[str, Any]) -> Iterator[Path]:
        """Every file outside the state folder that the run of `manifest` may have written."""
        # a manifest without a segment count (older textmill) gets the most a pipeline can have
        segments = manifest.get("segments") or len(manifest.get("stages", [])) + 1
        for shard in manifest.get("shards", []):
            if not _inside(shard) or "/" in shard:  # shard names are plain file names
                continue
            yield from (self.data(shard), self.jsonl(shard), self.rehydrated(shard))
            for segment in range(segments):
                yield from (self.rejects(shard, segment), self.errors(shard, segment))
        yield from (self.out / name for name in RUN_FILES)
        yield from (self.out / name for name in manifest.get("files", []) if _inside(name))


def _inside(relative: str) -> bool:
    """A manifest entry names a path inside OUT (an edited manifest must not reach out)."""
    path = Path(relative)
    return bool(relative) and not path.is_absolute() and ".." not in path.parts


# ---------------------------------------------------------------- before anything is written


def check_output_folder(out: Path) -> None:
    """Refuse an output folder textmill must not write into, before writing anything."""
    resolved = out.resolve()
    if not has_text_name(str(resolved)):
        raise RunError(f"{printable_path(str(out))}: an output folder's name must be valid UTF-8")
    if STATE_DIR in resolved.parts:
        raise RunError(f"{out} is inside a textmill run's own {STATE_DIR} folder; choose another")
    for parent in resolved.parents:  # another run's data/ or errors/ is that run's to clean up
        if is_run_output(parent) and resolved.relative_to(parent).parts[0] in DATA_FOLDERS:
            raise RunError(f"{out} is inside the output of the textmill run in {parent}")
    for guarded in (Path.cwd().resolve(), Path.home().resolve()):
        if resolved == guarded or resolved in guarded.parents:
            raise RunError(
                f"{out} is the current folder, your home folder or one above them; give a new "
                "or empty output folder"
            )
    if out.is_symlink() and not out.exists():
        raise RunError(f"{out} is a dangling symbolic link; give a new or empty output folder")
    if out.exists() and not out.is_dir():
        raise RunError(f"{out} is a file, not a folder; give a new or empty output folder")
    for name in (*DATA_FOLDERS, STATE_DIR):
        if (out / name).is_symlink():
            raise RunError(
                f"{out / name} is a symbolic link; textmill writes only inside {out}: "
                "replace it by a folder, or choose another output folder"
            )
    if out.is_dir() and not is_run_output(out) and not is_empty_folder(out):
        raise RunError(
            f"{out} holds files textmill did not write (it has no {RUN_MANIFEST}); textmill "
            "writes only into a new or empty folder or its own output, even with --overwrite"
        )


def is_empty_folder(folder: Path) -> bool:
    """Empty, or holding nothing but the lock file of a run that stopped before its manifest."""
    try:
        entries = os.listdir(folder)
    except OSError:
        return False
    if not entries:
        return True
    return entries == [STATE_DIR] and set(os.listdir(folder / STATE_DIR)) <= {LOCK_NAME}


def resolve_output_options(
    specs: Sequence[tuple[str, dict[str, Any]]], out: Path, allow_outside: bool
) -> tuple[list[tuple[str, dict[str, Any]]], list[str]]:
    """Specs whose file-writing options (`OutputFile`) are absolute paths under `out`, and those
    files relative to `out` (they belong to the run). A relative path is taken under `out` and
    may not leave it; an absolute path outside `out` needs `allow_outside`. Neither may name a
    file or folder textmill writes itself."""
    root = out.resolve()
    resolved_specs, owned = [], []
    for name, options in specs:
        options = dict(options)
        stage_options = stage_class(name).Options
        for option in output_file_options(stage_options):
            value = options.get(option, stage_options.model_fields[option].default)
            if not value:
                continue
            given = Path(value).expanduser()
            target = (given if given.is_absolute() else root / given).resolve()
            label = f"stage {name}: {option}={value!r}"
            if target != root and root not in target.parents:
                if not given.is_absolute():
                    raise RunError(f"{label} leaves the output folder {out}; give a path in it")
                if not allow_outside:
                    raise RunError(
                        f"{label} is outside the output folder {out}; pass "
                        "--allow-outside-writes (allow_outside_writes=True) to write it there"
                    )
                options[option] = str(target)
                continue
            relative = target.relative_to(root)
            if not relative.parts or relative.parts[0] in (*DATA_FOLDERS, *RUN_FILES, STATE_DIR):
                raise RunError(f"{label} names a file textmill writes itself; choose another")
            options[option] = str(target)
            owned.append(relative.as_posix())
        resolved_specs.append((name, options))
    return resolved_specs, owned


# ---------------------------------------------------------------- the lock

_HELD_LOCKS: set[int] = set()


def _forget_locks_in_child() -> None:
    """A forked worker must not keep its parent's lock alive after the parent dies."""
    for descriptor in _HELD_LOCKS:
        with contextlib.suppress(OSError):
            os.close(descriptor)
    _HELD_LOCKS.clear()


os.register_at_fork(after_in_child=_forget_locks_in_child)


@contextlib.contextmanager
def output_lock(layout: Layout) -> Iterator[None]:
    """Hold OUT for one run (or one `textmill report`); refuse at once when another holds it."""
    try:
        layout.state.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(layout.lock, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)
    except OSError as error:
        raise RunError(f"cannot write the output folder {layout.out}: {error.strerror}") from None
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(descriptor, 32, 0).decode("ascii", "replace").strip() or "unknown"
        os.close(descriptor)
        raise RunError(
            f"{layout.out} is in use by another textmill run (pid {holder}); wait for it to "
            "finish or choose another output folder"
        ) from None
    os.ftruncate(descriptor, 0)
    os.pwrite(descriptor, f"{os.getpid()}\n".encode(), 0)
    _HELD_LOCKS.add(descriptor)
    try:
        yield
    finally:
        _HELD_LOCKS.discard(descriptor)
        os.close(descriptor)


# ---------------------------------------------------------------- under the lock


def wrote_nothing(layout: Layout, manifest: dict[str, Any]) -> bool:
    """The run of `manifest` left nothing but its manifest (it stopped at a stage's setup, say):
    replacing it loses nothing, so the corrected command needs no --overwrite."""
    state = layout.state.rglob("*") if layout.state.is_dir() else ()
    if any(p.is_file() and p not in (layout.lock, layout.manifest) for p in state):
        return False  # a finished shard, or work a resume would reuse
    return not any(path.is_file() for path in layout.owned_files(manifest))


def remove_owned(layout: Layout, manifest: dict[str, Any], *, finished: bool) -> None:
    """Remove the half-written files of the run of `manifest` (a temporary named after one of
    its files, beside it), and with `finished` its files too; the state folder is textmill's
    alone. The manifest and the lock stay: the folder stays textmill's until a new manifest
    replaces the old one."""
    by_folder: dict[Path, set[str]] = {}
    for path in layout.owned_files(manifest):
        by_folder.setdefault(path.parent, set()).add(path.name)
    for folder, names in by_folder.items():
        _remove_in(folder, names, finished)
    if layout.state.is_dir():
        for path in sorted(layout.state.rglob("*"), reverse=True):  # files before their folders
            if path == layout.lock or path == layout.manifest:
                continue
            if finished or (path.is_file() and final_name_of(path.name) is not None):
                _remove(path)
    if finished:
        _remove_default_slices(layout.out / SLICES_FOLDER)
        for name in DATA_FOLDERS:
            with contextlib.suppress(OSError):  # a folder that holds a user's file stays
                (layout.out / name).rmdir()


def _remove_default_slices(folder: Path) -> None:
    """The slicings `textmill slice OUT` wrote into OUT/slices: they hold and count the
    documents of the output being replaced. Only folders whose manifest names `slice` go."""
    if not folder.is_dir() or folder.is_symlink():
        return
    for child in sorted(folder.iterdir()):
        if child.is_symlink() or not child.is_dir():
            continue
        try:
            manifest = json.loads(Layout(child).manifest.read_text("utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(manifest, dict) and manifest.get("command") == "slice":
            shutil.rmtree(child)
    with contextlib.suppress(OSError):  # a user's file beside them stays, and its folder
        folder.rmdir()


def _remove_in(folder: Path, names: Iterable[str], finished: bool) -> None:
    names = set(names)
    try:
        entries = list(os.scandir(folder))
    except (FileNotFoundError, NotADirectoryError):
        return
    for entry in entries:
        ours = (finished and entry.name in names) or final_name_of(entry.name) in names
        if ours and not entry.is_dir(follow_symlinks=False):
            os.unlink(entry.path)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        with contextlib.suppress(OSError):
            path.rmdir()
    else:
        path.unlink(missing_ok=True)
