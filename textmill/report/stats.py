"""Run counters: per stage (docs and bytes in/out, drops per reason, time) and per run
(read, kept, rejected, errored). Every shard writes its own counters; the run adds them up, so
a resumed run's totals are exact."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any


@dataclass
class StageCounters:
    name: str
    docs_in: int = 0
    docs_out: int = 0
    bytes_in: int = 0
    bytes_out: int = 0
    dropped: int = 0
    errored: int = 0
    seconds: float = 0.0
    reasons: Counter = field(default_factory=Counter)
    counters: Counter = field(default_factory=Counter)  # the stage's own (Stage.counters)

    def add(self, other: StageCounters) -> None:
        self.docs_in += other.docs_in
        self.docs_out += other.docs_out
        self.bytes_in += other.bytes_in
        self.bytes_out += other.bytes_out
        self.dropped += other.dropped
        self.errored += other.errored
        self.seconds += other.seconds
        self.reasons.update(other.reasons)
        self.counters.update(other.counters)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "docs_in": self.docs_in,
            "docs_out": self.docs_out,
            "bytes_in": self.bytes_in,
            "bytes_out": self.bytes_out,
            "dropped": self.dropped,
            "errored": self.errored,
            "seconds": round(self.seconds, 3),
            "reasons": dict(sorted(self.reasons.items(), key=lambda kv: (-kv[1], kv[0]))),
            "counters": dict(sorted(self.counters.items())),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> StageCounters:
        data = dict(data)
        data["reasons"] = Counter(data.get("reasons", {}))
        data["counters"] = Counter(data.get("counters", {}))
        return cls(**data)


@dataclass
class RunCounters:
    """Counters of one shard (or, summed, of the run). `stages` is keyed by stage index."""

    read: int = 0
    kept: int = 0
    rejected: int = 0
    errored: int = 0
    skipped: Counter = field(default_factory=Counter)
    reader: Counter = field(default_factory=Counter)  # readers' own counters ("pdf:pages")
    stages: dict[int, StageCounters] = field(default_factory=dict)
    languages: Counter = field(default_factory=Counter)
    sources_read: Counter = field(default_factory=Counter)
    sources_kept: Counter = field(default_factory=Counter)

    def stage(self, index: int, name: str) -> StageCounters:
        if index not in self.stages:
            self.stages[index] = StageCounters(name)
        return self.stages[index]

    def add(self, other: RunCounters) -> None:
        self.read += other.read
        self.kept += other.kept
        self.rejected += other.rejected
        self.errored += other.errored
        self.skipped.update(other.skipped)
        self.reader.update(other.reader)
        for index, counters in other.stages.items():
            self.stage(index, counters.name).add(counters)
        self.languages.update(other.languages)
        self.sources_read.update(other.sources_read)
        self.sources_kept.update(other.sources_kept)

    @property
    def reconciles(self) -> bool:
        return self.read == self.kept + self.rejected + self.errored

    def to_json(self) -> dict[str, Any]:
        return {
            "read": self.read,
            "kept": self.kept,
            "rejected": self.rejected,
            "errored": self.errored,
            "skipped": dict(sorted(self.skipped.items())),
            "reader": dict(sorted(self.reader.items())),
            "stages": {str(i): s.to_json() for i, s in sorted(self.stages.items())},
            "languages": dict(self.languages.most_common()),
            "sources_read": dict(sorted(self.sources_read.items())),
            "sources_kept": dict(sorted(self.sources_kept.items())),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RunCounters:
        return cls(
            read=data["read"],
            kept=data["kept"],
            rejected=data["rejected"],
            errored=data["errored"],
            skipped=Counter(data.get("skipped", {})),
            reader=Counter(data.get("reader", {})),
            stages={int(i): StageCounters.from_json(s) for i, s in data["stages"].items()},
            languages=Counter(data.get("languages", {})),
            sources_read=Counter(data.get("sources_read", {})),
            sources_kept=Counter(data.get("sources_kept", {})),
        )


def run_summary(counters: RunCounters, stage_names: list[str], **extra: Any) -> dict[str, Any]:
    """The public stats.json: top-level integers and a `stages` list in pipeline order."""
    stages = [
        counters.stages.get(i, StageCounters(name)).to_json() for i, name in enumerate(stage_names)
    ]
    sources = {
        source: {"read": counters.sources_read[source], "kept": counters.sources_kept[source]}
        for source in sorted(counters.sources_read | counters.sources_kept)
    }
    return {
        "read": counters.read,
        "kept": counters.kept,
        "rejected": counters.rejected,
        "errored": counters.errored,
        "reconciled": counters.reconciles,
        "skipped_records": dict(sorted(counters.skipped.items())),
        "reader_counts": dict(sorted(counters.reader.items())),
        "stages": stages,
        "languages": dict(counters.languages.most_common()),
        "sources": sources,
        **extra,
    }
