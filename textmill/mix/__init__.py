"""Training mixtures: `textmill mix SPEC.yaml -o MIX` and `textmill.mix.mix(spec, out)`.

spec.py reads and validates the YAML, sources.py measures each source's documents, sampling.py
decides how much of each group goes in and which documents, build.py writes MIX; law.py and
search.py are the mixture laws (`textmill mix fit`, `textmill mix search`).
Imported on first use (PEP 562), so that `textmill.mix.law` pulls in nothing of the rest."""

from __future__ import annotations

import importlib

_EXPORTS = {
    "MixError": "textmill.mix.spec",
    "MixSpec": "textmill.mix.spec",
    "load_mix_spec": "textmill.mix.spec",
    "parse_mix_spec": "textmill.mix.spec",
    "shipped_specs": "textmill.mix.spec",
    "format_table": "textmill.mix.build",
    "mix": "textmill.mix.build",
    "plan_mix": "textmill.mix.build",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> object:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'textmill.mix' has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTS[name]), name)
    globals()[name] = value
    return value
