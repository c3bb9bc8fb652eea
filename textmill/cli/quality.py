"""`textmill quality train|select-seeds` and `textmill verify` (learned quality, Ultra-FineWeb)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from textmill.cli.args import number, whole
from textmill.io import InputError


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _add_verify_arguments(parser: argparse.ArgumentParser) -> None:
    from textmill.train.verify import SIZES

    parser.add_argument(
        "--reference", action="append", required=True, metavar="FILE",
        help="held-out clean text the models are scored on (repeatable)",
    )  # fmt: skip
    parser.add_argument("--out", required=True, metavar="DIR", help="report directory")
    parser.add_argument(
        "--size", choices=list(SIZES), default="small",
        help="model and budget preset (small: ≤ 10 min on a 2-core CPU; base: a GPU)",
    )  # fmt: skip
    parser.add_argument("--seeds", type=whole(0), nargs="+", help="model seeds (default: 0 1 2)")
    parser.add_argument("--tokens", type=whole(1), help="training tokens per dataset")
    parser.add_argument("--device", help="torch device: cpu (default), cuda, cuda:1 ...")
    parser.add_argument("--threads", type=whole(1), help="torch CPU threads")
    parser.add_argument("--text-field", default="text", help="JSONL/Parquet text field")


def _verify_options(args: argparse.Namespace) -> Any:
    from textmill.train.verify import options_for_size

    return options_for_size(
        args.size,
        seeds=args.seeds,
        tokens_per_dataset=args.tokens,
        device=args.device,
        threads=args.threads,
    )


def _print_verify(report: dict[str, Any]) -> None:
    for entry in sorted(report["datasets"], key=lambda d: d["loss_mean"]):
        print(
            f"{entry['name']:>20}  loss {entry['loss_mean']:.4f} ± {entry['loss_std']:.4f}  "
            f"ppl {entry['perplexity_mean']:.1f}  seeds {[round(x, 4) for x in entry['losses']]}"
        )
    for row in report["comparisons"]:
        verdict = "beyond" if row["beyond_seed_spread"] else "WITHIN"
        print(
            f"{row['better']} beats {row['worse']} by {row['loss_difference']:.4f} nats/token "
            f"({verdict} the seed spread {row['seed_spread']:.4f})"
        )


def cmd_verify(args: argparse.Namespace) -> int:
    from textmill.train.verify import parse_dataset, verify

    datasets = [parse_dataset(argument) for argument in args.datasets]
    report = verify(
        datasets, args.reference, args.out, _verify_options(args),
        text_field=args.text_field, ordered=args.ordered, log=_log,
    )  # fmt: skip
    _print_verify(report)
    print(f"report: {Path(args.out) / 'verify.json'}")
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from textmill.quality.classifier import metrics_path, train_classifier
    from textmill.quality.inputs import read_texts

    positives = read_texts(args.pos, text_field=args.text_field, limit=args.limit)
    negatives = read_texts(args.neg, text_field=args.text_field, limit=args.limit)
    _log(f"training on {len(positives):,} positive and {len(negatives):,} negative documents")
    metrics = train_classifier(positives, negatives, args.output, train_options(args))
    print(metrics.summary())
    print(f"model: {args.output}  metrics: {metrics_path(args.output)}")
    return 0


def cmd_select_seeds(args: argparse.Namespace) -> int:
    """Verify every candidate pool, keep the one whose data gives the lowest reference loss."""
    from textmill.train.verify import parse_dataset, verify

    pools = [parse_dataset(argument) for argument in args.pools]
    out_dir = Path(args.out)
    report = verify(
        pools, args.reference, out_dir / "verify", _verify_options(args),
        text_field=args.text_field, log=_log,
    )  # fmt: skip
    _print_verify(report)
    best = report["best"]
    chosen = next(entry for entry in report["datasets"] if entry["name"] == best)
    clear = all(row["beyond_seed_spread"] for row in report["comparisons"])
    decision: dict[str, Any] = {
        "chosen": best,
        "paths": chosen["paths"],
        "clear": clear,
        "reason": (
            f"lowest mean reference loss ({chosen['loss_mean']:.4f} over "
            f"{len(chosen['losses'])} seeds)"
            + ("" if clear else "; NOT beyond the seed spread of every other pool")
        ),
    }
    if args.neg:
        from textmill.quality.classifier import TrainOptions, train_classifier
        from textmill.quality.inputs import read_texts

        model_path = out_dir / "quality.bin"
        metrics = train_classifier(
            read_texts(chosen["paths"], text_field=args.text_field),
            read_texts(args.neg, text_field=args.text_field),
            model_path,
            TrainOptions(bucket=args.bucket),
        )
        decision["classifier"] = {"model": str(model_path), "auc": metrics.auc}
        print(metrics.summary())
    evidence = {
        "decision": decision,
        "evidence": {
            "verify_report": str(out_dir / "verify" / "verify.json"),
            "pools": [
                {k: entry[k] for k in ("name", "paths", "loss_mean", "loss_std", "losses")}
                for entry in report["datasets"]
            ],
            "comparisons": report["comparisons"],
        },
    }
    (out_dir / "seed_selection.json").write_text(json.dumps(evidence, indent=2) + "\n")
    print(f"chosen: {best} ({decision['reason']}); see {out_dir / 'seed_selection.json'}")
    return 0


def add_train_arguments(parser: argparse.ArgumentParser) -> None:
    """fastText's training flags, shared by every `train` command (quality, classify)."""
    from textmill.quality.classifier import TrainOptions  # no fastText import: cheap

    defaults = TrainOptions()
    parser.add_argument(
        "--holdout",
        type=number(at_least=0, below=1),
        default=defaults.holdout_fraction,
        help="held-out fraction per class",
    )
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--word-ngrams", type=whole(1), default=defaults.word_ngrams)
    parser.add_argument("--dim", type=whole(1), default=defaults.dim)
    parser.add_argument("--epoch", type=whole(1), default=defaults.epoch)
    parser.add_argument("--lr", type=number(above=0), default=defaults.lr)
    parser.add_argument(
        "--bucket", type=whole(1), default=defaults.bucket, help="hashed n-gram rows (model size)"
    )
    parser.add_argument(
        "--threads", type=whole(1), default=defaults.threads, help="1 keeps training deterministic"
    )


def train_options(args: argparse.Namespace) -> Any:
    """The TrainOptions that `add_train_arguments`'s flags spell."""
    from textmill.quality.classifier import TrainOptions

    return TrainOptions(
        word_ngrams=args.word_ngrams, dim=args.dim, epoch=args.epoch, lr=args.lr,
        bucket=args.bucket, holdout_fraction=args.holdout, seed=args.seed, threads=args.threads,
    )  # fmt: skip


def guard(handler):
    """Bad input becomes a one-line message and exit code 2, not a traceback."""

    def run(args: argparse.Namespace) -> int:
        try:
            return handler(args)
        except (InputError, OSError, ValueError, ImportError) as error:
            if isinstance(error, OSError) and error.filename and error.strerror:
                error = f"{error.filename}: {error.strerror}"  # not "[Errno None] ...: 'path'"
            print(f"textmill {args.command}: {error}", file=sys.stderr)
            return 2

    return run


def register(commands: Any) -> None:
    """Add `quality` (train, select-seeds) and `verify` to the `textmill` subcommands."""
    from textmill.quality.classifier import TrainOptions  # no fastText import: cheap

    quality = commands.add_parser("quality", help="learned quality classifier (Ultra-FineWeb)")
    actions = quality.add_subparsers(dest="quality_command", required=True)

    train = actions.add_parser("train", help="train a fastText quality classifier")
    train.add_argument("--pos", nargs="+", required=True, help="positive examples (files/dirs)")
    train.add_argument("--neg", nargs="+", required=True, help="negative examples (files/dirs)")
    train.add_argument("-o", "--output", required=True, help="model path, e.g. quality.bin")
    add_train_arguments(train)
    defaults = TrainOptions()
    train.add_argument("--limit", type=whole(1), help="at most this many documents per class")
    train.add_argument("--text-field", default="text", help="JSONL/Parquet text field")
    train.set_defaults(handler=guard(cmd_train))

    select = actions.add_parser(
        "select-seeds", help="verify candidate positive pools and pick the best"
    )
    select.add_argument("pools", nargs="+", metavar="NAME=PATH", help="candidate pools (2+)")
    select.add_argument("--neg", nargs="+", help="negatives: also train the classifier")
    select.add_argument(
        "--bucket", type=whole(1), default=defaults.bucket, help="classifier n-gram rows"
    )
    _add_verify_arguments(select)
    select.set_defaults(handler=guard(cmd_select_seeds))

    verify = commands.add_parser(
        "verify", help="train the same small LM on each dataset; compare held-out loss"
    )
    verify.add_argument("datasets", nargs="+", metavar="NAME=PATH", help="datasets (2+)")
    _add_verify_arguments(verify)
    verify.add_argument(
        "--ordered", action="append", default=[], metavar="NAME",
        help="train dataset NAME in its given order (a curriculum), not shuffled (repeatable)",
    )  # fmt: skip
    verify.set_defaults(handler=guard(cmd_verify))
