"""Training mixtures: `textmill mix SPEC.yaml -o MIX` and `textmill.mix.mix(spec, out)`.

spec.py reads and validates the YAML, sources.py measures each source's documents, sampling.py
decides how much of each group goes in and which documents, build.py writes MIX."""

from __future__ import annotations

from textmill.mix.build import format_table, mix, plan_mix
from textmill.mix.spec import MixError, MixSpec, load_mix_spec, parse_mix_spec, shipped_specs

__all__ = [
    "MixError",
    "MixSpec",
    "format_table",
    "load_mix_spec",
    "mix",
    "parse_mix_spec",
    "plan_mix",
    "shipped_specs",
]
