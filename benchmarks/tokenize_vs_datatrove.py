"""Speed and agreement of `textmill tokenize` against datatrove's `DocumentTokenizer`.

The same tokenizer.json (a byte-level BPE of ~50k entries trained by textmill on the benchmark
text), the same ~15 MB of text (../shared/data/web/web_text.jsonl.gz, repeated when shorter),
one core each (pinned, RAYON_NUM_THREADS=1, TOKENIZERS_PARALLELISM=false), each in its own
process, in the same run:
  - raw: `tokenizers` `encode_batch` and `encode_batch_fast` over the texts in memory (the
    practical limit: no reading, no writing);
  - textmill: `textmill tokenize IN -o TOK --format megatron` end to end (read, tokenize,
    write the .bin/.idx, documents.parquet and manifest);
  - datatrove: JsonlReader -> DocumentTokenizer (no shuffle, EOS) in benchmarks/.venv-datatrove;
  - tiktoken built from the same vocabulary (textmill/tokens/engines.py), raw and as
    `textmill tokenize --engine tiktoken`: a faster BPE engine, checked for identical ids;
  - `textmill tokenize --engine auto`, the default: tiktoken after its checks (engines.py).
"Per core" is tokens per CPU-second of the measured part (all threads counted; each run is one
thread on one pinned core), so that a machine shared with other work still gives fair ratios;
each is run --repeat times, interleaved, and the least CPU time kept. Checks that every
document has identical ids in textmill's (both engines) and datatrove's output, listing those
that differ.

usage: .venv/bin/python benchmarks/tokenize_vs_datatrove.py [--input PATH] [--mb 15]
       [--vocab-size 50000] [--workdir DIR] [--repeat 2]
"""

from __future__ import annotations

import os

for _name in ("RAYON_NUM_THREADS", "OMP_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[_name] = "1"
os.environ["TOKENIZERS_PARALLELISM"] = "false"

import argparse  # noqa: E402
import gzip  # noqa: E402
import json  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))
from filters_vs_datatrove import DATA, ensure_datatrove_venv, pin_to_one_core  # noqa: E402

EXTRA_DATATROVE_PACKAGES = ("orjson==3.11.5",)  # datatrove's JsonlReader needs it
EOS = "<|endoftext|>"
BATCH = 4096


def make_input(source: Path, target_mb: float, folder: Path) -> list[dict]:
    """The records of `source` as one plain JSONL file, repeated (ids suffixed) up to ~target_mb
    of text."""
    with gzip.open(source, "rb") as handle:
        lines = handle.read().decode("utf-8").split("\n")  # \n only (U+2028 stays in text)
    base = [json.loads(line) for line in lines if line.strip()]
    records, size, copy = [], 0, 0
    while size < target_mb * 1e6:
        for record in base:
            text = record.get("text") or ""
            records.append({"id": f"{record['id']}#{copy}", "text": text})
            size += len(text.encode("utf-8"))
            if size >= target_mb * 1e6:
                break
        copy += 1
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "input.jsonl", "w", encoding="utf-8") as out:
        for record in records:
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
    return records


def child(mode: str, workdir: Path) -> None:
    """One measurement, in this (pinned) process; prints its result as JSON: wall seconds and
    CPU seconds (all threads) of the measured part only."""
    pin_to_one_core()
    tokenizer_path = workdir / "tokenizer.json"
    if mode.startswith("raw"):
        texts = [
            json.loads(line)["text"]
            for line in (workdir / "in" / "input.jsonl").read_text("utf-8").split("\n")
            if line
        ]
        texts = [t for t in texts if t]
        if mode == "raw-tiktoken":
            from textmill.tokens.engines import tiktoken_encoding

            encoding = tiktoken_encoding(tokenizer_path)
            special = encoding.special_tokens_set

            def encode(batch):  # numpy buffers: tiktoken's fastest path (textmill's too)
                return [
                    encoding.encode_to_numpy(t, allowed_special=special, disallowed_special=())
                    for t in batch
                ]
        else:
            from tokenizers import Tokenizer

            method = getattr(Tokenizer.from_file(str(tokenizer_path)), mode.split("-", 1)[1])

            def encode(batch):
                return [e.ids for e in method(batch, add_special_tokens=False)]

        encode(texts[:64])
        ids: list[list[int]] = []
        started, cpu = time.perf_counter(), time.process_time()
        for i in range(0, len(texts), BATCH):
            ids.extend(encode(texts[i : i + BATCH]))
        result = {"seconds": time.perf_counter() - started, "cpu": time.process_time() - cpu}
        result["tokens"] = sum(map(len, ids)) + len(ids)  # + the EOS the others add
    else:
        from textmill.tokens.tokenize import TokenizeSettings, run_tokenize

        engine = mode.split("-", 1)[1]
        out = workdir / f"textmill-{engine}"
        shutil.rmtree(out, ignore_errors=True)
        settings = TokenizeSettings(format="megatron", engine=engine)
        import pyarrow as pa  # imports are not the job's time (datatrove's neither): pyarrow

        pa.table({"warm": pa.array(["up"])})  # imports pandas on its first table

        started, cpu = time.perf_counter(), time.process_time()
        manifest = run_tokenize([str(workdir / "in")], out, tokenizer_path, settings)
        result = {"seconds": time.perf_counter() - started, "cpu": time.process_time() - cpu}
        result["tokens"] = manifest["tokens"]
        result["engine"] = manifest["tokenizer"]["engine"]
        result["engine_reason"] = manifest["tokenizer"].get("engine_reason")
    print(json.dumps(result))


def measure(mode: str, workdir: Path) -> dict:
    done = subprocess.run(
        [sys.executable, __file__, "--child", mode, "--workdir", str(workdir)],
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(HERE.parent)},
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def read_textmill(out: Path) -> list[list[int]]:
    import numpy as np

    manifest = json.loads((out / "manifest.json").read_text())
    tokens = np.fromfile(out / "tokens.bin", dtype=np.dtype(manifest["format_dtype"]))
    import pyarrow.parquet as pq

    documents = pq.read_table(out / "documents.parquet")
    offsets = documents["offset"].to_numpy()
    lengths = documents["tokens"].to_numpy()
    return [tokens[o : o + n].tolist() for o, n in zip(offsets, lengths, strict=True)]


def read_datatrove(out: Path) -> list[list[int]]:
    import numpy as np

    (ds,) = sorted(out.glob("*.ds"))
    size = int((out / f"{ds.name}.metadata").read_text().splitlines()[0].rsplit("|", 1)[1])
    tokens = np.fromfile(ds, dtype="<u2" if size == 2 else "<u4")
    ends = np.fromfile(out / f"{ds.name}.index", dtype="<u8").astype(np.int64)
    starts = np.concatenate([[0], ends[:-1]]).astype(np.int64)
    return [tokens[s:e].tolist() for s, e in zip(starts, ends, strict=True)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--input", type=Path, default=DATA)
    parser.add_argument("--mb", type=float, default=15.0, help="MB of text (default 15)")
    parser.add_argument("--vocab-size", type=int, default=50_000)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/textmill-tokenize-bench"))
    parser.add_argument("--repeat", type=int, default=2, help="runs of each (least CPU kept)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.workdir)
        return 0
    if not args.input.exists():
        print(f"{args.input} is absent: nothing to benchmark (the shared data is not mounted).")
        return 0
    workdir = args.workdir
    records = make_input(args.input, args.mb, workdir / "in")
    text_bytes = sum(len(r["text"].encode()) for r in records)
    tokenizer_path = workdir / "tokenizer.json"
    key = f"{args.input}:{args.mb}:{args.vocab_size}"
    if not tokenizer_path.exists() or (workdir / "tokenizer.key").read_text() != key:
        from textmill.tokens.tokenizer import train_bpe

        started = time.perf_counter()
        train_bpe([r["text"] for r in records if r["text"]], args.vocab_size).save(
            str(tokenizer_path)
        )
        (workdir / "tokenizer.key").write_text(key)
        print(f"trained the BPE in {time.perf_counter() - started:.1f}s (all cores)")
    python = ensure_datatrove_venv()
    if subprocess.run([str(python), "-c", "import orjson"], capture_output=True).returncode:
        subprocess.run([str(python), "-m", "pip", "install", "-q", *EXTRA_DATATROVE_PACKAGES])
    print(
        f"input: {len(records):,} documents, {text_bytes / 1e6:.1f} MB of text from {args.input}; "
        f"tokenizer: byte-level BPE, vocab {args.vocab_size:,}; one core each"
    )

    dt_out = workdir / "datatrove-tok"

    def datatrove_run() -> dict:
        shutil.rmtree(dt_out, ignore_errors=True)
        subprocess.run(
            [str(python), str(HERE / "datatrove_tokenize.py"), str(workdir / "in"),
             str(tokenizer_path), str(dt_out), str(workdir / "datatrove.json")],
            check=True,
            capture_output=True,
            env={**os.environ, "PYTHONNOUSERSITE": "1"},
        )  # fmt: skip
        result = json.loads((workdir / "datatrove.json").read_text())
        result["tokens"] = sum(map(len, read_datatrove(dt_out)))
        return result

    runs = {
        "raw tokenizers encode_batch": lambda: measure("raw-encode_batch", workdir),
        "raw tokenizers encode_batch_fast": lambda: measure("raw-encode_batch_fast", workdir),
        "raw tiktoken encode_to_numpy": lambda: measure("raw-tiktoken", workdir),
        "textmill tokenize --engine tokenizers": lambda: measure("textmill-tokenizers", workdir),
        "textmill tokenize --engine tiktoken": lambda: measure("textmill-tiktoken", workdir),
        "textmill tokenize --engine auto": lambda: measure("textmill-auto", workdir),
        "datatrove DocumentTokenizer": datatrove_run,
    }
    best: dict[str, dict] = {}
    for _ in range(args.repeat):  # interleaved, the least CPU time of each kept
        for name, run in runs.items():
            result = run()
            if name not in best or result["cpu"] < best[name]["cpu"]:
                best[name] = result

    def rate(name: str) -> float:
        return best[name]["tokens"] / best[name]["cpu"]

    print(f"\n{'':40}{'tokens':>12}{'wall s':>9}{'CPU s':>9}{'tokens/CPU-s':>15}")
    for name, result in best.items():
        print(
            f"{name:40}{result['tokens']:>12,}{result['seconds']:>9.2f}{result['cpu']:>9.2f}"
            f"{rate(name):>15,.0f}"
        )
    datatrove = rate("datatrove DocumentTokenizer")
    print(f"--engine auto ran {best['textmill tokenize --engine auto']['engine']}: "
          f"{best['textmill tokenize --engine auto']['engine_reason']}")  # fmt: skip
    for engine, raw in (("tokenizers", "raw tokenizers encode_batch_fast"),
                        ("tiktoken", "raw tiktoken encode_to_numpy"),
                        ("auto", "raw tiktoken encode_to_numpy")):  # fmt: skip
        ours = rate(f"textmill tokenize --engine {engine}")
        print(
            f"textmill --engine {engine}: {ours / datatrove:.2f}x datatrove per core, "
            f"{ours / rate(raw):.1%} of its raw encode rate ({raw}), "
            f"{ours / rate('raw tokenizers encode_batch'):.1%} of raw encode_batch"
        )
    ours = read_textmill(workdir / "textmill-tokenizers")
    fast = read_textmill(workdir / "textmill-tiktoken")
    theirs = read_datatrove(dt_out)
    # identical ids: datatrove drops documents without text; textmill skips them as "empty"
    ids = [r["id"] for r in records if r["text"]]
    differ = [i for i, (a, b) in enumerate(zip(ours, theirs, strict=False)) if a != b]
    print(
        f"\ndocuments: textmill {len(ours):,}, datatrove {len(theirs):,}; identical ids: "
        f"{len(ours) - len(differ):,}/{len(ours):,}"
    )
    if len(ours) != len(theirs):
        print("  the document counts differ: compared in order up to the shorter")
    for i in differ[:20]:
        print(f"  differs: {ids[i]} (textmill {len(ours[i])} tokens, datatrove {len(theirs[i])})")
    fast_differ = [i for i, (a, b) in enumerate(zip(fast, theirs, strict=False)) if a != b]
    print(
        f"textmill --engine tiktoken vs datatrove: identical ids for "
        f"{len(fast) - len(fast_differ):,}/{len(fast):,} documents"
    )
    for i in fast_differ[:20]:
        print(f"  differs: {ids[i]} (tiktoken {len(fast[i])} tokens, datatrove {len(theirs[i])})")
    auto = read_textmill(workdir / "textmill-auto")
    auto_differ = [i for i, (a, b) in enumerate(zip(auto, theirs, strict=False)) if a != b]
    print(
        f"textmill --engine auto vs datatrove: identical ids for "
        f"{len(auto) - len(auto_differ):,}/{len(auto):,} documents"
    )
    same = (
        not differ
        and not fast_differ
        and not auto_differ
        and len(ours) == len(theirs) == len(fast) == len(auto)
    )
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
