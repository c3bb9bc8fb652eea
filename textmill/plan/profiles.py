"""Model and cluster profiles for the FlexSP cost model, loaded from JSON.

A *model profile* holds the fitted cost coefficients of one model on one GPU type (α₁, α₂, β,
activation memory per token) plus what the memory model needs (layers, hidden size, parameter
count, ZeRO stage). A *cluster profile* holds the effective all-to-all bandwidth per SP degree,
measured with every group busy. The published FlexSP profiles ship under `profiles/`
(`gpt-7b`, `gpt-13b`, `gpt-30b`, cluster `flexsp-8gpu-2ib`); a user profile is any JSON file with
the same keys (see the shipped files), passed by path instead of by name.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

DEFAULT_CLUSTER = "flexsp-8gpu-2ib"
GIB = 2**30


class ProfileError(ValueError):
    """A profile name or file that cannot be used, with a message a user can act on."""


@dataclass(frozen=True)
class ModelProfile:
    """Cost coefficients (ms, tokens, MiB) of one model, as in flexsp.md's profile table."""

    name: str
    layers: int
    hidden: int
    alpha1_ms_per_tok2: float
    alpha2_ms_per_tok: float
    beta_ms: float
    act_mib_per_token: float
    vocab: int = 50257
    zero_stage: int = 3
    # Published parameter counts (units of 2^30) per max context: learned position embeddings
    # make the count grow with the context (FlexSP: GPT-7B is 7.12 at 192K, 7.85 at 384K).
    params_gib_by_context: dict[int, float] = field(default_factory=dict)

    def params(self, max_context: int) -> float:
        """Parameter count: the published figure for this context, else 12·L·h² + (V + ctx)·h."""
        if max_context in self.params_gib_by_context:
            return self.params_gib_by_context[max_context] * GIB
        return 12.0 * self.layers * self.hidden**2 + (self.vocab + max_context) * self.hidden


@dataclass(frozen=True)
class ClusterProfile:
    """Effective per-device all-to-all bandwidth (GB/s) per SP degree, 8 GPUs a node."""

    name: str
    bandwidth_gbps_by_degree: dict[int, float]
    gpus_per_node: int = 8

    def bandwidth(self, degree: int) -> float:
        """v_d; a degree past the table takes the largest profiled degree's (slowest) figure."""
        if degree in self.bandwidth_gbps_by_degree:
            return self.bandwidth_gbps_by_degree[degree]
        larger = [d for d in self.bandwidth_gbps_by_degree if d >= degree]
        key = min(larger) if larger else max(self.bandwidth_gbps_by_degree)
        return self.bandwidth_gbps_by_degree[key]


def shipped_profiles() -> list[str]:
    """Names of the profiles that ship with textmill."""
    folder = resources.files("textmill.plan") / "profiles"
    return sorted(p.name[: -len(".json")] for p in folder.iterdir() if p.name.endswith(".json"))


def _read(name_or_path: str | Path) -> dict:
    path = Path(name_or_path)
    if path.suffix == ".json" and path.is_file():
        text = path.read_text()
    else:
        shipped = resources.files("textmill.plan") / "profiles" / f"{name_or_path}.json"
        if not shipped.is_file():
            raise ProfileError(
                f"profile {name_or_path!r}: no such file, and not a shipped profile "
                f"(shipped: {', '.join(shipped_profiles())})"
            )
        text = shipped.read_text()
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ProfileError(f"profile {name_or_path}: invalid JSON ({exc})") from exc


def load_model_profile(name_or_path: str | Path) -> ModelProfile:
    """A shipped model profile by name (`gpt-7b`) or a user's JSON file by path."""
    raw = _read(name_or_path)
    keys = ("layers", "hidden", "alpha1_ms_per_tok2", "alpha2_ms_per_tok", "beta_ms")
    missing = [k for k in (*keys, "act_mib_per_token") if k not in raw]
    if missing:
        raise ProfileError(f"model profile {name_or_path}: missing keys {missing}")
    if float(raw["act_mib_per_token"]) <= 0:
        raise ProfileError(f"model profile {name_or_path}: act_mib_per_token must be > 0")
    return ModelProfile(
        name=str(raw.get("name", Path(str(name_or_path)).stem)),
        layers=int(raw["layers"]),
        hidden=int(raw["hidden"]),
        alpha1_ms_per_tok2=float(raw["alpha1_ms_per_tok2"]),
        alpha2_ms_per_tok=float(raw["alpha2_ms_per_tok"]),
        beta_ms=float(raw["beta_ms"]),
        act_mib_per_token=float(raw["act_mib_per_token"]),
        vocab=int(raw.get("vocab", 50257)),
        zero_stage=int(raw.get("zero_stage", 3)),
        params_gib_by_context={
            int(k): float(v) for k, v in raw.get("params_gib_by_context", {}).items()
        },
    )


def load_cluster_profile(name_or_path: str | Path = DEFAULT_CLUSTER) -> ClusterProfile:
    """A shipped cluster (bandwidth) profile by name or a user's JSON file by path."""
    raw = _read(name_or_path)
    table = raw.get("bandwidth_gbps_by_degree")
    if not table:
        raise ProfileError(f"cluster profile {name_or_path}: missing bandwidth_gbps_by_degree")
    return ClusterProfile(
        name=str(raw.get("name", Path(str(name_or_path)).stem)),
        bandwidth_gbps_by_degree={int(k): float(v) for k, v in table.items()},
        gpus_per_node=int(raw.get("gpus_per_node", 8)),
    )


def model_profile_to_dict(profile: ModelProfile) -> dict:
    """The JSON form `load_model_profile` reads (used by the GPU profiling helper)."""
    return {
        "kind": "model",
        "name": profile.name,
        "layers": profile.layers,
        "hidden": profile.hidden,
        "vocab": profile.vocab,
        "alpha1_ms_per_tok2": profile.alpha1_ms_per_tok2,
        "alpha2_ms_per_tok": profile.alpha2_ms_per_tok,
        "beta_ms": profile.beta_ms,
        "act_mib_per_token": profile.act_mib_per_token,
        "zero_stage": profile.zero_stage,
        "params_gib_by_context": {str(k): v for k, v in profile.params_gib_by_context.items()},
    }
