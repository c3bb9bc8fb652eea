"""Fit a FlexSP model profile (α₁, α₂, β, activation MiB per token) on one GPU with PyTorch.

FlexSP's cost model needs, per model and GPU type, t(s) = α₁s² + α₂s + β for forward+backward of
one packed causal sequence and the activation memory per token. This helper builds a GPT-style
causal LM of the user's shape (or takes the user's own step function), times forward+backward over
a range of lengths at SP degree 1, and fits the coefficients by non-negative least squares; the
activation memory is the slope of peak allocated memory against length. With `profile_layers` <
`layers`, only that many blocks are built and α₁, α₂ and act are scaled by layers/profile_layers
(blocks are identical), so big models can be profiled on one GPU. β measured on one GPU excludes
multi-GPU overheads (ZeRO-3 gathers), so treat it as a lower estimate.

It runs only where a CUDA GPU and PyTorch exist; elsewhere `profile_model` raises
`GpuUnavailable`, and `textmill profile-gpu` (or `python -m textmill.plan.profile_gpu`) says why,
writes nothing and exits with code 3 (SKIPPED), so a script never takes a missing profile for a
made one. The bandwidth table is not profiled here (it needs all GPUs of the cluster busy at once).

    textmill profile-gpu --name my-7b --layers 32 --hidden 4096 --heads 32 \\
        --profile-layers 4 --lengths 1024 2048 4096 8192 16384 --out my-7b.json
    textmill simulate-sp --model my-7b.json ...
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from textmill.plan.profiles import ModelProfile, model_profile_to_dict

DEFAULT_LENGTHS = (1024, 2048, 4096, 8192, 16384)
SKIPPED = 3  # exit code: no GPU here, nothing profiled, nothing written


class GpuUnavailable(RuntimeError):
    """PyTorch or a CUDA device is missing: GPU profiling is skipped."""


def gpu_available() -> str | None:
    """None when profiling can run on CUDA, else the reason it cannot."""
    try:
        import torch
    except ImportError:
        return "PyTorch is not installed"
    if not torch.cuda.is_available():
        return "no CUDA GPU is visible to PyTorch"
    return None


def fit_coefficients(lengths, times_ms, peak_mib=None) -> dict[str, float]:
    """α₁, α₂, β ≥ 0 from t = α₁s² + α₂s + β; act = slope of peak memory vs s (0 without it)."""
    from scipy.optimize import nnls  # here, not at import: scipy costs the CLI ~0.5 s to load

    s = np.asarray(lengths, dtype=np.float64)
    t = np.asarray(times_ms, dtype=np.float64)
    scale = np.array([s.max() ** 2, s.max(), 1.0])  # condition the columns before NNLS
    design = np.stack([s * s, s, np.ones_like(s)], axis=1) / scale
    coef, _ = nnls(design, t)
    alpha1, alpha2, beta = coef / scale
    act = 0.0
    if peak_mib is not None and np.all(np.isfinite(peak_mib)) and len(s) > 1:
        act = float(max(np.polyfit(s, np.asarray(peak_mib, dtype=np.float64), 1)[0], 0.0))
    return {"alpha1": float(alpha1), "alpha2": float(alpha2), "beta": float(beta), "act": act}


def build_causal_lm(layers: int, hidden: int, heads: int, vocab: int, device, dtype):
    """A minimal GPT (pre-norm blocks, causal SDPA attention, 4h MLP) for timing."""
    import torch
    from torch import nn
    from torch.nn import functional

    class Block(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.norm1, self.norm2 = nn.LayerNorm(hidden), nn.LayerNorm(hidden)
            self.qkv, self.proj = nn.Linear(hidden, 3 * hidden), nn.Linear(hidden, hidden)
            self.mlp = nn.Sequential(
                nn.Linear(hidden, 4 * hidden), nn.GELU(), nn.Linear(4 * hidden, hidden)
            )

        def forward(self, x):
            q, k, v = self.qkv(self.norm1(x)).view(1, -1, 3, heads, hidden // heads).unbind(2)
            attn = functional.scaled_dot_product_attention(
                q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), is_causal=True
            )
            x = x + self.proj(attn.transpose(1, 2).reshape(1, -1, hidden))
            return x + self.mlp(self.norm2(x))

    class CausalLM(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.embed = nn.Embedding(vocab, hidden)
            self.blocks = nn.ModuleList(Block() for _ in range(layers))
            self.head = nn.Linear(hidden, vocab, bias=False)

        def forward(self, tokens):
            x = self.embed(tokens)
            for block in self.blocks:
                x = block(x)
            return functional.cross_entropy(self.head(x)[0, :-1].float(), tokens[0, 1:])

    torch.manual_seed(0)
    return CausalLM().to(device=device, dtype=dtype)


def measure(
    step: Callable[[int], None], lengths: Sequence[int], device: str, repeats: int = 3
) -> tuple[list[float], list[float]]:
    """Median ms and peak MiB (NaN off CUDA) of `step(length)` per length, after one warm-up."""
    import torch

    cuda = str(device).startswith("cuda")
    times, peaks = [], []
    for length in lengths:
        step(length)
        samples = []
        if cuda:
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        for _ in range(repeats):
            started = time.perf_counter()
            step(length)
            if cuda:
                torch.cuda.synchronize()
            samples.append((time.perf_counter() - started) * 1e3)
        times.append(float(np.median(samples)))
        peaks.append(torch.cuda.max_memory_allocated() / 2**20 if cuda else float("nan"))
    return times, peaks


def profile_model(
    name: str,
    layers: int,
    hidden: int,
    heads: int,
    vocab: int = 50257,
    lengths: Sequence[int] = DEFAULT_LENGTHS,
    profile_layers: int | None = None,
    device: str = "cuda",
    repeats: int = 3,
) -> ModelProfile:
    """Time the built model on `device` and fit its profile (device 'cpu' only for smoke tests)."""
    if device.startswith("cuda") and (reason := gpu_available()):
        raise GpuUnavailable(reason)
    import torch

    built = min(profile_layers or layers, layers)
    dtype = torch.bfloat16 if device.startswith("cuda") else torch.float32
    model = build_causal_lm(built, hidden, heads, vocab, device, dtype)
    generator = torch.Generator(device="cpu").manual_seed(0)

    def step(length: int) -> None:
        tokens = torch.randint(0, vocab, (1, length), generator=generator).to(device)
        model.zero_grad(set_to_none=True)
        model(tokens).backward()

    times, peaks = measure(step, lengths, device, repeats)
    fit = fit_coefficients(lengths, times, peaks)
    scale = layers / built
    return ModelProfile(
        name=name,
        layers=layers,
        hidden=hidden,
        alpha1_ms_per_tok2=fit["alpha1"] * scale,
        alpha2_ms_per_tok=fit["alpha2"] * scale,
        beta_ms=fit["beta"],
        act_mib_per_token=fit["act"] * scale,
        vocab=vocab,
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from textmill.cli.args import whole

    parser.add_argument("--name", default="my-model")
    parser.add_argument("--layers", type=whole(1), required=True)
    parser.add_argument("--hidden", type=whole(1), required=True)
    parser.add_argument("--heads", type=whole(1), required=True)
    parser.add_argument("--vocab", type=whole(1), default=50257)
    parser.add_argument("--profile-layers", type=whole(1), default=None)
    parser.add_argument("--lengths", type=whole(1), nargs="+", default=list(DEFAULT_LENGTHS))
    parser.add_argument("--repeats", type=whole(1), default=3)
    parser.add_argument("--device", default="cuda", help="cuda (cpu: smoke test only)")
    parser.add_argument("--out", type=Path, required=True, help="profile JSON to write")
    parser.set_defaults(handler=run)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))


def run(args: argparse.Namespace) -> int:
    """Profile and write args.out; SKIPPED (nothing written) where no GPU can run it."""
    try:
        profile = profile_model(
            args.name, args.layers, args.hidden, args.heads, args.vocab, args.lengths,
            args.profile_layers, args.device, args.repeats,
        )  # fmt: skip
    except GpuUnavailable as exc:
        print(
            f"textmill: GPU profiling skipped: {exc}; nothing written to {args.out} "
            f"(exit code {SKIPPED})",
            file=sys.stderr,
        )
        return SKIPPED
    raw = model_profile_to_dict(profile)
    raw["source"] = f"textmill.plan.profile_gpu on {args.device}, lengths {args.lengths}"
    args.out.write_text(json.dumps(raw, indent=2) + "\n")
    print(f"wrote {args.out}: {json.dumps({k: raw[k] for k in list(raw)[5:9]})}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
