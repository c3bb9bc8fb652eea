"""Pipeline files and presets.

A pipeline file is YAML: `stages:` is a list whose items are `stage_name: {options}` (or just
`stage_name`). The option key `resources` is not the stage's: it holds what each Ray task
running the stage asks for (`resources: {num_gpus: 1}`), used by the Ray executor only.
Validation happens before any data is read, and every error names the file, the line, the
stage and the option, with the allowed values.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from textmill.pipeline import STAGES, Stage, stage_class


class PipelineConfigError(ValueError):
    """A pipeline file or preset that does not validate; the message is for the user."""


@dataclass(frozen=True)
class StageSpec:
    name: str
    options: dict[str, Any]
    line: int | None = None  # 1-based line in the file it came from
    resources: dict[str, float] | None = None  # Ray resources per task of this stage


RESOURCES_KEY = "resources"


def pop_resources(options: dict[str, Any], where: str) -> dict[str, float] | None:
    """Take the `resources` key out of a stage's options: Ray resources per task, a mapping of
    num_cpus / num_gpus / memory (bytes) / custom resource names to non-negative numbers."""
    if RESOURCES_KEY not in options:
        return None
    value = options.pop(RESOURCES_KEY)
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, (int, float)) and not isinstance(v, bool) and v >= 0
        for k, v in value.items()
    ):
        raise PipelineConfigError(
            f"{where}: 'resources' maps Ray resource names (num_cpus, num_gpus, memory, or a "
            f"custom resource) to non-negative numbers (got {value!r})"
        )
    return {k: float(v) for k, v in value.items()}


def preset_names() -> list[str]:
    folder = resources.files("textmill") / "presets"
    return sorted(p.name[: -len(".yaml")] for p in folder.iterdir() if p.name.endswith(".yaml"))


def preset_text(name: str) -> str:
    path = resources.files("textmill") / "presets" / f"{name}.yaml"
    if not path.is_file():
        per_language = (
            "fineweb2 is built per language: `textmill presets fineweb2 --lang xx --lang-config "
            "CONFIG`, or textmill.lang.presets.fineweb2_preset(lang, config) in Python"
        )
        if name == "fineweb2":
            raise PipelineConfigError(per_language)
        raise PipelineConfigError(
            f"unknown preset {name!r} (available: {', '.join(preset_names())}; {per_language})"
        )
    return path.read_text("utf-8")


MAX_PIPELINE_BYTES = 4 << 20
"""The presets are 1-3 KB; a 50 MB file took 4 minutes and 4.8 GB to read (PyYAML's nodes)."""
YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml: ~10x faster, same nodes


def load_preset(name: str) -> list[StageSpec]:
    return parse_pipeline(preset_text(name), f"preset {name}")


def load_pipeline_file(path: str | Path) -> list[StageSpec]:
    path = Path(path)
    try:
        if (size := path.stat().st_size) > MAX_PIPELINE_BYTES:
            raise PipelineConfigError(
                f"{path}: a pipeline file of {size:,} bytes (at most {MAX_PIPELINE_BYTES:,}: "
                "a pipeline is a few KB; is this the right file?)"
            )
        text = path.read_text("utf-8")
    except OSError as exc:
        raise PipelineConfigError(f"{path}: cannot read pipeline file ({exc.strerror})") from exc
    except UnicodeDecodeError as exc:
        raise PipelineConfigError(
            f"{path}: not a pipeline file (invalid UTF-8 at byte {exc.start:,})"
        ) from None
    return parse_pipeline(text, str(path))


def parse_pipeline(text: str, origin: str) -> list[StageSpec]:
    """Parse and validate a pipeline document; raise PipelineConfigError naming the line."""
    try:
        root = yaml.compose(text, Loader=YAML_LOADER)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f", line {mark.line + 1}" if mark else ""
        raise PipelineConfigError(f"{origin}{where}: not valid YAML ({exc})") from exc
    if root is None or not isinstance(root, yaml.MappingNode):
        raise PipelineConfigError(f"{origin}: expected a mapping with a 'stages' list")
    _refuse_repeated_keys(root, origin)
    stages_node, llm = None, {}
    for key, value in root.value:
        if key.value == "stages":
            stages_node = value
        elif key.value == LLM_KEY:  # the endpoint of every LLM stage (textmill/llm)
            llm = _options_from_node(value, origin, key.start_mark.line + 1, LLM_KEY)
        elif key.value not in ("name", "description"):
            raise PipelineConfigError(
                f"{origin}, line {key.start_mark.line + 1}: unknown top-level key "
                f"{key.value!r} (allowed: stages, name, description, llm)"
            )
    if not isinstance(stages_node, yaml.SequenceNode) or not stages_node.value:
        raise PipelineConfigError(f"{origin}: 'stages' must be a non-empty list")
    return [_parse_stage(item, origin, llm) for item in stages_node.value]


LLM_KEY = "llm"


def with_llm_defaults(name: str, options: dict[str, Any], llm: dict[str, Any]) -> dict[str, Any]:
    """A stage's options with the pipeline's `llm:` endpoint under its own `llm:` keys, for
    stages that talk to an LLM (their Options have `llm`); other stages unchanged."""
    if not llm or LLM_KEY not in stage_class(name).Options.model_fields:
        return options
    own = options.get(LLM_KEY) or {}
    return {**options, LLM_KEY: {**llm, **own} if isinstance(own, dict) else own}


def _refuse_repeated_keys(root: yaml.Node, origin: str) -> None:
    """A key given twice in one mapping is an error: YAML loaders keep the last silently, so
    `stages:` twice (or an option twice) would run something else than the file seems to say."""
    nodes, visited = [root], set()
    while nodes:
        node = nodes.pop()
        if id(node) in visited:  # an alias shares its anchor's node (and may hold itself)
            continue
        visited.add(id(node))
        if isinstance(node, yaml.MappingNode):
            seen: set[str] = set()
            for key, value in node.value:
                if isinstance(key, yaml.ScalarNode):
                    if key.value in seen:
                        raise PipelineConfigError(
                            f"{origin}, line {key.start_mark.line + 1}: key {key.value!r} "
                            "given twice in one mapping"
                        )
                    seen.add(key.value)
                nodes.append(value)
        elif isinstance(node, yaml.SequenceNode):
            nodes.extend(node.value)


def _parse_stage(item: yaml.Node, origin: str, llm: dict[str, Any] | None = None) -> StageSpec:
    line = item.start_mark.line + 1
    if isinstance(item, yaml.ScalarNode):
        name, options_node = item.value, None
    elif isinstance(item, yaml.MappingNode) and len(item.value) == 1:
        name_node, options_node = item.value[0]
        name = name_node.value
    else:
        raise PipelineConfigError(
            f"{origin}, line {line}: each stage is `name: {{options}}` (one key per list item)"
        )
    check_stage_name(name, f"{origin}, line {line}")
    options = with_llm_defaults(name, _options_from_node(options_node, origin, line, name), llm)
    where = f"{origin}, line {_option_lines(options_node).get(RESOURCES_KEY, line)}"
    spec = StageSpec(name, options, line, pop_resources(options, where))
    validate_spec(spec, origin, _option_lines(options_node))
    return spec


class _OptionsLoader(yaml.SafeLoader):
    """Safe YAML whose dates stay text: an unquoted 2026-01-01 is the string a stage option
    takes (and stats.json can hold), and 2026-13-01 a string the option refuses, not a crash."""


_OptionsLoader.add_constructor("tag:yaml.org,2002:timestamp", yaml.SafeLoader.construct_yaml_str)


def _options_from_node(node: yaml.Node | None, origin: str, line: int, name: str) -> dict:
    if node is None or (isinstance(node, yaml.ScalarNode) and node.value in ("", "null", "~")):
        return {}
    if not isinstance(node, yaml.MappingNode):
        raise PipelineConfigError(
            f"{origin}, line {line}: options of stage {name!r} must be a mapping"
        )
    try:  # constructed from the node itself, so that an error names the file's own line
        return _OptionsLoader("").construct_document(node) or {}
    except yaml.YAMLError as exc:  # e.g. a `!!python/object` tag: safe YAML has no such type
        mark = getattr(exc, "problem_mark", None)
        where = f", line {mark.line + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise PipelineConfigError(
            f"{origin}{where}: stage {name!r}: not valid pipeline YAML ({problem})"
        ) from None


def _option_lines(node: yaml.Node | None) -> dict[str, int]:
    if not isinstance(node, yaml.MappingNode):
        return {}
    return {key.value: key.start_mark.line + 1 for key, _ in node.value}


def check_stage_name(name: object, where: str) -> None:
    """Raise PipelineConfigError for a name no stage has, suggesting the closest."""
    if name not in _known_stages():
        close = difflib.get_close_matches(str(name), _known_stages(), n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise PipelineConfigError(
            f"{where}: unknown stage {name!r}.{hint} "
            f"(allowed: {', '.join(sorted(_known_stages()))})"
        )


def _known_stages() -> list[str]:
    import textmill.stages  # noqa: F401

    return list(STAGES)


def validate_spec(
    spec: StageSpec, origin: str, option_lines: dict[str, int] | None = None
) -> Stage:
    """Build the stage to check its options; errors name the line and the allowed options."""
    cls = stage_class(spec.name)
    try:
        return cls(spec.options)
    except ValidationError as exc:
        error = exc.errors()[0]
        option = str(error["loc"][0]) if error["loc"] else None
        line = (option_lines or {}).get(option or "", spec.line)
        where = f"{origin}, line {line}" if line else origin
        allowed = ", ".join(cls.Options.model_fields) or "none"
        nested = _nested_fields(cls, error["loc"])
        if error["type"] == "extra_forbidden" and nested is not None:  # e.g. llm: {modle: x}
            path = ".".join(str(part) for part in error["loc"])
            close = difflib.get_close_matches(str(error["loc"][-1]), nested, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            message = (
                f"stage {spec.name!r} has no option {path!r}.{hint} (allowed in "
                f"{option!r}: {', '.join(nested)})"
            )
        elif error["type"] == "extra_forbidden":
            close = difflib.get_close_matches(option or "", list(cls.Options.model_fields), n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            message = f"stage {spec.name!r} has no option {option!r}.{hint} (allowed: {allowed})"
        elif option is None:  # a rule over several options (a model validator)
            message = f"stage {spec.name!r}: {error['msg'].removeprefix('Value error, ')}"
        else:
            got = error.get("input")
            message = (
                f"stage {spec.name!r}, option {option!r}: {error['msg']} (got {got!r}; "
                f"options: {allowed})"
            )
        raise PipelineConfigError(f"{where}: {message}") from None


def _nested_fields(cls: type[Stage], loc: tuple) -> list[str] | None:
    """The fields of the options model an error inside a nested option (`llm.model`) is in."""
    if len(loc) < 2 or loc[0] not in cls.Options.model_fields:
        return None
    kind = cls.Options.model_fields[loc[0]].annotation
    fields = getattr(kind, "model_fields", None)
    return list(fields) if isinstance(fields, dict) else None


def specs_to_yaml(specs: list[StageSpec]) -> str:
    return yaml.safe_dump(
        {
            "stages": [
                {
                    spec.name: spec.options
                    | ({RESOURCES_KEY: spec.resources} if spec.resources else {})
                }
                for spec in specs
            ]
        },
        sort_keys=False,
    )
