"""The report's topic section: documents per `topic_id` in the output and each topic's
keywords (the `topic_keywords` column the topic stage writes), read column by column."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from textmill.stages.topic import TOPIC_ID, TOPIC_KEYWORDS


def topic_sizes(out: Path, data_files: list[str], columns: list[str]) -> list[dict[str, Any]]:
    """[{topic_id, docs, share, keywords}] by size, largest first; [] when no topic stage ran."""
    if TOPIC_ID not in columns:
        return []
    sizes: Counter = Counter()
    keywords: dict[int, str] = {}
    wanted = [TOPIC_ID] + ([TOPIC_KEYWORDS] if TOPIC_KEYWORDS in columns else [])
    for name in data_files:
        table = pq.read_table(out / name, columns=wanted)
        if TOPIC_KEYWORDS in wanted:
            for topic, words in zip(table[TOPIC_ID].to_pylist(),
                                    table[TOPIC_KEYWORDS].to_pylist(), strict=True):  # fmt: skip
                sizes[topic] += 1
                if topic is not None:
                    keywords.setdefault(topic, words)
        else:
            sizes.update(table[TOPIC_ID].to_pylist())
    total = sum(sizes.values())
    rows = sorted(sizes.items(), key=lambda item: (-item[1], item[0] is None, item[0] or 0))
    return [
        {"topic_id": "none" if topic is None else topic, "docs": count,
         "share": count / total if total else None, "keywords": keywords.get(topic, "")}
        for topic, count in rows
    ]  # fmt: skip
