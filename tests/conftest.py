import json
from pathlib import Path

import pytest


def write_jsonl(path: Path, records) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as out:
        for record in records:
            out.write((record if isinstance(record, str) else json.dumps(record)) + "\n")
    return path


@pytest.fixture
def jsonl_corpus(tmp_path: Path) -> Path:
    """Four small JSONL shards with exact duplicates across shards."""
    folder = tmp_path / "in"
    for shard in range(4):
        write_jsonl(
            folder / f"part-{shard}.jsonl",
            [
                {"id": f"s{shard}-{i}", "text": f"document number {(shard * 7 + i) % 11}"}
                for i in range(25)
            ],
        )
    return folder
