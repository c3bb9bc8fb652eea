"""Real pylint over many files: a pool of worker processes, each keeping pylint imported (start-up
costs more than linting a small file), with a per-file time limit that never hangs the run.

Each file is linted alone, as SwallowCode does (one temporary module per file, no package
around it), with a config file the pool writes (no user or project pylintrc leaks in). The
limit is enforced twice: an interval timer inside the worker stops pylint's pure-Python analysis
at `time_limit`; a worker still silent `grace` seconds later (stuck in C code) is killed and
replaced, and its file reported as `timeout` too.
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import asdict
from multiprocessing.connection import wait
from typing import Any

from textmill.code.lint.score import FileLint

# SwallowCode's pylint call (rioyokotalab/swallow-code-math, src/code/pretrain_dataset/
# filtering.py): import errors, module/function docstrings, line length, names, import order,
# too-few-public-methods, fixme and ungrouped imports do not count.
SWALLOWCODE_DISABLE = (
    "E0401", "C0114", "C0301", "C0103", "C0116", "C0411", "R0903", "W0511", "C0412",
)  # fmt: skip


class LintTimeout(BaseException):
    """Raised inside a worker when a file's time is up (a BaseException, so that pylint's own
    `except Exception` around checkers cannot swallow it)."""


def _on_alarm(signum: int, frame: Any) -> None:
    raise LintTimeout


def _lint_one(source: str, module_path: str, args: list[str]) -> dict[str, Any]:
    """Lint one file in this worker: counts per category from pylint's own stats."""
    from astroid import MANAGER
    from pylint.lint import Run
    from pylint.reporters import CollectingReporter

    with open(module_path, "w", encoding="utf-8") as out:
        out.write(source)
    reporter = CollectingReporter()
    try:
        run = Run([*args, module_path], reporter=reporter, exit=False)
    finally:
        name = os.path.splitext(os.path.basename(module_path))[0]
        MANAGER.astroid_cache.pop(name, None)  # the next file may reuse nothing of this one
        os.unlink(module_path)
    stats = run.linter.stats
    symbols: dict[str, int] = {}
    for message in reporter.messages:
        symbols[message.symbol] = symbols.get(message.symbol, 0) + 1
    crashed = "astroid-error" in symbols or "fatal" in symbols
    lint = FileLint(
        error=stats.error,
        warning=stats.warning,
        refactor=stats.refactor,
        convention=stats.convention,
        fatal=stats.fatal,
        statements=stats.statement,
        failure="crashed" if crashed else None,
        detail="pylint: " + ", ".join(sorted(symbols)) if crashed else None,
    )
    return {"lint": asdict(lint), "symbols": symbols}


def _serve(args: list[str], time_limit: float) -> None:
    """Worker main loop: one JSON line in ({"task", "source"}), one JSON line out, until EOF.

    The protocol runs on a private copy of stdout; fd 1 itself goes to stderr, so that nothing
    pylint or a plugin prints can corrupt it."""
    protocol_in = sys.stdin.buffer
    protocol_out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    signal.signal(signal.SIGALRM, _on_alarm)
    workdir = os.getcwd()  # the pool's folder: pylint finds no user or project config there
    # warm up before the first file's clock starts: pylint's import and its first run (which
    # builds astroid's view of builtins) are the worker's cost, not any file's
    _lint_one("VALUE = 1\n", os.path.join(workdir, f"textmill_warmup_{os.getpid()}.py"), args)
    for counter, line in enumerate(protocol_in):
        request = json.loads(line)
        module_path = os.path.join(workdir, f"textmill_lint_{os.getpid()}_{counter}.py")
        started = time.perf_counter()
        try:
            signal.setitimer(signal.ITIMER_REAL, time_limit)
            try:
                result = _lint_one(request["source"], module_path, args)
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
        except LintTimeout:
            result = _failed("timeout", _timeout(time_limit))
        except (Exception, RecursionError) as exc:  # noqa: BLE001 - pylint crashed on this file
            result = _failed("crashed", f"pylint crashed: {type(exc).__name__}: {exc}"[:300])
        result["task"] = request["task"]
        result["seconds"] = time.perf_counter() - started
        protocol_out.write(json.dumps(result).encode() + b"\n")
        protocol_out.flush()
    # end of input: the pool is gone (a parent that exited without closing it, such as a forked
    # executor worker, runs no atexit): the last worker out removes the shared folder
    shutil.rmtree(workdir, ignore_errors=True)


def _timeout(time_limit: float) -> str:
    return f"pylint did not finish within time_limit={time_limit:g} s"


class PylintPool:
    """`workers` pylint processes; `lint(sources)` returns one result per source, in order.

    Workers are `python -m textmill.code.lint.pylint_engine` subprocesses (not multiprocessing
    children, which would re-import the caller's `__main__`) speaking JSON lines on pipes."""

    def __init__(
        self,
        workers: int = 2,
        time_limit: float = 30.0,
        disable: Sequence[str] = SWALLOWCODE_DISABLE,
        grace: float = 5.0,
    ):
        self.workers = max(1, workers)
        self.time_limit = time_limit
        self.grace = grace
        self._workdir = tempfile.mkdtemp(prefix="textmill-pylint-")
        rcfile = os.path.join(self._workdir, "pylintrc")
        with open(rcfile, "w", encoding="utf-8") as out:
            out.write("[MAIN]\n")
        args = [f"--rcfile={rcfile}", "--persistent=n", "--jobs=1", "--score=n"]
        if disable:
            args.append("--disable=" + ",".join(disable))
        self._command = [
            sys.executable, "-m", "textmill.code.lint.pylint_engine",
            json.dumps({"args": args, "time_limit": time_limit}),
        ]  # fmt: skip
        self._env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
        self._procs: list[subprocess.Popen | None] = [None] * self.workers
        atexit.register(self.close)

    def _start(self, slot: int) -> subprocess.Popen:
        proc = subprocess.Popen(
            self._command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            cwd=self._workdir,
            env=self._env,
        )
        self._procs[slot] = proc
        return proc

    def _kill(self, slot: int) -> None:
        proc = self._procs[slot]
        self._procs[slot] = None
        if proc is None:
            return
        proc.kill()
        proc.wait(timeout=10)
        for pipe in (proc.stdin, proc.stdout):
            if pipe is not None:
                pipe.close()

    def lint(self, sources: Sequence[str]) -> list[dict[str, Any]]:
        """Results {"lint": FileLint fields, "symbols": {symbol: count}, "seconds": s}."""
        results: list[dict[str, Any]] = [{} for _ in sources]
        pending = deque(range(len(sources)))
        busy: dict[int, tuple[int, float]] = {}  # slot -> (task, hard deadline)
        while pending or busy:
            for slot in range(self.workers):
                if slot in busy or not pending:
                    continue
                proc = self._procs[slot]
                fresh = proc is None or proc.poll() is not None
                if fresh:
                    self._kill(slot)
                    proc = self._start(slot)
                task = pending.popleft()
                try:
                    proc.stdin.write(json.dumps({"task": task, "source": sources[task]}).encode())
                    proc.stdin.write(b"\n")
                    proc.stdin.flush()
                except OSError:
                    results[task] = _failed("crashed", "pylint worker exited")
                    self._kill(slot)
                    continue
                # a fresh worker imports pylint before its first file: its clock starts later
                limit = self.time_limit + self.grace + (_STARTUP_SECONDS if fresh else 0.0)
                busy[slot] = (task, time.monotonic() + limit)
            if not busy:
                continue
            readers = {self._procs[slot].stdout: slot for slot in busy}
            timeout = max(0.0, min(deadline for _, deadline in busy.values()) - time.monotonic())
            for reader in wait(list(readers), timeout=timeout):
                slot = readers[reader]
                task = busy.pop(slot)[0]
                line = reader.readline()
                if not line:  # the worker died (killed by the OS, a segfault in a C extension)
                    results[task] = _failed("crashed", "pylint worker died")
                    self._kill(slot)
                    continue
                results[task] = json.loads(line)
            now = time.monotonic()
            for slot, (task, deadline) in list(busy.items()):
                if now >= deadline:  # stuck where the timer cannot reach: kill, replace
                    self._kill(slot)
                    results[task] = _failed("timeout", _timeout(self.time_limit))
                    del busy[slot]
        return results

    def close(self) -> None:
        for slot in range(len(self._procs)):
            self._kill(slot)
        shutil.rmtree(self._workdir, ignore_errors=True)


_STARTUP_SECONDS = 60.0


def _failed(failure: str, detail: str) -> dict[str, Any]:
    return {"lint": asdict(FileLint(failure=failure, detail=detail))}


_POOLS: dict[tuple[Any, ...], PylintPool] = {}


def shared_pool(workers: int, time_limit: float, disable: Sequence[str]) -> PylintPool:
    """One pool per process and settings, reused by every batch (and every test)."""
    key = (workers, time_limit, tuple(disable))
    if key not in _POOLS:
        _POOLS[key] = PylintPool(workers, time_limit, disable)
    return _POOLS[key]


if __name__ == "__main__":
    settings = json.loads(sys.argv[1])
    _serve(settings["args"], settings["time_limit"])
