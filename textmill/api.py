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
        max_compression_ratio, input_kind ("code": folders of repositories and The-Stack-style
        records; "pages": a folder of .txt pages is one book; default "auto" detects `.git`
        checkouts), jsonl, progress, overwrite, allow_outside_writes, text_field, id_field,
        url_field, pdf_engine, pdf_time_limit_s, ocr_languages (README "Books"); with
        executor="ray" also address (None: a private local Ray), cpus_per_task,
        stage_resources (stage name or index -> Ray resources, over the stages' own
        `resources`), partitions, max_retries, object_store_bytes, dashboard."""
        if isinstance(inputs, (str, Path)):
            inputs = [inputs]
        check_settings(executor, settings)
        from textmill.llm.plan import check_endpoints, without_progress

        check_endpoints(self.specs)
        quiet = settings.get("progress", True) is False  # no bar: no LLM progress lines either
        specs = [
            (s.name, s.options) for s in (without_progress(self.specs) if quiet else self.specs)
        ]
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

    def with_endpoint(self, base_url: str | None = None, model: str | None = None) -> Pipeline:
        """This pipeline with every LLM stage (llm_rewrite, llm_score) sent to `base_url` /
        `model`, over the pipeline's own `llm:` (textmill/llm/plan.py)."""
        from textmill.llm.plan import with_endpoint

        return type(self)._from_specs(with_endpoint(self.specs, base_url, model))

    def dry_run(
        self,
        inputs: Sequence[str | Path] | str | Path,
        out: str | Path,
        *,
        executor: str = "local",
        **settings: Any,
    ) -> list[dict[str, Any]]:
        """What the LLM stages would cost: per stage, the requests a run into `out` would send
        (its cache's answers are free), and estimated prompt and completion tokens. Runs the
        other stages for real into a temporary folder; sends nothing."""
        from textmill.llm.plan import dry_run

        if isinstance(inputs, (str, Path)):
            inputs = [inputs]
        return dry_run(self, [str(i) for i in inputs], out, executor=executor, **settings)

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


def slice_run(
    out: str | Path, by: str, dest: str | Path | None = None, **options: Any
) -> dict[str, Any]:
    """`textmill slice`: the finished run in `out` split by `by` (year, month, day of the
    `date` column, or any column name) into `dest` (default OUT/slices/BY), one textmill
    output per slice; options: date_column, overwrite, max_slices. Returns slices.json."""
    from textmill.slices import slice_run as write_slices

    return write_slices(out, by, dest, **options)


def read_code(
    inputs: Sequence[str | Path] | str | Path, *, input_kind: str = "code", batch_size: int = 1000
) -> tuple[pa.Table, list[Any]]:
    """Source files as code documents in memory (`textmill.code`'s columns: repo, path, lang,
    size, license), and the files that could not be read (binary, not UTF-8) as ReadErrors:
    for a notebook look at a tree of repositories or a The-Stack-style file before a run."""
    from textmill.io import ReadOptions, plan_shards, read_shard
    from textmill.runner import concat_tables

    if isinstance(inputs, (str, Path)):
        inputs = [inputs]
    shards, _ = plan_shards([str(i) for i in inputs], input_kind=input_kind)
    options = ReadOptions(batch_size=batch_size, input_kind=input_kind)
    tables, errors = [], []
    for shard in shards:
        for read in read_shard(shard, options):
            tables.append(read.docs)
            errors.extend(read.errors)
    return (concat_tables(tables) if tables else conform(pa.table({}))), errors


def train_label_classifier(
    inputs: Sequence[str | Path],
    label_field: str,
    output: str | Path,
    *,
    labels: Sequence[str] | None = None,
    multi_label: bool | None = None,
    positive: str | None = None,
    text_field: str = "text",
    **train_options: Any,
) -> Any:
    """`textmill classify train`: a fastText model of `label_field` (multi-label when records
    hold lists) at `output`, for the `classify` stage; returns its held-out metrics.
    `train_options` are TrainOptions fields (epoch, dim, lr, seed, ...)."""
    from textmill.quality.classifier import TrainOptions
    from textmill.quality.label_field import train_label_field

    return train_label_field(
        [str(path) for path in inputs], label_field=label_field, output=str(output),
        options=TrainOptions(**train_options), text_field=text_field, positive=positive,
        keep=list(labels) if labels is not None else None, multi_label=multi_label,
    )  # fmt: skip


def train_recipe(
    name: str, inputs: Sequence[str | Path], output: str | Path, *, seed: int = 0
) -> Any:
    """`textmill classify recipe NAME`: a shipped recipe (e.g. `register`) trained on the
    user's copy of its data; returns the held-out metrics."""
    from textmill.quality.label_field import train_label_field
    from textmill.quality.recipes import RECIPES

    recipe = RECIPES[name]
    return train_label_field(
        [str(path) for path in inputs], label_field=recipe.label_field, output=str(output),
        options=recipe.options(seed=seed), keep=list(recipe.labels),
        multi_label=recipe.multi_label,
    )  # fmt: skip


def fit_topics(
    inputs: Sequence[str | Path],
    output: str | Path,
    k: int,
    *,
    sample: int = 100_000,
    embedder: str = "tfidf",
    seed: int = 0,
    text_field: str = "text",
) -> Any:
    """`textmill topic fit`: k topics fitted on a sample of `inputs`, saved at `output` for the
    `topic` stage; returns the TopicModel (keywords, sample sizes)."""
    from textmill.topics import fit_topics as fit
    from textmill.topics import read_sample

    texts, _ = read_sample([str(p) for p in inputs], sample, seed=seed, text_field=text_field)
    model = fit(texts, k, embedder=embedder, seed=seed)
    model.save(output)
    return model


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
