"""textmill: raw text in, a clean, deduplicated, documented training corpus out."""

__version__ = "0.1.0"

from textmill.api import Pipeline  # noqa: E402
from textmill.document import make_batch  # noqa: E402
from textmill.pipeline import (  # noqa: E402
    Decision,
    Filter,
    GlobalStage,
    Mapper,
    StageOptions,
    register,
)

__all__ = [
    "Decision",
    "Filter",
    "GlobalStage",
    "Mapper",
    "Pipeline",
    "StageOptions",
    "make_batch",
    "register",
]
