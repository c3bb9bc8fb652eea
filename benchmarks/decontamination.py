"""Benchmark decontamination: textmill's `decontaminate` stage against datatrove's n-gram
decontamination, side by side on the same corpus, the same benchmarks and the same n.

Benchmarks: gsm8k, HumanEval, MMLU (../shared/data/benchmarks) and the 5,000 MATH test problems
(../shared/data/math), all items. Corpus: the shared web text plus documents this script plants
(seeded) from a sample of benchmark items, each inside a copy of a web document:
  verbatim  the item as it is;
  edited    lightly edited: case, punctuation, spacing, typographic quotes and full-width digits
            changed, and one word in 50 replaced;
  near      a near-miss that must not match: every 6th word replaced, so no 13 consecutive
            words of the item remain.
Both sides index every n-gram of the whole item (datatrove: find_query_ngrams and
find_overlap_ngrams on, number normalisation off, as textmill compares); each runs on one core.
Prints recall per planted kind, false positives on near-misses, precision, the share of
identical flagged/unflagged decisions, docs/s per core, and index build times.

usage: .venv/bin/python benchmarks/decontamination.py [--per-benchmark N] [--ngram N] [--seed S]
"""

from __future__ import annotations

import os

for _name in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_name] = "1"

import argparse  # noqa: E402
import gzip  # noqa: E402
import json  # noqa: E402
import random  # noqa: E402
import re  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

HERE = Path(__file__).resolve().parent
# ../shared/data beside the checkout (a worktree may sit a level deeper)
SHARED = next(
    (p / "shared" / "data" for p in HERE.parents if (p / "shared" / "data").is_dir()),
    HERE.parents[1] / "shared" / "data",
)
WEB = SHARED / "web" / "web_text.jsonl.gz"
BENCHMARKS = {
    # name: (layout, file, query fields, label fields) — datatrove takes query + label
    "gsm8k": ("gsm8k", SHARED / "benchmarks" / "gsm8k_test.jsonl", ["question"], ["answer"]),
    "humaneval": (
        "humaneval",
        SHARED / "benchmarks" / "HumanEval.jsonl.gz",
        ["prompt"],
        ["canonical_solution"],
    ),
    "mmlu": ("mmlu", SHARED / "benchmarks" / "mmlu_test.jsonl", ["question"], ["choices"]),
    "math": (
        "math",
        SHARED / "math" / "math_competition_test_full.jsonl.gz",
        ["problem"],
        ["solution"],
    ),
}
# xxhash < 4: datatrove 0.10.1 hashes str, which xxhash 4 refuses
DATATROVE_PACKAGES = ("datatrove==0.10.1", "spacy==3.8.18", "regex==2026.11.15", "xxhash==3.6.0")
KINDS = ("verbatim", "edited", "near")
WORD = re.compile(r"[^\W_]+")
FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")


def ensure_datatrove_venv() -> Path:
    sys.path.insert(0, str(HERE))
    from filters_vs_datatrove import DATATROVE_VENV

    python = DATATROVE_VENV / "bin" / "python"
    probe = [str(python), "-c", "import datatrove, spacy, regex, xxhash"]
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(DATATROVE_VENV)], check=True)
    if subprocess.run(probe, capture_output=True).returncode != 0:
        subprocess.run([str(python), "-m", "pip", "install", "-q", *DATATROVE_PACKAGES], check=True)
    return python


def read_jsonl(path: Path) -> list[dict]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as handle:
        text = handle.read().decode("utf-8")
    return [json.loads(line) for line in text.split("\n") if line.strip()]


def field_text(record: dict, fields: list[str]) -> str:
    parts = []
    for name in fields:
        value = record[name]
        parts.append("\n".join(map(str, value)) if isinstance(value, list) else str(value))
    return "\n".join(p for p in parts if p.strip())


def light_edit(text: str, rng: random.Random, vocabulary: list[str]) -> str:
    """Changes that normalisation should see through, and one word in 50 replaced."""
    words = text.split()
    for i in range(len(words)):
        roll = rng.random()
        if roll < 0.1:
            words[i] = words[i].upper()
        elif roll < 0.2:
            words[i] = words[i].capitalize()
        elif roll < 0.25:
            words[i] = words[i].strip(".,;:!?") or words[i]
    for i in rng.sample(range(len(words)), len(words) // 50):
        words[i] = rng.choice(vocabulary)
    edited = "  ".join(words) if rng.random() < 0.5 else " ".join(words)
    edited = edited.replace("'", "\u2019").replace('"', "\u201c")
    return edited.translate(FULL_WIDTH) if rng.random() < 0.3 else edited


def near_miss(text: str, rng: random.Random, vocabulary: list[str]) -> str:
    """Every 5th word (a run of letters or digits, as normalisation counts words in code and
    formulas too) replaced by another: no 13 consecutive words of the item remain."""
    count = 0

    def replace(match: re.Match[str]) -> str:
        nonlocal count
        count += 1
        if count % 5:
            return match.group(0)
        replacement = rng.choice(vocabulary)
        while replacement.lower() == match.group(0).lower():
            replacement = rng.choice(vocabulary)
        return replacement

    return WORD.sub(replace, text)


def inside(host: str, planted: str, rng: random.Random) -> str:
    paragraphs = host.split("\n")
    at = rng.randrange(len(paragraphs) + 1)
    return "\n".join([*paragraphs[:at], planted, *paragraphs[at:]])


def plant(
    items: dict[str, list[dict]], web: list[dict], per_benchmark: int, ngram: int, seed: int
) -> tuple[list[dict], dict[str, tuple[str, str, str]]]:
    """Planted documents and, per planted id, (kind, benchmark, host web document id)."""
    rng = random.Random(seed)
    english = [d for d in web if sum(c.isascii() for c in d["text"][:500]) > 450]
    vocabulary = sorted({w for d in english[:300] for w in d["text"].split() if w.isalpha()})
    docs, truth = [], {}
    for name, records in items.items():
        eligible = [r for r in records if len(r["text"].split()) >= ngram + 2]
        for k, record in enumerate(rng.sample(eligible, min(per_benchmark, len(eligible)))):
            for kind in KINDS:
                text = record["text"]
                if kind == "edited":
                    text = light_edit(text, rng, vocabulary)
                elif kind == "near":
                    text = near_miss(text, rng, vocabulary)
                doc_id = f"planted/{kind}/{name}/{k}"
                host = rng.choice(english)
                docs.append({"id": doc_id, "text": inside(host["text"], text, rng)})
                truth[doc_id] = (kind, name, str(host["id"]))
    return docs, truth


def run_textmill(
    specs: list[dict], corpus: list[dict], ngram: int, batch_size: int
) -> tuple[dict[str, float], dict[str, str]]:
    from textmill.document import make_batch
    from textmill.stages.safety.decontaminate import Decontaminate

    timings = {}
    for build in ("cold", "warm"):  # cold: the process's first, loading numba's cache too
        stage = Decontaminate(benchmarks=specs, ngram=ngram)
        started, started_cpu = time.perf_counter(), time.process_time()
        stage.setup()
        timings[f"index_{build}"] = time.perf_counter() - started
        timings[f"index_{build}_cpu"] = time.process_time() - started_cpu
    batches = [
        make_batch(
            [d["id"] for d in corpus[i : i + batch_size]],
            [d["text"] for d in corpus[i : i + batch_size]],
        )
        for i in range(0, len(corpus), batch_size)
    ]
    stage.process(batches[0].slice(0, 4))  # JIT cache load
    flagged: dict[str, str] = {}
    started, started_cpu = time.perf_counter(), time.process_time()
    for batch in batches:
        _, decision = stage.process(batch)
        for doc_id, reason in zip(
            batch["id"].to_pylist(), decision.reasons.to_pylist(), strict=True
        ):
            if reason is not None:
                flagged[doc_id] = reason.removeprefix("benchmark=")
    timings["seconds"] = time.perf_counter() - started
    timings["cpu"] = time.process_time() - started_cpu
    return timings, flagged


def run_datatrove(
    python: Path, items: dict[str, list[dict]], corpus: list[dict], ngram: int
) -> tuple[dict[str, float], dict[str, str]]:
    with tempfile.TemporaryDirectory() as workdir:
        items_path, corpus_path = Path(workdir) / "items.jsonl", Path(workdir) / "corpus.jsonl"
        with open(items_path, "w", encoding="utf-8") as out:
            for name, records in items.items():
                for r in records:
                    out.write(json.dumps({"task": name, **r["datatrove"]}) + "\n")
        with open(corpus_path, "w", encoding="utf-8") as out:
            out.writelines(json.dumps(d) + "\n" for d in corpus)
        output = Path(workdir) / "datatrove.json"
        subprocess.run(
            [str(python), str(HERE / "datatrove_decon.py"), str(items_path), str(corpus_path),
             str(output), "--ngram", str(ngram)],
            check=True, env={**os.environ, "PYTHONNOUSERSITE": "1"},
        )  # fmt: skip
        result = json.loads(output.read_text())
    return result, result.pop("flagged")


def scores(
    flagged: dict[str, str], truth: dict[str, tuple[str, str, str]], dirty_hosts: set[str]
) -> dict[str, float]:
    """Recall per kind, near-miss false positives and precision over planted documents whose
    host web page matched nothing on either side (a contaminated host says nothing about the
    planted text)."""
    truth = {i: t for i, t in truth.items() if t[2] not in dirty_hosts}
    out: dict[str, float] = {}
    for kind in KINDS:
        ids = [i for i, t in truth.items() if t[0] == kind]
        out[kind] = sum(i in flagged for i in ids) / len(ids)
    positives = {i for i, t in truth.items() if t[0] != "near"}
    flagged_planted = [i for i in flagged if i in truth]
    out["near_fp"] = sum(1 for i, t in truth.items() if t[0] == "near" and i in flagged)
    out["web_flagged"] = sum(1 for i in flagged if not i.startswith("planted/"))
    out["precision"] = len(positives & set(flagged)) / max(1, len(flagged_planted))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-benchmark", type=int, default=150, help="items planted each")
    parser.add_argument("--ngram", type=int, default=13)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batch-size", type=int, default=1000)
    args = parser.parse_args()
    missing = [p for p in [WEB, *(b[1] for b in BENCHMARKS.values())] if not p.exists()]
    if missing:
        print(f"{missing[0]} is absent: nothing to benchmark (the shared data is not mounted).")
        return 0
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    python = ensure_datatrove_venv()

    items: dict[str, list[dict]] = {}
    for name, (_, path, query, label) in BENCHMARKS.items():
        items[name] = [
            {
                "text": field_text(r, query + label),
                "datatrove": {"query": field_text(r, query), "label": field_text(r, label)},
            }
            for r in read_jsonl(path)
        ]
    web = read_jsonl(WEB)
    planted, truth = plant(items, web, args.per_benchmark, args.ngram, args.seed)
    corpus = [{"id": str(d["id"]), "text": d["text"]} for d in web] + planted
    specs = [{"layout": layout, "path": str(path)} for layout, path, _, _ in BENCHMARKS.values()]
    print(
        f"{len(web):,} web documents + {len(planted):,} planted ({args.per_benchmark} items per "
        f"benchmark x {len(KINDS)} kinds); benchmarks: "
        + ", ".join(f"{n} {len(v):,}" for n, v in items.items())
        + f"; n = {args.ngram}; one core each"
    )

    tm_time, tm = run_textmill(specs, corpus, args.ngram, args.batch_size)
    dt_time, dt = run_datatrove(python, items, corpus, args.ngram)

    n = len(corpus)
    same = sum((d["id"] in tm) == (d["id"] in dt) for d in corpus)
    print(f"{'':18}{'textmill':>12}{'datatrove':>12}")
    dirty_hosts = {i for i in set(tm) | set(dt) if not i.startswith("planted/")}
    excluded = sum(1 for t in truth.values() if t[2] in dirty_hosts)
    tm_scores, dt_scores = scores(tm, truth, dirty_hosts), scores(dt, truth, dirty_hosts)
    for key, label in (
        ("verbatim", "recall verbatim"),
        ("edited", "recall edited"),
        ("near", "near-miss FP rate"),
        ("near_fp", "near-miss FPs"),
        ("precision", "precision planted"),
        ("web_flagged", "web docs flagged"),
    ):
        print(f"{label:18}{tm_scores[key]:12.3f}{dt_scores[key]:12.3f}")
    for key, label in (("seconds", "docs/s per core"), ("cpu", "docs/CPU-s")):
        print(f"{label:18}{n / tm_time[key]:12.1f}{n / dt_time[key]:12.1f}")
    print(f"{'index build s':18}{tm_time['index_cold']:12.2f}{dt_time['index_seconds']:12.2f}")
    print(f"{'index build CPU s':18}{tm_time['index_cold_cpu']:12.2f}{dt_time['index_cpu']:12.2f}")
    print(
        f"textmill index    : warm {tm_time['index_warm']:.2f} s wall, "
        f"{tm_time['index_warm_cpu']:.2f} s CPU (cold: the process's first build)"
    )
    print(f"speed ratio       : {dt_time['seconds'] / tm_time['seconds']:.1f}x wall, "
          f"{dt_time['cpu'] / tm_time['cpu']:.1f}x CPU")  # fmt: skip
    print(f"planted documents : {excluded} left out of the scores (their host page matched)")
    print(f"agreement         : {100 * same / n:.2f}% of {n:,} documents flagged identically")
    differ = [d["id"] for d in corpus if (d["id"] in tm) != (d["id"] in dt)]
    print(f"disagreements ({len(differ)}):")
    for doc_id in differ[:40]:
        print(f"  {doc_id}: textmill {tm.get(doc_id, '-')} | datatrove {dt.get(doc_id, '-')}")
    web_hits = sorted(dirty_hosts)
    print(f"web documents flagged by either ({len(web_hits)}):")
    for doc_id in web_hits[:20]:
        print(f"  {doc_id}: textmill {tm.get(doc_id, '-')} | datatrove {dt.get(doc_id, '-')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
