"""`textmill warm-up` / `Pipeline.warm_up`: an empty numba cache filled ahead of the first run,
so that a later process compiles nothing."""

import json
import os
import subprocess
import sys
from pathlib import Path

from textmill.cli import main

ROOT = Path(__file__).resolve().parents[1]
# url_dedup runs in the parent, the other two in two forks (paragraph_dedup compiles kernels)
PIPELINE = [("url_dedup", {}), ("exact_dedup", {}), ("paragraph_dedup", {})]
COUNT_COMPILES = """
import json, sys
from numba.core import event
compiled = []
class Listener(event.Listener):
    def on_start(self, ev):
        pass
    def on_end(self, ev):
        compiled.append(ev.data["dispatcher"].py_func.__qualname__)
event.register("numba:compile", Listener())
from textmill.api import Pipeline
Pipeline([tuple(s) for s in json.loads(sys.argv[1])]).warm_up(sys.argv[2], workers=int(sys.argv[3]))
print(json.dumps(compiled))
"""


def _compiles(cache: Path, sample: Path, workers: int) -> list[str]:
    env = {**os.environ, "NUMBA_CACHE_DIR": str(cache), "PYTHONPATH": str(ROOT)}
    args = [json.dumps(PIPELINE), str(sample), str(workers)]
    done = subprocess.run(
        [sys.executable, "-c", COUNT_COMPILES, *args],
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_warm_up_fills_an_empty_cache_and_a_later_process_compiles_nothing(tmp_path):
    sample = tmp_path / "docs.jsonl"
    text = "A paragraph that repeats.\n\nAnother one, longer than the first.\n\nEnd."
    sample.write_text(
        "".join(
            json.dumps({"id": str(i), "text": text, "url": f"https://example.com/{i % 2}"}) + "\n"
            for i in range(4)
        )
    )
    cache = tmp_path / "numba-cache"
    cache.mkdir()
    _compiles(cache, sample, workers=2)  # compiles in two forked processes
    assert list(cache.rglob("*.nbi")), "the warm-up wrote nothing into NUMBA_CACHE_DIR"
    assert _compiles(cache, sample, workers=1) == []  # everything comes from the cache


def test_warm_up_refuses_a_negative_worker_count(capsys):
    assert main(["warm-up", "--workers", "-1"]) == 2
    assert "--workers must be >= 0" in capsys.readouterr().err
