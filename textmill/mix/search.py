"""`textmill mix search`: measure loss against domain ratio and token budget with verify's GPT.

For every (ratio r, budget D, seed) of a grid, the `verify` model is trained from scratch on D
tokens of which a share r comes from the domain corpus and the rest from the general corpus, and
scored on a general and a domain reference held out from each corpus (or given by the user).
One tokenizer is trained on an equal sample of both corpora. The measurements go to
OUT/measurements.csv (the columns `mix fit` reads) as each run ends, so a killed search resumes
where it stopped; then the mixture law is fitted (textmill.mix.law) and the CMR printed.

Smaller budgets take prefixes of the same token streams, so every model of a grid sees nested
data. By default every model trains from scratch. The seed paper's setting is continual
pre-training: with `pretrain_tokens` > 0 a base model is first trained (per seed) on that many
general tokens, every grid point continues from it on fresh data (D counts the continued tokens
only), and the base model's general loss becomes the CMR's default baseline.
"""

from __future__ import annotations

import csv
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from textmill.executors.output import Layout, check_output_folder, output_lock
from textmill.mix.law import COLUMNS, DEFAULT_TOLERANCE, CmrFit, fit_cmr, write_fit
from textmill.quality.inputs import read_texts
from textmill.tokens.reading import input_arguments
from textmill.train.verify import (
    VerifyOptions,
    _encode_stream,
    _windows,
    tokenizer_sample,
    train_and_evaluate,
    train_bpe,
)

MEASUREMENTS_NAME = "measurements.csv"
SETTINGS_NAME = "search_settings.json"
REPORT_NAME = "search.json"
LAW_NAME = "law.json"  # and law.png beside it
BASE_NAME = "base_models.json"  # the pretrained base models' losses (continual pre-training)
OWN_FILES = (
    MEASUREMENTS_NAME, f"{MEASUREMENTS_NAME}.partial", SETTINGS_NAME, REPORT_NAME, LAW_NAME,
    "law.png", BASE_NAME,
)  # fmt: skip
CSV_COLUMNS = (
    *COLUMNS, "requested_ratio", "requested_tokens", "seed", "steps", "general_tokens",
    "domain_tokens",
)  # fmt: skip


@dataclass(frozen=True)
class SearchOptions:
    """The grid (domain ratios × token budgets × seeds) and the model that trains at each point.
    The default ("small") runs 18 models on a 2-core CPU in a few minutes."""

    ratios: tuple[float, ...] = (0.0, 0.1, 0.2, 0.3, 0.5, 0.7)
    tokens: tuple[int, ...] = (65_536, 131_072, 262_144)
    seeds: tuple[int, ...] = (0,)
    pretrain_tokens: int = 0  # > 0: continue every point from a base trained on general tokens
    model: VerifyOptions = field(
        default_factory=lambda: VerifyOptions(
            vocab_size=2048, seq_len=64, batch_size=16, n_layer=2, n_head=2, d_model=64,
            eval_tokens=16_384, eval_points=1, seeds=(0,),
            tokenizer_chars_per_dataset=1_000_000,
            threads=1,  # a model this small gains little from more, and loses 10x on a busy CPU
        )
    )  # fmt: skip


SIZES: dict[str, dict[str, Any]] = {
    "tiny": dict(  # seconds: tests and smoke runs
        ratios=(0.0, 0.25, 0.5, 0.75), tokens=(1024, 2048, 4096),
        model=dict(vocab_size=300, seq_len=32, batch_size=8, n_layer=1, n_head=2, d_model=32,
                   eval_tokens=1024, tokenizer_chars_per_dataset=50_000),
    ),
    "small": {},  # the defaults above
    "base": dict(  # a GPU: verify's base model, 5M-40M tokens per point
        tokens=(5_000_000, 10_000_000, 20_000_000, 40_000_000),
        model=dict(vocab_size=16_384, seq_len=512, batch_size=32, n_layer=8, n_head=8,
                   d_model=512, lr=1e-3, eval_tokens=262_144,
                   tokenizer_chars_per_dataset=20_000_000, threads=None),
    ),
}  # fmt: skip


def options_for_size(size: str, **overrides: Any) -> SearchOptions:
    """A preset with overrides: grid fields (ratios, tokens, seeds) and model fields (device,
    threads, lr ...) by name; None leaves the preset's value."""
    if size not in SIZES:
        raise ValueError(f"unknown size {size!r} (have: {', '.join(SIZES)})")
    preset = dict(SIZES[size])
    model_values = dict(preset.pop("model", {}))
    grid_names = {"ratios", "tokens", "seeds", "pretrain_tokens"}
    for name, value in overrides.items():
        if value is None:
            continue
        (preset if name in grid_names else model_values)[name] = value
    options = SearchOptions()
    model = replace(options.model, **model_values)
    grid = {
        name: value if name == "pretrain_tokens" else tuple(value) for name, value in preset.items()
    }
    return replace(options, model=model, **grid)


def check_grid(options: SearchOptions) -> None:
    """Ratios in [0, 1] with a general-only or some mixed points, budgets of one batch or more."""
    if len(set(options.ratios)) < 2 or len(set(options.tokens)) < 2:
        raise ValueError("a mixture law needs at least 2 distinct ratios and 2 distinct budgets")
    bad = [r for r in options.ratios if not 0 <= r <= 1]
    if bad:
        raise ValueError(f"ratios must lie in [0, 1] (got {bad})")
    if len(options.ratios) * len(options.tokens) * len(options.seeds) < 5:
        raise ValueError("the grid has fewer than 5 points; a mixture law needs at least 5")
    batch = options.model.batch_size * options.model.seq_len
    small = [d for d in options.tokens if d < batch]
    if small:
        raise ValueError(
            f"token budget(s) {small} are below one batch ({options.model.batch_size}×"
            f"{options.model.seq_len} = {batch} tokens)"
        )
    if not options.seeds:
        raise ValueError("give at least one seed")
    if 0 < options.pretrain_tokens < batch:
        raise ValueError(f"pretrain tokens {options.pretrain_tokens} are below one batch ({batch})")


@dataclass
class _Corpus:
    """A corpus read, ordered, tokenized: a held-out reference and a training stream."""

    name: str
    paths: list[str]
    texts: list[str] = field(repr=False)
    reference_documents: int = 0
    reference: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.int64), repr=False)
    train: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64), repr=False)


def _read_ordered(name: str, paths: Sequence[str], text_field: str, seed: int) -> _Corpus:
    """Texts in a seeded order that depends on the texts only, not on the file order (as
    verify orders its datasets)."""
    texts = read_texts(input_arguments(paths), text_field=text_field)
    if not texts:
        raise ValueError(f"{name} corpus: no text in {', '.join(paths)}")
    texts.sort()
    order = np.random.default_rng(seed).permutation(len(texts))
    return _Corpus(name, list(paths), [texts[i] for i in order])


def _held_out_count(tokenizer: Any, texts: Sequence[str], tokens: int) -> int:
    """How many leading documents hold `tokens` tokens (end-of-text included)."""
    total, step = 0, 64
    for start in range(0, len(texts), step):
        lengths = [
            len(e.ids) + 1 for e in tokenizer.encode_batch(list(texts[start : start + step]))
        ]
        cumulative = total + np.cumsum(lengths)
        reached = np.flatnonzero(cumulative >= tokens)
        if len(reached):
            return start + int(reached[0]) + 1
        total = int(cumulative[-1])
    return len(texts)


def _prepare(
    corpus: _Corpus,
    tokenizer: Any,
    model: VerifyOptions,
    needed_tokens: int,
    reference_texts: Sequence[str] | None,
) -> None:
    """Hold out the reference (the leading documents, or the user's texts), then the training
    stream from the rest; refuse when the rest is smaller than the grid needs."""
    if reference_texts is None:
        held = _held_out_count(tokenizer, corpus.texts, model.eval_tokens + 1)
        if held >= len(corpus.texts):
            raise ValueError(
                f"{corpus.name} corpus: its {len(corpus.texts)} documents are all needed for the "
                f"{model.eval_tokens}-token held-out reference; give more text or a "
                f"--{corpus.name}-reference"
            )
        reference_texts, corpus.texts = corpus.texts[:held], corpus.texts[held:]
        corpus.reference_documents = held
    else:
        corpus.reference_documents = len(reference_texts)
    stream = _encode_stream(tokenizer, reference_texts, model.eval_tokens + 1)
    corpus.reference = _windows(stream, model.seq_len)
    if len(corpus.reference) == 0:
        raise ValueError(
            f"{corpus.name} reference: {len(stream)} tokens, fewer than seq_len+1="
            f"{model.seq_len + 1}"
        )
    corpus.train = _encode_stream(tokenizer, corpus.texts, needed_tokens + 1)
    if len(corpus.train) < needed_tokens + 1:
        raise ValueError(
            f"{corpus.name} corpus: {len(corpus.train):,} training tokens after the held-out "
            f"reference; the grid needs {needed_tokens + 1:,} (lower the largest budget or "
            f"ratio, or give more text)"
        )


def _mixed_stream(general: np.ndarray, domain: np.ndarray, windows: int, domain_windows: int,
                  seq_len: int) -> np.ndarray:  # fmt: skip
    """`windows` training windows, `domain_windows` of them from the domain stream (one extra
    token closes the last window); verify's loop visits them in a seeded random order."""
    general_tokens = (windows - domain_windows) * seq_len
    domain_tokens = domain_windows * seq_len
    tail = (
        domain[domain_tokens : domain_tokens + 1]
        if domain_windows
        else general[general_tokens:][:1]
    )
    return np.concatenate([general[:general_tokens], domain[:domain_tokens], tail])


def _needed_tokens(options: SearchOptions) -> tuple[int, int]:
    """Training tokens the grid takes from the general and the domain corpus at most."""
    seq_len, batch = options.model.seq_len, options.model.batch_size
    general = domain = 0
    for tokens in options.tokens:
        windows = (tokens // (batch * seq_len)) * batch
        for ratio in options.ratios:
            domain_windows = round(ratio * windows)
            general = max(general, (windows - domain_windows) * seq_len)
            domain = max(domain, domain_windows * seq_len)
    return general + options.pretrain_tokens, domain


def _settings(
    options: SearchOptions,
    general: Sequence[str],
    domain: Sequence[str],
    references: dict[str, Sequence[str] | None],
    text_field: str,
) -> dict[str, Any]:
    """What makes two searches' measurements comparable (a resumed search must match), as
    JSON gives it back."""
    model = asdict(options.model)
    for name in ("device", "threads"):  # where it runs changes no measurement's meaning
        model.pop(name)
    settings = {
        "general": [str(p) for p in general],
        "domain": [str(p) for p in domain],
        "references": {k: [str(p) for p in v] if v else None for k, v in references.items()},
        "text_field": text_field,
        "ratios": list(options.ratios),
        "tokens": list(options.tokens),
        "seeds": list(options.seeds),
        "pretrain_tokens": options.pretrain_tokens,
        "model": model,
    }
    return json.loads(json.dumps(settings))


def _open_output(out_dir: Path, settings: dict[str, Any]) -> dict[tuple[float, int, int], dict]:
    """Under OUT's lock: a new search records its settings; an earlier one with the same
    settings resumes. Returns the rows already measured there, keyed by (requested ratio,
    requested budget, seed)."""
    settings_path = out_dir / SETTINGS_NAME
    if not settings_path.is_file():
        return {}  # recorded once the corpora read (_record_settings): a typo is not kept
    strangers = sorted(
        p.name for p in out_dir.iterdir() if p.name not in OWN_FILES and p.name != ".textmill"
    )
    if strangers:
        raise ValueError(f"{out_dir} holds files mix search did not write: {strangers}")
    earlier = json.loads(settings_path.read_text(encoding="utf-8"))
    if earlier != settings:
        changed = sorted(k for k in settings if earlier.get(k) != settings[k])
        raise ValueError(
            f"{out_dir} holds a search with other settings ({', '.join(changed)} differ); "
            "choose another output folder to search these"
        )
    done: dict[tuple[float, int, int], dict] = {}
    measurements = out_dir / MEASUREMENTS_NAME
    if measurements.is_file():
        with measurements.open(newline="", encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                try:
                    values = {name: _number(row[name]) for name in CSV_COLUMNS}
                    whole = values["general_tokens"] + values["domain_tokens"] == values["tokens"]
                except (KeyError, TypeError, ValueError, AttributeError):
                    whole = False
                if not whole:
                    continue  # a row a killed search left half written: measured again
                key = (float(values["requested_ratio"]), int(values["requested_tokens"]),
                       int(values["seed"]))  # fmt: skip
                done[key] = values
        _write_rows(measurements, list(done.values()))  # without any half-written row
    return done


def _record_settings(out_dir: Path, settings: dict[str, Any]) -> None:
    settings_path = out_dir / SETTINGS_NAME
    if not settings_path.is_file():
        settings_path.write_text(json.dumps(settings, indent=2) + "\n", encoding="utf-8")


def _number(text: str) -> float | int:
    return int(text) if text.lstrip("-").isdigit() else float(text)


def _write_rows(path: Path, rows: list[dict[str, Any]]) -> None:
    """Replace the CSV atomically (a kill leaves the old file or the new one)."""
    partial = path.with_name(path.name + ".partial")
    with partial.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=CSV_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    partial.replace(path)


def search_mixture(
    general: Sequence[str],
    domain: Sequence[str],
    out_dir: str | Path,
    options: SearchOptions | None = None,
    *,
    general_reference: Sequence[str] | None = None,
    domain_reference: Sequence[str] | None = None,
    text_field: str = "text",
    tolerance: str | float = DEFAULT_TOLERANCE,
    target_tokens: float | None = None,
    baseline_loss: float | None = None,
    forms: Sequence[str] | None = None,
    log: Callable[[str], None] = lambda message: None,
) -> tuple[dict[str, Any], CmrFit]:
    """Train the grid, write OUT/measurements.csv, fit the law (OUT/law.json, OUT/law.png) and
    OUT/search.json; returns the search report and the fit. Re-running the same command in the
    same OUT trains only the points not yet measured."""
    options = options or SearchOptions()
    check_grid(options)
    out_dir = Path(out_dir)
    references = {"general": general_reference, "domain": domain_reference}
    settings = _settings(options, general, domain, references, text_field)
    started = time.perf_counter()
    if not (out_dir / SETTINGS_NAME).is_file():
        check_output_folder(out_dir)  # a new or empty folder, not inside another run
    out_dir.mkdir(parents=True, exist_ok=True)
    with output_lock(Layout(out_dir)):
        done = _open_output(out_dir, settings)
        model = options.model
        corpora = [
            _read_ordered("general", general, text_field, model.data_seed),
            _read_ordered("domain", domain, text_field, model.data_seed),
        ]
        # the sample comes from the end of each corpus, the held-out reference from its start
        tokenizer = train_bpe(
            tokenizer_sample([c.texts[::-1] for c in corpora], model.tokenizer_chars_per_dataset),
            model.vocab_size,
        )
        vocab_size = tokenizer.get_vocab_size()
        log(f"tokenizer: {vocab_size} BPE tokens")
        for corpus, needed in zip(corpora, _needed_tokens(options), strict=True):
            user_reference = references[corpus.name]
            texts = (
                read_texts(input_arguments(user_reference), text_field=text_field)
                if user_reference
                else None
            )
            if user_reference and not texts:
                raise ValueError(f"{corpus.name} reference: no text in {user_reference}")
            _prepare(corpus, tokenizer, model, needed, texts)
            log(
                f"{corpus.name}: {corpus.reference_documents} reference documents "
                f"({corpus.reference.size - len(corpus.reference)} tokens), "
                f"{len(corpus.train):,} training tokens used"
            )
        general_corpus, domain_corpus = corpora
        _record_settings(out_dir, settings)  # inputs read and large enough: now it is a search
        rows, bases = _measure_grid(
            options, general_corpus, domain_corpus, vocab_size, out_dir, done, log
        )
        source = "user"
        if bases and baseline_loss is None:  # continual pre-training: stay near the base model
            baseline_loss = float(np.mean([base["general_loss"] for base in bases.values()]))
            source = "base model"
        fit = fit_cmr(
            out_dir / MEASUREMENTS_NAME,
            tolerance=tolerance,
            target_tokens=target_tokens,
            baseline_loss=baseline_loss,
            baseline_source=source,
            forms=forms,
        )
        written = write_fit(fit, out_dir / LAW_NAME)
        report = {
            "corpora": {
                c.name: {
                    "paths": c.paths,
                    "training_documents": len(c.texts),
                    "reference_documents": c.reference_documents,
                    "reference_from": "user" if references[c.name] else "held out",
                    "reference_tokens": int(c.reference.shape[0] * model.seq_len),
                }
                for c in corpora
            },
            "runs": rows,
            "base_models": list(bases.values()),
            "tokenizer_vocab_size": vocab_size,
            "measurements": MEASUREMENTS_NAME,
            "law": LAW_NAME,
            "plot": written["plot"].name if "plot" in written else None,
            "critical_mixture_ratio": fit.critical.to_dict(),
            "settings": settings,
            "device": model.device,
            "loss_unit": "mean cross-entropy per BPE token, nats",
            "elapsed_s": round(time.perf_counter() - started, 1),
        }
        (out_dir / REPORT_NAME).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return report, fit


def _measure_grid(
    options: SearchOptions,
    general: _Corpus,
    domain: _Corpus,
    vocab_size: int,
    out_dir: Path,
    done: dict[tuple[float, int, int], dict],
    log: Callable[[str], None],
) -> tuple[list[dict[str, Any]], dict[int, dict[str, Any]]]:
    """Train every grid point not yet in `done`, appending each row to the CSV as it ends; the
    rows and, when continuing from base models, each seed's base losses."""
    model = options.model
    path = out_dir / MEASUREMENTS_NAME
    fresh = not path.is_file()
    rows: list[dict[str, Any]] = []
    pretrain = options.pretrain_tokens
    general_stream = general.train[pretrain:]  # the base model's tokens are never seen again
    base_path = out_dir / BASE_NAME
    bases: dict[int, dict[str, Any]] = {}
    if pretrain and base_path.is_file():
        bases = {int(k): v for k, v in json.loads(base_path.read_text("utf-8")).items()}
    states: dict[int, Any] = {}

    def base_state(seed: int) -> Any:
        """The seed's base model (trained at its first use in this process)."""
        if seed not in states:
            run = train_and_evaluate(
                general.train[: pretrain + 1], general.reference, vocab_size, seed, model,
                extra_references={"domain": domain.reference}, keep_state=True,
            )  # fmt: skip
            states[seed] = run["state"]
            bases[seed] = {
                "seed": seed,
                "tokens": run["tokens_trained"],
                "general_loss": run["reference_loss"],
                "domain_loss": run["extra_reference_losses"]["domain"],
            }
            base_path.write_text(json.dumps(bases, indent=2) + "\n", encoding="utf-8")
            log(
                f"base model seed {seed} ({run['tokens_trained']:,} general tokens): general "
                f"{run['reference_loss']:.4f} domain {bases[seed]['domain_loss']:.4f}"
            )
        return states[seed]

    with path.open("a", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=CSV_COLUMNS)
        if fresh:
            writer.writeheader()
        for tokens in options.tokens:
            windows = (tokens // (model.batch_size * model.seq_len)) * model.batch_size
            for ratio in options.ratios:
                domain_windows = round(ratio * windows)
                for seed in options.seeds:
                    key = (float(ratio), int(tokens), int(seed))
                    if key in done:
                        rows.append(done[key])
                        continue
                    stream = _mixed_stream(
                        general_stream, domain.train, windows, domain_windows, model.seq_len
                    )
                    run = train_and_evaluate(
                        stream, general.reference, vocab_size, seed, model,
                        extra_references={"domain": domain.reference},
                        initial_state=base_state(seed) if pretrain else None,
                    )  # fmt: skip
                    row = {
                        "ratio": domain_windows / windows,
                        "tokens": run["tokens_trained"],
                        "general_loss": run["reference_loss"],
                        "domain_loss": run["extra_reference_losses"]["domain"],
                        "requested_ratio": ratio,
                        "seed": seed,
                        "steps": run["steps"],
                        "general_tokens": (windows - domain_windows) * model.seq_len,
                        "domain_tokens": domain_windows * model.seq_len,
                        "requested_tokens": tokens,
                    }
                    writer.writerow(row)
                    handle.flush()
                    rows.append(row)
                    log(
                        f"ratio {row['ratio']:.3f} tokens {row['tokens']:,} seed {seed}: "
                        f"general {row['general_loss']:.4f} domain {row['domain_loss']:.4f}"
                    )
    return rows, bases
