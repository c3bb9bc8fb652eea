"""textmill: raw text in, a clean, deduplicated, documented training corpus out."""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

# Imported on first use (PEP 562, no other import here): a Ctrl-C while the command line starts
# is then the CLI's to handle (one line, exit 130), not an import traceback.
_EXPORTS = {
    "Pipeline": "textmill.api",
    "make_batch": "textmill.document",
    "read_code": "textmill.api",
    "Decision": "textmill.pipeline",
    "Decontaminate": "textmill.stages.safety.decontaminate",
    "Pii": "textmill.stages.safety.pii",
    "Toxicity": "textmill.stages.safety.toxicity",
    "Filter": "textmill.pipeline",
    "GlobalStage": "textmill.pipeline",
    "Mapper": "textmill.pipeline",
    "StageOptions": "textmill.pipeline",
    "register": "textmill.pipeline",
    "slice_run": "textmill.api",
    "tokenize": "textmill.tokens.api",
    "train_tokenizer": "textmill.tokens.api",
    "load_tokenizer": "textmill.tokens.tokenizer",
    "train_label_classifier": "textmill.api",
    "train_recipe": "textmill.api",
    "fit_topics": "textmill.api",
    "train_lm": "textmill.api",
    "lm_scores": "textmill.api",
    "order": "textmill.api",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> object:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'textmill' has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTS[name]), name)
    globals()[name] = value
    return value
