"""Do small-LM selection and curriculum order train a better model? `textmill verify` at equal
tokens on the shared web text.

The recipe of perplexity-based pruning (Ankner et al. 2024) and of small-LM selection: a small
reference LM is trained on a random share of the data itself (`textmill lm train`, here 25% of
../shared/data/web/web_text.jsonl.gz), it scores the rest (`lm_score`), and then

- all: every scored document, shuffled;
- slm_middle / slm_low / slm_hard: the middle, low or "informative and hard" half by SLM loss,
  shuffled (lm_score `keep: middle|low|hard, fraction: 0.5`);
- curriculum: every scored document easy -> hard by `lm_loss` in 4 stages shuffled inside each
  (`textmill order --by lm_loss --stages 4`), trained in that order (`verify --ordered`);
- anti_curriculum: the same, hard -> easy (`--descending`);
- random: the very same ordered folder, shuffled by verify (same documents, same budget).

All get the same token budget, one BPE, the same seeds; each model is scored on the CS336
high-quality Wikipedia reference. Printed: per-seed paired differences (curriculum - random,
selection - all) with their mean and standard deviation across seeds.

usage: .venv/bin/python benchmarks/verify_curriculum.py [--size tiny] [--tokens 60000]
       [--seeds 0 1 2] [--threads 1] [--out DIR] [--data ../shared/data]
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
WEB_TEXT = Path("web") / "web_text.jsonl.gz"
REFERENCE = Path("quality") / "fixtures" / "cs336_high_quality_wiki_reference.txt"
SLM_SHARE = 0.25


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def split(web_text: Path, out: Path) -> tuple[Path, Path, int, int]:
    """A seeded 25% of the web text for the small LM, the rest the pool it scores."""
    with gzip.open(web_text, "rt", encoding="utf-8") as handle:
        rows = [json.loads(line) for line in handle.read().split("\n") if line.strip()]
    rows = [row for row in rows if row.get("text", "").strip()]
    chosen = set(np.random.default_rng(0).permutation(len(rows))[: int(len(rows) * SLM_SHARE)])
    slm, pool = out / "slm_reference.jsonl", out / "pool.jsonl"
    with slm.open("w", encoding="utf-8") as a, pool.open("w", encoding="utf-8") as b:
        for i, row in enumerate(rows):
            line = json.dumps({"id": row["id"], "text": row["text"]}, ensure_ascii=False)
            (a if i in chosen else b).write(line + "\n")
    return slm, pool, len(chosen), len(rows) - len(chosen)


def paired(report: dict, better: str, base: str) -> dict:
    """`better` minus `base`, per seed (negative: `better` has the lower reference loss)."""
    by_name = {entry["name"]: entry for entry in report["datasets"]}
    differences = np.asarray(by_name[better]["losses"]) - np.asarray(by_name[base]["losses"])
    spread = by_name[better]["loss_std"] + by_name[base]["loss_std"]
    return {
        "compare": f"{better} - {base}",
        "per_seed": [round(float(d), 4) for d in differences],
        "mean": float(differences.mean()),
        "std": float(differences.std(ddof=1)) if len(differences) > 1 else 0.0,
        "seed_spread": spread,
        "beyond_seed_spread": bool(abs(differences.mean()) > spread),
        "same_sign_every_seed": bool((differences < 0).all() or (differences > 0).all()),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="tiny", help="verify size of the compared models")
    parser.add_argument("--slm-size", default="tiny", help="size of the small reference LM")
    parser.add_argument("--tokens", type=int, default=60_000, help="training tokens per dataset")
    parser.add_argument("--slm-tokens", type=int, default=100_000)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", default=None, help="work and report folder (default: temp)")
    parser.add_argument("--data", type=Path, default=DATA, help="the shared data folder")
    args = parser.parse_args()
    web_text, reference = args.data / WEB_TEXT, args.data / REFERENCE
    if not web_text.is_file() or not reference.is_file():
        print(f"benchmark data not found under {args.data}: nothing to measure")
        return 0
    from textmill.api import Pipeline
    from textmill.order import order
    from textmill.train.lm import train_lm
    from textmill.train.verify import Dataset, options_for_size, verify

    out = Path(args.out or tempfile.mkdtemp(prefix="textmill-curriculum-"))
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    slm_reference, pool, slm_docs, pool_docs = split(web_text, out)
    log(f"small LM reference: {slm_docs:,} documents; pool: {pool_docs:,}")
    slm_options = options_for_size(
        args.slm_size, tokens_per_dataset=args.slm_tokens, seeds=[0], threads=args.threads
    )
    config = train_lm([str(slm_reference)], out / "slm", slm_options, overwrite=True, log=log)
    log(f"small LM: held-out loss {config['heldout_loss']:.4f}, languages {config['langs']}")
    scoring = time.perf_counter()
    lm = {"model_path": str(out / "slm")}
    stats = Pipeline([("lm_score", lm)]).run([str(pool)], out / "all", overwrite=True,
                                             progress=False)  # fmt: skip
    kept = {"all": stats["kept"]}
    counters = next(stage for stage in stats["stages"] if stage["name"] == "lm_score")
    log(f"lm_score counters: {counters.get('counters')}")
    scoring_s = time.perf_counter() - scoring
    for name, keep in (("slm_middle", "middle"), ("slm_low", "low"), ("slm_hard", "hard")):
        select = {**lm, "keep": keep, "fraction": 0.5, "reuse_scores": True}  # no rescoring
        stats = Pipeline([("lm_score", select)]).run(
            [str(out / "all" / "data")], out / name, overwrite=True, progress=False
        )
        kept[name] = stats["kept"]
        log(f"{name}: kept {stats['kept']:,} of {stats['read']:,}")
    ordered = order(out / "all", out / "curriculum", by="lm_loss", stages=4, overwrite=True)
    log(f"curriculum: {ordered['documents']:,} documents in 4 stages")
    order(out / "all", out / "anti_curriculum", by="lm_loss", stages=4, descending=True,
          overwrite=True)  # fmt: skip
    options = options_for_size(
        args.size, tokens_per_dataset=args.tokens, seeds=args.seeds, threads=args.threads
    )
    names = ["all", "slm_middle", "slm_low", "slm_hard"]
    datasets = [Dataset(name, [str(out / name)]) for name in names]
    datasets += [
        Dataset("curriculum", [str(out / "curriculum")]),
        Dataset("random", [str(out / "curriculum")]),
        Dataset("anti_curriculum", [str(out / "anti_curriculum")]),
    ]
    report = verify(
        datasets, [str(reference)], out / "verify", options,
        ordered=["curriculum", "anti_curriculum"], log=log,
    )  # fmt: skip
    comparisons = [
        paired(report, "curriculum", "random"),
        paired(report, "anti_curriculum", "random"),
        *(paired(report, name, "all") for name in names[1:]),
    ]
    for entry in report["datasets"]:
        print(
            f"{entry['name']:>12}  {entry['documents']:>5} docs  loss {entry['loss_mean']:.4f} "
            f"± {entry['loss_std']:.4f}  seeds {[round(x, 4) for x in entry['losses']]}"
        )
    for row in comparisons:
        print(
            f"{row['compare']:>22}: {row['mean']:+.4f} ± {row['std']:.4f} nats/token "
            f"(per seed {row['per_seed']}; seed spread {row['seed_spread']:.4f}; "
            f"{'beyond' if row['beyond_seed_spread'] else 'within'} it)"
        )
    summary = {
        "slm": {k: config[k] for k in ("heldout_loss", "langs", "tokens_trained", "parameters")},
        "kept": kept,
        "scoring_s": round(scoring_s, 1),
        "tokens_per_dataset": report["tokens_per_dataset"],
        "model_parameters": report["model_parameters"],
        "comparisons": comparisons,
        "elapsed_s": round(time.perf_counter() - started, 1),
    }
    (out / "curriculum_summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(
        f"budget {report['tokens_per_dataset']:,} tokens per dataset, "
        f"{report['model_parameters']:,}-parameter GPT, {len(args.seeds)} seeds; "
        f"total {summary['elapsed_s']} s; report {out / 'curriculum_summary.json'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
