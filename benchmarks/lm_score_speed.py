"""`lm_score` throughput on CPU: documents per second per core for the tiny and small verify
GPTs, side by side with a Hugging Face GPT-2 of the same shape and tokenizer scored through the
same stage (transformers' GPT2LMHeadModel: the peer a user would otherwise load).

Each model scores the same documents of ../shared/data/web/web_text.jsonl.gz (their first
`max_tokens` tokens, default 1024) in one torch thread; the models are trained for a few steps
only (speed does not depend on what the weights learned).

usage: .venv/bin/python benchmarks/lm_score_speed.py [--documents 300] [--data ../shared/data]
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
WEB_TEXT = Path("web") / "web_text.jsonl.gz"


def hf_twin(textmill_dir: Path, out: Path) -> Path:
    """A GPT-2 of the textmill model's shape with its tokenizer, saved with save_pretrained."""
    import torch
    from tokenizers import Tokenizer
    from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

    from textmill.tokens.tokenizer import END_OF_TEXT

    config = json.loads((textmill_dir / "textmill_lm.json").read_text())
    shape = config["model"]
    torch.manual_seed(0)
    model = GPT2LMHeadModel(
        GPT2Config(
            vocab_size=config["vocab_size"], n_positions=shape["seq_len"],
            n_embd=shape["d_model"], n_layer=shape["n_layer"], n_head=shape["n_head"],
            bos_token_id=0, eos_token_id=0,
        )
    )  # fmt: skip
    model.save_pretrained(out)
    tokenizer = Tokenizer.from_file(str(textmill_dir / "tokenizer.json"))
    PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, bos_token=END_OF_TEXT, eos_token=END_OF_TEXT
    ).save_pretrained(out)
    return out


def measure(model_dir: Path, texts: list[str], max_tokens: int) -> dict:
    from textmill.train.lm import load_lm

    model = load_lm(model_dir)
    model.score(texts[:8], max_tokens=max_tokens)  # warm-up
    started, cpu = time.perf_counter(), time.process_time()
    scores = model.score(texts, batch_size=16, max_tokens=max_tokens)
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu
    return {  # per core: over the process's CPU time (one torch thread), not the shared wall
        "docs_per_s": len(texts) / cpu_seconds,
        "tokens_per_s": float(scores.tokens.sum()) / cpu_seconds,
        "cpu_seconds": cpu_seconds,
        "wall_seconds": seconds,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--documents", type=int, default=300)
    parser.add_argument("--max-tokens", type=int, default=1024)
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    web_text = args.data / WEB_TEXT
    if not web_text.is_file():
        print(f"benchmark data not found under {args.data}: nothing to measure")
        return 0
    import torch

    from textmill.train.lm import train_lm
    from textmill.train.verify import options_for_size

    torch.set_num_threads(1)
    with gzip.open(web_text, "rt", encoding="utf-8") as handle:
        rows = [json.loads(line) for line in handle.read().split("\n") if line.strip()]
    texts = [row["text"] for row in rows if row.get("text", "").strip()]
    out = Path(args.out or tempfile.mkdtemp(prefix="textmill-lmspeed-"))
    out.mkdir(parents=True, exist_ok=True)
    train = out / "train.jsonl"
    train.write_text("".join(json.dumps({"text": t}) + "\n" for t in texts[1000:1600]))
    sample = texts[: args.documents]
    print(
        f"{len(sample)} documents, first {args.max_tokens} tokens each, 1 torch thread; "
        "docs/s per core = documents / process CPU seconds"
    )
    results = {}
    for size in ("tiny", "small"):
        options = options_for_size(size, tokens_per_dataset=40_000, seeds=[0], threads=1)
        train_lm([str(train)], out / size, options, overwrite=True, langs=["en"])
        mine = measure(out / size, sample, args.max_tokens)
        peer = measure(hf_twin(out / size, out / f"{size}-hf"), sample, args.max_tokens)
        params = json.loads((out / size / "textmill_lm.json").read_text())["parameters"]
        ratio = mine["docs_per_s"] / peer["docs_per_s"]
        results[size] = {"textmill": mine, "hf_gpt2": peer, "parameters": params, "ratio": ratio}
        print(
            f"{size:>5} ({params:,} params): textmill GPT {mine['docs_per_s']:.1f} docs/s "
            f"({mine['tokens_per_s']:,.0f} tokens/s) | HF GPT-2 same shape "
            f"{peer['docs_per_s']:.1f} docs/s | ratio {ratio:.2f}x"
        )
    (out / "lm_score_speed.json").write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
