"""`textmill verify`: does this data train a better model? (Ultra-FineWeb's cheap verification.)

For each dataset, the same small GPT-style model is trained from scratch on the same number of
tokens, under several seeds, with one BPE tokenizer trained on an equal sample of every dataset;
each run is scored by its loss on a held-out reference text the user names. A dataset helps when
its mean reference loss is lower than another's by more than the spread across seeds.

Needs the `verify` extra (torch, tokenizers; matplotlib for the plot).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from textmill.quality.inputs import read_texts
from textmill.tokens.reading import input_arguments  # a textmill output: its data/
from textmill.tokens.tokenizer import end_of_text_id, train_bpe

REPORT_NAME = "verify.json"
PLOT_NAME = "loss_curve.png"


@dataclass(frozen=True)
class VerifyOptions:
    """Model, budget and seeds. The default ("small") runs 2 datasets × 3 seeds on a 2-core CPU
    in under 10 minutes; see SIZES for the others."""

    tokens_per_dataset: int = 250_000  # the equal training budget, in BPE tokens
    vocab_size: int = 4096
    seq_len: int = 128
    batch_size: int = 16
    n_layer: int = 4
    n_head: int = 4
    d_model: int = 128
    lr: float = 3e-3  # peak; linear warm-up then cosine decay to 10%
    warmup_fraction: float = 0.05
    weight_decay: float = 0.1
    seeds: tuple[int, ...] = (0, 1, 2)
    data_seed: int = 0  # document order and tokenizer sample: the same for every model seed
    eval_tokens: int = 16_384  # at most this many reference tokens are scored
    eval_points: int = 8  # reference-loss evaluations along training (the loss curve)
    tokenizer_chars_per_dataset: int = 2_000_000
    device: str = "cpu"
    threads: int | None = None  # torch CPU threads; None: torch's default


SIZES: dict[str, dict[str, Any]] = {
    "tiny": dict(  # seconds: tests and smoke runs
        tokens_per_dataset=4096, vocab_size=300, seq_len=32, batch_size=8, n_layer=1,
        n_head=2, d_model=32, eval_tokens=1024, eval_points=3, seeds=(0, 1),
        tokenizer_chars_per_dataset=50_000,
    ),
    "small": {},  # the defaults above
    "base": dict(  # a GPU: ~20M parameters, 50M tokens per dataset
        tokens_per_dataset=50_000_000, vocab_size=16_384, seq_len=512, batch_size=32,
        n_layer=8, n_head=8, d_model=512, lr=1e-3, eval_tokens=262_144, eval_points=20,
        tokenizer_chars_per_dataset=20_000_000,
    ),
}  # fmt: skip


def torch_device(name: str) -> Any:
    """`name` as a torch device, refused in one line when it is none or this torch cannot use
    it (a CPU-only build asked for cuda fails deep inside `.to()` otherwise)."""
    import torch

    from textmill.io import InputError

    try:
        device = torch.device(name)
    except RuntimeError as error:
        raise InputError(f"device {name}: {error}".splitlines()[0]) from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise InputError(f"device {name}: this torch has no CUDA device (use cpu)")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise InputError(f"device {name}: {torch.cuda.device_count()} CUDA device(s) here")
    return device


def options_for_size(size: str, **overrides: Any) -> VerifyOptions:
    if size not in SIZES:
        raise ValueError(f"unknown size {size!r} (have: {', '.join(SIZES)})")
    values = {**SIZES[size], **{k: v for k, v in overrides.items() if v is not None}}
    if "seeds" in values:
        values["seeds"] = tuple(values["seeds"])
    return replace(VerifyOptions(), **values)


@dataclass
class Dataset:
    """A named dataset: its files and, once read, its texts."""

    name: str
    paths: list[str]
    texts: list[str] = field(default_factory=list, repr=False)


def parse_dataset(argument: str) -> Dataset:
    """`NAME=PATH[,PATH...]`, or a bare path named after its file."""
    if "=" in argument and not Path(argument).exists():
        name, _, paths = argument.partition("=")
        return Dataset(name, [p for p in paths.split(",") if p])
    stem = Path(argument.rstrip("/")).name.split(".")[0]
    return Dataset(stem or argument, [argument])


def _build_model(options: VerifyOptions, vocab_size: int) -> Any:
    """A GPT-2-style decoder: pre-LayerNorm blocks, learned positions, tied embeddings."""
    import torch
    from torch import nn
    from torch.nn import functional as F

    class Block(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.ln_1 = nn.LayerNorm(options.d_model)
            self.qkv = nn.Linear(options.d_model, 3 * options.d_model)
            self.proj = nn.Linear(options.d_model, options.d_model)
            self.ln_2 = nn.LayerNorm(options.d_model)
            self.mlp = nn.Sequential(
                nn.Linear(options.d_model, 4 * options.d_model),
                nn.GELU(),
                nn.Linear(4 * options.d_model, options.d_model),
            )

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            batch, length, width = x.shape
            q, k, v = self.qkv(self.ln_1(x)).split(width, dim=2)
            shape = (batch, length, options.n_head, width // options.n_head)
            q, k, v = (t.view(shape).transpose(1, 2) for t in (q, k, v))
            attended = F.scaled_dot_product_attention(q, k, v, is_causal=True)
            x = x + self.proj(attended.transpose(1, 2).reshape(batch, length, width))
            return x + self.mlp(self.ln_2(x))

    class GPT(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.token_embedding = nn.Embedding(vocab_size, options.d_model)
            self.position_embedding = nn.Embedding(options.seq_len, options.d_model)
            self.blocks = nn.ModuleList(Block() for _ in range(options.n_layer))
            self.ln_f = nn.LayerNorm(options.d_model)
            self.apply(self._init)

        @staticmethod
        def _init(module: nn.Module) -> None:
            if isinstance(module, (nn.Linear, nn.Embedding)):
                nn.init.normal_(module.weight, mean=0.0, std=0.02)
            if isinstance(module, nn.Linear) and module.bias is not None:
                nn.init.zeros_(module.bias)

        def forward(
            self, tokens: torch.Tensor, targets: torch.Tensor, reduction: str = "mean"
        ) -> torch.Tensor:
            """Mean cross-entropy; with reduction="none" each target's loss, shaped like
            `targets` (targets -100 are padding: loss 0, left out of the mean)."""
            positions = torch.arange(tokens.shape[1], device=tokens.device)
            x = self.token_embedding(tokens) + self.position_embedding(positions)
            for block in self.blocks:
                x = block(x)
            logits = self.ln_f(x) @ self.token_embedding.weight.T
            loss = F.cross_entropy(
                logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), reduction=reduction
            )
            return loss if reduction == "mean" else loss.view(targets.shape)

    return GPT()


def tokenizer_sample(corpora: Sequence[Sequence[str]], chars_per_corpus: int) -> list[str]:
    """Equal characters from each corpus (texts in order, the last one cut), so that the shared
    tokenizer favours none of them."""
    sample: list[str] = []
    for texts in corpora:
        budget = chars_per_corpus
        for text in texts:
            if budget <= 0:
                break
            sample.append(text[:budget])
            budget -= len(text)
    return sample


def _encode_stream(tokenizer: Any, texts: Sequence[str], budget: int | None) -> np.ndarray:
    """Documents joined by end-of-text, cut at `budget` tokens (all of them when None)."""
    eot = end_of_text_id(tokenizer)
    pieces: list[np.ndarray] = []
    total = 0
    step = 256
    for start in range(0, len(texts), step):
        for encoding in tokenizer.encode_batch(list(texts[start : start + step])):
            ids = np.asarray(encoding.ids + [eot], dtype=np.int64)
            pieces.append(ids)
            total += len(ids)
        if budget is not None and total >= budget:
            break
    stream = np.concatenate(pieces) if pieces else np.zeros(0, np.int64)
    return stream[:budget] if budget is not None else stream


def _in_given_order(
    tokenizer: Any, texts: list[str], sequence: list[int], budget: int
) -> np.ndarray:
    """The stream of the documents that fill `budget` tokens when taken in `sequence` (the
    seeded order a shuffled dataset uses), in the texts' own order, cut at `budget`."""
    eot_tokens = 1
    taken, total, step = 0, 0, 256
    while total < budget and taken < len(sequence):
        chunk = [texts[i] for i in sequence[taken : taken + step]]
        lengths = [len(e.ids) + eot_tokens for e in tokenizer.encode_batch(chunk)]
        filled = np.cumsum(lengths) + total
        count = int(np.searchsorted(filled, budget) + 1)  # documents up to the one that fills it
        taken += min(count, len(chunk))
        total = int(filled[min(count, len(chunk)) - 1])
    chosen = sorted(sequence[:taken])
    return _encode_stream(tokenizer, [texts[i] for i in chosen], budget)


def _windows(stream: np.ndarray, seq_len: int) -> np.ndarray:
    """Non-overlapping (seq_len + 1)-token windows: inputs are [:-1], targets [1:]."""
    count = (len(stream) - 1) // seq_len
    rows = np.arange(count)[:, None] * seq_len + np.arange(seq_len + 1)[None, :]
    return stream[rows]


def train_and_evaluate(
    train_stream: np.ndarray,
    reference_windows: np.ndarray,
    vocab_size: int,
    seed: int,
    options: VerifyOptions,
    *,
    extra_references: Mapping[str, np.ndarray] | None = None,
    initial_state: Mapping[str, Any] | None = None,
    keep_state: bool = False,
    ordered: bool = False,
) -> dict[str, Any]:
    """Train one model from scratch on the stream (one pass, windows in a seeded order); the
    reference loss (mean token cross-entropy, nats) at `eval_points` steps and at the end, and
    each of `extra_references` (name -> windows) at the end (`textmill mix search` scores a
    general and a domain reference with one model). `initial_state` (a `state` an earlier call
    kept with `keep_state`) continues training that model instead: continual pre-training.
    `ordered` trains on the windows in stream order (a curriculum), not in a seeded order."""
    import torch

    if options.threads:
        torch.set_num_threads(options.threads)
    torch.manual_seed(seed)
    device = torch_device(options.device)
    model = _build_model(options, vocab_size)
    if initial_state is not None:
        model.load_state_dict(initial_state)
    model = model.to(device)
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    optimizer = torch.optim.AdamW(
        [
            {"params": decay, "weight_decay": options.weight_decay},
            {"params": no_decay, "weight_decay": 0.0},
        ],
        lr=options.lr,
        betas=(0.9, 0.95),
    )
    windows = _windows(train_stream, options.seq_len)
    order = (
        np.arange(len(windows))
        if ordered
        else np.random.default_rng(seed).permutation(len(windows))
    )
    num_steps = len(windows) // options.batch_size
    if num_steps < 1:
        raise ValueError(
            f"{len(train_stream)} training tokens make no batch of {options.batch_size}×"
            f"{options.seq_len}: raise tokens_per_dataset"
        )
    warmup = max(1, int(num_steps * options.warmup_fraction))

    def learning_rate(step: int) -> float:
        if step < warmup:
            return options.lr * (step + 1) / warmup
        progress = (step - warmup) / max(1, num_steps - warmup)
        return options.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))

    reference = torch.from_numpy(reference_windows).to(device)

    @torch.no_grad()
    def reference_loss(windows: Any = reference) -> float:
        model.eval()
        total, count = 0.0, 0
        for start in range(0, len(windows), options.batch_size):
            chunk = windows[start : start + options.batch_size]
            total += float(model(chunk[:, :-1], chunk[:, 1:])) * len(chunk)
            count += len(chunk)
        model.train()
        return total / count

    eval_steps = sorted({int(round(num_steps * (i + 1) / options.eval_points)) for i in
                         range(options.eval_points)})  # fmt: skip
    curve_steps: list[int] = []
    curve_losses: list[float] = []
    train_losses: list[float] = []
    model.train()
    for step in range(num_steps):
        rows = order[step * options.batch_size : (step + 1) * options.batch_size]
        batch = torch.from_numpy(windows[rows]).to(device)
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(step)
        loss = model(batch[:, :-1], batch[:, 1:])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        train_losses.append(loss.item())
        if step + 1 in eval_steps:
            curve_steps.append(step + 1)
            curve_losses.append(reference_loss())
    result = {
        "seed": seed,
        "steps": num_steps,
        "tokens_trained": num_steps * options.batch_size * options.seq_len,
        "reference_loss": curve_losses[-1],
        "final_train_loss": float(np.mean(train_losses[-max(1, num_steps // 20) :])),
        "curve": {"steps": curve_steps, "reference_loss": curve_losses},
        "parameters": sum(p.numel() for p in model.parameters()),
        "extra_reference_losses": {
            name: reference_loss(torch.from_numpy(windows).to(device))
            for name, windows in (extra_references or {}).items()
        },
    }
    if keep_state:
        result["state"] = {k: v.detach().to("cpu").clone() for k, v in model.state_dict().items()}
    return result


def _spread(values: Sequence[float]) -> float:
    """Sample standard deviation across seeds (0 for one seed)."""
    return float(np.std(values, ddof=1)) if len(values) > 1 else 0.0


def compare(datasets: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every dataset against the best one: mean loss difference, its per-seed (paired) spread,
    and whether it exceeds the spread across seeds of both datasets."""
    best = min(datasets, key=lambda d: d["loss_mean"])
    rows = []
    for other in datasets:
        if other is best:
            continue
        paired = np.asarray(other["losses"]) - np.asarray(best["losses"])
        difference = float(paired.mean())
        rows.append(
            {
                "better": best["name"],
                "worse": other["name"],
                "loss_difference": difference,
                "paired_difference_std": _spread(paired.tolist()),
                "seed_spread": best["loss_std"] + other["loss_std"],
                "beyond_seed_spread": difference > best["loss_std"] + other["loss_std"],
                "better_in_every_seed": bool((paired > 0).all()),
            }
        )
    return rows


def verify(
    datasets: Sequence[Dataset],
    reference_paths: Sequence[str],
    out_dir: str | Path,
    options: VerifyOptions | None = None,
    *,
    text_field: str = "text",
    ordered: Collection[str] = (),
    log: Callable[[str], None] = lambda message: None,
) -> dict[str, Any]:
    """Run the comparison and write `verify.json` (and `loss_curve.png` when matplotlib is
    installed) to `out_dir`; returns the report.

    Datasets named in `ordered` are trained on in their given order (a curriculum that
    `textmill order` wrote): the documents are the ones the seeded random order would take
    into the budget, so that a shuffled copy of the same data trains on the same documents,
    put back in the dataset's order, and the model sees its windows in that order."""
    options = options or VerifyOptions()
    if len(datasets) < 2:
        raise ValueError("verify compares two or more datasets")
    names = [d.name for d in datasets]
    if len(set(names)) != len(names):
        raise ValueError(f"dataset names must differ: {names}")
    unknown = sorted(set(ordered) - set(names))
    if unknown:
        raise ValueError(f"--ordered {unknown[0]}: no dataset of that name (have: {names})")
    started = time.perf_counter()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)

    given_order: dict[str, tuple[list[str], list[int]]] = {}
    for dataset in datasets:
        texts = read_texts(input_arguments(dataset.paths), text_field=text_field)
        if not texts:
            raise ValueError(f"dataset {dataset.name}: no text in {dataset.paths}")
        # a seeded document order that depends on the texts only, not on the file order
        by_text = sorted(range(len(texts)), key=texts.__getitem__)
        permutation = np.random.default_rng(options.data_seed).permutation(len(texts))
        sequence = [by_text[i] for i in permutation]
        dataset.texts = [texts[i] for i in sequence]
        if dataset.name in ordered:
            given_order[dataset.name] = (texts, sequence)
    reference_texts = read_texts(reference_paths, text_field=text_field)
    if not reference_texts:
        raise ValueError(f"reference {list(reference_paths)} holds no text")

    sample = tokenizer_sample([d.texts for d in datasets], options.tokenizer_chars_per_dataset)
    tokenizer = train_bpe(sample, options.vocab_size)
    vocab_size = tokenizer.get_vocab_size()
    log(f"tokenizer: {vocab_size} BPE tokens trained on {len(sample)} documents")

    streams = [_encode_stream(tokenizer, d.texts, options.tokens_per_dataset) for d in datasets]
    budget = min(len(s) for s in streams)
    if budget < options.tokens_per_dataset:
        log(
            f"note: the smallest dataset has {budget:,} tokens, below tokens_per_dataset="
            f"{options.tokens_per_dataset:,}: every dataset is cut to {budget:,}"
        )
    streams = [
        _in_given_order(tokenizer, *given_order[d.name], budget)
        if d.name in given_order
        else stream[:budget]
        for d, stream in zip(datasets, streams, strict=True)
    ]
    reference_stream = _encode_stream(tokenizer, reference_texts, None)[: options.eval_tokens + 1]
    reference_windows = _windows(reference_stream, options.seq_len)
    if len(reference_windows) == 0:
        raise ValueError(
            f"reference has {len(reference_stream)} tokens, fewer than seq_len+1="
            f"{options.seq_len + 1}"
        )

    entries: list[dict[str, Any]] = []
    for dataset, stream in zip(datasets, streams, strict=True):
        runs = []
        for seed in options.seeds:
            run = train_and_evaluate(
                stream, reference_windows, vocab_size, seed, options,
                ordered=dataset.name in given_order,
            )  # fmt: skip
            log(f"{dataset.name} seed {seed}: reference loss {run['reference_loss']:.4f}")
            runs.append(run)
        losses = [run["reference_loss"] for run in runs]
        curves = np.asarray([run["curve"]["reference_loss"] for run in runs])
        entries.append(
            {
                "name": dataset.name,
                "paths": dataset.paths,
                "documents": len(dataset.texts),
                "order": "given" if dataset.name in given_order else "shuffled",
                "loss_mean": float(np.mean(losses)),
                "loss_std": _spread(losses),
                "losses": losses,
                "perplexity_mean": float(np.exp(np.mean(losses))),
                "train_loss_mean": float(np.mean([run["final_train_loss"] for run in runs])),
                "curve": {
                    "steps": runs[0]["curve"]["steps"],
                    "loss_mean": curves.mean(axis=0).tolist(),
                    "loss_min": curves.min(axis=0).tolist(),
                    "loss_max": curves.max(axis=0).tolist(),
                },
            }
        )
    report: dict[str, Any] = {
        "datasets": entries,
        "best": min(entries, key=lambda d: d["loss_mean"])["name"],
        "comparisons": compare(entries),
        "reference": {
            "paths": list(reference_paths),
            "documents": len(reference_texts),
            "tokens": int(reference_windows.shape[0] * options.seq_len),
        },
        "tokens_per_dataset": int(budget),
        "tokens_trained_per_run": runs[0]["tokens_trained"],
        "steps_per_run": runs[0]["steps"],
        "model_parameters": runs[0]["parameters"],
        "tokenizer_vocab_size": vocab_size,
        "options": asdict(options),
        "loss_unit": "mean cross-entropy per BPE token, nats",
        "elapsed_s": round(time.perf_counter() - started, 1),
    }
    plot = write_plot(entries, out_dir / PLOT_NAME)
    report["plot"] = plot.name if plot else None
    (out_dir / REPORT_NAME).write_text(json.dumps(report, indent=2) + "\n")
    return report


def write_plot(entries: list[dict[str, Any]], path: Path) -> Path | None:
    """Reference loss against training step: mean across seeds, band from min to max."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        from matplotlib import pyplot as plt
    except ImportError:
        return None
    figure, axis = plt.subplots(figsize=(7, 4.5), dpi=120)
    for entry in entries:
        curve = entry["curve"]
        label = f"{entry['name']} ({entry['loss_mean']:.3f} ± {entry['loss_std']:.3f})"
        axis.plot(curve["steps"], curve["loss_mean"], marker="o", markersize=3, label=label)
        axis.fill_between(curve["steps"], curve["loss_min"], curve["loss_max"], alpha=0.2)
    axis.set_xlabel("training step")
    axis.set_ylabel("reference loss (nats/token)")
    axis.set_title("textmill verify: held-out reference loss, equal token budget")
    axis.grid(alpha=0.3)
    axis.legend()
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)
    return path
