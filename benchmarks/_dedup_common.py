"""Shared by the dedup benchmarks: where the data is, datatrove's MinHash in its own venv, and
running a command while measuring its wall time, CPU time and the peak RSS of its process tree."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
SHARED_DATA = Path(os.environ.get("TEXTMILL_SHARED_DATA", HERE.parents[1] / "shared" / "data"))
WEB_TEXT = SHARED_DATA / "web" / "web_text.jsonl.gz"
ONE_THREAD = {
    name: "1"
    for name in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
}


# what datatrove.pipeline.dedup, its hashing (xxhash 3: 4 refuses str) and JSONL need
DEDUP_PACKAGES = ("tokenizers==0.22.1", "xxhash==3.6.0", "orjson==3.13.0")


def datatrove_python() -> Path:
    """The datatrove venv's python (created on first use by filters_vs_datatrove's helper),
    with what datatrove's dedup module needs besides."""
    sys.path.insert(0, str(HERE))
    from filters_vs_datatrove import ensure_datatrove_venv

    python = ensure_datatrove_venv()
    check = "import datatrove.pipeline.dedup.minhash, orjson, xxhash; xxhash.xxh64('')"
    probe = [str(python), "-c", check]
    if subprocess.run(probe, capture_output=True).returncode != 0:
        print(f"installing {' '.join(DEDUP_PACKAGES)} into the datatrove venv ...", flush=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", *DEDUP_PACKAGES], check=True)
    return python


def first_core() -> int:
    return sorted(os.sched_getaffinity(0))[0] if hasattr(os, "sched_getaffinity") else 0


@dataclass
class Measured:
    seconds: float  # wall
    cpu_seconds: float  # user + system of the whole tree
    peak_rss: int  # bytes: max over samples of the tree's summed RSS, and the kernel's max


def _tree_rss(root: int) -> int:
    """Summed VmRSS of `root` and its descendants, from /proc."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as handle:
                parent = int(handle.read().rsplit(b")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(parent, []).append(int(entry))
    total, stack = 0, [root]
    while stack:
        pid = stack.pop()
        stack.extend(children.get(pid, ()))
        try:
            with open(f"/proc/{pid}/statm", "rb") as handle:
                total += int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        except (OSError, IndexError, ValueError):
            pass
    return total


def run_measured(
    command: list[str], env: dict[str, str] | None = None, log: Path | None = None
) -> Measured:
    """Run `command` pinned to one core, its output to `log` when given; sample the tree's RSS
    every 0.1 s (a short-lived child between samples is caught by the kernel's ru_maxrss)."""
    core = first_core()
    sink = open(log, "wb") if log else None  # noqa: SIM115 (closed below)
    process = subprocess.Popen(
        command,
        stdout=sink,
        stderr=subprocess.STDOUT if sink else None,
        env={**os.environ, **ONE_THREAD, **(env or {})},
        preexec_fn=(lambda: os.sched_setaffinity(0, {core}))
        if hasattr(os, "sched_setaffinity")
        else None,
    )
    peak, done = [0], threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], _tree_rss(process.pid))
            done.wait(0.1)

    sampler = threading.Thread(target=sample, daemon=True)
    started = time.perf_counter()
    sampler.start()
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    done.set()
    sampler.join()
    if sink:
        sink.close()
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode:
        tail = log.read_text(errors="replace")[-3000:] if log else ""
        raise subprocess.CalledProcessError(process.returncode, command, tail)
    return Measured(seconds, usage.ru_utime + usage.ru_stime, max(peak[0], usage.ru_maxrss * 1024))


def run_datatrove_minhash(
    python: Path, inputs: Path, workdir: Path, with_ids: bool = True
) -> tuple[dict, Measured]:
    """datatrove_minhash.py on a folder of *.jsonl in the datatrove venv: (its JSON, measures)."""
    output = workdir / "datatrove_result.json"
    command = [str(python), str(HERE / "datatrove_minhash.py"), str(inputs), str(workdir / "dt")]
    command += [str(output)] + ([] if with_ids else ["--no-ids"])
    workdir.mkdir(parents=True, exist_ok=True)
    log = workdir / "datatrove.log"
    measured = run_measured(command, env={"PYTHONNOUSERSITE": "1"}, log=log)
    return json.loads(output.read_text()), measured


def write_jsonl_shards(docs: list[tuple[str, str]], folder: Path, shards: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for shard in range(shards):
        with open(folder / f"part-{shard:03d}.jsonl", "w", encoding="utf-8") as out:
            for doc_id, text in docs[shard::shards]:
                out.write(json.dumps({"id": doc_id, "text": text}) + "\n")
