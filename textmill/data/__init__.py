"""Data shipped inside textmill: the sample crawl that `textmill demo` and the end-to-end tests run.

`sample.warc.gz` is written by `python -m textmill.data.make_sample`; `sample_manifest.json`
says, for every record, what the page really is and what FineWeb should do with it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

DATA_DIR = Path(__file__).resolve().parent
SAMPLE_WARC_PATH = DATA_DIR / "sample.warc.gz"
SAMPLE_MANIFEST_PATH = DATA_DIR / "sample_manifest.json"


def load_sample_manifest(path: Path = SAMPLE_MANIFEST_PATH) -> dict[str, Any]:
    """The sample's ground truth: record counts, kind counts and one entry per page."""
    return json.loads(Path(path).read_text(encoding="utf-8"))
