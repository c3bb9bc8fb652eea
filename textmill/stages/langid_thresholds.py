"""Language-id confidence thresholds per language from the run's own scores (FineWeb-2).

An identifier is surer of some languages than of others, so one threshold keeps too much of the
easy ones and too little of the hard ones. This global stage runs after `langid`: its map reads
each document's `lang` and `lang_score`, its reduce sets τ = max(0.3, min(0.9, median − σ)) per
language over the whole run (`textmill.lang.thresholds`, methods.md), and its apply drops the
documents under their language's τ as `low_language_score=<lang>`. Languages with fewer than
`min_documents` documents get no threshold (langid's own `min_score` already applied); languages
in `fixed` keep the threshold given there (FineWeb's English 0.65).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import yaml
from pydantic import Field

from textmill.document import ID, KEY
from textmill.io.writers import write_text_atomically
from textmill.lang.thresholds import MIN_DOCUMENTS, language_score_thresholds
from textmill.pipeline import GlobalStage, OutputFile, StageOptions, register
from textmill.stages.langid import LANG, LANG_SCORE

DECISIONS_SCHEMA = pa.schema(
    [pa.field(KEY, pa.int64()), pa.field(ID, pa.string()), pa.field("reason", pa.string())]
)


@register("langid_thresholds")
class LangidThresholds(GlobalStage):
    """Drops documents under their language's τ, computed from this run's scores (two passes)."""

    class Options(StageOptions):
        fixed: dict[str, float] = {}  # languages that keep a given threshold, e.g. {en: 0.65}
        min_documents: int = Field(MIN_DOCUMENTS, ge=1)  # fewer: no stable median and σ
        write_thresholds: OutputFile = None  # YAML of each language's τ, under OUT

    def signatures(self, batch: pa.Table) -> pa.Table:
        missing = {LANG, LANG_SCORE} - set(batch.column_names)
        if missing:
            raise ValueError(f"langid_thresholds needs {sorted(missing)}: run langid before it")
        return batch.select([KEY, ID, LANG, LANG_SCORE])

    def thresholds(self, signature_files: Sequence[Path]) -> dict[str, float]:
        """τ per language over all signatures (only the language and score columns are read)."""
        table = pa.concat_tables(
            pq.read_table(f, columns=[LANG, LANG_SCORE]) for f in signature_files
        )
        derived = language_score_thresholds(
            table[LANG].to_pylist(),
            table[LANG_SCORE].to_numpy(zero_copy_only=False).astype(np.float64),
            self.options.min_documents,
        )
        return {**derived, **self.options.fixed}

    def reduce(self, signature_files: Sequence[Path], workdir: Path) -> pa.Table:
        if not signature_files:
            return DECISIONS_SCHEMA.empty_table()
        table = self.thresholds(signature_files)
        if self.options.write_thresholds:
            write_text_atomically(yaml.safe_dump(table), Path(self.options.write_thresholds))
        languages = pa.array(list(table), pa.string())
        values = pa.array(list(table.values()), pa.float64())
        parts = []
        for path in signature_files:  # one file at a time: only the dropped rows are kept
            rows = pq.read_table(path)
            tau = pc.take(values, pc.index_in(rows[LANG], value_set=languages))
            low = pc.fill_null(pc.less(rows[LANG_SCORE].cast(pa.float64()), tau), False)
            dropped = rows.filter(low)
            reasons = pc.binary_join_element_wise("low_language_score", dropped[LANG], "=")
            parts.append(
                pa.table(
                    {KEY: dropped[KEY], ID: dropped[ID], "reason": reasons},
                    schema=DECISIONS_SCHEMA,
                )
            )
        return pa.concat_tables(parts)
