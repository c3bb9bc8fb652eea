"""Output folders: textmill writes, overwrites and cleans up only its own files, one run at a
time, never outside OUT; inputs never include textmill's outputs; bad paths are clear errors."""

import json
import multiprocessing
import os
import signal
import threading
import time
from pathlib import Path

import pyarrow as pa
import pytest
import yaml
from conftest import write_jsonl

from textmill.api import Pipeline
from textmill.cli import main
from textmill.executors.output import Layout, RunError, output_lock
from textmill.io import InputError
from textmill.pipeline import Mapper, register

DOCS = [{"id": f"d{i}", "text": f"document number {i} of the folder"} for i in range(7)]
RIVER = "The river runs past the old mill and the children walk to school in the morning."
MOULIN = "Le fleuve passe devant le vieux moulin et les enfants vont à l'école le matin."

_STARTED, _RELEASE = threading.Event(), threading.Event()
_HOLD_MARKER: Path | None = None  # set in a forked child only: the hold stage then blocks


@register("test_wait_for_release")
class WaitForRelease(Mapper):
    """Blocks the run until the test releases it (a run that is surely still going)."""

    def map(self, batch: pa.Table) -> pa.Table:
        _STARTED.set()
        assert _RELEASE.wait(30)
        return batch


@register("test_hold_in_child")
class HoldInChild(Mapper):
    """In a forked child that set `_HOLD_MARKER`, says so and sleeps until killed."""

    def map(self, batch: pa.Table) -> pa.Table:
        if _HOLD_MARKER is not None:
            _HOLD_MARKER.write_text("holding")
            time.sleep(60)
        return batch


def run(inputs, out, stages=("exact_dedup",), **settings):
    settings = {"workers": 1, "progress": False, **settings}
    return Pipeline(list(stages)).run(inputs, out, **settings)


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    write_jsonl(tmp_path / "in" / "a.jsonl", DOCS)
    return tmp_path / "in"


def test_user_files_beside_and_below_out_survive_a_resume_and_an_overwrite(corpus, tmp_path):
    out = tmp_path / "proj"
    run([corpus], out)
    mine = {
        "notes.txt": "my notes",
        "data/mine.parquet": "not textmill's",
        "data/.draft.tmp": "my temp file",
        "errors/why.md": "my analysis",
        "sub/.cache.tmp": "deep temp file",
    }
    for name, text in mine.items():
        (out / name).parent.mkdir(parents=True, exist_ok=True)
        (out / name).write_text(text)
    (shard,) = json.loads(Layout(out).manifest.read_text())["shards"]
    leftover = out / "data" / f".{shard}.parquet.4242.tmp"  # a killed run's half-written file
    leftover.write_text("half")

    assert run([corpus], out)["reconciled"]  # resume
    assert not leftover.exists()
    stats = run([corpus], out, stages=["gopher_quality"], overwrite=True)
    assert stats["read"] == 7 and stats["reconciled"]
    assert {name: (out / name).read_text() for name in mine} == mine
    assert json.loads((out / "stats.json").read_text())["stages"][0]["name"] == "gopher_quality"


def test_a_run_that_stopped_at_setup_does_not_block_the_corrected_command(corpus, tmp_path):
    out = tmp_path / "out"
    broken = [{"quality_score": {"models": {"en": str(tmp_path / "missing.bin")}}}]
    with pytest.raises(OSError, match="missing.bin"):  # the model file cannot load
        run([corpus], out, stages=broken)
    assert Layout(out).manifest.exists()  # the failed run claimed OUT ...
    assert run([corpus], out)["reconciled"]  # ... yet the fixed pipeline needs no --overwrite
    with pytest.raises(RunError, match="--overwrite"):  # a run that wrote results still does
        run([corpus], out, stages=["gopher_quality"])


def test_overwrite_removes_the_previous_runs_files_only(corpus, tmp_path):
    out = tmp_path / "out"
    run([corpus], out, jsonl=True)
    (out / "jsonl" / "mine.txt").write_text("keep")
    other = tmp_path / "other"
    write_jsonl(other / "b.jsonl", DOCS[:3])
    stats = run([other], out, overwrite=True)
    assert stats["read"] == 3
    assert [p.name for p in (out / "jsonl").iterdir()] == ["mine.txt"]  # a.jsonl's copy is gone
    assert len(list((out / "data").glob("*.parquet"))) == 1


def test_an_edited_manifest_cannot_make_overwrite_reach_outside_out(corpus, tmp_path):
    out, outside = tmp_path / "out", tmp_path / "outside.txt"
    run([corpus], out)
    outside.write_text("mine")
    manifest = json.loads(Layout(out).manifest.read_text())
    manifest.update(files=["../outside.txt", str(outside)], shards=["../outside.txt"])
    Layout(out).manifest.write_text(json.dumps(manifest))
    run([corpus], out, stages=["gopher_quality"], overwrite=True)
    assert outside.read_text() == "mine"


def test_a_folder_textmill_did_not_write_is_refused_even_with_overwrite(corpus, tmp_path):
    project = tmp_path / "proj"
    project.mkdir()
    (project / "README.md").write_text("my project")
    for overwrite in (False, True):
        with pytest.raises(RunError, match="holds files textmill did not write"):
            run([corpus], project, overwrite=overwrite)
    assert sorted(p.name for p in project.iterdir()) == ["README.md"]  # not even .textmill
    assert (project / "README.md").read_text() == "my project"


def test_an_empty_folder_is_a_fine_output(corpus, tmp_path):
    (tmp_path / "empty").mkdir()
    assert run([corpus], tmp_path / "empty")["kept"] == 7


def test_current_home_and_root_folders_are_refused(corpus, tmp_path, monkeypatch):
    home, work = tmp_path / "home", tmp_path / "home" / "work"
    work.mkdir(parents=True)
    (tmp_path / "link-to-work").symlink_to(work)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(work)
    for out in (".", "~", "/", "..", str(tmp_path / "link-to-work"), "sub/..", str(home)):
        with pytest.raises(RunError, match="current folder, your home folder or one above"):
            run([corpus], out)
    assert sorted(os.listdir(work)) == [] and sorted(os.listdir(home)) == ["work"]


def test_out_that_is_a_file_or_under_dev_null_is_a_clear_error(corpus, tmp_path, capsys):
    (tmp_path / "dangling").symlink_to(tmp_path / "nowhere")
    cases = {
        str(tmp_path / "dangling"): "is a dangling symbolic link",
        str(corpus / "a.jsonl"): "is a file, not a folder",
        "/dev/null": "is a file, not a folder",
        "/dev/null/out": "cannot write the output folder /dev/null/out: Not a directory",
    }
    for out, message in cases.items():
        assert main(["run", "--preset", "fineweb", str(corpus), "-o", out, "--no-progress"]) == 2
        error = capsys.readouterr().err
        assert message in error and "Traceback" not in error


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_an_unwritable_out_is_a_clear_error(corpus, tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    with pytest.raises(RunError, match="cannot write the output folder"):
        run([corpus], locked / "out")


def test_a_second_run_into_the_same_folder_refuses_while_the_first_finishes(corpus, tmp_path):
    out, results = tmp_path / "out", {}
    _STARTED.clear()
    _RELEASE.clear()
    first = threading.Thread(
        target=lambda: results.update(run([corpus], out, stages=["test_wait_for_release"]))
    )
    first.start()
    try:
        assert _STARTED.wait(30)
        with pytest.raises(
            RunError, match=rf"in use by another textmill run \(pid {os.getpid()}\)"
        ):
            run([corpus], out, stages=["test_wait_for_release"])
    finally:
        _RELEASE.set()
        first.join(30)
    assert results["read"] == results["kept"] == 7 and results["reconciled"]


def _hold_then_get_killed(inputs: Path, out: Path, marker: Path) -> None:
    global _HOLD_MARKER
    _HOLD_MARKER = marker
    run([inputs], out, stages=["test_hold_in_child"])


def test_a_killed_runs_lock_does_not_block_the_next_run(corpus, tmp_path):
    out, marker = tmp_path / "out", tmp_path / "holding"
    child = multiprocessing.get_context("fork").Process(
        target=_hold_then_get_killed, args=(corpus, out, marker)
    )
    child.start()
    deadline = time.time() + 30
    while not marker.exists() and time.time() < deadline:
        time.sleep(0.02)
    assert marker.exists()
    with pytest.raises(RunError, match=f"pid {child.pid}"):
        run([corpus], out, stages=["test_hold_in_child"])
    os.kill(child.pid, signal.SIGKILL)
    child.join()
    stats = run([corpus], out, stages=["test_hold_in_child"])  # resumes at once
    assert stats["read"] == stats["kept"] == 7


def _lock_fork_and_wait(out: Path, marker: Path) -> None:
    with output_lock(Layout(out)):
        worker = multiprocessing.get_context("fork").Process(target=time.sleep, args=(30,))
        worker.start()
        partial = marker.with_suffix(".partial")
        partial.write_text(str(worker.pid))
        partial.rename(marker)  # atomic: the test never reads a half-written marker
        time.sleep(60)


def test_a_forked_worker_does_not_keep_a_dead_runs_lock(tmp_path):
    out, marker = tmp_path / "out", tmp_path / "worker-pid"
    driver = multiprocessing.get_context("fork").Process(
        target=_lock_fork_and_wait, args=(out, marker)
    )
    driver.start()
    deadline = time.time() + 30
    while not marker.exists() and time.time() < deadline:
        time.sleep(0.02)
    worker = int(marker.read_text())
    try:
        os.kill(driver.pid, signal.SIGKILL)
        driver.join()
        os.kill(worker, 0)  # the driver's forked worker still lives ...
        with output_lock(Layout(out)):  # ... and holds no lock
            pass
    finally:
        os.kill(worker, signal.SIGKILL)


def _langid_corpus(tmp_path: Path) -> Path:
    return write_jsonl(
        tmp_path / "lang" / "in.jsonl",
        [{"id": f"d{i:02d}", "text": f"{(RIVER, MOULIN)[i % 2]} {i}"} for i in range(20)],
    )


def test_write_thresholds_is_written_under_out_whatever_the_current_folder(tmp_path, monkeypatch):
    source = _langid_corpus(tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    out = tmp_path / "out"
    stage = ("langid_thresholds", {"min_documents": 5, "write_thresholds": "tables/tau.yaml"})
    run([source], out, stages=["langid", stage])
    assert set(yaml.safe_load((out / "tables" / "tau.yaml").read_text())) >= {"en", "fr"}
    assert os.listdir(elsewhere) == []
    run([source], out, stages=["langid"], overwrite=True)  # the file was the run's: removed
    assert not (out / "tables" / "tau.yaml").exists()


def test_write_thresholds_may_not_leave_out_or_name_textmills_files(tmp_path):
    source = _langid_corpus(tmp_path)
    out = tmp_path / "out"
    run([source], out, stages=["langid"])
    (out / "escape").symlink_to(tmp_path)
    refused = {
        "../x.yaml": "leaves the output folder",
        "escape/x.yaml": "leaves the output folder",
        str(tmp_path / "x.yaml"): "outside the output folder .* --allow-outside-writes",
        "stats.json": "names a file textmill writes itself",
        "data/x.yaml": "names a file textmill writes itself",
        ".textmill/x.yaml": "names a file textmill writes itself",
    }
    for path, message in refused.items():
        stage = ("langid_thresholds", {"min_documents": 5, "write_thresholds": path})
        with pytest.raises(RunError, match=message):
            run([source], out, stages=["langid", stage])
    assert not list(tmp_path.rglob("x.yaml"))
    absolute = (
        "langid_thresholds",
        {"min_documents": 5, "write_thresholds": str(tmp_path / "x.yaml")},
    )
    run([source], tmp_path / "out2", stages=["langid", absolute], allow_outside_writes=True)
    assert (tmp_path / "x.yaml").exists()


@pytest.mark.parametrize("folder", ["data", "rejects", "errors", ".textmill"])
def test_a_symlinked_output_subfolder_is_refused(corpus, tmp_path, folder):
    out, target = tmp_path / "out", tmp_path / "target"
    run([corpus], out)
    target.mkdir()
    moved = out / folder
    moved.rename(tmp_path / "moved")
    moved.symlink_to(target)
    with pytest.raises(RunError, match="is a symbolic link"):
        run([corpus], out)
    assert os.listdir(target) == []


def test_an_output_inside_an_input_folder_is_never_read_back(corpus, tmp_path):
    assert run([corpus], corpus / "out1")["read"] == 7
    assert run([corpus], tmp_path / "out2")["read"] == 7  # not 7 + out1's documents
    assert run([corpus], corpus / "out1")["read"] == 7  # and its own output: resumed
    with pytest.raises(InputError, match="no input files found .* textmill output"):
        run([corpus / "out1"], tmp_path / "out3")


def test_the_last_positional_argument_is_out_only_when_new_empty_or_textmills(
    corpus, tmp_path, capsys
):
    second = tmp_path / "in2"
    write_jsonl(second / "b.jsonl", DOCS[:2])
    (tmp_path / "empty").mkdir()
    pipeline = tmp_path / "p.yaml"
    pipeline.write_text("stages:\n  - exact_dedup\n")

    def cli(*arguments: Path) -> int:
        return main(["run", str(pipeline), *map(str, arguments), "-w", "1", "--no-progress"])

    assert cli(corpus, second) == 2
    assert "is an existing folder that is not a textmill output" in capsys.readouterr().err
    assert os.listdir(second) == ["b.jsonl"]
    assert cli(corpus, second / "b.jsonl") == 2
    assert "existing file" in capsys.readouterr().err
    assert cli(corpus, second / "typo.jsonl.gz") == 2
    assert "named like an input file" in capsys.readouterr().err
    assert cli(corpus, tmp_path / "new") == 0
    assert cli(corpus, tmp_path / "new") == 0  # textmill's own output: resumed
    assert cli(corpus, tmp_path / "empty") == 0
    assert cli(corpus, second, "-o", tmp_path / "both") == 0
    assert json.loads((tmp_path / "both" / "stats.json").read_text())["read"] == 9


def test_a_dangling_symlink_is_skipped_with_a_message_and_the_run_reconciles(
    corpus, tmp_path, capsys
):
    (corpus / "gone.jsonl").symlink_to(tmp_path / "missing.jsonl")
    (corpus / "link.jsonl").symlink_to(corpus / "a.jsonl")  # a good link is read
    os.mkfifo(corpus / "pipe.jsonl")  # would block a reader for ever
    stats = run([corpus], tmp_path / "out", progress=True)
    assert stats["read"] == 14 and stats["reconciled"]
    assert stats["unknown_files"] == [str(corpus / "gone.jsonl"), str(corpus / "pipe.jsonl")]
    messages = capsys.readouterr().err
    assert "gone.jsonl: dangling symbolic link to" in messages
    assert "pipe.jsonl: not a regular file" in messages
    with pytest.raises(InputError, match="gone.jsonl: dangling symbolic link to .*missing"):
        run([corpus / "gone.jsonl"], tmp_path / "out4")


def test_an_empty_input_folder_says_no_input_files_found(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / ".hidden.jsonl").write_text("{}\n")
    with pytest.raises(InputError, match="no input files found in .*empty"):
        run([tmp_path / "empty"], tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_report_refuses_a_folder_textmill_did_not_write(tmp_path, capsys):
    folder = tmp_path / "proj"
    folder.mkdir()
    (folder / "stats.json").write_text("{}")
    (folder / "README.md").write_text("mine")
    assert main(["report", str(folder)]) == 2
    assert "not a textmill output folder" in capsys.readouterr().err
    assert sorted(os.listdir(folder)) == ["README.md", "stats.json"]


def test_the_ray_executor_refuses_a_foreign_folder_before_starting_ray(corpus, tmp_path):
    ray = pytest.importorskip("ray")
    from textmill.executors.ray import RayExecutor

    project = tmp_path / "proj"
    (project / "data").mkdir(parents=True)
    (project / "data" / "mine.parquet").write_text("mine")
    with pytest.raises(RunError, match="holds files textmill did not write"):
        RayExecutor([("exact_dedup", {})]).run([str(corpus)], project)
    assert not ray.is_initialized() and os.listdir(project) == ["data"]
