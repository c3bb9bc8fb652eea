"""Benchmark decontamination: drop, cut or flag documents that share word n-grams with
evaluation items (GPT-3's 13-gram overlap, datatrove's n-gram index).

A document matches an item when at least `min_coverage` of the item's distinct n-grams occur
in it (at least one: the GPT-3/datatrove rule at the default 0; Llama 2's contamination
analysis counts an item as contaminated from a share of its n-grams). `drop` rejects the
document with `benchmark=<name>`; `cut` removes each matching span and `margin` characters on
either side (GPT-3: 200) and rejects documents left in more than `max_pieces` pieces (GPT-3: 10)
or with nothing left; `flag` keeps everything. Every mode writes what matched.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field, field_validator, model_validator

from textmill.document import TEXT
from textmill.pipeline import Decision, Stage, StageOptions, register, value_counts
from textmill.stages.safety.benchmarks import BenchmarkError, BenchmarkSpec, parse_spec
from textmill.stages.safety.decon_index import DeconIndex, Normalization, build_index
from textmill.text.columns import decode
from textmill.text.ngrams import GPT3_NGRAM, ngram_hashes, normalized_words

DECON_BENCHMARKS = "decon_benchmarks"  # list<string>: benchmarks with a matched item
DECON_ITEMS = "decon_items"  # list<string>: `benchmark:item key` of every matched item
DECON_NGRAMS = "decon_ngrams"  # int32: positions of the document in a matched n-gram
DECON_COVERAGE = "decon_coverage"  # float32: largest share of a matched item's n-grams found
DECON_CUT = "decon_cut"  # int32 (cut mode): spans removed from the document
DECON_COLUMNS = (DECON_BENCHMARKS, DECON_ITEMS, DECON_NGRAMS, DECON_COVERAGE, DECON_CUT)
GPT3_MARGIN = 200  # characters removed on each side of a match (Brown et al. 2020, app. C)
GPT3_MAX_PIECES = 10  # documents split into more pieces are dropped (idem)
LANG = "lang"


@register("decontaminate")
class Decontaminate(Stage):
    """Drops, cuts or flags documents sharing word n-grams with benchmark items (GPT-3's
    13-gram rule, datatrove's n-gram decontamination)."""

    class Options(StageOptions):
        benchmarks: list[BenchmarkSpec] = Field(
            [],
            description="benchmark files: LAYOUT:PATH (layouts: arc, gsm8k, hellaswag, "
            "humaneval, math, mbpp, mmlu, triviaqa) or {path, layout|fields, name, id, lang}",
        )
        index: str | None = Field(
            None, description="an index written by `textmill decon index` (instead of benchmarks)"
        )
        mode: Literal["drop", "cut", "flag"] = Field(
            "drop", description="drop the document, cut the matching spans, or flag it"
        )
        ngram: int = Field(GPT3_NGRAM, ge=1, le=64, description="words per n-gram (GPT-3: 13)")
        min_coverage: float = Field(
            0.0,
            ge=0.0,
            le=1.0,
            description="share of an item's n-grams a document must hold to match it (0: one)",
        )
        margin: int = Field(GPT3_MARGIN, ge=0, description="cut: characters cut on each side")
        max_pieces: int = Field(
            GPT3_MAX_PIECES, ge=1, description="cut: drop documents left in more pieces"
        )
        lang: str | None = Field(
            None,
            description="word splitting language of the corpus (default: the `lang` column, "
            "else the benchmarks' language when they all declare one, else en)",
        )
        idf: bool = Field(
            False,
            description="weigh n-grams by IDF over the benchmark items in coverage (dolma 3)",
        )
        lowercase: bool = Field(True, description="compare case-insensitively")
        strip_accents: bool = Field(True, description="compare without accents (NFD, no Mn)")

        @field_validator("benchmarks", mode="before")
        @classmethod
        def _specs(cls, value: Any) -> Any:
            if isinstance(value, (str, dict)):
                value = [value]
            if isinstance(value, list):
                return [parse_spec(v) if isinstance(v, str) else v for v in value]
            return value

        @model_validator(mode="after")
        def _one_source(self) -> Decontaminate.Options:
            if bool(self.benchmarks) == bool(self.index):
                raise ValueError("give either `benchmarks` (files) or `index` (a built index)")
            return self

    def __init__(self, options: Any = None, **kwargs: Any):
        super().__init__(options, **kwargs)
        self.index: DeconIndex | None = None
        self._labels: np.ndarray | None = None

    @property
    def normalization(self) -> Normalization:
        o = self.options
        return Normalization(o.ngram, o.lowercase, o.strip_accents)

    def setup(self) -> None:
        if self.index is not None:
            return
        o = self.options
        if o.index:
            index = DeconIndex.load(o.index)
            if index.norm != self.normalization:
                raise BenchmarkError(
                    f"{o.index}: built with {index.norm.describe()}, but the stage compares "
                    f"{self.normalization.describe()}; rebuild it or set the same options"
                )
        else:
            index = build_index(o.benchmarks, self.normalization)
        self.index = index

    def _item_labels(self) -> np.ndarray:
        """`benchmark:key` of every item, the values of `decon_items` (built once)."""
        if self._labels is None:
            index = self.index
            assert index is not None
            names = [index.benchmarks[b]["name"] for b in index.item_benchmark.tolist()]
            labels = [f"{name}:{key}" for name, key in zip(names, index.item_keys, strict=True)]
            self._labels = np.asarray(labels, dtype=object)
        return self._labels

    def benchmark_table(self) -> list[dict[str, Any]]:
        """Name, file and item count of every benchmark checked (for the report)."""
        self.setup()
        assert self.index is not None
        return self.index.benchmarks

    # -- matching

    def _languages(self, batch: pa.Table) -> str | np.ndarray:
        if self.options.lang:
            return self.options.lang
        if LANG in batch.column_names:
            return np.asarray(pc.fill_null(batch[LANG], "en").to_pylist(), dtype=object)
        # no `lang` column: split as the benchmarks were when they all declare one language
        # (a Chinese document split as English is one "word" and would match nothing)
        assert self.index is not None
        languages = {benchmark.get("lang", "en") for benchmark in self.index.benchmarks}
        return languages.pop() if len(languages) == 1 else "en"

    def matches(self, batch: pa.Table) -> dict[str, Any]:
        """Per row: qualifying items, and the character spans of their n-grams."""
        self.setup()
        index = self.index
        assert index is not None
        o = self.options
        chars = decode(batch[TEXT])
        words = normalized_words(chars, self._languages(batch), o.lowercase, o.strip_accents)
        grams = ngram_hashes(words, o.ngram)
        hit = np.flatnonzero(index.contains(grams.hashes))
        query, pair_index = index.pairs_of(grams.hashes[hit])
        items = index.items[pair_index]
        position = hit[query]  # n-gram index of each (n-gram, item) match
        rows = np.searchsorted(grams.row_offsets, position, side="right") - 1
        pair = rows.astype(np.int64) * max(1, len(index.item_keys)) + items
        # distinct n-grams of each item per row (an n-gram repeated in a row counts once)
        order = np.lexsort((grams.hashes[position], pair))
        hashes_sorted, pair_sorted = grams.hashes[position][order], pair[order]
        new = np.ones(len(order), dtype=bool)
        new[1:] = (hashes_sorted[1:] != hashes_sorted[:-1]) | (pair_sorted[1:] != pair_sorted[:-1])
        pairs, inverse = np.unique(pair_sorted[new], return_inverse=True)
        pair_items = pairs % max(1, len(index.item_keys))
        pair_rows = pairs // max(1, len(index.item_keys))
        if o.idf:  # each n-gram weighs log(1 + items / items holding it) (dolma 3's decon)
            weights, item_totals = index.idf_weights()
            found = np.bincount(inverse, weights=weights[pair_index][order][new])
            totals = item_totals[pair_items]
        else:
            found = np.bincount(inverse, minlength=len(pairs)).astype(np.float64)
            totals = index.item_ngrams[pair_items].astype(np.float64)
        found = found[: len(pairs)]
        qualifies = (found > 0) & (found >= o.min_coverage * totals - 1e-9)
        qualifying = pairs[qualifies]
        matched = np.isin(pair, qualifying)
        return {
            "chars": chars,
            "words": words,
            "grams": grams,
            "rows": pair_rows[qualifies],
            "items": pair_items[qualifies],
            "coverage": found[qualifies] / np.maximum(totals[qualifies], 1e-12),
            "positions": position[matched],
            "position_rows": rows[matched],
        }

    def process(self, batch: pa.Table) -> tuple[pa.Table, Decision | None]:
        self.setup()
        index = self.index
        assert index is not None
        o = self.options
        found = self.matches(batch)
        n = batch.num_rows
        rows, items = found["rows"], found["items"]  # sorted by row, then item
        benches = index.item_benchmark[items].astype(np.int64)
        coverage = np.zeros(n, dtype=np.float32)
        np.maximum.at(coverage, rows, found["coverage"].astype(np.float32))
        first_benchmark = np.full(n, len(index.names), dtype=np.int64)
        np.minimum.at(first_benchmark, rows, benches)
        codes = np.where(first_benchmark < len(index.names), first_benchmark + 1, 0)
        codes = codes.astype(np.int32)
        row_bench = np.unique(rows * len(index.names) + benches)  # by row, then benchmark order
        bench_rows = row_bench // len(index.names)
        positions = np.unique(found["positions"])
        position_rows = np.searchsorted(found["grams"].row_offsets, positions, side="right") - 1
        ngram_counts = np.bincount(position_rows, minlength=n).astype(np.int32)
        item_labels = pa.array(self._item_labels()[items], pa.string())
        bench_names = pa.array(np.asarray(index.names, dtype=object)[row_bench % len(index.names)])
        columns: dict[str, pa.Array] = {
            DECON_BENCHMARKS: _lists(bench_names.cast(pa.string()), bench_rows, n),
            DECON_ITEMS: _lists(item_labels, rows, n),
            DECON_NGRAMS: pa.array(ngram_counts, pa.int32()),
            DECON_COVERAGE: pa.array(coverage, pa.float32()),
        }
        if o.mode == "cut":
            batch, cuts, codes = self._cut(batch, found, positions, position_rows, codes)
            columns[DECON_CUT] = pa.array(cuts, pa.int32())
        for name, column in columns.items():
            if name in batch.column_names:
                batch = batch.drop_columns([name])
            batch = batch.append_column(name, column)
        labels = [f"benchmark={name}" for name in index.names]
        if o.mode == "flag":
            return batch, Decision.keep_all(n)
        return batch, Decision.from_codes(codes, labels)

    def counters(self, out: pa.Table, decision: Decision | None) -> dict[str, int]:
        """Per benchmark: documents dropped (`benchmark=<name>`, as the rejects' reasons),
        `flagged:<name>` (matched, any mode) and `cut:<name>` (kept after a cut); and
        `decon_cut`, `decon_cut_documents`: spans cut from, and documents cut among, the kept."""
        counts = decision.dropped_reasons() if decision is not None else {}
        lists = out[DECON_BENCHMARKS].combine_chunks()
        rows = pc.list_parent_indices(lists).to_numpy()
        names = pc.list_flatten(lists)
        for name, n in value_counts(names).items():
            counts[f"flagged:{name}"] = n
        if DECON_CUT in out.column_names:
            keep = decision.keep if decision is not None else np.ones(out.num_rows, bool)
            cuts = out[DECON_CUT].to_numpy() * keep
            counts[DECON_CUT] = int(cuts.sum())
            counts[f"{DECON_CUT}_documents"] = int(np.count_nonzero(cuts))
            for name, n in value_counts(names.filter(pa.array(cuts[rows] > 0))).items():
                counts[f"cut:{name}"] = n
        return counts

    def _cut(
        self,
        batch: pa.Table,
        found: dict[str, Any],
        positions: np.ndarray,
        position_rows: np.ndarray,
        codes: np.ndarray,
    ) -> tuple[pa.Table, np.ndarray, np.ndarray]:
        """Remove every matched n-gram with `margin` characters around it; a document left in
        more than `max_pieces` pieces, or with no text, keeps its drop code; others are kept."""
        o = self.options
        n = batch.num_rows
        cuts = np.zeros(n, dtype=np.int32)
        cut_rows = np.flatnonzero(codes)
        if not len(cut_rows):
            return batch, cuts, codes
        chars, words, grams = found["chars"], found["words"], found["grams"]
        first = grams.first_word[positions]
        span_starts = words.starts[first] - chars.offsets[position_rows]
        span_ends = words.ends[first + o.ngram - 1] - chars.offsets[position_rows]
        texts = pc.take(batch[TEXT], pa.array(cut_rows)).to_pylist()
        replaced = []
        for row, text in zip(cut_rows.tolist(), texts, strict=True):
            mine = position_rows == row
            windows = _merged_windows(span_starts[mine], span_ends[mine], o.margin, len(text))
            pieces, bounds = [], 0
            for start, end in windows:
                pieces.append(text[bounds:start])
                bounds = end
            pieces.append(text[bounds:])
            pieces = [p.strip() for p in pieces if p.strip()]
            cuts[row] = len(windows)
            if pieces and len(pieces) <= o.max_pieces:
                codes[row] = 0
            replaced.append("\n".join(pieces))
        mask = np.zeros(n, dtype=bool)
        mask[cut_rows] = True
        text_column = batch[TEXT]
        text_type = batch.schema.field(TEXT).type
        column = pc.replace_with_mask(
            text_column.combine_chunks(), pa.array(mask), pa.array(replaced, text_type)
        )
        batch = batch.set_column(batch.column_names.index(TEXT), batch.schema.field(TEXT), column)
        return batch, cuts, codes


def _lists(values: pa.Array, rows: np.ndarray, num_rows: int) -> pa.ListArray:
    """A list column of `num_rows` rows from values sorted by the row each belongs to."""
    offsets = np.searchsorted(rows, np.arange(num_rows + 1), side="left").astype(np.int32)
    return pa.ListArray.from_arrays(pa.array(offsets), values)


def _merged_windows(
    starts: np.ndarray, ends: np.ndarray, margin: int, length: int
) -> list[tuple[int, int]]:
    """[start - margin, end + margin) of every span, clipped to the text and merged."""
    order = np.argsort(starts, kind="stable")
    windows: list[tuple[int, int]] = []
    for start, end in zip(starts[order].tolist(), ends[order].tolist(), strict=True):
        low, high = max(0, start - margin), min(length, end + margin)
        if windows and low <= windows[-1][1]:
            windows[-1] = (windows[-1][0], max(windows[-1][1], high))
        else:
            windows.append((low, high))
    return windows
