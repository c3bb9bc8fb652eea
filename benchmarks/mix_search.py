"""Mixture law on real data: `textmill mix search` with web text as general, math as domain.

General: ../shared/data/web/web_text.jsonl.gz (trafilatura-extracted crawl text, ~12 languages).
Domain: math solutions, ../shared/data/math (1,001 MATH train problems and 1,000 GSM8K train
problems, each `problem` + `solution` as one document, written to a temporary JSONL).
Each corpus gives its own held-out reference. Prints the measurements, every fitted form with
its residuals, and the critical mixture ratio; `--seeds 0 1` measures every point under two
model seeds (how much of the residual is seed noise).

usage: .venv/bin/python benchmarks/mix_search.py [--size small] [--threads N] [--device cuda]
       [--tolerance 1%] [--seeds 0] [--out DIR]
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
import tempfile
import time
from pathlib import Path

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
WEB_TEXT = "web/web_text.jsonl.gz"
MATH = ("math/math_competition_train_sample.jsonl.gz", "math/gsm8k_train_sample.jsonl.gz")


def math_corpus(paths: list[Path], out: Path) -> int:
    """Problem and solution of every math record as one document (JSONL); the count."""
    count = 0
    with out.open("w", encoding="utf-8") as target:
        for path in paths:
            with gzip.open(path, "rt", encoding="utf-8") as source:
                for line in source.read().split("\n"):
                    if not line.strip():
                        continue
                    record = json.loads(line)
                    text = f"{record.get('problem', '')}\n{record.get('solution', '')}".strip()
                    target.write(json.dumps({"text": text}, ensure_ascii=False) + "\n")
                    count += 1
    return count


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="small")
    parser.add_argument("--seeds", type=int, nargs="+")
    parser.add_argument("--threads", type=int)
    parser.add_argument("--device")
    parser.add_argument("--tolerance", default="1%")
    parser.add_argument("--out", default=None, help="search folder (default: a temp dir)")
    parser.add_argument("--data", type=Path, default=DATA, help="the shared data folder")
    args = parser.parse_args()
    web_text, math = args.data / WEB_TEXT, [args.data / path for path in MATH]
    if not web_text.is_file() or not all(path.is_file() for path in math):
        print(f"benchmark data not found under {args.data}: nothing to measure")
        return 0
    from textmill.mix.search import options_for_size, search_mixture

    with tempfile.TemporaryDirectory() as scratch:
        domain = Path(scratch) / "math.jsonl"
        documents = math_corpus(math, domain)
        out = Path(args.out) if args.out else Path(scratch) / "search"
        options = options_for_size(
            args.size, seeds=args.seeds, threads=args.threads, device=args.device
        )
        print(
            f"general: {web_text.name}; domain: {documents} math documents; size {args.size}: "
            f"ratios {options.ratios}, tokens {options.tokens}, seeds {options.seeds}, model "
            f"{options.model.n_layer}x{options.model.d_model}, device {options.model.device}"
        )
        started = time.perf_counter()
        report, fit = search_mixture(
            [str(web_text)], [str(domain)], out, options, tolerance=args.tolerance,
            log=lambda message: print(message, file=sys.stderr, flush=True),
        )  # fmt: skip
        elapsed = time.perf_counter() - started
    print(
        "ratio  tokens    general  domain   (realized domain ratio, tokens trained, "
        "held-out losses in nats/token)"
    )
    for row in report["runs"]:
        print(
            f"{float(row['ratio']):.3f}  {int(row['tokens']):>8}  {float(row['general_loss']):.4f}"
            f"   {float(row['domain_loss']):.4f}"
        )
    print(fit.summary())
    corpora = "; ".join(
        f"{name}: {c['training_documents']} training + {c['reference_documents']} reference "
        f"documents ({c['reference_tokens']} reference tokens)"
        for name, c in report["corpora"].items()
    )
    print(f"{len(report['runs'])} models, {elapsed:.0f} s wall; {corpora}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
