"""Stage kinds, the decision a filter returns, and the registry that maps stage names to classes.

A stage owns only its transformation of one batch; the runner owns batching, routing dropped
rows to rejects, counting and writing. That split is what lets every stage be tested on a
three-row table and run unchanged under the local and the Ray executor.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, ClassVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import BaseModel, ConfigDict, Field, model_validator

from textmill.document import ID, KEY


class StageHalt(RuntimeError):
    """A failure no row caused (an endpoint that answers nothing, batch after batch): the run
    stops with this message instead of erroring every remaining row; what finished is kept,
    so re-running the same command resumes."""


class StageOptions(BaseModel):
    """Options of a stage; unknown keys are errors so that a typo never passes silently, and so
    are NaN and infinities (`.nan` passes every threshold comparison as False: a silent no-op or
    drop-all; None, not `.inf`, disables a check)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    @model_validator(mode="after")
    def _ranges_not_empty(self) -> StageOptions:
        """Every `min_X` / `max_X` pair bounds a range that some document can fall in: with
        `min_words > max_words` a filter would drop everything."""
        names = type(self).model_fields
        for name in names:
            upper = "max_" + name.removeprefix("min_")
            if not name.startswith("min_") or upper not in names:
                continue
            low, high = getattr(self, name), getattr(self, upper)
            if low is not None and high is not None and low > high:
                raise ValueError(f"{name} ({low!r}) is greater than {upper} ({high!r})")
        return self


# An option naming a file the stage writes: an executor resolves it under the run's output
# folder and refuses a path that leaves it (textmill/executors/output.py).
OutputFile = Annotated[str | None, Field(json_schema_extra={"writes_file": True})]


def output_file_options(options: type[StageOptions]) -> list[str]:
    """The names of a stage's options that are files it writes."""
    return [
        name
        for name, field in options.model_fields.items()
        if isinstance(field.json_schema_extra, dict) and field.json_schema_extra.get("writes_file")
    ]


def as_bool_mask(values: pa.Array | pa.ChunkedArray | np.ndarray | Sequence[bool]) -> np.ndarray:
    """A numpy bool array from any mask; nulls count as False (a null metric fails no check)."""
    if isinstance(values, np.ndarray):
        return values.astype(bool, copy=False)
    if isinstance(values, (pa.Array, pa.ChunkedArray)):
        return pc.fill_null(values, False).to_numpy(zero_copy_only=False).astype(bool, copy=False)
    return np.asarray(values, dtype=bool)


@dataclass(frozen=True)
class Decision:
    """Which rows a filter keeps and, for each dropped row, why (null where kept)."""

    keep: np.ndarray
    reasons: pa.Array

    def __post_init__(self) -> None:
        if len(self.keep) != len(self.reasons):
            raise ValueError("keep mask and reasons differ in length")

    @classmethod
    def keep_all(cls, num_rows: int) -> Decision:
        return cls(np.ones(num_rows, dtype=bool), pa.nulls(num_rows, pa.string()))

    @classmethod
    def first_failing(cls, *checks: tuple[str, Any], num_rows: int | None = None) -> Decision:
        """Drop a row for the first check (reason, mask) whose mask is true; order is priority."""
        masks = [(reason, as_bool_mask(mask)) for reason, mask in checks]
        if num_rows is None:
            if not masks:
                raise ValueError("first_failing needs a check or num_rows")
            num_rows = len(masks[0][1])
        codes = np.zeros(num_rows, dtype=np.int32)
        for code, (_, mask) in enumerate(masks, start=1):
            codes[(codes == 0) & mask] = code
        return cls.from_codes(codes, [reason for reason, _ in masks])

    @classmethod
    def from_codes(cls, codes: np.ndarray, labels: Sequence[str]) -> Decision:
        """Codes are 0 for keep and i+1 for labels[i]."""
        keep = codes == 0
        indices = pa.array(codes - 1, pa.int32(), mask=keep)
        reasons = pa.DictionaryArray.from_arrays(indices, pa.array(list(labels), pa.string()))
        return cls(keep, reasons.cast(pa.string()) if len(labels) else pa.nulls(len(codes)))

    @property
    def num_dropped(self) -> int:
        return int(len(self.keep) - np.count_nonzero(self.keep))

    def dropped_reasons(self) -> dict[str, int]:
        """Full reasons of the dropped rows (`benchmark=gsm8k`, not the family `benchmark`)
        and their counts: a `Stage.counters` for stages whose reason details are few."""
        if not self.num_dropped:
            return {}
        dropped = self.reasons.filter(pa.array(~self.keep)).cast(pa.string())
        return value_counts(pc.fill_null(dropped, "dropped"))


def value_counts(values: pa.Array) -> dict[str, int]:
    """{value: occurrences} of a string array (nulls left out)."""
    counts = pc.value_counts(values.drop_null())
    pairs = zip(counts.field("values").to_pylist(), counts.field("counts").to_pylist(), strict=True)
    return dict(pairs)


class Stage:
    """Base of every stage: a registered name, validated options, one method over a batch."""

    name: ClassVar[str] = ""
    Options: ClassVar[type[StageOptions]] = StageOptions

    def __init__(self, options: StageOptions | dict[str, Any] | None = None, **kwargs: Any):
        if isinstance(options, StageOptions):
            if kwargs:
                options = options.model_copy(update=kwargs)
        else:
            options = self.Options(**{**(options or {}), **kwargs})
        self.options = options

    def setup(self) -> None:
        """Load models or lists; called once per worker process before the first batch."""

    def process(self, batch: pa.Table) -> tuple[pa.Table, Decision | None]:
        """The batch as this stage leaves it, and a decision when the stage drops rows."""
        raise NotImplementedError

    def counters(self, out: pa.Table, decision: Decision | None) -> dict[str, int]:
        """Named counts over the rows this stage returned (dropped ones included), which the
        runner sums across batches, shards and executors into stats.json's per-stage
        `counters`: for figures the drop reasons alone do not carry (PII per kind, ...)."""
        return {}

    def spec(self) -> tuple[str, dict[str, Any]]:
        """(name, options) that rebuild this stage in another process."""
        return self.name, self.options.model_dump(mode="json", exclude_defaults=True)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.options!r})"


class Mapper(Stage):
    """Returns the batch with columns changed or added; never drops rows."""

    def map(self, batch: pa.Table) -> pa.Table:
        raise NotImplementedError

    def process(self, batch: pa.Table) -> tuple[pa.Table, Decision | None]:
        return self.map(batch), None


class Filter(Stage):
    """Measures metrics on the whole batch, then decides; the two halves are separate so that
    reports and calibration can reuse the measurements without the thresholds."""

    # False where measuring is the costly work itself (extraction): the report's audit then
    # shows rejected samples without re-measuring them, so a hostile page is not run twice.
    remeasure_for_audit: ClassVar[bool] = True

    def measure(self, batch: pa.Table) -> pa.Table:
        raise NotImplementedError

    def decide(self, metrics: pa.Table) -> Decision:
        raise NotImplementedError

    def process(self, batch: pa.Table) -> tuple[pa.Table, Decision | None]:
        return batch, self.decide(self.measure(batch))


@dataclass(frozen=True)
class ClusterRule:
    """How a clustering global stage can be reduced by a distributed executor: documents equal
    on any one `keys` column share a cluster (transitively); `choose(members)` turns whole
    clusters (columns `cluster`, `doc_key`, `id`, *carry) into decision rows of `schema`. The
    stage's own local reduce applies the same `choose`, so both executors keep the same rows.

    With a `check` column (uint16 vectors as fixed-size binary), equal keys only make
    candidates: a pair links when the vectors agree in ≥ `min_matches` places, each document
    compared with the `window` before it in its key group (`stages.dedup._unionfind`)."""

    keys: tuple[str, ...]
    carry: tuple[str, ...]
    choose: Callable[[pa.Table], pa.Table]
    schema: pa.Schema
    check: str | None = None
    min_matches: int = 0
    window: int = 1


class GlobalStage(Stage):
    """A stage that must see the whole dataset (deduplication): map → reduce → map.

    1. `signatures(batch)` emits rows (always with `doc_key`) for each batch, in any order.
    2. `reduce(signature_files, workdir)` sees every signature the run produced and returns the
       decisions: one row per document it drops or annotates, keyed by `doc_key` (the user's
       `id` may repeat; it may ride along for reading), with a nullable string column `reason`
       (null = keep) and any annotation columns.
    3. `apply(batch, decisions)` drops and annotates the batch.

    Where the signatures live (local disk, Ray object store) is the executor's business.
    """

    def signatures(self, batch: pa.Table) -> pa.Table:
        raise NotImplementedError

    def reduce(self, signature_files: Sequence[Path], workdir: Path) -> pa.Table:
        raise NotImplementedError

    def cluster_rule(self) -> ClusterRule | None:
        """Stages whose reduce is clustering say how (see ClusterRule); others reduce in one
        place with `reduce` under every executor."""
        return None

    def apply(self, batch: pa.Table, decisions: pa.Table) -> tuple[pa.Table, Decision]:
        """Default: drop rows whose key has a non-null reason; add annotation columns."""
        return apply_decisions(batch, decisions)

    def process(self, batch: pa.Table) -> tuple[pa.Table, Decision | None]:
        raise TypeError(f"{self.name} is a global stage; run it through an executor")


def apply_decisions(batch: pa.Table, decisions: pa.Table) -> tuple[pa.Table, Decision]:
    """Join a batch with a decision table on `doc_key`; rows absent from it are kept unchanged."""
    positions = pc.index_in(batch[KEY], value_set=decisions[KEY])
    found = as_bool_mask(pc.is_valid(positions))
    reasons = pc.take(decisions["reason"], positions)
    keep = ~(found & as_bool_mask(pc.is_valid(reasons)))
    for name in decisions.column_names:
        if name in (KEY, ID, "reason"):
            continue
        column = pc.take(decisions[name], positions)
        if name in batch.column_names:
            column = pc.coalesce(column, batch[name])
            batch = batch.set_column(batch.column_names.index(name), name, column)
        else:
            batch = batch.append_column(name, column)
    return batch, Decision(
        keep, reasons.combine_chunks() if isinstance(reasons, pa.ChunkedArray) else reasons
    )


STAGES: dict[str, type[Stage]] = {}


def register(name: str):
    """Class decorator: the one line that wires a stage into YAML, CLI and Python API."""

    def wrap(cls: type[Stage]) -> type[Stage]:
        if name in STAGES and STAGES[name] is not cls:
            raise ValueError(f"stage name {name!r} registered twice")
        cls.name = name
        STAGES[name] = cls
        return cls

    return wrap


def stage_class(name: str) -> type[Stage]:
    import textmill.stages  # noqa: F401  (registers every built-in stage)

    return STAGES[name]


def build_stage(name: str, options: dict[str, Any] | None = None) -> Stage:
    return stage_class(name)(options or {})


def build_stages(specs: Iterable[tuple[str, dict[str, Any]]]) -> list[Stage]:
    return [build_stage(name, options) for name, options in specs]
