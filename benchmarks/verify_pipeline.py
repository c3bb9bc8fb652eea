"""Does the pipeline's output train a better model? `textmill verify` on raw vs filtered web text.

Raw: every document of ../shared/data/web/web_text.jsonl.gz (trafilatura-extracted crawl text).
Filtered: the same documents after FineWeb's filter chain (langid en > 0.65, Gopher repetition
and quality, C4, FineWeb quality; per batch, so no dedup). Both get the same token budget; each
model is scored on a clean reference (the CS336 high-quality Wikipedia text) under 3 seeds.

usage: .venv/bin/python benchmarks/verify_pipeline.py [--size small] [--seeds 0 1 2]
       [--threads N] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
WEB_TEXT = DATA / "web" / "web_text.jsonl.gz"
REFERENCE = DATA / "quality" / "fixtures" / "cs336_high_quality_wiki_reference.txt"
FILTERS = (
    ("langid", {"languages": ["en"], "min_score": 0.65}),
    ("gopher_repetition", {}),
    ("gopher_quality", {}),
    ("c4_quality", {}),
    ("fineweb_quality", {}),
)


def filtered_copy(out: Path) -> tuple[int, int]:
    """Write the documents FineWeb's filters keep to `out` (JSONL); (documents in, kept)."""
    from textmill.api import Pipeline
    from textmill.document import make_batch
    from textmill.quality.inputs import read_texts

    texts = read_texts([str(WEB_TEXT)])
    batch = make_batch([str(i) for i in range(len(texts))], texts)
    kept = Pipeline(list(FILTERS)).process(batch).kept["text"].to_pylist()
    with out.open("w", encoding="utf-8") as handle:
        for i, text in enumerate(kept):
            handle.write(json.dumps({"id": str(i), "text": text}, ensure_ascii=False) + "\n")
    return len(texts), len(kept)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="small")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--threads", type=int)
    parser.add_argument("--device")
    parser.add_argument("--out", default=None, help="report directory (default: a temp dir)")
    args = parser.parse_args()
    if not WEB_TEXT.is_file() or not REFERENCE.is_file():
        print(f"benchmark data not found under {DATA}: nothing to measure")
        return 0
    from textmill.train.verify import Dataset, options_for_size, verify

    out = Path(args.out or tempfile.mkdtemp(prefix="textmill-verify-"))
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    documents, kept = filtered_copy(out / "filtered.jsonl")
    print(f"FineWeb filters kept {kept:,} of {documents:,} documents", flush=True)
    options = options_for_size(
        args.size, seeds=args.seeds, threads=args.threads, device=args.device
    )
    report = verify(
        [
            Dataset("raw", [str(WEB_TEXT)]),
            Dataset("fineweb_filtered", [str(out / "filtered.jsonl")]),
        ],
        [str(REFERENCE)],
        out,
        options,
        log=lambda message: print(message, file=sys.stderr, flush=True),
    )
    for entry in report["datasets"]:
        print(
            f"{entry['name']:>18}: reference loss {entry['loss_mean']:.4f}"
            f" ± {entry['loss_std']:.4f} (seeds {[round(x, 4) for x in entry['losses']]}),"
            f" ppl {entry['perplexity_mean']:.1f}"
        )
    for row in report["comparisons"]:
        print(
            f"{row['better']} better by {row['loss_difference']:.4f} nats/token; seed spread "
            f"{row['seed_spread']:.4f}; beyond spread: {row['beyond_seed_spread']}; "
            f"better in every seed: {row['better_in_every_seed']}"
        )
    print(
        f"{report['tokens_per_dataset']:,} tokens per dataset, {report['model_parameters']:,} "
        f"parameters, {report['steps_per_run']} steps per run; "
        f"{time.perf_counter() - started:.0f} s in all; report {out / 'verify.json'}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
