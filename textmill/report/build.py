"""Everything the report and the dataset card show, read back from a finished run directory:
stats.json (the counts, which both documents quote exactly), the collectors' saved states,
and a small sample of the output Parquet (diversity)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from textmill.executors.output import Layout
from textmill.io.files import RUN_MANIFEST, is_run_output
from textmill.report.collect import demographic_terms, load_states, merge_states
from textmill.report.diversity import diversity, sample_texts

STATS_KEYS = ("read", "kept", "rejected", "errored", "reconciled", "stages")


class ReportError(ValueError):
    """The directory is not a finished run; the message is for the user."""


@dataclass
class RunReport:
    out: Path
    stats: dict[str, Any]
    state: dict[str, Any]
    diversity: dict[str, Any]
    columns: list[str]
    data_files: list[str]

    @classmethod
    def load(cls, out: str | Path) -> RunReport:
        out = cls.check(out)
        stats_path = out / "stats.json"
        try:
            stats = json.loads(stats_path.read_text("utf-8"))
        except (OSError, ValueError) as exc:
            raise ReportError(f"{stats_path}: not a readable stats.json ({exc})") from None
        missing = [key for key in STATS_KEYS if key not in stats] if isinstance(stats, dict) else []
        if not isinstance(stats, dict) or missing:
            raise ReportError(
                f"{stats_path}: not the stats.json of a finished run (missing {missing or 'all'})"
            )
        files = Layout(out).written("data")
        columns = pq.read_schema(files[0]).names if files else []
        return cls(
            out=out,
            stats=stats,
            state=_saved_state(out),
            diversity=diversity(sample_texts(files)),
            columns=columns,
            data_files=[str(p.relative_to(out)) for p in files],
        )

    @staticmethod
    def check(out: str | Path) -> Path:
        """`out` when it is a finished run's folder; a report rewrites README.md there, so a
        folder that is not textmill's (no manifest) is refused."""
        out = Path(out)
        if not is_run_output(out):
            raise ReportError(f"{out} is not a textmill output folder (no {RUN_MANIFEST})")
        if not (out / "stats.json").is_file():
            raise ReportError(f"{out} has no stats.json: is it the output of a finished run?")
        return out

    # -- derived tables (numbers that also appear in stats.json are taken from it)

    def stage_options(self) -> list[tuple[str, dict[str, Any]]]:
        """Every stage with all its options, defaults included."""
        from textmill.pipeline import stage_class

        rows = []
        for item in self.stats.get("pipeline", []):
            ((name, given),) = item.items()
            try:
                options = stage_class(name).Options(**given).model_dump(mode="json")
            except Exception:  # noqa: BLE001 - an unknown stage still shows what was given
                options = given
            rows.append((name, options))
        return rows

    def languages(self) -> list[dict[str, Any]]:
        kept = self.stats.get("languages", {})
        state = self.state["languages"]
        dropped = state.get("dropped_docs", {})
        rows = []
        for lang in sorted(set(kept) | set(dropped), key=lambda k: (-kept.get(k, 0), k)):
            docs, lost = kept.get(lang, 0), dropped.get(lang, 0)
            rows.append(
                {
                    "lang": lang,
                    "docs": docs,
                    "words": state.get("kept_words", {}).get(lang, 0),
                    "dropped": lost,
                    "keep_rate": docs / (docs + lost) if docs + lost else None,
                }
            )
        return rows

    def domains(self, limit: int = 25) -> list[dict[str, Any]]:
        read, kept = self.state["domains"]["read"], self.state["domains"]["kept"]
        names = sorted(set(read) | set(kept), key=lambda d: (-read.get(d, 0), -kept.get(d, 0), d))
        return [
            {
                "domain": d,
                "read": read.get(d, 0),
                "kept": kept.get(d, 0),
                "keep_rate": kept.get(d, 0) / read[d] if read.get(d) else None,
            }
            for d in names[:limit]
        ]

    def terms(self) -> dict[str, dict[str, Any]]:
        """Per axis: total mentions, per million words, and each term's count and rate."""
        words = max(self.state["words"], 1)
        counts = self.state["terms"]
        axes: dict[str, dict[str, Any]] = {}
        for term, axis in demographic_terms().items():
            entry = axes.setdefault(axis, {"count": 0, "terms": []})
            n = counts.get(term, 0)
            entry["count"] += n
            entry["terms"].append((term, n, n * 1e6 / words))
        for entry in axes.values():
            entry["per_million"] = entry["count"] * 1e6 / words
            entry["terms"].sort(key=lambda t: (-t[1], t[0]))
        return axes

    def pii(self) -> list[tuple[str, int, int]]:
        matches, docs = self.state["pii"]["matches"], self.state["pii"]["docs"]
        return [(name.removeprefix("pii_"), matches[name], docs.get(name, 0)) for name in matches]

    def kept_bytes(self) -> int:
        stages = self.stats["stages"]
        return stages[-1]["bytes_out"] if stages else 0

    def topics(self) -> list[dict[str, Any]]:
        """Documents per topic_id and its keywords ([] when no topic stage ran)."""
        from textmill.report.topics import topic_sizes

        return topic_sizes(self.out, self.data_files, self.columns)

    def audit(self) -> list[dict[str, Any]]:
        return sorted(self.state["audit"].values(), key=lambda e: (e["index"], e["reason"]))


def _saved_state(out: Path) -> dict[str, Any]:
    try:
        return merge_states(load_states(out))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ReportError(
            f"{out}: the statistics saved by the run are unreadable ({exc!r})"
        ) from None


def write_report(out: str | Path) -> tuple[Path, Path]:
    """Write OUT/report.html and OUT/README.md for a finished run; return their paths."""
    from textmill.io.writers import publish, temporary_path
    from textmill.report.card import render_card
    from textmill.report.html import render_html

    report = RunReport.load(out)
    written = []
    for name, render in (("report.html", render_html), ("README.md", render_card)):
        final = report.out / name
        temporary = temporary_path(final)
        temporary.write_text(render(report), "utf-8")
        publish(temporary, final)
        written.append(final)
    return written[0], written[1]
