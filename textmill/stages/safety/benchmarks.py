"""Benchmark items from the user's files: which fields of a record form one item.

A *layout* names the fields (`fields`, joined in order; a list value is one line per element;
`a.b` reaches into a nested record) and optionally the record's id field; layouts for the common
benchmarks ship as YAML files next to this module. A benchmark is `LAYOUT:PATH` (the layout's
name is the benchmark's name), or a mapping `{path, layout | fields, name, id, lang}`.

Reading is strict: a benchmark file that is malformed, an item with a missing field or no
text, or an item in a script the declared language does not split into words would silently
check nothing, so each is an error naming the file and the line (or Parquet row).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator

from textmill.io.files import STREAM_ERRORS, InputError, open_input, split_compression
from textmill.text.columns import decode
from textmill.text.words import splitter_key

LAYOUT_DIR = "layouts"
FORMATS = {".jsonl": "jsonl", ".json": "jsonl", ".ndjson": "jsonl", ".parquet": "parquet"}
FORMATS |= {".csv": "csv", ".tsv": "tsv"}
# A benchmark whose items are mostly in a no-space script, read with a splitter for spaced
# text, would make one "word" per sentence: no n-gram would ever match.
WRONG_SCRIPT_SHARE = 0.5
LANGUAGE_SAMPLE = 200  # items whose script is checked


class BenchmarkError(InputError):
    """A benchmark file or spec that cannot be read as benchmark items; says where."""


class Layout(BaseModel):
    """Which fields of a record form a benchmark item."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    fields: tuple[str, ...] = Field(min_length=1)
    id: str | None = None
    lang: str = "en"


class BenchmarkSpec(BaseModel):
    """One benchmark to check: a file and its layout (a shipped one by name, or fields)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    path: str
    layout: str | None = None
    fields: tuple[str, ...] | None = None
    id: str | None = None
    name: str | None = None
    lang: str | None = None

    @field_validator("layout")
    @classmethod
    def _known_layout(cls, value: str | None) -> str | None:
        if value is not None and value not in layout_names():
            raise ValueError(f"unknown benchmark layout {value!r} (known: {_known()})")
        return value

    def resolved(self) -> tuple[str, Layout]:
        """(benchmark name, layout) with the spec's own fields, id and lang taking precedence."""
        if self.layout is None and self.fields is None:
            raise ValueError(
                f"benchmark {self.path}: give a layout ({_known()}) or the fields that form an "
                "item, e.g. {path: FILE, fields: [question, answer]}"
            )
        base = shipped_layout(self.layout) if self.layout else Layout(fields=self.fields or ())
        layout = Layout(
            fields=self.fields or base.fields,
            id=self.id if self.id is not None else base.id,
            lang=self.lang or base.lang,
        )
        return self.name or self.layout or Path(self.path).name.split(".")[0], layout


def _known() -> str:
    return ", ".join(layout_names())


@cache
def layout_names() -> tuple[str, ...]:
    folder = resources.files(__package__) / LAYOUT_DIR
    return tuple(sorted(p.name.removesuffix(".yaml") for p in folder.iterdir() if p.is_file()))


@cache
def shipped_layout(name: str) -> Layout:
    text = (resources.files(__package__) / LAYOUT_DIR / f"{name}.yaml").read_text("utf-8")
    return Layout(**yaml.safe_load(text))


def parse_spec(value: str | dict[str, Any] | BenchmarkSpec) -> BenchmarkSpec:
    """`LAYOUT:PATH`, a mapping, or a spec."""
    if isinstance(value, BenchmarkSpec):
        return value
    if isinstance(value, dict):
        return BenchmarkSpec(**value)
    layout, sep, path = value.partition(":")
    if not sep or not path:
        raise ValueError(
            f"benchmark {value!r}: write LAYOUT:PATH (layouts: {_known()}) or a mapping "
            "{path: FILE, fields: [...]}"
        )
    return BenchmarkSpec(layout=layout, path=path)


@dataclass(frozen=True)
class Benchmark:
    """The items of one benchmark file: their text and a stable key each (the id field, else
    `line N` / `row N`)."""

    name: str
    path: str
    lang: str
    texts: list[str]
    keys: list[str]


def file_format(path: str) -> str:
    stem, _ = split_compression(path.lower())
    fmt = FORMATS.get(Path(stem).suffix)
    if fmt is None:
        raise BenchmarkError(
            f"{path}: unknown benchmark file type (JSONL, Parquet or CSV/TSV, optionally "
            "compressed)"
        )
    return fmt


def _records(path: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """(where, record) for each record of a benchmark file; `where` is `line N` or `row N`.
    A damaged compressed stream is an error naming the last record read."""
    where = "the start"
    try:
        for where, record in _read_records(path):
            yield where, record
    except BenchmarkError:
        raise
    except STREAM_ERRORS as exc:
        raise BenchmarkError(
            f"{path}: unreadable after {where} ({type(exc).__name__}: {exc})"
        ) from None


def _read_records(path: str) -> Iterator[tuple[str, dict[str, Any]]]:
    fmt = file_format(path)
    if fmt == "parquet":
        import pyarrow.parquet as pq

        try:
            table = pq.read_table(path)
        except (pa.ArrowInvalid, OSError) as exc:
            raise BenchmarkError(f"{path}: not a readable Parquet file ({exc})") from None
        for row, record in enumerate(table.to_pylist(), start=1):
            yield f"row {row}", record
        return
    stream, _ = open_input(path)
    with stream:
        if fmt == "jsonl":
            for line_no, line in enumerate(stream, start=1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                    raise BenchmarkError(f"{path}, line {line_no}: invalid JSON ({exc})") from None
                if not isinstance(record, dict):
                    raise BenchmarkError(f"{path}, line {line_no}: not a JSON object")
                yield f"line {line_no}", record
            return
        text = io.TextIOWrapper(stream, encoding="utf-8", newline="")
        # strict: an unbalanced quote is an error, not a cell that swallows the lines after it
        reader = csv.DictReader(text, delimiter="\t" if fmt == "tsv" else ",", strict=True)
        try:
            for record in reader:
                if None in record:
                    raise BenchmarkError(
                        f"{path}, line {reader.line_num}: more cells than the header has columns"
                    )
                yield f"line {reader.line_num}", record
        except (csv.Error, UnicodeDecodeError) as exc:
            raise BenchmarkError(f"{path}, line {reader.line_num}: malformed CSV ({exc})") from None


def _field(record: dict[str, Any], name: str) -> Any:
    value: Any = record
    for part in name.split("."):
        if not isinstance(value, dict) or part not in value:
            raise KeyError(name)
        value = value[part]
    return value


def _as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        return "\n".join(_as_text(v) for v in value)
    if isinstance(value, dict):
        return "\n".join(_as_text(v) for v in value.values())
    return str(value)


def read_benchmark(spec: BenchmarkSpec) -> Benchmark:
    """Every item of one benchmark file; raises BenchmarkError (file and line) on bad input."""
    try:
        name, layout = spec.resolved()
    except ValueError as exc:
        raise BenchmarkError(str(exc)) from None
    path = spec.path
    if not Path(path).exists() and "://" not in path:
        raise BenchmarkError(f"{path}: benchmark file {name!r} not found")
    texts: list[str] = []
    keys: list[str] = []
    for where, record in _records(path):
        parts = []
        for field in layout.fields:
            try:
                parts.append(_as_text(_field(record, field)))
            except KeyError:
                present = ", ".join(sorted(record)) or "none"
                raise BenchmarkError(
                    f"{path}, {where}: no field {field!r} (benchmark {name} takes "
                    f"{' + '.join(layout.fields)}; the record has {present})"
                ) from None
        item = "\n".join(p for p in parts if p.strip())
        if not item.strip():
            raise BenchmarkError(
                f"{path}, {where}: empty item ({' + '.join(layout.fields)} hold no text)"
            )
        key = record.get(layout.id) if layout.id else None
        texts.append(item)
        keys.append(str(key) if key not in (None, "") else where)
    if not texts:
        raise BenchmarkError(f"{path}: no benchmark items in the file")
    _check_language(path, name, layout.lang, texts)
    return Benchmark(name, path, layout.lang, texts, keys)


# Code points of the scripts written without spaces (Thai, Lao, Tibetan, Myanmar, Khmer, kana,
# Han): what textmill.text.segmenters.NO_SPACE_SCRIPTS names, as ranges a numpy test can use.
NO_SPACE_RANGES = (
    (0x0E00, 0x0FFF), (0x1000, 0x109F), (0x1780, 0x17FF), (0x3040, 0x30FF),
    (0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xF900, 0xFAFF), (0x20000, 0x3FFFF),
)  # fmt: skip


def _check_language(path: str, name: str, lang: str, texts: list[str]) -> None:
    """Items mostly in a no-space script with a language whose splitter needs spaces match
    nothing (a sentence is one "word"): say which language to declare."""
    if splitter_key(lang) not in ("en", "ko"):
        return  # a segmenter, or the script-aware default, splits such text
    sample = texts[:: max(1, len(texts) // LANGUAGE_SAMPLE)]
    chars = decode(pa.array(sample, pa.large_string()))
    codes = chars.codes
    no_space = np.zeros(len(codes), dtype=bool)
    for low, high in NO_SPACE_RANGES:
        no_space |= (codes >= low) & (codes <= high)
    spaced = codes > 0x40  # letters and most symbols; ASCII digits and punctuation count neither
    spaced &= ~no_space
    starts = chars.offsets[:-1]
    if not len(codes):
        return
    per_item = np.add.reduceat(no_space.astype(np.int64), np.minimum(starts, len(codes) - 1))
    others = np.add.reduceat(spaced.astype(np.int64), np.minimum(starts, len(codes) - 1))
    written = int(np.count_nonzero(per_item > others))
    if written > WRONG_SCRIPT_SHARE * len(sample):
        raise BenchmarkError(
            f"{path}: {written:,} of {len(sample):,} sampled items of benchmark {name} are "
            f"written in a script without spaces between words (Chinese, Japanese, Thai, ...), "
            f"which lang {lang!r} does not split; declare the benchmark's language (e.g. "
            "{path: ..., layout: ..., lang: zh})"
        )
