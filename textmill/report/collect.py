"""Statistics for the report, collected while a run's tasks execute.

One `ReportCollector` per (segment, shard) task watches every stage call (the rows it dropped
and why), the input batches (domains read) and the final kept batches (lengths, languages,
domains, scores, PII counts, demographic terms, licences, crawl dates). Everything is a
histogram over fixed bins or a counter computed on whole Arrow columns, plus bottom-k
samples: each sampled row carries a seeded random key and the k smallest keys win, so samples
merge across shards exactly like one reservoir over the whole run. The state is a small JSON
file written beside the task's done marker; the report merges the files of a run.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from textmill.document import HTML, ID, METADATA, TEXT, URL
from textmill.io.files import STATE_DIR
from textmill.pipeline import Decision, Filter, Stage
from textmill.report import decon as decon_report

STATE_VERSION = 1
# 0, then four log-spaced bins a decade from 1 to 10^8 (characters, words, lines)
LENGTH_EDGES = np.concatenate([[0.0], np.logspace(0, 8, 33)])
SCORE_EDGES = np.linspace(0.0, 1.0, 41)
SCORE_COLUMNS = ("lang_score", "quality_score")  # scores in [0, 1] whose cut the report plots
LENGTHS = ("chars", "words", "lines")
SAMPLES_PER_REASON = 5
NEAR_CANDIDATES = 200  # kept rows per filter stage measured to find those nearest a threshold
NEAR_PER_REASON = 3
EXCERPT_CHARS = 600
TOP_DOMAINS = 2000  # per task; a run's domain table is exact unless a shard has more
PII_PREFIX = "pii_"
LICENSE_COLUMN = "license"
CRAWL_DATE_COLUMN = "crawl_date"
UNKNOWN_LANGUAGE = "und"

_HOST = r"^[A-Za-z][A-Za-z0-9+.-]*://(?:[^/@?#]*@)?(?P<host>[^/:?#]+)"
_WARC_DATE = r"\"warc_date\":\s*\"(?P<date>[^\"]+)\""
# punctuation trimmed off whitespace-delimited words before they are matched against terms
_TERM_TRIM = "\"'“”‘’«»()[]{}<>.,;:!?*_/\\|#@&%+=~`^$"

# reason -> (metric column, option holding the threshold, comparison that drops)
_RULES: dict[str, dict[str, tuple[str, str, str]]] = {
    "gopher_quality": {
        "too_few_words": ("num_real_words", "min_words", "<"),
        "too_many_words": ("num_real_words", "max_words", ">"),
        "short_words": ("mean_word_length", "min_mean_word_length", "<"),
        "long_words": ("mean_word_length", "max_mean_word_length", ">"),
        "hash_ratio": ("hash_word_ratio", "max_symbol_word_ratio", ">"),
        "ellipsis_ratio": ("ellipsis_word_ratio", "max_symbol_word_ratio", ">"),
        "bullet_lines": ("bullet_lines_ratio", "max_bullet_lines_ratio", ">"),
        "ellipsis_lines": ("ellipsis_lines_ratio", "max_ellipsis_lines_ratio", ">"),
        "non_alpha_words": ("alpha_words_ratio", "min_alpha_words_ratio", "<"),
        "few_stop_words": ("stop_words", "min_stop_words", "<"),
    },
    "gopher_repetition": {
        name: (name, name, ">")
        for name in ("dup_line_frac", "dup_para_frac", "dup_line_char_frac", "dup_para_char_frac")
    },
    "fineweb_quality": {
        "line_punct_ratio": ("line_punct_ratio", "line_punct_thr", "<"),
        "short_line_ratio": ("short_line_ratio", "short_line_thr", ">"),
        "char_dup_ratio": ("char_dup_ratio", "char_duplicates_ratio", ">"),
        "list_ratio": ("new_line_ratio", "new_line_ratio", ">"),
    },
    "c4_quality": {"too_few_sentences": ("num_sentences", "min_sentences", "<")},
    "langid": {"low_language_score": ("lang_score", "min_score", "<")},
    "quality_score": {"low_quality": ("quality_score", "threshold", "<")},
    "url_filter": {"soft_banned_words": ("soft_banned_words", "soft_banned_threshold", ">=")},
    "toxicity": {
        "flagged_ratio": ("flagged_ratio", "max_flagged_ratio", ">"),
        "profanity_score": ("profanity_score", "profanity_threshold", ">="),
        "toxicity_score": ("toxicity_score", "toxicity_threshold", ">="),
    },
}
_NGRAM_RULES = (  # gopher_repetition's per-n reasons
    (re.compile(r"top_(\d+)_gram"), "top_{n}_gram_char_frac", "top_n_grams"),
    (re.compile(r"duplicated_(\d+)_n_grams"), "dup_{n}_gram_char_frac", "dup_n_grams"),
)


def state_path(out: Path, shard: str, segment: int) -> Path:
    """Where a task's collector state lives (beside, not inside, the done markers)."""
    return out / STATE_DIR / "report" / f"s{segment}" / f"{shard}.json"


def threshold_rule(stage: Stage, family: str) -> tuple[str, float, str] | None:
    """(metric, threshold, comparison that drops) of a drop reason, when the report knows it."""
    rule = _RULES.get(stage.name, {}).get(family)
    if rule is not None:
        metric, option, op = rule
        value = getattr(stage.options, option, None)
        return (metric, float(value), op) if isinstance(value, int | float) else None
    if stage.name == "gopher_repetition":
        for pattern, metric, option in _NGRAM_RULES:
            if match := pattern.fullmatch(family):
                n = int(match.group(1))
                value = (getattr(stage.options, option, None) or {}).get(n)
                return (metric.format(n=n), float(value), ">") if value else None
    return None


@cache
def demographic_terms() -> dict[str, str]:
    """term -> axis, from the list textmill ships (textmill/report/terms)."""
    text = (resources.files("textmill.report") / "terms" / "demographic_terms.txt").read_text(
        "utf-8"
    )
    terms: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        axis, _, words = line.partition(":")
        for term in words.split():
            terms.setdefault(term.lower(), axis.strip())
    return terms


# ---------------------------------------------------------------- column helpers


def histogram(values: np.ndarray, edges: np.ndarray) -> list[int]:
    """Counts per bin; values past the last edge land in the last bin."""
    if len(values) == 0:
        return [0] * (len(edges) - 1)
    bins = np.clip(np.searchsorted(edges, values, side="right") - 1, 0, len(edges) - 2)
    return np.bincount(bins, minlength=len(edges) - 1).tolist()


def length_columns(
    text: pa.ChunkedArray | pa.Array, words: pa.ChunkedArray | pa.Array | None = None
) -> dict[str, np.ndarray]:
    """Characters, whitespace-delimited words and lines of every non-null text (pass `words`,
    the texts split at whitespace, when already at hand)."""
    valid = pc.is_valid(text)
    text = text.filter(valid)
    words = pc.utf8_split_whitespace(text) if words is None else words.filter(valid)
    return {
        "chars": pc.utf8_length(text).to_numpy(zero_copy_only=False),
        "words": pc.list_value_length(words).to_numpy(zero_copy_only=False),
        "lines": pc.add(pc.count_substring(text, "\n"), 1).to_numpy(zero_copy_only=False),
    }


def value_counts(column: pa.ChunkedArray | pa.Array) -> Counter:
    return Counter(
        {str(row["values"]): row["counts"] for row in pc.value_counts(column).to_pylist()}
    )


def hosts(urls: pa.ChunkedArray | pa.Array) -> pa.Array:
    """Lower-cased host of every URL without a leading `www.` (null where none)."""
    host = pc.struct_field(pc.extract_regex(urls, _HOST), "host")
    return pc.replace_substring_regex(pc.utf8_lower(host), r"^www\.", "")


def excerpt(row: dict[str, Any]) -> str:
    text = row.get(TEXT)
    if text is None and row.get(HTML):
        # only the head of the markup: a page can be megabytes, the excerpt is a few hundred chars
        text = "[no text; markup] " + re.sub(r"\s+", " ", row[HTML][: 4 * EXCERPT_CHARS])
    text = text or ""
    return text if len(text) <= EXCERPT_CHARS else text[:EXCERPT_CHARS] + " …"


def _add(target: list[int], counts: Sequence[int]) -> list[int]:
    return [a + b for a, b in zip(target, counts, strict=True)] if target else list(counts)


def _number(value: Any) -> Any:
    if isinstance(value, float | np.floating):
        return None if np.isnan(value) else round(float(value), 4)
    if isinstance(value, np.integer | np.bool_):
        return value.item()
    return value


# ---------------------------------------------------------------- the collector


class _Reservoir:
    """Bottom-k rows by a random key: a uniform sample that merges across shards."""

    def __init__(self, k: int):
        self.k = k
        self.rows: pa.Table | None = None

    def offer(self, rows: pa.Table, keys: np.ndarray) -> None:
        if rows.num_rows == 0:
            return
        best = np.argsort(keys, kind="stable")[: self.k]
        rows = rows.take(pa.array(best)).append_column("_key", pa.array(keys[best]))
        if self.rows is not None:
            rows = pa.concat_tables([self.rows, rows], promote_options="permissive")
        order = pc.sort_indices(rows, sort_keys=[("_key", "ascending")])[: self.k]
        self.rows = rows.take(order)


class ReportCollector:
    """Counts and samples of one task; `state()` is the JSON the report merges."""

    def __init__(self, task_key: str, segment: int, is_last: bool):
        seed = int.from_bytes(hashlib.sha256(task_key.encode()).digest()[:8], "little")
        self.rng = np.random.default_rng(seed)
        self.segment = segment
        self.is_last = is_last
        self.stages: dict[int, Stage] = {}
        self.lengths: dict[str, dict[str, list[int]]] = {"kept": {}, "rejected": {}}
        self.scores: dict[str, dict[str, Any]] = {}
        self.languages: dict[str, Counter] = {"kept_docs": Counter(), "kept_words": Counter()}
        self.languages["dropped_docs"] = Counter()
        self.domains: dict[str, Counter] = {"read": Counter(), "kept": Counter()}
        self.cluster_sizes: Counter = Counter()
        self.pii: dict[str, Counter] = {"matches": Counter(), "docs": Counter()}
        self.decon: dict[str, Any] = {}  # textmill.report.decon
        self.terms: Counter = Counter()
        self.words = 0
        self.licenses: Counter = Counter()
        self.crawl_months: Counter = Counter()
        self.crawl_range: list[str] = []
        self.rejected: dict[tuple[int, str], _Reservoir] = {}
        self.near: dict[int, _Reservoir] = {}
        self.warnings: list[str] = []

    # -- hooks the executor calls

    def instrument(self, chain: Iterable[tuple[int, Stage, Callable]]) -> list[tuple]:
        """The chain of (index, stage, call) with every call watched."""
        return [(index, stage, self._watch(index, stage, call)) for index, stage, call in chain]

    def observe_input(self, batch: pa.Table) -> None:
        """A batch as read (segment 0 only): domains read."""
        if self.segment == 0:
            self._guarded("input", self._count_domains, batch, "read")

    def observe_kept(self, kept: pa.Table) -> None:
        """A batch of the run's final output (last segment only)."""
        if self.is_last:
            self._guarded("kept", self._observe_kept, kept)

    def save(self, path: Path) -> None:
        from textmill.io.writers import write_json_atomically

        write_json_atomically(self.state(), path)

    # -- watching stages

    def _watch(self, index: int, stage: Stage, call: Callable) -> Callable:
        self.stages[index] = stage

        def watched(batch: pa.Table) -> tuple[pa.Table, Decision | None]:
            out, decision = call(batch)
            self._guarded(stage.name, self._observe_stage, index, stage, batch, out, decision)
            return out, decision

        return watched

    def _guarded(self, where: str, function: Callable, *args: Any) -> None:
        """Collecting statistics must never fail a run: a failure becomes a report warning."""
        try:
            function(*args)
        except Exception as exc:  # noqa: BLE001
            message = f"{where}: {type(exc).__name__}: {exc}"
            if message not in self.warnings and len(self.warnings) < 20:
                self.warnings.append(message)

    def _observe_stage(
        self, index: int, stage: Stage, batch: pa.Table, out: pa.Table, decision: Decision | None
    ) -> None:
        if out.num_rows != batch.num_rows:
            return  # the runner reports this as a stage failure
        if stage.name == decon_report.STAGE:
            decon_report.observe(self.decon, stage, out, decision)
        keep = decision.keep if decision is not None else np.ones(batch.num_rows, dtype=bool)
        for column in SCORE_COLUMNS:
            if column in out.column_names and column not in batch.column_names:
                self._score_cut(column, stage, out[column], keep)
        if isinstance(stage, Filter) and stage.name in _RULES:
            kept_rows = np.flatnonzero(keep)
            near = self.near.setdefault(index, _Reservoir(NEAR_CANDIDATES))
            near.offer(batch.take(pa.array(kept_rows)), self.rng.random(len(kept_rows)))
        if decision is None or not decision.num_dropped:
            return
        dropped = np.flatnonzero(~keep)
        rows = batch.take(pa.array(dropped))
        if TEXT in rows.column_names:
            self._add_lengths("rejected", rows[TEXT])
        if "lang" in out.column_names:
            langs = pc.fill_null(out["lang"].take(pa.array(dropped)), UNKNOWN_LANGUAGE)
            self.languages["dropped_docs"].update(value_counts(langs))
        reasons = pc.fill_null(decision.reasons.take(pa.array(dropped)), "dropped")
        families = pc.replace_substring_regex(reasons, r"=.*$", "")
        rows = rows.append_column("_reason", reasons)
        keys = self.rng.random(len(dropped))
        for family in pc.unique(families).to_pylist():
            mask = pc.equal(families, family).to_numpy(zero_copy_only=False)
            sample = self.rejected.setdefault((index, family), _Reservoir(SAMPLES_PER_REASON))
            sample.offer(rows.filter(pa.array(mask)), keys[mask])

    def _score_cut(
        self, column: str, stage: Stage, scores: pa.ChunkedArray, keep: np.ndarray
    ) -> None:
        values = pc.fill_null(scores, np.nan).to_numpy(zero_copy_only=False).astype(float)
        entry = self.scores.setdefault(column, {"stage": stage.name})
        for name, mask in (("kept", keep), ("dropped", ~keep)):
            chosen = values[mask]
            chosen = chosen[~np.isnan(chosen)]
            entry[name] = _add(entry.get(name, []), histogram(chosen, SCORE_EDGES))
        rule = next((r for r in (_RULES.get(stage.name) or {}).values() if r[0] == column), None)
        if rule is not None:
            threshold = getattr(stage.options, rule[1], None)
            entry["threshold"] = float(threshold) if threshold is not None else None

    # -- the final output

    def _add_lengths(
        self, which: str, text: pa.ChunkedArray, words: pa.ChunkedArray | None = None
    ) -> dict[str, np.ndarray]:
        columns = length_columns(text, words)
        for name, values in columns.items():
            self.lengths[which][name] = _add(
                self.lengths[which].get(name, []), histogram(values, LENGTH_EDGES)
            )
        return columns

    def _count_domains(self, batch: pa.Table, which: str) -> None:
        if URL in batch.column_names:
            self.domains[which].update(value_counts(hosts(batch[URL]).drop_null()))

    def _observe_kept(self, kept: pa.Table) -> None:
        text = pc.fill_null(kept[TEXT], "") if TEXT in kept.column_names else None
        if text is not None:
            tokens = pc.utf8_split_whitespace(pc.utf8_lower(text))
            words = self._add_lengths("kept", text, tokens)["words"]
            self._count_terms(tokens)
        else:
            words = np.zeros(kept.num_rows, dtype=np.int64)
        langs = (
            pc.fill_null(kept["lang"], UNKNOWN_LANGUAGE)
            if "lang" in kept.column_names
            else pa.chunked_array([pa.array([UNKNOWN_LANGUAGE] * kept.num_rows)])
        )
        encoded = pc.dictionary_encode(langs).combine_chunks()  # a chunked array has it
        indices = encoded.indices.to_numpy(zero_copy_only=False)
        names = encoded.dictionary.to_pylist()
        docs = np.bincount(indices, minlength=len(names))
        word_sums = np.bincount(indices, weights=words, minlength=len(names))
        for name, n, w in zip(names, docs, word_sums, strict=True):
            self.languages["kept_docs"][name] += int(n)
            self.languages["kept_words"][name] += int(w)
        self._count_domains(kept, "kept")
        for column in SCORE_COLUMNS:
            if column in kept.column_names:
                values = pc.drop_null(kept[column]).to_numpy(zero_copy_only=False)
                entry = self.scores.setdefault(column, {})
                entry["final"] = _add(entry.get("final", []), histogram(values, SCORE_EDGES))
        if "dup_cluster_size" in kept.column_names:
            self.cluster_sizes.update(value_counts(kept["dup_cluster_size"].drop_null()))
        for column in kept.column_names:
            if column.startswith(PII_PREFIX):
                counts = pc.fill_null(kept[column], 0)
                self.pii["matches"][column] += int(pc.sum(counts).as_py() or 0)
                self.pii["docs"][column] += int(
                    pc.sum(pc.greater(counts, 0).cast(pa.int64())).as_py() or 0
                )
        if LICENSE_COLUMN in kept.column_names:
            self.licenses.update(value_counts(pc.fill_null(kept[LICENSE_COLUMN], "none")))
        self._crawl_dates(kept)

    def _count_terms(self, words: pa.ChunkedArray) -> None:
        """Whole lower-cased words with punctuation trimmed (`women's` is not `women`)."""
        terms = demographic_terms()
        tokens = pc.list_flatten(words)
        self.words += len(tokens)
        tokens = pc.utf8_trim(tokens, characters=_TERM_TRIM)
        hits = tokens.filter(pc.is_in(tokens, value_set=pa.array(list(terms), tokens.type)))
        self.terms.update(value_counts(hits))

    def _crawl_dates(self, kept: pa.Table) -> None:
        if CRAWL_DATE_COLUMN in kept.column_names:
            dates = kept[CRAWL_DATE_COLUMN].cast(pa.string())
        elif METADATA in kept.column_names:
            dates = pc.struct_field(pc.extract_regex(kept[METADATA], _WARC_DATE), "date")
        else:
            return
        dates = pc.drop_null(dates)
        if len(dates) == 0:
            return
        self.crawl_months.update(value_counts(pc.utf8_slice_codeunits(dates, 0, 7)))
        low, high = pc.min_max(dates).values()
        self.crawl_range = [
            min([*self.crawl_range, low.as_py()]),
            max([*self.crawl_range, high.as_py()]),
        ]

    # -- the saved state

    def state(self) -> dict[str, Any]:
        return {
            "version": STATE_VERSION,
            "lengths": self.lengths,
            "scores": self.scores,
            "languages": {k: dict(v) for k, v in self.languages.items()},
            "domains": {k: dict(v.most_common(TOP_DOMAINS)) for k, v in self.domains.items()},
            "domains_truncated": any(len(v) > TOP_DOMAINS for v in self.domains.values()),
            "cluster_sizes": dict(self.cluster_sizes),
            "pii": {k: dict(v) for k, v in self.pii.items()},
            "decon": self.decon,
            "terms": dict(self.terms),
            "words": self.words,
            "licenses": dict(self.licenses),
            "crawl_months": dict(self.crawl_months),
            "crawl_range": self.crawl_range,
            "audit": self._audit(),
            "warnings": self.warnings,
        }

    def _audit(self) -> dict[str, Any]:
        """Per `index:stage:reason`: sampled rejects and, for filters, the kept rows nearest the
        reason's threshold, each with the metric the reason is about."""
        audit: dict[str, Any] = {}
        by_stage: dict[int, list[str]] = {}
        for index, family in self.rejected:
            by_stage.setdefault(index, []).append(family)
        for index, families in sorted(by_stage.items()):
            stage = self.stages[index]
            rejected = {f: self.rejected[(index, f)].rows for f in families}
            metrics = self._measure(stage, [t for t in rejected.values() if t is not None])
            candidates = self.near.get(index)
            near_rows = candidates.rows if candidates is not None else None
            near_metrics = self._measure(stage, [near_rows] if near_rows is not None else [])
            offset = 0
            for family in families:
                rows = rejected[family]
                rule = threshold_rule(stage, family)
                samples = []
                for row in rows.to_pylist() if rows is not None else []:
                    sample = {
                        "key": row["_key"],
                        "id": row.get(ID),
                        "url": row.get(URL),
                        "reason": row["_reason"],
                        "excerpt": excerpt(row),
                    }
                    if metrics is not None:
                        sample["metrics"] = _metric_view(metrics[offset], rule)
                    offset += 1
                    samples.append(sample)
                entry: dict[str, Any] = {"stage": stage.name, "index": index, "reason": family}
                entry["samples"] = samples
                if rule is not None:
                    entry["rule"] = {"metric": rule[0], "threshold": rule[1], "drops_if": rule[2]}
                    entry["near"] = _nearest(near_rows, near_metrics, rule)
                audit[f"{index}:{stage.name}:{family}"] = entry
        return audit

    def _measure(self, stage: Stage, tables: list[pa.Table]) -> list[dict[str, Any]] | None:
        if not isinstance(stage, Filter) or not stage.remeasure_for_audit or not tables:
            return None
        rows = pa.concat_tables(tables, promote_options="permissive")
        try:
            return stage.measure(rows.drop_columns(["_key"])).to_pylist()
        except Exception as exc:  # noqa: BLE001 - an audit without metrics still shows excerpts
            self.warnings.append(f"{stage.name}: metrics for audit samples: {exc}")
            return None


def _metric_view(metrics: dict[str, Any], rule: tuple[str, float, str] | None) -> dict[str, Any]:
    """The reason's own metric when known, else every scalar metric (a few)."""
    if rule is not None and rule[0] in metrics:
        return {rule[0]: _number(metrics[rule[0]])}
    scalars = {
        k: _number(v)
        for k, v in metrics.items()
        if isinstance(v, int | float | bool) or (isinstance(v, str) and len(v) <= 40)
    }
    return dict(list(scalars.items())[:6])


def _nearest(
    rows: pa.Table | None, metrics: list[dict[str, Any]] | None, rule: tuple[str, float, str]
) -> list[dict[str, Any]]:
    """Kept rows whose metric lies closest to the threshold (they passed it)."""
    if rows is None or metrics is None:
        return []
    metric, threshold, _ = rule
    scored = []
    for row, values in zip(rows.to_pylist(), metrics, strict=True):
        value = _number(values.get(metric))
        if isinstance(value, int | float):
            scored.append((abs(float(value) - threshold), row, value))
    scored.sort(key=lambda item: item[0])
    return [
        {
            "distance": distance,
            "id": row.get(ID),
            "url": row.get(URL),
            "excerpt": excerpt(row),
            "metrics": {metric: value},
        }
        for distance, row, value in scored[:NEAR_PER_REASON]
    ]


# ---------------------------------------------------------------- merging


def merge_states(states: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """One run's state from its tasks' states (sums, bottom-k samples, nearest rows)."""
    merged: dict[str, Any] = {
        "lengths": {"kept": {}, "rejected": {}},
        "scores": {},
        "languages": {"kept_docs": Counter(), "kept_words": Counter(), "dropped_docs": Counter()},
        "domains": {"read": Counter(), "kept": Counter()},
        "domains_truncated": False,
        "cluster_sizes": Counter(),
        "pii": {"matches": Counter(), "docs": Counter()},
        "decon": {},
        "terms": Counter(),
        "words": 0,
        "licenses": Counter(),
        "crawl_months": Counter(),
        "crawl_range": [],
        "audit": {},
        "warnings": [],
        "tasks": 0,
    }
    for state in states:
        merged["tasks"] += 1
        for which, histograms in state["lengths"].items():
            for name, counts in histograms.items():
                merged["lengths"][which][name] = _add(
                    merged["lengths"][which].get(name, []), counts
                )
        for column, entry in state["scores"].items():
            target = merged["scores"].setdefault(column, {})
            for key, value in entry.items():
                target[key] = _add(target.get(key, []), value) if isinstance(value, list) else value
        for key in ("languages", "domains", "pii"):
            for name, counts in state[key].items():
                merged[key][name].update(counts)
        for key in ("cluster_sizes", "terms", "licenses", "crawl_months"):
            merged[key].update(state[key])
        decon_report.merge(merged["decon"], state.get("decon", {}))
        merged["words"] += state["words"]
        merged["domains_truncated"] |= state["domains_truncated"]
        merged["crawl_range"] = _range(merged["crawl_range"], state["crawl_range"])
        merged["warnings"] += [w for w in state["warnings"] if w not in merged["warnings"]]
        for key, entry in state["audit"].items():
            target = merged["audit"].setdefault(key, {**entry, "samples": [], "near": []})
            target["samples"] = sorted(
                target["samples"] + entry["samples"], key=lambda s: s["key"]
            )[:SAMPLES_PER_REASON]
            target["near"] = sorted(
                target.get("near", []) + entry.get("near", []), key=lambda s: s["distance"]
            )[:NEAR_PER_REASON]
    return json.loads(json.dumps(merged))  # Counters to plain dicts


def _range(a: list[str], b: list[str]) -> list[str]:
    values = [*a, *b]
    return [min(values), max(values)] if values else []


def load_states(out: Path) -> list[dict[str, Any]]:
    paths = sorted((out / STATE_DIR / "report").glob("s*/*.json"))
    return [json.loads(p.read_text("utf-8")) for p in paths]
