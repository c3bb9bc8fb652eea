"""`textmill tokenize`'s packing and shuffling options (--pack, --packing, --shuffle-seed, ...)
and the lines its summary prints about them."""

from __future__ import annotations

import argparse
from typing import Any

from textmill.cli.args import whole

MIB = 1 << 20
# the defaults live with the code that uses them; importing them here stays light
DEFAULT_WINDOW_TOKENS = 1 << 25  # textmill.tokens.pack.DEFAULT_WINDOW_TOKENS
DEFAULT_MEMORY_BYTES = 1 << 30  # textmill.tokens.shuffle.DEFAULT_MEMORY_BYTES


def add_arrange_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("packing and shuffling")
    group.add_argument(
        "--pack",
        type=whole(1),
        metavar="SEQ_LEN",
        help="write training sequences of exactly SEQ_LEN tokens with per-document cu_seqlens",
    )
    group.add_argument(
        "--packing",
        choices=("concat", "best-fit"),
        default="concat",
        help="concat: concatenate and cut (documents may span sequences); best-fit: "
        "best-fit-decreasing bins, splitting only documents longer than SEQ_LEN (Ding et al. "
        "2024) (default: %(default)s)",
    )
    group.add_argument(
        "--pack-remainder",
        choices=("pad", "drop"),
        default="pad",
        help="concat's last partial sequence: padded or dropped, counted (default: %(default)s)",
    )
    group.add_argument(
        "--pack-window-tokens",
        type=whole(1),
        default=DEFAULT_WINDOW_TOKENS,
        help="best-fit packs this many tokens at a time (memory; default: %(default)s)",
    )
    group.add_argument(
        "--pad-id",
        type=whole(0),
        help="the padding id (default: the tokenizer's pad, else its EOS, else 0)",
    )
    group.add_argument(
        "--shuffle-seed",
        type=whole(0),
        metavar="S",
        help="shuffle all documents globally, in bounded memory (same seed, same bytes)",
    )
    group.add_argument(
        "--shuffle-memory-mb",
        type=whole(1),
        default=DEFAULT_MEMORY_BYTES // MIB,
        help="memory the shuffle may hold at once, in MiB (default: %(default)s)",
    )


def arrange_settings(args: argparse.Namespace) -> dict[str, Any]:
    """TokenizeSettings fields from the parsed options."""
    return {
        "pack": args.pack,
        "packing": args.packing,
        "pack_remainder": args.pack_remainder,
        "pack_window_tokens": args.pack_window_tokens,
        "pad_id": args.pad_id,
        "shuffle_seed": args.shuffle_seed,
        "shuffle_memory_bytes": args.shuffle_memory_mb * MIB,
    }


def arrange_summary(manifest: dict[str, Any]) -> list[str]:
    """What packing and shuffling did, for the terminal."""
    lines = []
    if shuffle := manifest.get("shuffle"):
        lines.append(
            f"shuffled globally: seed {shuffle['seed']}, {shuffle['buckets']} buckets spilled"
        )
    if packing := manifest.get("packing"):
        line = (
            f"packed ({packing['method']}): {packing['sequences']:,} sequences of "
            f"{packing['seq_len']:,}; padding {packing['padding_pct']:.2f}%, documents split "
            f"{packing['split_documents']:,} ({packing['split_documents_pct']:.2f}%)"
        )
        if packing["dropped_tokens"]:
            line += f", last partial sequence dropped ({packing['dropped_tokens']:,} tokens)"
        lines.append(line)
        histogram = ", ".join(
            f"{b['min']:,}-{b['max']:,}: {b['count']:,}" for b in packing["piece_length_histogram"]
        )
        lines.append(f"piece lengths: {histogram}")
    return lines
