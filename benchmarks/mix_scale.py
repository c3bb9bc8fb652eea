"""`textmill mix` at scale: time and peak RSS of the mix command on synthetic TOK folders.

Two runs, each a `textmill mix` subprocess (peak RSS from getrusage of the child):
- plan: PLAN_DOCS documents (default 10M) in one TOK folder's documents.parquet, grouped by
  `lang` (five languages of Zipf-like sizes), temperature sampling T=3 with up to 4 epochs,
  `--dry-run` (reading the counts, the shares, the seeded whole-document selection);
  then the same as a Megatron blend line over five TOK folders;
- copy: COPY_DOCS documents (default 1M, ~1 KB of text each: 256 uint16 tokens) copied into a
  shuffled memmap mixture through tokenize's bounded-memory global shuffle.
No peer: no other pre-training tool has a mix step to run side by side (datatrove and NeMo
Curator stop at tokenized shards; Megatron's blend weights are hand-written), so this measures
textmill alone.

    python benchmarks/mix_scale.py [--plan-docs N] [--copy-docs N] [--work DIR]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[1]
LANGS = ["en", "fr", "de", "sw", "yo"]
LANG_SHARES = np.array([0.70, 0.15, 0.10, 0.04, 0.01])
TOKENS_PER_DOC = 256  # ~1 KB of text at ~4 bytes per token


def tokenizer(work: Path) -> tuple[Path, str]:
    from textmill.tokens.tokenizer import load_tokenizer, train_bpe

    path = work / "tokenizer.json"
    train_bpe(["the quick brown fox jumps over the lazy dog"] * 20, 300).save(str(path))
    return path, load_tokenizer(path).sha256


def tok_folder(folder: Path, docs: int, sha: str, seed: int, with_tokens: bool) -> None:
    """A TOK folder as `textmill tokenize --format memmap` writes it (without tokens: a
    Megatron one whose .bin/.idx are empty, for the plan and the blend line)."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True)
    lengths = np.clip(rng.normal(TOKENS_PER_DOC, 64, docs), 8, None).astype(np.int64)
    offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    ids = pc.binary_join_element_wise(
        pa.array([f"{folder.name}-"] * docs), pa.array(np.arange(docs)).cast(pa.string()), ""
    )
    lang = pa.array(np.array(LANGS)[rng.choice(len(LANGS), docs, p=LANG_SHARES)])
    table = pa.table(
        {"id": ids, "source": pa.array([folder.name] * docs), "lang": lang,
         "tokens": pa.array(lengths), "offset": pa.array(offsets)}
    )  # fmt: skip
    pq.write_table(table, folder / "documents.parquet")
    total = int(lengths.sum())
    files = []
    if with_tokens:
        chunk = 1 << 26
        with open(folder / "tokens.bin", "wb") as out:
            for start in range(0, total, chunk):
                rng.integers(1, 300, min(chunk, total - start), dtype=np.uint16).tofile(out)
        files = ["tokens.bin"]
    else:  # the blend line needs the prefix files to exist, not their contents
        (folder / "tokens.bin").touch()
        (folder / "tokens.idx").touch()
    manifest = {"tokens": total, "documents": docs, "tokenizer_sha256": sha,
                "format": "memmap" if with_tokens else "megatron", "format_dtype": "uint16",
                "files": files}  # fmt: skip
    (folder / "manifest.json").write_text(json.dumps(manifest))


PEAK = "mix-scale-peak-rss-kb"
CHILD = (
    "import resource, runpy, sys\n"
    "sys.argv = ['textmill', *sys.argv[1:]]\n"
    "try:\n"
    "    runpy.run_module('textmill', run_name='__main__')\n"
    "finally:\n"
    f"    print('{PEAK}', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)\n"
)


def run_mix(spec: dict, spec_path: Path, out: Path, *extra: str) -> tuple[float, float, str]:
    """Seconds, peak RSS (MB) and output of one `textmill mix` process."""
    spec_path.write_text(json.dumps(spec))
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", CHILD, "mix", str(spec_path), "-o", str(out), *extra],
        capture_output=True, text=True, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    seconds = time.perf_counter() - started
    if done.returncode:
        raise SystemExit(f"textmill mix failed: {done.stderr.strip()}")
    peak = next(int(line.split()[1]) for line in done.stderr.splitlines() if line.startswith(PEAK))
    return seconds, peak / 1024, done.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--plan-docs", type=int, default=10_000_000)
    parser.add_argument("--copy-docs", type=int, default=1_000_000)
    parser.add_argument("--work", type=Path, default=None)
    args = parser.parse_args()
    work = Path(args.work or tempfile.mkdtemp(prefix="mix-scale-"))
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    path, sha = tokenizer(work)
    results = []

    started = time.perf_counter()
    tok_folder(work / "big", args.plan_docs, sha, 0, with_tokens=False)
    print(f"made {args.plan_docs:,} documents in {time.perf_counter() - started:.1f} s")
    spec = {"sources": [{"path": str(work / "big")}], "group_by": "lang", "temperature": 3.0,
            "max_epochs": 4, "tokenizer": str(path), "output": {"format": "memmap"}}  # fmt: skip
    seconds, rss, printed = run_mix(spec, work / "plan.yaml", work / "plan-out", "--dry-run")
    print(printed)
    results.append(("plan (dry run), temperature 3, 4 epochs", args.plan_docs, seconds, rss))

    share = max(1, args.plan_docs // len(LANGS))
    for index, lang in enumerate(LANGS):
        tok_folder(work / f"tok-{lang}", share, sha, index + 1, with_tokens=False)
    spec = {"sources": [{"path": str(work / f"tok-{lang}"), "name": lang} for lang in LANGS],
            "temperature": 3.0, "output": {"format": "blend"}}  # fmt: skip
    seconds, rss, printed = run_mix(spec, work / "blend.yaml", work / "blend-out")
    results.append(("Megatron blend line, 5 TOK folders", share * len(LANGS), seconds, rss))

    tok_folder(work / "copy", args.copy_docs, sha, 9, with_tokens=True)
    spec = {"sources": [{"path": str(work / "copy")}], "group_by": "lang",
            "weights": {"en": 0.5, "fr": 0.3, "*": 0.2}, "max_epochs": 2,
            "tokenizer": str(path), "output": {"format": "memmap"}}  # fmt: skip
    seconds, rss, printed = run_mix(spec, work / "copy.yaml", work / "copy-out")
    print(printed)
    mixed = json.loads((work / "copy-out" / "manifest.json").read_text())
    results.append(
        (f"copy + shuffle -> memmap ({mixed['tokens']:,} tokens)", args.copy_docs, seconds, rss)
    )

    print("\n| run | documents in | seconds | peak RSS (MB) |\n|---|---|---|---|")
    for name, docs, seconds, rss in results:
        print(f"| {name} | {docs:,} | {seconds:.1f} | {rss:,.0f} |")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
