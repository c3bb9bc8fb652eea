"""Pipeline-level helpers of the LLM steps: pointing every LLM stage at one endpoint
(`--llm-base-url`, `--llm-model`) and the dry run (`--dry-run`) that says what a run will
cost before a request is sent.

The dry run is the real pipeline with its LLM stages told to send nothing, into a temporary
folder: the filters and dedup before an LLM stage run for real, so the counts are those of the
documents that would reach the endpoint, and requests the run's cache already answered are
counted as free. Tokens are estimated (about 4 characters per token; a rewrite about as long as
its input, a judge's reply ~150 tokens), since no tokenizer of the served model is at hand.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from textmill.config import LLM_KEY, StageSpec, with_llm_defaults
from textmill.pipeline import stage_class


def is_llm_stage(name: str) -> bool:
    return LLM_KEY in stage_class(name).Options.model_fields


def with_endpoint(
    specs: Sequence[StageSpec], base_url: str | None = None, model: str | None = None
) -> list[StageSpec]:
    """The specs with every LLM stage's endpoint set to `base_url` / `model` (over the file's)."""
    given = {k: v for k, v in {"base_url": base_url, "model": model}.items() if v}
    out = []
    for spec in specs:
        options = spec.options
        if given and is_llm_stage(spec.name):
            own = dict(options.get(LLM_KEY) or {})
            options = {**options, LLM_KEY: {**own, **given}}
        out.append(StageSpec(spec.name, options, spec.line, spec.resources))
    return out


def without_progress(specs: Sequence[StageSpec]) -> list[StageSpec]:
    """The specs with the LLM stages' own progress lines off (`--no-progress`, progress=False:
    the run's bar is off, and so are these)."""
    return [
        StageSpec(spec.name, {**spec.options, "progress_every_s": None}, spec.line, spec.resources)
        if is_llm_stage(spec.name)
        else spec
        for spec in specs
    ]


def check_endpoints(specs: Sequence[StageSpec]) -> None:
    """Refuse, before any data is read, LLM stages that could only fail row by row: no model
    name (servers answer every request with an error), or an OPENAI_BASE_URL that is no URL.
    A dry run sends nothing and needs neither."""
    from textmill.config import PipelineConfigError
    from textmill.llm.endpoint import BASE_URL_ENV, EndpointOptions, check_base_url

    for spec in specs:
        if not is_llm_stage(spec.name) or spec.options.get("dry_run"):
            continue
        where = f"stage {spec.name}" + (f" (line {spec.line})" if spec.line else "")
        try:
            endpoint = EndpointOptions(**(spec.options.get(LLM_KEY) or {}))
        except ValidationError as error:  # --llm-base-url is set after the file's validation
            message = "; ".join(e["msg"].removeprefix("Value error, ") for e in error.errors())
            raise PipelineConfigError(f"{where}: {message}") from None
        if not endpoint.model:
            raise PipelineConfigError(
                f"{where}: no model: give --llm-model NAME or `llm: {{model: NAME}}` "
                "(the name the server serves)"
            )
        if endpoint.base_url is None and os.environ.get(BASE_URL_ENV):
            try:
                check_base_url(os.environ[BASE_URL_ENV], BASE_URL_ENV)
            except ValueError as error:
                raise PipelineConfigError(f"{where}: {error}") from None


def dry_run_specs(specs: Sequence[StageSpec], out: str | Path) -> list[StageSpec]:
    """LLM stages in dry mode, reading (never writing) the cache the real run in `out` uses."""
    result = []
    for spec in specs:
        options = dict(spec.options)
        if is_llm_stage(spec.name):
            cache = options.get(
                "cache", stage_class(spec.name).Options.model_fields["cache"].default
            )
            if cache:
                options["cache"] = str((Path(out) / Path(cache).expanduser()).resolve())
            options["dry_run"] = True
            options["progress_every_s"] = None
        result.append(StageSpec(spec.name, options, spec.line, spec.resources))
    return result


def dry_run(pipeline: Any, inputs: Sequence[str], out: str | Path, **run: Any) -> list[dict]:
    """Per LLM stage: requests a run would send, requests already cached, and estimated prompt
    and completion tokens; with the run's `read` and `errored` counts and its `first_error`
    (records a real run would put in OUT/errors instead of sending them: a wrong
    --text-field errors every one). Runs the pipeline into a temporary folder, removed
    afterwards."""
    from textmill.api import Pipeline

    specs = dry_run_specs(pipeline.specs, out)
    scratch = Path(tempfile.mkdtemp(prefix="textmill-dry-run-"))
    try:
        settings = {**run, "allow_outside_writes": True, "overwrite": False}
        stats = Pipeline._from_specs(specs).run(inputs, scratch / "out", **settings)
        first_error = _first_error(scratch / "out" / "errors")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    costs = []
    for spec, stage in zip(specs, stats["stages"], strict=True):
        if not is_llm_stage(spec.name):
            continue
        counters = stage["counters"]
        costs.append(
            {
                "stage": spec.name,
                "model": (spec.options.get(LLM_KEY) or {}).get("model"),
                "documents": stage["docs_in"],
                "requests": counters.get("dry_requests", 0),
                "cached": counters.get("dry_cached", 0),
                "prompt_tokens": counters.get("dry_prompt_tokens", 0),
                "completion_tokens": counters.get("dry_completion_tokens", 0),
                "read": stats["read"],
                "errored": stats["errored"],
                "first_error": first_error,
            }
        )
    return costs


def _first_error(folder: Path) -> str | None:
    for path in sorted(folder.glob("*.jsonl")):
        with path.open(encoding="utf-8") as lines:
            for line in lines:
                error = json.loads(line)
                return f"{error.get('file')} {error.get('record')}: {error.get('message')}"
    return None


def cost_table(costs: list[dict]) -> str:
    lines = [
        f"{'stage':<14}{'model':<24}{'documents':>11}{'requests':>10}{'cached':>9}"
        f"{'~prompt tok':>14}{'~completion tok':>17}"
    ]
    for cost in costs:
        lines.append(
            f"{cost['stage']:<14}{str(cost['model'] or '-'):<24}{cost['documents']:>11,}"
            f"{cost['requests']:>10,}{cost['cached']:>9,}{cost['prompt_tokens']:>14,}"
            f"{cost['completion_tokens']:>17,}"
        )
    total = sum(c["requests"] for c in costs)
    tokens = sum(c["prompt_tokens"] + c["completion_tokens"] for c in costs)
    lines.append(f"total: {total:,} requests, ~{tokens:,} tokens (nothing was sent)")
    if costs and costs[0].get("errored"):
        first = costs[0]
        lines.append(
            f"note: {first['errored']:,} of {first['read']:,} records errored (a real run puts "
            f"them in OUT/errors and sends nothing for them); first: {first['first_error']}"
        )
    return "\n".join(lines)


__all__ = ["cost_table", "dry_run", "is_llm_stage", "with_endpoint", "with_llm_defaults"]
