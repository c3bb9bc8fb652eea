"""Fuzz every reader with mutated real files and report crashes and peak memory.

A crash is any exception escaping the reader entry point `textmill run` uses (plan_shards, then
read_shard and conform), a case that runs past its time limit, an error that names no file,
record or message, or (every --run-every cases) a real `Pipeline(["normalize"]).run` whose
stats do not reconcile (read != kept + rejected + errored) or whose read differs from what
the reader produced. Cases run in worker processes (killed and replaced on a hang); each
reader gets an equal share of the CPU budget and fresh workers, so its peak RSS is its own.

Seeds are real files cut small: the bundled sample WARC, and when ../shared/data/web is there,
slices of its WARC/WET files and documents from its JSONL files (JSONL, Parquet, .txt and
.html seeds are made from those documents; without shared data, from the sample's pages).
Mutations: bit flips, byte inserts and deletes, truncation, chunk duplication, splicing two
seeds, WARC Content-Length tampering and gzip member damage; compressed seeds are mutated in
their stored bytes or in their content and compressed again.

    nice .venv/bin/python benchmarks/fuzz_readers.py --budget 600 --workers 2 --seed 18
"""

from __future__ import annotations

import argparse
import bz2
import contextlib
import gzip
import importlib.util
import io
import json
import multiprocessing as mp
import os
import random
import re
import resource
import shutil
import sys
import tempfile
import time
import traceback
import zlib
from dataclasses import dataclass, field
from multiprocessing.connection import wait
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED_WEB = next(  # ../shared from the main checkout or from a worktree beside it
    (
        p / "shared" / "data" / "web"
        for p in (ROOT.parent, ROOT.parent.parent)
        if (p / "shared").is_dir()
    ),
    ROOT.parent / "shared" / "data" / "web",
)
SAMPLE = ROOT / "textmill" / "data" / "sample.warc.gz"
SEED_BYTES = 160 * 1024  # seeds stay small so a case takes milliseconds
CONTENT_LENGTH = re.compile(rb"Content-Length: *(\d+)", re.I)


# --- seeds -----------------------------------------------------------------------------


def gzip_members(data: bytes) -> list[bytes]:
    """The gzip members of `data`, each as stored (from a damaged one on: the rest as one)."""
    members, position = [], 0
    while position < len(data):
        inflater = zlib.decompressobj(31)
        try:
            inflater.decompress(data[position:])
        except zlib.error:
            members.append(data[position:])
            break
        size = len(data) - position - len(inflater.unused_data)
        if size == 0:
            members.append(data[position:])
            break
        members.append(data[position : position + size])
        position += size
    return members


def warc_slice(path: Path, limit: int = SEED_BYTES) -> bytes:
    """The first whole gzip members of a gzip-per-record WARC, up to `limit` bytes."""
    kept, size = [], 0
    for member in gzip_members(path.read_bytes()):
        if kept and size + len(member) > limit:
            break
        kept.append(member)
        size += len(member)
    return b"".join(kept)


def documents(count: int) -> list[dict]:
    """Real documents {id, text, html, url} for the JSONL, Parquet, text and HTML seeds."""
    docs: list[dict] = []
    for name, key in (("web_text.jsonl.gz", "text"), ("web_docs.jsonl.gz", "html")):
        path = SHARED_WEB / name
        if not path.exists():
            continue
        with gzip.open(path, "rt", encoding="utf-8") as lines:
            for line in lines:
                record = json.loads(line)
                if record.get(key) and len(record[key]) < 40_000:
                    url = record.get("url_or_path") or record.get("metadata", {}).get("url")
                    docs.append({"id": record["id"], key: record[key], "url": url})
                if sum(1 for d in docs if key in d) >= count:
                    break
    if not docs:  # no shared data: the sample's own pages
        from textmill.io.base import ReadOptions
        from textmill.io.warc import read_warc

        for batch in read_warc(str(SAMPLE), ReadOptions()):
            for row in batch.docs.to_pylist():
                docs.append({"id": row["id"], "html": row.get("html"), "url": row["url"]})
        docs = docs[: 2 * count]
    return docs


def jsonl_bytes(docs: list[dict]) -> bytes:
    return "".join(json.dumps(d, ensure_ascii=False) + "\n" for d in docs).encode()


def parquet_bytes(docs: list[dict]) -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table(
        {
            "id": [d["id"] for d in docs],
            "text": [d.get("text") or d.get("html") for d in docs],
            "url": [d.get("url") for d in docs],
        }
    )
    sink = io.BytesIO()
    pq.write_table(table, sink, row_group_size=8)
    return sink.getvalue()


def arrow_bytes(docs: list[dict]) -> bytes:
    import pyarrow as pa

    table = pa.table({"id": [d["id"] for d in docs], "text": [d.get("text") for d in docs]})
    sink = io.BytesIO()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        for batch in table.to_batches(max_chunksize=8):
            writer.write_batch(batch)
    return sink.getvalue()


def zstd(data: bytes) -> bytes:
    import zstandard

    return zstandard.ZstdCompressor().compress(data)


def unzstd(data: bytes) -> bytes:
    import zstandard

    return zstandard.ZstdDecompressor().stream_reader(io.BytesIO(data)).read()


COMPRESSORS = {
    "gz": (gzip.compress, gzip.decompress),
    "zst": (zstd, unzstd),
    "bz2": (bz2.compress, bz2.decompress),
}


@dataclass
class Seed:
    reader: str
    name: str
    suffix: str  # the file name ending that picks the reader: .warc.gz, .jsonl.zst, ...
    data: bytes
    compression: str | None = None  # gz, zst, bz2 (content mutations recompress)
    per_record_gzip: bool = False


def build_seeds() -> dict[str, list[Seed]]:
    seeds: dict[str, list[Seed]] = {}

    def add(seed: Seed) -> None:
        seeds.setdefault(seed.reader, []).append(seed)

    warcs = [SAMPLE]
    if (SHARED_WEB / "warc").is_dir():
        warcs += sorted(p for p in (SHARED_WEB / "warc").glob("*.warc.gz"))
    for path in warcs:
        data = warc_slice(path)
        add(Seed("warc.gz", path.name, ".warc.gz", data, "gz", per_record_gzip=True))
        add(Seed("warc", path.name, ".warc", gzip.decompress(data)))
    for path in sorted((SHARED_WEB / "warc").glob("*.wet.gz")) if SHARED_WEB.is_dir() else []:
        data = warc_slice(path)
        add(Seed("wet", path.name, ".warc.wet.gz", data, "gz", per_record_gzip=True))
        add(Seed("wet", path.name + "(plain)", ".warc.wet", gzip.decompress(data)))
    if "wet" not in seeds:  # a WET made from the sample's text
        add(Seed("wet", "sample", ".warc.wet", _wet_from(documents(20))))
    docs = documents(60)
    texts = [d for d in docs if d.get("text")] or docs
    pages = [d for d in docs if d.get("html")] or docs
    plain = jsonl_bytes(texts[:30] + pages[:10])
    add(Seed("jsonl", "docs", ".jsonl", plain))
    for kind, (compress, _) in COMPRESSORS.items():
        add(Seed(f"jsonl.{kind}", "docs", f".jsonl.{kind}", compress(plain), kind))
    add(Seed("parquet", "docs", ".parquet", parquet_bytes(texts[:40])))
    for n, doc in enumerate(texts[:5]):
        add(Seed("txt", f"text{n}", ".txt", (doc.get("text") or "").encode()))
    for n, doc in enumerate(pages[:5]):
        add(Seed("html", f"page{n}", ".html", (doc.get("html") or "").encode()))
    if (ROOT / "textmill" / "io" / "arrow.py").exists():
        add(Seed("arrow", "docs", ".arrow", arrow_bytes(texts[:40])))
    return seeds


def _wet_from(docs: list[dict]) -> bytes:
    out = []
    for n, doc in enumerate(docs):
        text = (doc.get("text") or doc.get("html") or "").encode()
        out.append(
            b"WARC/1.0\r\nWARC-Type: conversion\r\nWARC-Record-ID: <urn:uuid:%d>\r\n"
            b"Content-Type: text/plain\r\nContent-Length: %d\r\n\r\n%s\r\n\r\n"
            % (n, len(text), text)
        )
    return b"".join(out)


# --- mutations -------------------------------------------------------------------------


def mutate_bytes(data: bytearray, rng: random.Random, other: bytes) -> str:
    """One byte-level mutation in place; returns its name."""
    if not data:
        data += rng.randbytes(rng.randint(1, 64))
        return "fill"
    at = rng.randrange(len(data))
    kind = rng.choice(("flip", "flip", "insert", "delete", "truncate", "duplicate", "splice"))
    if kind == "flip":
        for _ in range(rng.randint(1, 8)):
            data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
    elif kind == "insert":
        piece = rng.randbytes(rng.randint(1, 64)) if rng.random() < 0.5 else data[at : at + 64]
        data[at:at] = piece
    elif kind == "delete":
        del data[at : at + rng.randint(1, 256)]
    elif kind == "truncate":
        del data[at:]
    elif kind == "duplicate":
        size = rng.randint(1, 4096)
        data[rng.randrange(len(data) + 1) : 0] = data[at : at + size]
    else:  # splice: our head, another seed's tail
        cut = rng.randrange(len(other) + 1) if other else 0
        data[at:] = other[cut:]
    return kind


def tamper_length(content: bytearray, rng: random.Random) -> str:
    """Rewrite one WARC Content-Length: off by a little or a lot, negative, text, huge."""
    matches = list(CONTENT_LENGTH.finditer(content))
    if not matches:
        return "length:none"
    match = rng.choice(matches)
    value = int(match.group(1))
    choice = rng.choice(("+", "-", "x10", "zero", "neg", "text", "huge", "digits"))
    new = {
        "+": str(value + rng.randint(1, 300)),
        "-": str(max(value - rng.randint(1, 300), 0)),
        "x10": str(value * 10),
        "zero": "0",
        "neg": str(-value),
        "text": "twelve",
        "huge": str(rng.choice((2**31, 2**40, 2**63, 10**30))),
        "digits": "9" * rng.choice((19, 400, 5000)),
    }[choice]
    content[match.start(1) : match.end(1)] = new.encode()
    return f"length:{choice}"


def damage_member(data: bytes, rng: random.Random) -> tuple[bytes, str]:
    """Damage one gzip member: overwrite a run inside it, cut it short, or drop it."""
    members = gzip_members(data)
    index = rng.randrange(len(members))
    member = bytearray(members[index])
    kind = rng.choice(("overwrite", "cut", "drop", "header"))
    if kind == "overwrite":
        at = rng.randrange(len(member))
        member[at : at + 16] = rng.randbytes(16)
    elif kind == "cut":
        del member[rng.randrange(len(member)) :]
    elif kind == "drop":
        member = bytearray()
    else:
        member[rng.randrange(min(10, len(member)))] ^= 0xFF
    members[index] = bytes(member)
    return b"".join(members), f"member:{kind}"


def mutate(seed: Seed, seeds: list[Seed], rng: random.Random) -> tuple[bytes, list[str]]:
    """1 to 3 mutations of a seed, in its stored bytes or (compressed seeds) its content."""
    done: list[str] = []
    other = rng.choice(seeds).data
    data = seed.data
    for _ in range(rng.randint(1, 3)):
        try:
            data, name = _mutate_once(seed, data, other, rng)
        except Exception:  # noqa: BLE001 (an earlier mutation left nothing this one can use)
            continue
        done.append(name)
    return data, done


def _mutate_once(seed: Seed, data: bytes, other: bytes, rng: random.Random) -> tuple[bytes, str]:
    roll = rng.random()
    if seed.reader.startswith(("warc", "wet")) and roll < 0.3:
        if seed.per_record_gzip and rng.random() < 0.5:  # tamper inside one member
            members = gzip_members(data)
            index = rng.randrange(len(members))
            content = bytearray(gzip.decompress(members[index]))
            name = tamper_length(content, rng)
            members[index] = gzip.compress(bytes(content))
            return b"".join(members), name
        if seed.compression is None:
            content = bytearray(data)
            return bytes(content), tamper_length(content, rng)
        content = bytearray(gzip.decompress(data))  # the whole file as one gzip stream
        name = tamper_length(content, rng) + "(whole-gzip)"
        return gzip.compress(bytes(content)), name
    if seed.compression == "gz" and roll < 0.45:
        return damage_member(data, rng)
    if seed.compression and roll < 0.7:
        compress, decompress = COMPRESSORS[seed.compression]
        content = bytearray(decompress(data))
        name = "content:" + mutate_bytes(content, rng, other)
        return compress(bytes(content)), name
    buffer = bytearray(data)
    name = mutate_bytes(buffer, rng, other)
    return bytes(buffer), name


# --- one case, in a worker ---------------------------------------------------------------


def run_case(path: str, check_run: bool) -> dict:
    from textmill.document import conform
    from textmill.io import ReadOptions, plan_shards, read_shard

    problems: list[str] = []
    read = kept = errored = 0
    shards, _ = plan_shards([path])
    for shard in shards:
        for batch in read_shard(shard, ReadOptions()):
            docs = conform(batch.docs)
            kept += docs.num_rows
            errored += sum(error.counted for error in batch.errors)  # what the run counts
            for error in batch.errors:
                if not (error.file and error.record and error.message):
                    problems.append(f"error without file/record/message: {error!r}")
            if docs.num_rows and docs["id"].null_count:
                problems.append("document without an id")
    read = kept + errored
    if check_run:
        problems += _check_run(path, read)
    return {"read": read, "problems": problems}


def _check_run(path: str, reader_read: int) -> list[str]:
    from textmill import Pipeline

    out = tempfile.mkdtemp(prefix="fuzz-run-")
    try:
        stats = Pipeline(["normalize"]).run([path], os.path.join(out, "o"), workers=1)
        stats = (
            stats
            if isinstance(stats, dict)
            else json.loads(Path(out, "o", "stats.json").read_text())
        )
        problems = []
        if stats["read"] != stats["kept"] + stats["rejected"] + stats["errored"]:
            problems.append(f"run does not reconcile: {stats}")
        if stats["read"] != reader_read:
            problems.append(f"run read {stats['read']} but the reader gave {reader_read}")
        return problems
    finally:
        shutil.rmtree(out, ignore_errors=True)


def _cpu_seconds() -> float:
    """CPU of this worker and of the processes its full runs started."""
    own, children = (
        resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
    )
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def worker(connection, folder: str) -> None:
    sys.stdout = sys.stderr = open(os.devnull, "w")  # noqa: SIM115 (progress bars of runs)
    while True:
        message = connection.recv()
        if message is None:
            return
        name, data, check_run = message
        path = os.path.join(folder, name)
        Path(path).write_bytes(data)
        before = _cpu_seconds()
        try:
            result = run_case(path, check_run)
        except BaseException as exc:  # noqa: BLE001 (a crash is what we look for)
            tb = traceback.format_exception(type(exc), exc, exc.__traceback__)
            result = {
                "read": None,
                "problems": [f"{type(exc).__name__}: {exc}"[:300]],
                "traceback": "".join(tb[-6:]),
            }
        result["cpu"] = _cpu_seconds() - before
        result["rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        os.unlink(path)
        connection.send(result)


# --- the driver ------------------------------------------------------------------------


@dataclass
class Tally:
    cases: int = 0
    cpu: float = 0.0
    wall: float = 0.0
    peak_rss_mb: float = 0.0
    crashes: list[dict] = field(default_factory=list)


class Worker:
    def __init__(self, folder: str):
        self.connection, child = mp.Pipe()
        self.process = mp.get_context("spawn").Process(target=worker, args=(child, folder))
        self.process.start()
        self.case: dict | None = None
        self.started = 0.0

    def stop(self) -> None:
        if self.process.is_alive():
            self.process.kill()
        self.process.join()


def fuzz_reader(
    reader: str, seeds: dict[str, list[Seed]], args, rng: random.Random, wall_share: float
) -> Tally:
    tally = Tally()
    folder = tempfile.mkdtemp(prefix=f"fuzz-{reader.replace('.', '_')}-")
    save = Path(args.save_dir) / reader
    workers = [Worker(folder) for _ in range(args.workers)]
    budget = args.budget / len(seeds)
    started = time.monotonic()
    number = 0
    try:
        while True:
            for slot, w in enumerate(workers):
                in_time = time.monotonic() - started < wall_share
                if w.case is None and tally.cpu < budget and in_time:
                    seed = rng.choice(seeds[reader])
                    data, mutations = mutate(seed, sum(seeds.values(), []), rng)
                    number += 1
                    name = f"case{number}-{slot}{seed.suffix}"
                    check_run = args.run_every > 0 and number % args.run_every == 0
                    w.case = {"name": name, "seed": seed.name, "mutations": mutations, "data": data}
                    w.started = time.monotonic()
                    w.connection.send((name, data, check_run))
            busy = [w for w in workers if w.case is not None]
            if not busy:
                break
            ready = wait([w.connection for w in busy], timeout=1.0)
            for w in busy:
                if w.connection in ready:
                    try:
                        result = w.connection.recv()
                    except (EOFError, OSError):  # the reader killed its process (abort)
                        w.process.join(timeout=10)
                        died = f"worker process died (exit code {w.process.exitcode})"
                        result = {"problems": [died], "cpu": 0.0, "rss_mb": 0.0}
                        tally.crashes.append(_crash(w.case, result, save))
                        tally.cases += 1
                        w.stop()
                        workers[workers.index(w)] = Worker(folder)
                        continue
                    tally.cases += 1
                    tally.cpu += result["cpu"]
                    tally.peak_rss_mb = max(tally.peak_rss_mb, result["rss_mb"])
                    if result["problems"]:
                        tally.crashes.append(_crash(w.case, result, save))
                    w.case = None
                elif time.monotonic() - w.started > args.case_timeout:
                    tally.cases += 1
                    tally.cpu += args.case_timeout
                    hang = {"problems": [f"hang: no answer in {args.case_timeout}s"]}
                    tally.crashes.append(_crash(w.case, hang, save))
                    w.stop()
                    workers[workers.index(w)] = Worker(folder)
    finally:
        for w in workers:
            if w.process.is_alive():
                with contextlib.suppress(OSError):
                    w.connection.send(None)
            w.process.join(timeout=10)
            w.stop()
        shutil.rmtree(folder, ignore_errors=True)
    tally.wall = time.monotonic() - started
    return tally


def _crash(case: dict, result: dict, save: Path) -> dict:
    save.mkdir(parents=True, exist_ok=True)
    (save / case["name"]).write_bytes(case["data"])
    return {
        "file": str(save / case["name"]),
        "seed": case["seed"],
        "mutations": case["mutations"],
        "problems": result["problems"],
        "traceback": result.get("traceback", ""),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--budget", type=float, default=600, help="CPU-seconds, all readers")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=18)
    parser.add_argument("--case-timeout", type=float, default=30.0)
    parser.add_argument("--run-every", type=int, default=1000, help="full-run check every N cases")
    parser.add_argument(
        "--max-wall", type=float, default=float("inf"), help="seconds; on a busy machine"
    )
    parser.add_argument("--readers", default="", help="comma-separated subset, e.g. warc,wet")
    parser.add_argument("--save-dir", default=os.path.join(tempfile.gettempdir(), "fuzz_crashes"))
    parser.add_argument("--json", help="write the results here too")
    args = parser.parse_args()
    seeds = build_seeds()
    if args.readers:
        seeds = {k: v for k, v in seeds.items() if k in args.readers.split(",")}
    if importlib.util.find_spec("textmill.io.arrow") is None:
        print("(no textmill/io/arrow.py: .arrow not fuzzed)")
    print(
        f"shared data: {'yes' if SHARED_WEB.is_dir() else 'no'}; budget {args.budget:.0f} "
        f"CPU-s over {len(seeds)} readers; seed {args.seed}"
    )
    rng = random.Random(args.seed)
    results = {}
    total_crashes = 0
    columns = ("seeds", "cases", "CPU s", "wall s", "RSS MB", "crashes")
    print(f"{'reader':10} " + " ".join(f"{c:>7}" for c in columns))
    deadline = time.monotonic() + args.max_wall
    for done, reader in enumerate(seeds):
        wall_share = (deadline - time.monotonic()) / (len(seeds) - done)
        tally = fuzz_reader(reader, seeds, args, rng, wall_share)
        results[reader] = tally.__dict__
        total_crashes += len(tally.crashes)
        figures = (len(seeds[reader]), tally.cases, f"{tally.cpu:.1f}", f"{tally.wall:.1f}")
        figures += (f"{tally.peak_rss_mb:.0f}", len(tally.crashes))
        print(f"{reader:10} " + " ".join(f"{f:>7}" for f in figures), flush=True)
        if args.json:  # after every reader, so a run stopped early still leaves its figures
            Path(args.json).write_text(json.dumps(results, indent=1, default=str))
    for reader, tally in results.items():
        for crash in tally["crashes"][:10]:
            print(f"\n[{reader}] {crash['file']} (seed {crash['seed']}, {crash['mutations']})")
            for problem in crash["problems"]:
                print(f"  {problem}")
            if crash["traceback"]:
                print("  " + crash["traceback"].replace("\n", "\n  "))
    cpu = sum(t["cpu"] for t in results.values())
    print(
        f"\ntotal: {sum(t['cases'] for t in results.values())} cases, {cpu:.0f} CPU-s, "
        f"{total_crashes} crashes"
    )


if __name__ == "__main__":
    main()
