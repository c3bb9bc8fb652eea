"""Shuffle and pack at scale (issue 13): N synthetic documents globally shuffled and packed into
a Megatron dataset in bounded memory, with the time and peak RSS of every stage.

Two paths, in one run:
- the token path (default 10M documents): documents are *generated as token ids* with numpy
  (lognormal lengths, mean ~256 tokens, about what 1 KB of English text gives a 50k BPE) instead
  of tokenized, to keep the run short; they go through exactly what `textmill tokenize
  --shuffle-seed S --pack N` runs after tokenizing (textmill/tokens/arrange.py: scatter per
  shard, bucket sort, best-fit packing, the Megatron writer, documents.parquet, pieces.parquet);
- the text path (default 50k documents of ~1 KB synthetic text, in JSONL shards of 250k): the
  real `textmill tokenize --workers N` command with a tokenizer textmill trains, shuffled and
  packed, in a child process.

Peak RSS per stage: VmHWM from /proc/self/status, reset between stages through
/proc/self/clear_refs; the whole process's peak from getrusage. Mixing is not part of this run
until `textmill mix` is on main (see BENCHMARKS.md).

    python benchmarks/tokens_at_scale.py [--documents 10000000] [--text-documents 50000]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import shutil
import struct
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from textmill.io.writers import ParquetShardWriter  # noqa: E402
from textmill.tokens.arrange import Arrangement, ArrangeSettings  # noqa: E402
from textmill.tokens.formats.megatron import MegatronWriter  # noqa: E402

VOCAB = 50_000
MEAN_TOKENS = 256
SHARD_DOCUMENTS = 250_000


def peak_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def reset_peak() -> None:
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


def synthetic_shard(index: int, documents: int, batch: int = 32_768):
    """One shard of token-id documents, the same for the same index whatever else ran."""
    rng = np.random.default_rng([13, index])
    first = index * SHARD_DOCUMENTS
    for start in range(0, documents, batch):
        n = min(batch, documents - start)
        lengths = np.maximum(1, rng.lognormal(np.log(MEAN_TOKENS) - 0.5, 1.0, n)).astype(np.int64)
        offsets = np.zeros(n + 1, np.int64)
        np.cumsum(lengths, out=offsets[1:])
        tokens = rng.integers(0, VOCAB, size=int(offsets[-1]), dtype=np.uint32)
        ids = pa.array([f"doc-{first + start + i}" for i in range(n)])
        yield pa.table(
            {
                "id": ids,
                "source": pa.array(np.where(np.arange(n) % 3 == 0, "web", "books")),
                "lang": pa.array(np.where(np.arange(n) % 2 == 0, "en", "fr")),
                "input_ids": pa.LargeListArray.from_arrays(pa.array(offsets), pa.array(tokens)),
            }
        )


class Timed:
    """Wall seconds spent inside an iterator's `next`."""

    def __init__(self, iterator):
        self.iterator = iter(iterator)
        self.seconds = 0.0

    def __iter__(self):
        return self

    def __next__(self):
        start = time.perf_counter()
        try:
            return next(self.iterator)
        finally:
            self.seconds += time.perf_counter() - start


def token_path(args, work: Path) -> dict:
    out = work / "tok"
    shutil.rmtree(work, ignore_errors=True)
    out.mkdir(parents=True)
    n_shards = -(-args.documents // SHARD_DOCUMENTS)
    sizes = {
        f"shard-{k:04d}": min(SHARD_DOCUMENTS, args.documents - k * SHARD_DOCUMENTS)
        for k in range(n_shards)
    }
    settings = ArrangeSettings(
        pack=args.seq_len,
        packing=args.packing,
        pack_window_tokens=args.window_tokens,
        shuffle_seed=1,
        shuffle_memory_bytes=args.memory_mb << 20,
    )
    arrangement = Arrangement(settings, work / "state", out, pad_id=0, spill_token_type="uint16")
    generate = {"seconds": 0.0}

    def tables(name: str):
        shard = Timed(synthetic_shard(int(name.split("-")[1]), sizes[name]))
        yield from shard
        generate["seconds"] += shard.seconds

    # stage 1: generate + scatter (the whole corpus spilled before the first table comes out)
    reset_peak()
    started, cpu_started = time.perf_counter(), time.process_time()
    expected = args.documents * (MEAN_TOKENS * 2 + 40)
    documents = arrangement.documents(list(sizes), tables, expected_bytes=expected)
    first = next(documents)
    scatter_seconds = time.perf_counter() - started
    scatter_cpu = time.process_time() - cpu_started
    scatter_peak = peak_rss_mb()
    spill_bytes = sum(p.stat().st_size for p in (work / "state" / "shuffle").glob("*.arrow"))

    # stage 2: bucket sort + best-fit packing + writing
    reset_peak()
    started, cpu_started = time.perf_counter(), time.process_time()
    writer = MegatronWriter(out, VOCAB, "synthetic")
    index = ParquetShardWriter(out / "documents.parquet")

    def restart():
        yield first
        yield from documents

    read = Timed(restart())
    rows = Timed(arrangement.rows(read))
    write_seconds = 0.0
    for sequences, docs in rows:
        t = time.perf_counter()
        writer.write(sequences)
        index.write(docs)
        write_seconds += time.perf_counter() - t
    t = time.perf_counter()
    written = writer.close()
    index.close()
    arrangement.close()
    write_seconds += time.perf_counter() - t
    second_seconds = time.perf_counter() - started
    second_cpu = time.process_time() - cpu_started
    second_peak = peak_rss_mb()
    stats = arrangement.stats()
    packing = stats["packing"]
    shuffle_seconds = read.seconds
    pack_seconds = rows.seconds - read.seconds
    check = check_output(out, args.seq_len, packing)
    return {
        "documents": args.documents,
        "tokens": packing["tokens"],
        "shards": n_shards,
        "buckets": stats["shuffle"]["buckets"],
        "memory_budget_mb": args.memory_mb,
        "spill_gb": round(spill_bytes / 1e9, 2),
        "bin_gb": round((out / "tokens.bin").stat().st_size / 1e9, 2),
        "sequences": written["sequences"],
        "padding_pct": packing["padding_pct"],
        "split_documents_pct": packing["split_documents_pct"],
        "stages": {
            "generate_s": round(generate["seconds"], 1),
            "scatter_s": round(scatter_seconds - generate["seconds"], 1),
            "sort_and_read_s": round(shuffle_seconds, 1),
            "pack_s": round(pack_seconds, 1),
            "write_s": round(write_seconds, 1),
        },
        "cpu_s": {
            "generate_and_scatter": round(scatter_cpu, 1),
            "sort_pack_write": round(second_cpu, 1),
        },
        "peak_rss_mb": {
            "generate_and_scatter": round(scatter_peak),
            "sort_pack_write": round(second_peak),
        },
        "check": check,
        "wall_s": round(scatter_seconds + second_seconds, 1),
    }


def check_output(out: Path, seq_len: int, packing: dict) -> dict:
    """Cheap whole-output checks: the .idx counts every row at SEQ_LEN, the pieces add up to
    the tokens, every document is in documents.parquet once."""
    with open(out / "tokens.idx", "rb") as handle:
        header = handle.read(34)  # MMIDIDX\0\0, version, dtype code, sequences, documents
    idx_sequences = struct.unpack_from("<Q", header, 18)[0]
    bin_tokens = (out / "tokens.bin").stat().st_size // 2
    pieces = pq.read_table(out / "pieces.parquet", columns=["tokens"]).column("tokens")
    documents = pq.ParquetFile(out / "documents.parquet").metadata.num_rows
    return {
        "bin_tokens_equal_rows_x_seq_len": bin_tokens == packing["sequences"] * seq_len,
        "pieces_sum_equal_tokens": int(pa.compute.sum(pieces).as_py()) == packing["tokens"],
        "documents_rows": documents,
        "idx_sequences_equal_rows": idx_sequences == packing["sequences"],
        "reconciled": packing["reconciled"],
    }


def text_path(args, work: Path) -> dict:
    """The real command on synthetic text: train a tokenizer, then tokenize --shuffle-seed
    --pack in a child process whose peak RSS getrusage reports."""
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    rng = np.random.default_rng(7)
    vocabulary = np.array(
        [
            "".join(rng.choice(list("abcdefghijklmnopqrstuvwxyz"), rng.integers(2, 9)))
            for _ in range(5000)
        ]
    )
    corpus = work / "corpus"  # JSONL shards of SHARD_DOCUMENTS, so that --workers has shards
    corpus.mkdir()
    for first in range(0, args.text_documents, SHARD_DOCUMENTS):
        with (corpus / f"part-{first // SHARD_DOCUMENTS:05d}.jsonl").open("w") as handle:
            for i in range(first, min(first + SHARD_DOCUMENTS, args.text_documents)):
                words = vocabulary[rng.zipf(1.3, size=rng.integers(60, 260)) % len(vocabulary)]
                handle.write(json.dumps({"id": f"t{i}", "text": " ".join(words)}) + "\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    python = sys.executable
    subprocess.run(
        [
            python,
            "-m",
            "textmill",
            "tokenizer",
            "train",
            str(corpus),
            "-o",
            str(work / "tok.json"),
            "--vocab-size",
            "8000",
            "--sample-bytes",
            str(16 << 20),
        ],
        check=True,
        env=env,
        capture_output=True,
    )
    rss_file = work / "child_rss_kb"
    # VmHWM, not getrusage: Linux carries ru_maxrss across exec, so a child forked from this
    # process would report this process's peak
    wrapper = (
        "import sys; from textmill.cli import main; code = main(sys.argv[1:]); "
        "hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM:')][0].split()[1]; "
        "import resource; worker = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss; "
        f"open({str(rss_file)!r}, 'w').write(f'{{hwm}} {{worker}}'); sys.exit(code)"
    )
    command = [
        python,
        "-c",
        wrapper,
        "tokenize",
        str(corpus),
        "-o",
        str(work / "TOK"),
        "--tokenizer",
        str(work / "tok.json"),
        "--format",
        "megatron",
        "--pack",
        str(args.seq_len),
        "--packing",
        args.packing,
        "--shuffle-seed",
        "1",
        "--workers",
        str(args.workers),
    ]
    started = time.perf_counter()
    result = subprocess.run(command, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if result.returncode:
        raise SystemExit(f"tokenize failed: {result.stderr[-2000:]}")
    # kB: the driver's own peak, and the largest peak of any worker it forked (the workers
    # inherit the driver's ru_maxrss at fork, so this is an upper bound for each of them)
    peak, worker_peak = (int(value) for value in rss_file.read_text().split())
    manifest = json.loads((work / "TOK" / "manifest.json").read_text())
    return {
        "documents": manifest["documents"],
        "text_mb": round(sum(f.stat().st_size for f in corpus.iterdir()) / 1e6, 1),
        "tokens": manifest["tokens"],
        "sequences": manifest["sequences"],
        "padding_pct": manifest["packing"]["padding_pct"],
        "split_documents_pct": manifest["packing"]["split_documents_pct"],
        "wall_s": round(seconds, 1),
        "tokens_per_s": round(manifest["tokens"] / seconds),
        "peak_rss_mb": round(peak / 1024),
        "worker_peak_rss_mb": round(worker_peak / 1024),
        "command": "textmill " + " ".join(command[3:]).replace(str(work), "WORK"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--documents", type=int, default=10_000_000)
    parser.add_argument("--text-documents", type=int, default=50_000)
    parser.add_argument("--seq-len", type=int, default=2048)
    parser.add_argument("--packing", default="best-fit", choices=("concat", "best-fit"))
    parser.add_argument("--window-tokens", type=int, default=1 << 25)
    parser.add_argument("--memory-mb", type=int, default=1024)
    parser.add_argument("--work", type=Path, default=Path("/tmp/textmill-tokens-at-scale"))
    parser.add_argument("--keep", action="store_true", help="keep the output folders")
    parser.add_argument("--workers", type=int, default=0, help="tokenize workers (0: one per core)")
    args = parser.parse_args()
    report = {
        "machine": f"{os.cpu_count()} cores, shared",
        "seq_len": args.seq_len,
        "packing": args.packing,
    }
    if args.documents:
        report["token_path"] = token_path(args, args.work / "tokens")
        print(json.dumps(report["token_path"], indent=2), flush=True)
        if not args.keep:
            shutil.rmtree(args.work / "tokens", ignore_errors=True)
    if args.text_documents:
        report["text_path"] = text_path(args, args.work / "text")
        print(json.dumps(report["text_path"], indent=2), flush=True)
        if not args.keep:
            shutil.rmtree(args.work / "text", ignore_errors=True)
    report["peak_rss_mb_process"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
