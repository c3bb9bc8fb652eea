"""The Python API: the same pipelines the CLI runs, built from stages, a YAML file or a preset.

from textmill import Pipeline
stats = Pipeline.from_preset("fineweb").run(["crawl/"], "out", workers=2)

from textmill.stages.filters.gopher_quality import GopherQuality
pipeline = Pipeline([GopherQuality(min_words=20), "exact_dedup"])
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import fields
from pathlib import Path
from typing import Any

import pyarrow as pa

from textmill.config import (
    PipelineConfigError,
    StageSpec,
    check_stage_name,
    load_pipeline_file,
    load_preset,
    parse_pipeline,
    pop_resources,
    specs_to_yaml,
    validate_spec,
)
from textmill.document import conform
from textmill.executors.local import LocalExecutor, RunSettings, SettingsError
from textmill.pipeline import GlobalStage, Stage, build_stages
from textmill.report.stats import RunCounters
from textmill.runner import BatchOutcome, run_stages, stage_call

StageLike = Stage | str | tuple[str, dict[str, Any]] | Mapping[str, dict[str, Any]]

EXECUTORS = ("local", "ray")
RAY_OPTIONS = (
    "address",
    "cpus_per_task",
    "stage_resources",
    "partitions",
    "max_retries",
    "object_store_bytes",
    "dashboard",
)


def check_settings(executor: str, settings: dict[str, Any]) -> None:
    """Refuse an unknown executor or setting, and a Ray option without the Ray executor
    (it would be ignored): the CLI and the API say the same."""
    if executor not in EXECUTORS:
        raise SettingsError(f"unknown executor {executor!r} (have: {', '.join(EXECUTORS)})")
    known = {field.name for field in fields(RunSettings)}
    ray_only = sorted(set(settings) & set(RAY_OPTIONS))
    if executor != "ray" and ray_only:
        raise SettingsError(
            f"{', '.join(ray_only)}: only with the Ray executor (executor='ray', --executor ray)"
        )
    unknown = sorted(set(settings) - known - set(RAY_OPTIONS))
    if unknown:
        raise SettingsError(
            f"unknown run setting {unknown[0]!r} (have: {', '.join(sorted(known))}; with "
            f"executor='ray' also {', '.join(RAY_OPTIONS)})"
        )


class Pipeline:
    """An ordered list of stages, validated when built."""

    def __init__(self, stages: Sequence[StageLike]):
        self.specs: list[StageSpec] = [self._spec(stage) for stage in stages]
        if not self.specs:
            raise ValueError("a pipeline needs at least one stage")

    @staticmethod
    def _spec(stage: StageLike) -> StageSpec:
        if isinstance(stage, Stage):
            name, options = stage.spec()
        elif isinstance(stage, str):
            name, options = stage, {}
        elif isinstance(stage, Mapping) and len(stage) == 1:  # a pipeline file's `name: {...}`
            ((name, options),) = stage.items()
        elif isinstance(stage, tuple) and len(stage) == 2:
            name, options = stage
        else:
            raise PipelineConfigError(
                f"a stage is a Stage, a name, a (name, options) pair or {{name: options}}; "
                f"got {ascii(stage)[:100]}"
            )
        check_stage_name(name, "pipeline")
        if not isinstance(options, Mapping):
            raise PipelineConfigError(f"options of stage {name!r} must be a mapping")
        options = dict(options)
        spec = StageSpec(name, options, resources=pop_resources(options, f"stage {name!r}"))
        validate_spec(spec, "pipeline")
        return spec

    @classmethod
    def from_preset(cls, name: str) -> Pipeline:
        return cls._from_specs(load_preset(name))

    @classmethod
    def from_yaml(cls, path: str | Path) -> Pipeline:
        return cls._from_specs(load_pipeline_file(path))

    @classmethod
    def from_yaml_text(cls, text: str) -> Pipeline:
        return cls._from_specs(parse_pipeline(text, "pipeline"))

    @classmethod
    def _from_specs(cls, specs: list[StageSpec]) -> Pipeline:
        pipeline = cls.__new__(cls)
        pipeline.specs = specs
        return pipeline

    @property
    def stage_names(self) -> list[str]:
        return [spec.name for spec in self.specs]

    def to_yaml(self) -> str:
        return specs_to_yaml(self.specs)

    def warm_up(self, sample: str | Path | None = None, *, workers: int = 0) -> Any:
        """Compile the numba kernels this pipeline's stages call into numba's cache (the
        first documents of `sample`, default the bundled crawl; textmill/warmup.py), so that
        its first run does not. Returns a `textmill.warmup.WarmUp` (seconds per stage)."""
        from textmill.cli.run import sample_path
        from textmill.warmup import warm_up

        specs = [(spec.name, spec.options) for spec in self.specs]
        return warm_up(specs, sample if sample is not None else sample_path(), workers=workers)

    def run(
        self,
        inputs: Sequence[str | Path] | str | Path,
        out: str | Path,
        *,
        executor: str = "local",
        **settings: Any,
    ) -> dict[str, Any]:
        """Run over files, directories, globs or fsspec URLs; returns what stats.json holds.
        `out` must be new, empty or a textmill output (see textmill/executors/output.py).
        Settings are RunSettings fields: workers, batch_size, max_document_bytes,
        max_compression_ratio, jsonl,
        progress, overwrite, allow_outside_writes, text_field, id_field, url_field; with
        executor="ray" also address (None: a private local Ray), cpus_per_task,
        stage_resources (stage name or index -> Ray resources, over the stages' own
        `resources`), partitions, max_retries, object_store_bytes, dashboard."""
        if isinstance(inputs, (str, Path)):
            inputs = [inputs]
        check_settings(executor, settings)
        specs = [(spec.name, spec.options) for spec in self.specs]
        paths = [str(i) for i in inputs]
        if executor == "ray":
            from textmill.executors.ray import RayExecutor

            ray_options = {k: settings.pop(k) for k in RAY_OPTIONS if k in settings}
            resources = {i: spec.resources for i, spec in enumerate(self.specs) if spec.resources}
            for key, wanted in dict(ray_options.get("stage_resources") or {}).items():
                named = [i for i, spec in enumerate(self.specs) if key in (i, spec.name)]
                for i in named or [key]:  # a name stands for each of its stages
                    resources[i] = dict(wanted)  # (an unknown key is the executor's error)
            ray_options["stage_resources"] = resources
            return RayExecutor(specs, RunSettings(**settings), **ray_options).run(paths, out)
        return LocalExecutor(specs, RunSettings(**settings)).run(paths, out)

    def process(self, batch: pa.Table) -> BatchOutcome:
        """Run the stages on one in-memory batch (no global stages): handy in a notebook."""
        stages = build_stages((spec.name, spec.options) for spec in self.specs)
        if any(isinstance(stage, GlobalStage) for stage in stages):
            raise ValueError("global stages (dedup) need run(); process() is per batch")
        for stage in stages:
            stage.setup()
        chain = [(i, stage, stage_call(stage)) for i, stage in enumerate(stages)]
        return run_stages(chain, conform(batch), RunCounters())

    def __repr__(self) -> str:
        return f"Pipeline({self.stage_names})"


# ---------------------------------------------------------------- small-LM scores and curricula


def train_lm(
    reference: Sequence[str | Path] | str | Path,
    out: str | Path,
    *,
    size: str = "small",
    tokens: int | None = None,
    seed: int = 0,
    langs: Sequence[str] | None = None,
    device: str | None = None,
    threads: int | None = None,
    text_field: str = "text",
    overwrite: bool = False,
) -> dict[str, Any]:
    """`textmill lm train`: verify's GPT trained on `reference`, saved to `out` for the
    `lm_score` stage; returns its config (held-out loss, languages)."""
    from textmill.train.lm import train_lm as train
    from textmill.train.verify import options_for_size

    paths = [str(reference)] if isinstance(reference, (str, Path)) else [str(p) for p in reference]
    options = options_for_size(
        size, tokens_per_dataset=tokens, seeds=[seed], device=device, threads=threads
    )
    return train(paths, out, options, text_field=text_field, langs=langs, overwrite=overwrite)


def lm_scores(
    texts: Sequence[str | None],
    model: str | Path,
    *,
    device: str = "cpu",
    batch_size: int = 16,
    max_tokens: int = 1024,
) -> pa.Table:
    """`lm_loss`, `lm_loss_p90`, `lm_tokens` of in-memory texts under a `textmill lm train`
    folder or a Hugging Face causal LM folder (what the `lm_score` stage writes)."""
    from textmill.stages.lm_score import LM_LOSS, LM_LOSS_P90, LM_TOKENS
    from textmill.train.lm import load_lm

    scores = load_lm(model, device).score(texts, batch_size=batch_size, max_tokens=max_tokens)
    scored = scores.tokens > 0
    return pa.table(
        {
            LM_LOSS: pa.array(scores.mean, pa.float32(), mask=~scored),
            LM_LOSS_P90: pa.array(scores.p90, pa.float32(), mask=~scored),
            LM_TOKENS: pa.array(scores.tokens, pa.int32()),
        }
    )


def order(inputs: Sequence[str | Path] | str | Path, out: str | Path, **options: Any):
    """`textmill order`: `by=COLUMN`, `stages=K`, `descending`, `seed`, `memory`, `overwrite`
    (textmill/order.py); returns what OUT/order.json holds."""
    from textmill.order import order as write_order

    return write_order(inputs, out, **options)
