"""The mix spec: which sources go into a training mixture and how much of each.

A spec is YAML, validated before any data is read; every error names the file, the line and
the field, as pipeline files do (textmill/config.py). Exactly one way to decide the shares:
`weights` (per group; a `"*"` entry shares its weight among the groups not named, in proportion
to their tokens), per-source `weight`, `temperature` (p ∝ n^(1/T), mT5), `unimax` (a uniform
budget per group capped at `max_epochs`, Chung et al. 2023), or none (the data's own proportions).
"""

from __future__ import annotations

import difflib
import re
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from textmill.config import (
    MAX_PIPELINE_BYTES,
    YAML_LOADER,
    PipelineConfigError,
    _refuse_repeated_keys,
)

REST = "*"  # the weights entry for every group the weights do not name
NULL_GROUP = "<null>"  # the group of documents whose grouping column is null
FORMATS = ("text", "megatron", "memmap", "parquet", "nanotron", "blend")
TOKENIZED_FORMATS = ("megatron", "memmap", "parquet", "nanotron")
_SUFFIXES = {"": 1, "K": 10**3, "M": 10**6, "B": 10**9, "G": 10**9, "T": 10**12}
_COUNT = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*([KMBGT]?)\s*$", re.IGNORECASE)


class MixError(PipelineConfigError):
    """A mix spec or a mixture that cannot be made; the message is for the user (exit 2)."""


def parse_token_count(value: object) -> int:
    """A token count: a whole number or a number with K/M/B/T (`800B`, `1.2T`)."""
    if isinstance(value, bool):
        raise ValueError(f"a token count is a number such as 1000000 or 800B (got {value!r})")
    if isinstance(value, int):
        number = value
    elif isinstance(value, float) and value.is_integer():
        number = int(value)
    else:
        match = _COUNT.match(str(value))
        if not match:
            raise ValueError(f"a token count is a number such as 1000000 or 800B (got {value!r})")
        number = round(float(match.group(1)) * _SUFFIXES[match.group(2).upper()])
    if number <= 0:
        raise ValueError(f"a token count must be positive (got {value!r})")
    return number


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SourceSpec(_Strict):
    """One source: a textmill output (OUT or OUT/data), Parquet files of text, or a TOK folder."""

    path: str
    name: str | None = None  # default: the folder's name (OUT/data: OUT's name)
    group: str | None = None  # every document of this source in this group (over group_by)
    weight: float | None = Field(None, ge=0)
    rehydrate: bool = False  # repeat each document `rehydrate_copies` times (rehydrate stage)
    text_column: str = "text"

    @property
    def label(self) -> str:
        if self.name:
            return self.name
        path = Path(self.path.rstrip("/"))
        return path.parent.name if path.name == "data" and path.parent.name else path.name


class OutputSpec(_Strict):
    """What MIX holds: text Parquet, a tokenized mixture (through `textmill tokenize`'s writers),
    or the Megatron `--data-path` blend line."""

    format: Literal["text", "megatron", "memmap", "parquet", "nanotron", "blend"] = "text"
    shuffle: bool = True  # by the spec's seed (tokenized: tokenize's bounded-memory shuffle)
    add_bos: bool = False
    add_eos: bool = True
    # what tokenize's global shuffle holds in memory at most (its buckets, while sorted)
    shuffle_memory_bytes: int = Field(256 << 20, ge=1 << 16)
    pack: int | None = Field(None, ge=2)  # SEQ_LEN: tokenize's --pack (tokenized formats)
    packing: Literal["concat", "best-fit"] = "concat"


class MixSpec(_Strict):
    name: str | None = None
    description: str | None = None
    sources: list[SourceSpec] = Field(min_length=1)
    group_by: str | None = None  # a column (lang, source, domain, ...); default: the source
    weights: dict[str, Annotated[float, Field(ge=0)]] | None = None  # refused below 0
    temperature: float | None = Field(None, gt=0)
    unimax: bool = False
    budget: int | None = None  # total tokens; default: the most the data allows
    max_epochs: float = Field(1.0, ge=1)  # passes over a group's documents at most
    tolerance: float = Field(0.005, gt=0, lt=1)  # realized vs requested tokens, per group
    seed: int = 0
    tokenizer: str | None = None  # tokenizer.json / HF folder / .model: counts in its tokens
    output: OutputSpec = OutputSpec()

    @field_validator("budget", mode="before")
    @classmethod
    def _budget(cls, value: object) -> int | None:
        return None if value is None else parse_token_count(value)

    @field_validator("weights")
    @classmethod
    def _weights(cls, weights: dict[str, float] | None) -> dict[str, float] | None:
        if weights is None:
            return None
        if not weights:
            raise ValueError("weights is empty: name at least one group")
        if sum(weights.values()) <= 0:
            raise ValueError("weights sum to 0: give at least one positive weight")
        return {str(k): float(v) for k, v in weights.items()}

    @model_validator(mode="after")
    def _one_method(self) -> MixSpec:
        per_source = [s.label for s in self.sources if s.weight is not None]
        chosen = [
            name
            for name, given in (
                ("weights", self.weights is not None),
                ("per-source weight", bool(per_source)),
                ("temperature", self.temperature is not None),
                ("unimax", self.unimax),
            )
            if given
        ]
        if len(chosen) > 1:
            raise ValueError(f"give one way to set the shares, not {' and '.join(chosen)}")
        if per_source and len(per_source) != len(self.sources):
            missing = [s.label for s in self.sources if s.weight is None]
            raise ValueError(f"per-source weights: every source needs one (missing: {missing})")
        if per_source and self.group_by is not None:
            raise ValueError("per-source weights need no group_by: with group_by, use weights")
        labels = [s.label for s in self.sources]
        repeated = sorted({label for label in labels if labels.count(label) > 1})
        if repeated:
            raise ValueError(f"two sources are named {repeated[0]!r}: give each a `name`")
        if self.output.pack is not None and self.output.format not in TOKENIZED_FORMATS:
            raise ValueError(
                f"output.pack packs tokens: a format of {', '.join(TOKENIZED_FORMATS)}"
            )
        if self.output.format == "blend" and self.group_by is not None:
            raise ValueError(
                "format blend weighs whole files (one weight per TOK prefix): group by source "
                "(no group_by; a source's `group` may join several sources)"
            )
        return self

    @property
    def method(self) -> str:
        if self.temperature is not None:
            return "temperature"
        if self.unimax:
            return "unimax"
        if self.weights is not None or any(s.weight is not None for s in self.sources):
            return "weights"
        return "natural"

    def group_weights(self) -> dict[str, float] | None:
        """Weights per group: the spec's `weights`, or the per-source weights summed by group."""
        if self.weights is not None:
            return dict(self.weights)
        if not any(s.weight is not None for s in self.sources):
            return None
        weights: dict[str, float] = {}
        for source in self.sources:
            group = source.group or source.label
            weights[group] = weights.get(group, 0.0) + float(source.weight or 0.0)
        return weights


# ---------------------------------------------------------------- loading, with line numbers


def load_mix_spec(path: str | Path) -> MixSpec:
    """Read and validate a spec file; relative source paths are taken from the file's folder."""
    path = Path(path)
    try:
        if (size := path.stat().st_size) > MAX_PIPELINE_BYTES:
            raise MixError(f"{path}: a mix spec of {size:,} bytes (a spec is a few KB)")
        text = path.read_text("utf-8")
    except OSError as exc:
        raise MixError(f"{path}: cannot read mix spec ({exc.strerror})") from None
    except UnicodeDecodeError as exc:
        raise MixError(f"{path}: not a mix spec (invalid UTF-8 at byte {exc.start:,})") from None
    return parse_mix_spec(text, str(path), base=path.parent)


def parse_mix_spec(text: str, origin: str = "mix spec", base: Path | None = None) -> MixSpec:
    try:
        root = yaml.compose(text, Loader=YAML_LOADER)
    except yaml.YAMLError as exc:  # one line: the place and the problem
        mark = getattr(exc, "problem_mark", None)
        where = f", line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).replace("\n", " ")
        raise MixError(f"{origin}{where}: not valid YAML ({problem})") from None
    if not isinstance(root, yaml.MappingNode):
        raise MixError(f"{origin}: expected a mapping with a 'sources' list")
    _refuse_repeated_keys(root, origin)
    try:
        data = yaml.SafeLoader("").construct_document(root)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f", line {mark.line + 1}" if mark else ""
        raise MixError(f"{origin}{where}: not valid mix spec YAML ({exc})") from None
    return build_mix_spec(data, origin, _lines(root), base)


def build_mix_spec(
    data: Any,
    origin: str = "mix spec",
    lines: dict[tuple, int] | None = None,
    base: Path | None = None,
) -> MixSpec:
    """Validate a spec given as Python data (the API's dict); errors name the field."""
    try:
        spec = MixSpec.model_validate(data)
    except ValidationError as exc:
        raise MixError(_message(exc, origin, lines or {})) from None
    if base is not None:
        sources = [
            s
            if Path(s.path).expanduser().is_absolute() or "://" in s.path
            else s.model_copy(update={"path": str(base / s.path)})
            for s in spec.sources
        ]
        tokenizer = spec.tokenizer
        if tokenizer and not Path(tokenizer).expanduser().is_absolute():
            tokenizer = str(base / tokenizer)
        spec = spec.model_copy(update={"sources": sources, "tokenizer": tokenizer})
    return spec


def _lines(node: yaml.Node, path: tuple = ()) -> dict[tuple, int]:
    """The 1-based line of every key and list item, by its pydantic location."""
    lines = {path: node.start_mark.line + 1}
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            here = (*path, key.value)
            lines.update(_lines(value, here))
            lines[here] = key.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            lines.update(_lines(item, (*path, index)))
    return lines


def _message(exc: ValidationError, origin: str, lines: dict[tuple, int]) -> str:
    error = exc.errors()[0]
    loc = tuple(error["loc"])
    line = next((lines[loc[:n]] for n in range(len(loc), -1, -1) if loc[:n] in lines), None)
    where = f"{origin}, line {line}" if line else origin
    field = ".".join(str(part) for part in loc) or "spec"
    if error["type"] == "extra_forbidden":
        model = _model_at(loc[:-1])
        allowed = list(model.model_fields)
        close = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        return f"{where}: unknown field {field!r}.{hint} (allowed: {', '.join(allowed)})"
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] == "missing":
        return f"{where}: {field}: required field missing"
    if loc and error["type"] != "value_error":
        return f"{where}: {field}: {message} (got {error.get('input')!r})"
    return f"{where}: {field}: {message}" if loc else f"{where}: {message}"


def _model_at(loc: tuple) -> type[BaseModel]:
    if loc[:1] == ("sources",):
        return SourceSpec
    if loc[:1] == ("output",):
        return OutputSpec
    return MixSpec


def shipped_specs() -> dict[str, str]:
    """The documented example specs shipped with textmill (textmill/mix/specs/*.yaml)."""
    from importlib import resources

    folder = resources.files("textmill.mix") / "specs"
    return {
        p.name[: -len(".yaml")]: p.read_text("utf-8")
        for p in sorted(folder.iterdir(), key=lambda p: p.name.removesuffix(".yaml"))
        if p.name.endswith(".yaml")
    }
