"""Labels from any fastText classifier as columns, and a filter on them.

With `column: register` the stage adds `register` (the top label), `register_score` (its
probability) and, for a multi-label (one-vs-all) model, `register_labels` (every label whose
probability is ≥ `label_threshold`, at least the top one). One model for every row
(`model_path`) or one per language (`models: {lang: path}`, by the `lang` column langid adds);
rows whose language has no model, and blank texts, get nulls and are never dropped. When the
model's metrics file lists the languages it was trained on (records with a `lang` field) and
the batch has a `lang` column, `<column>_ood` flags rows scored in another language: labelled,
but out of distribution. Train a model with `textmill classify train --label-field F` or
`textmill classify recipe register`.

Filtering (all optional): `keep` (a row stays only if one of its labels is listed), `drop` (a
row goes if one of its labels is listed), `min_score` (a row goes when its top label's
probability is lower). Reasons name the column: `register_label`, `register_score`.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field, field_validator, model_validator

from textmill.config import PipelineConfigError
from textmill.document import TEXT
from textmill.pipeline import Decision, Filter, StageHalt, StageOptions, register
from textmill.quality.labels import MULTI_LABEL_THRESHOLD, LabelModel, label_name
from textmill.stages.langid import LANG


@register("classify")
class Classify(Filter):
    """Adds `<column>` (top label), `<column>_score` and, for a multi-label model,
    `<column>_labels` from a fastText model (one per language optional); drops by label
    (`keep` / `drop`) or by `min_score`. With no filter option it only labels."""

    class Options(StageOptions):
        column: str = Field("label", description="name of the label column (and its prefix)")
        model_path: str | None = Field(
            None,
            description="fastText model for every row, or for rows whose language is "
            "not in `models`",
        )
        models: dict[str, str] = Field({}, description="{lang: model path}, by the `lang` column")
        label_threshold: float = Field(
            MULTI_LABEL_THRESHOLD,
            gt=0,
            le=1,
            description="multi-label models: lowest probability of a label in <column>_labels",
        )
        keep: list[str] | None = Field(
            None, description="a row stays only if one of its labels is here"
        )
        drop: list[str] = Field([], description="a row goes if one of its labels is here")
        min_score: float | None = Field(
            None, ge=0, le=1, description="a row goes if its top label's score is below this"
        )
        max_chars: int | None = Field(
            None,
            ge=1,
            description="each text's first characters classified (None: what the "
            "model was trained on, from its metrics file, else the whole text)",
        )

        @field_validator("keep", "drop", mode="before")
        @classmethod
        def _label_names(cls, value: object) -> object:
            """Labels as training named them: a field of numbers gave labels "1", "2", ..."""
            if isinstance(value, list):
                return [v if isinstance(v, str) else label_name(v) for v in value]
            return value

        @model_validator(mode="after")
        def _check(self) -> Classify.Options:
            if self.model_path is None and not self.models:
                raise ValueError("classify needs model_path or models")
            if not self.column.isidentifier():
                raise ValueError(f"column must be a plain name (got {self.column!r})")
            return self

    def setup(self) -> None:
        known: set[str] = set()
        for path in self._model_paths():
            model = LabelModel.load(path, self.options.label_threshold, self.options.max_chars)
            known.update(model.labels)
        for option in ("keep", "drop"):
            for name in getattr(self.options, option) or []:
                if name not in known:  # a typo in keep would drop every labelled document
                    raise PipelineConfigError(
                        f"classify {option}: {name!r} is no label of "
                        f"{', '.join(self._model_paths())} (labels: {', '.join(sorted(known))})"
                    )

    def _model_paths(self) -> list[str]:
        paths = list(self.options.models.values())
        return paths + ([self.options.model_path] if self.options.model_path else [])

    @property
    def columns(self) -> tuple[str, str, str]:
        column = self.options.column
        return column, f"{column}_score", f"{column}_labels"

    def _out_of_distribution(
        self, batch: pa.Table, parts: list[tuple[str, np.ndarray]], models: dict
    ) -> pa.Array | None:
        """True where a row's `lang` is not among its model's training languages (null where
        unscored or the language is unknown); None when no model knows its languages."""
        if LANG not in batch.column_names or all(m.languages is None for m in models.values()):
            return None
        flags = np.zeros(batch.num_rows, dtype=bool)
        known = np.zeros(batch.num_rows, dtype=bool)
        langs = batch[LANG]
        for path, rows in parts:
            trained = models[path].languages
            if trained is None:
                continue
            row_langs = langs.take(rows)
            inside = pc.is_in(row_langs, value_set=pa.array(sorted(trained), pa.string()))
            flags[rows] = ~pc.fill_null(inside, True).to_numpy(zero_copy_only=False)
            known[rows] = pc.is_valid(row_langs).to_numpy(zero_copy_only=False)
        return pa.array(flags, pa.bool_(), mask=~known)

    def _assignments(self, batch: pa.Table) -> list[tuple[str, np.ndarray]]:
        """(model path, rows) pairs: each row goes to its language's model, else the default."""
        o = self.options
        taken = np.zeros(batch.num_rows, dtype=bool)
        out = []
        if o.models:
            if LANG not in batch.column_names:
                raise StageHalt("classify with `models` needs a `lang` column: run langid first")
            langs = batch[LANG]
            for lang, path in sorted(o.models.items()):
                rows = np.flatnonzero(pc.fill_null(pc.equal(langs, lang), False).to_numpy())
                taken[rows] = True
                out.append((path, rows))
        if o.model_path:
            out.append((o.model_path, np.flatnonzero(~taken)))
        return [(path, rows) for path, rows in out if len(rows)]

    def measure(self, batch: pa.Table) -> pa.Table:
        n = batch.num_rows
        label_col, score_col, list_col = self.columns
        models = {path: LabelModel.load(path, self.options.label_threshold, self.options.max_chars)
                  for path in self._model_paths()}  # fmt: skip
        multi = any(model.multi_label for model in models.values())
        labels = pa.nulls(n, pa.string())
        scores = pa.nulls(n, pa.float32())
        lists = pa.nulls(n, pa.list_(pa.string()))
        parts = []
        assignments = self._assignments(batch)
        for path, rows in assignments:
            top, score, chosen = models[path].predict(batch[TEXT].take(rows))
            if chosen is None:  # a multi-class model beside multi-label ones: its one label
                chosen = _singletons(top)
            parts.append((rows, top, score, chosen))
        if parts:
            order = np.concatenate([rows for rows, *_ in parts])
            back = np.full(n, -1, dtype=np.int64)
            back[order] = np.arange(len(order))
            missing = back < 0
            index = pa.array(np.where(missing, 0, back), mask=missing)

            def place(values: list[pa.Array], kind: pa.DataType) -> pa.Array:
                return pa.concat_arrays([v.cast(kind) for v in values]).take(index)

            labels = place([p[1] for p in parts], pa.string())
            scores = place([p[2] for p in parts], pa.float32())
            lists = place([p[3] for p in parts], pa.list_(pa.string()))
        columns = {label_col: labels, score_col: scores}
        if multi:
            columns[list_col] = lists
        ood = self._out_of_distribution(batch, assignments, models)
        if ood is not None:
            columns[f"{label_col}_ood"] = ood
        return pa.table(columns)

    def decide(self, metrics: pa.Table) -> Decision:
        o = self.options
        label_col, score_col, list_col = self.columns
        lists = metrics[list_col] if list_col in metrics.column_names else None
        top = metrics[label_col]

        def any_of(names: list[str]) -> np.ndarray:
            wanted = pa.array(names, pa.string())
            if lists is None:
                return pc.fill_null(pc.is_in(top, value_set=wanted), False).to_numpy()
            flat = pc.list_flatten(lists)
            parents = pc.list_parent_indices(lists).to_numpy()
            hit = pc.fill_null(pc.is_in(flat, value_set=wanted), False).to_numpy()
            out = np.zeros(metrics.num_rows, dtype=bool)
            out[parents[hit]] = True
            return out

        labelled = pc.is_valid(top).to_numpy(zero_copy_only=False)
        off_label = np.zeros(metrics.num_rows, dtype=bool)
        if o.keep is not None:
            off_label |= labelled & ~any_of(o.keep)
        if o.drop:
            off_label |= any_of(o.drop)
        low = np.zeros(metrics.num_rows, dtype=bool)
        if o.min_score is not None:
            low = pc.fill_null(pc.less(metrics[score_col], o.min_score), False).to_numpy()
        return Decision.first_failing(
            (f"{label_col}_label", off_label), (score_col, low), num_rows=metrics.num_rows
        )

    def process(self, batch: pa.Table) -> tuple[pa.Table, Decision | None]:
        metrics = self.measure(batch)
        for name in metrics.column_names:  # a relabelling replaces earlier columns
            if name in batch.column_names:
                batch = batch.drop_columns([name])
        for name in metrics.column_names:
            batch = batch.append_column(name, metrics[name])
        return batch, self.decide(metrics)


def _singletons(values: pa.Array) -> pa.Array:
    """[[v0], [v1], ...] from a string array, null where the value is."""
    offsets = pa.array(np.arange(len(values) + 1, dtype=np.int32))
    return pa.ListArray.from_arrays(offsets, pc.fill_null(values, ""), mask=pc.is_null(values))
