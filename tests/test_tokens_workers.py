"""tokenize --workers: the same bytes whatever the worker count (with and without shuffle and
packing), a bad shard in a worker still a counted error, a crash or a Ctrl-C in a worker run
leaving a folder that resumes per shard, and the rate of what a resume tokenized."""

from __future__ import annotations

import errno
import gzip
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import write_jsonl

import textmill
from textmill.cli import main
from textmill.executors.output import RunError
from textmill.tokens import tokenize as job
from textmill.tokens.tokenizer import train_bpe
from textmill.tokens.workers import available_cores

WORDS = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta",
         "eta", "theta", "iota", "kappa", "lambda", "mu"]  # fmt: skip
# they describe the invocation, not the output
INVOCATION_FIELDS = ("command", "seconds", "this_run")


@pytest.fixture(scope="module")
def tokenizer_path(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("tokenizer") / "tokenizer.json"
    rotations = [" ".join(WORDS[i:] + WORDS[:i]) for i in range(len(WORDS))]
    train_bpe(rotations * 10, 300).save(str(path))
    return path


def shard_records(shard: int, n: int) -> list:
    records: list = []
    for i in range(n):
        words = " ".join(WORDS[(shard + i + k) % len(WORDS)] for k in range(1 + (i * 7) % 23))
        records.append(
            {"id": f"{shard}-{i}", "text": words, "source": f"s{shard % 2}", "lang": "en"}
        )
    records[3]["text"] = ""  # skipped: empty
    records.insert(5, "{not json")  # errored: one record
    return records


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    """Five shards of uneven size, and a gzip file cut short: a bad shard."""
    folder = tmp_path_factory.mktemp("corpus")
    for shard, n in enumerate((40, 7, 25, 60, 12)):
        write_jsonl(folder / f"part-{shard}.jsonl", shard_records(shard, n))
    whole = gzip.compress("".join(json.dumps(r) + "\n" for r in shard_records(9, 200)).encode())
    (folder / "part-9.jsonl.gz").write_bytes(whole[: len(whole) // 2])
    return folder


def tokenize_cli(inputs, out, tokenizer, *extra) -> int:
    return main(["tokenize", *map(str, inputs), "-o", str(out), "--tokenizer", str(tokenizer),
                 *extra])  # fmt: skip


def snapshot(tok: Path) -> dict[str, bytes]:
    """Every file under TOK (its work files and done markers included) but the lock, which
    holds a pid, with manifest.json's fields about the invocation left out."""
    files = {}
    for path in sorted(tok.rglob("*")):
        name = path.relative_to(tok).as_posix()
        if path.is_dir() or name == ".textmill/lock":
            continue
        if name == "manifest.json":
            manifest = json.loads(path.read_text("utf-8"))
            for field in INVOCATION_FIELDS:
                manifest.pop(field, None)
            files[name] = json.dumps(manifest, sort_keys=True).encode()
        else:
            files[name] = path.read_bytes()
    return files


def manifest_of(tok: Path) -> dict:
    return json.loads((tok / "manifest.json").read_text("utf-8"))


@pytest.mark.parametrize(
    "options",
    [
        [],
        ["--shuffle-seed", "7"],
        ["--pack", "16"],
        ["--shuffle-seed", "3", "--pack", "24", "--packing", "best-fit", "--format", "parquet"],
    ],
    ids=["plain", "shuffle", "pack", "shuffle-best-fit-parquet"],
)
def test_the_same_bytes_whatever_the_worker_count(tmp_path, corpus, tokenizer_path, options):
    outputs = {}
    for workers in (1, 2, 3):
        out = tmp_path / f"w{workers}"
        assert tokenize_cli([corpus], out, tokenizer_path, "--workers", str(workers), *options) == 0
        assert manifest_of(out)["this_run"]["workers"] == workers
        outputs[workers] = snapshot(out)
    assert outputs[1] == outputs[2] == outputs[3]
    manifest = manifest_of(tmp_path / "w3")
    assert manifest["reconciled"] and manifest["skipped"] == {"empty": 6}
    # the cut gzip is counted in a worker as in one process, naming its file
    errors = [json.loads(line) for line in (tmp_path / "w3" / "errors.jsonl").open()]
    assert any(e["file"].endswith("part-9.jsonl.gz") for e in errors)
    assert manifest["errored"] == len(errors) and manifest["errored"] > 5


def test_each_worker_gets_its_share_of_the_cores_and_the_api_takes_workers(
    tmp_path, corpus, tokenizer_path, monkeypatch
):
    seen = tmp_path / "seen"
    seen.mkdir()
    real = job.tokenize_shard

    def recording(tok, shard, *args):
        (seen / shard.name).write_text(
            json.dumps(
                {
                    "pid": os.getpid(),
                    "rayon": os.environ.get("RAYON_NUM_THREADS"),
                    "parallelism": os.environ.get("TOKENIZERS_PARALLELISM"),
                }
            )
        )
        return real(tok, shard, *args)

    monkeypatch.setattr(job, "tokenize_shard", recording)
    manifest = textmill.tokenize([corpus], tmp_path / "tok", tokenizer=tokenizer_path, workers=2)
    assert manifest["this_run"] == {
        "workers": 2,
        "shards_tokenized": 6,
        "shards_kept": 0,
        "tokens": manifest["tokens"],
    }
    records = [json.loads(p.read_text()) for p in seen.iterdir()]
    assert len(records) == 6
    assert os.getpid() not in {r["pid"] for r in records}  # tokenized in the workers
    threads = max(1, available_cores() // 2)
    assert {r["rayon"] for r in records} == {str(threads)}
    if threads == 1:  # no thread pool at all in the tokenizers library
        assert {r["parallelism"] for r in records} == {"false"}
    with pytest.raises(RunError, match="--workers"):
        textmill.tokenize([corpus], tmp_path / "bad", tokenizer=tokenizer_path, workers=-1)


def test_a_crash_in_a_worker_is_reported_and_the_rerun_resumes_with_its_rate(
    tmp_path, corpus, tokenizer_path, monkeypatch, capsys
):
    fresh = tmp_path / "fresh"
    assert tokenize_cli([corpus], fresh, tokenizer_path, "--workers", "1") == 0
    real = job.tokenize_batch

    def disk_full_on_shard_3(docs, *args):
        if docs["id"][0].as_py().startswith("3-"):
            raise OSError(errno.ENOSPC, "No space left on device", "work/part-3.arrow")
        return real(docs, *args)

    monkeypatch.setattr(job, "tokenize_batch", disk_full_on_shard_3)
    out = tmp_path / "tok"
    capsys.readouterr()
    assert tokenize_cli([corpus], out, tokenizer_path, "--workers", "2") == 2
    assert "No space left on device" in capsys.readouterr().err  # one line, exit 2
    assert not (out / "manifest.json").exists()
    kept = {p.stem for p in (out / ".textmill" / "done").iterdir()}
    assert kept and not any(name.startswith("part-3.") for name in kept)

    monkeypatch.undo()
    assert tokenize_cli([corpus], out, tokenizer_path, "--workers", "3") == 0
    captured = capsys.readouterr()
    assert captured.err.count("done before, kept") == len(kept)
    assert snapshot(out) == snapshot(fresh)
    manifest = manifest_of(out)
    kept_tokens = sum(
        json.loads((out / ".textmill" / "done" / f"{name}.json").read_text())["tokens"]
        for name in kept
    )
    now = manifest["this_run"]
    assert now["shards_kept"] == len(kept) and now["shards_tokenized"] == 6 - len(kept)
    assert now["tokens"] == manifest["tokens"] - kept_tokens < manifest["tokens"]
    # the rate is of the tokens this run tokenized, not of all of them
    rate = f"{now['tokens'] / manifest['seconds']:,.0f} tokens/s"
    shards = f"{len(kept)} shard{'s' if len(kept) != 1 else ''}"
    assert rate in captured.out and f"{shards} done before" in captured.out


def _live_processes(group: int) -> list[int]:
    """Processes of the group that are not zombies (their parent, init, reaps those)."""
    live = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == group and fields[0] != "Z":
            live.append(int(stat.parent.name))
    return live


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="a FIFO and /proc")
def test_ctrl_c_stops_the_workers_and_leaves_a_resumable_folder(tmp_path, tokenizer_path):
    inputs = tmp_path / "in"
    write_jsonl(inputs / "a.jsonl", shard_records(0, 30))
    blocked = inputs / "b.jsonl"
    os.mkfifo(blocked)  # its worker waits on it until the Ctrl-C
    out = tmp_path / "tok"
    command = ["tokenize", str(inputs / "a.jsonl"), str(blocked), "-o", str(out),
               "--tokenizer", str(tokenizer_path), "--workers", "2"]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    process = subprocess.Popen(
        [sys.executable, "-m", "textmill", *command],
        start_new_session=True,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        # an earlier in-process main() that caught a Ctrl-C left SIGINT ignored in this
        # process, and a child inherits that: the one interrupted here must take it
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        deadline = time.monotonic() + 60
        done = out / ".textmill" / "done"
        while not (done.is_dir() and any(done.iterdir())):
            assert process.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        os.killpg(process.pid, signal.SIGINT)  # what Ctrl-C in a terminal sends
        assert process.wait(timeout=30) == 130
        assert "interrupted; re-run the same command to resume" in process.stderr.read()
        while _live_processes(process.pid):
            assert time.monotonic() < deadline, "a worker outlived the Ctrl-C"
            time.sleep(0.05)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    assert not (out / "manifest.json").exists()

    blocked.unlink()
    write_jsonl(blocked, shard_records(1, 20))
    assert main(command) == 0
    fresh = tmp_path / "fresh"
    assert main([*command[:3], "-o", str(fresh), *command[5:]]) == 0
    assert snapshot(out) == snapshot(fresh)
    assert manifest_of(out)["this_run"]["shards_kept"] == 1


SHARED_CORES_AFTER_PARALLEL_USE = """
import json, sys
import textmill
from textmill.tokens import workers
from textmill.tokens.tokenizer import load_tokenizer

workers.available_cores = lambda: 4  # two threads for each of two workers
tokenizer = load_tokenizer(sys.argv[1], engine="tokenizers")
tokenizer.encode_batch(["alpha beta gamma"] * 2000)  # its thread pool, now used, dies in a fork
manifest = textmill.tokenize(
    [sys.argv[2]], sys.argv[3], tokenizer=tokenizer, engine="tokenizers", workers=2
)
print(json.dumps(manifest["this_run"]))
"""


@pytest.mark.parametrize("parallelism", [None, "true"])
def test_workers_with_several_threads_survive_a_parent_that_used_its_thread_pool(
    tmp_path, corpus, tokenizer_path, parallelism
):
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    env.pop("TOKENIZERS_PARALLELISM", None)
    env.pop("RAYON_NUM_THREADS", None)
    if parallelism is not None:  # set: tokenizers leaves a forked child's threads on (a hang)
        env["TOKENIZERS_PARALLELISM"] = parallelism
    out = tmp_path / "tok"
    done = subprocess.run(
        [sys.executable, "-c", SHARED_CORES_AFTER_PARALLEL_USE, str(tokenizer_path),
         str(corpus), str(out)],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.splitlines()[-1])["workers"] == 2
    fresh = tmp_path / "fresh"
    engine = ("--engine", "tokenizers")
    assert tokenize_cli([corpus], fresh, tokenizer_path, "--workers", "1", *engine) == 0
    assert snapshot(out) == snapshot(fresh)


def test_a_worker_killed_outright_is_one_error_and_the_rerun_resumes(
    tmp_path, corpus, tokenizer_path, monkeypatch, capsys
):
    real = job.tokenize_shard
    driver = os.getpid()

    def killed_on_shard_4(tok, shard, *args):
        if shard.name.startswith("part-4.") and os.getpid() != driver:
            os.kill(os.getpid(), signal.SIGKILL)  # as the out-of-memory killer would
        return real(tok, shard, *args)

    monkeypatch.setattr(job, "tokenize_shard", killed_on_shard_4)
    out = tmp_path / "tok"
    capsys.readouterr()
    assert tokenize_cli([corpus], out, tokenizer_path, "--workers", "2") == 2
    assert "a tokenize worker died" in capsys.readouterr().err
    monkeypatch.undo()
    assert tokenize_cli([corpus], out, tokenizer_path, "--workers", "2") == 0
    fresh = tmp_path / "fresh"
    assert tokenize_cli([corpus], fresh, tokenizer_path, "--workers", "1") == 0
    assert snapshot(out) == snapshot(fresh)
