"""Small causal LMs that score documents: `textmill lm train` and what `lm_score` loads.

`train_lm` trains the `verify` GPT (the same model and training loop, one pass over the
reference in a seeded order) on a reference corpus and saves a model folder: `model.pt`
(weights), `tokenizer.json` (its BPE) and `textmill_lm.json` (the model's shape, the
reference's languages and its held-out loss). `load_lm` opens such a folder, or a Hugging Face
causal LM folder (`config.json` + weights + tokenizer, through `transformers`), and both score
texts the same way: each document, prefixed by the model's document separator, is cut into
windows of the model's context, and every token's cross-entropy (nats) is kept, so that a
document gets its mean loss, its 90th-percentile token loss and its scored token count.

A model trained on a reference in some languages says nothing useful about a text in another:
the languages are in the folder (detected by textmill's langid on the reference, or given), and
`lm_score` flags rows whose `lang` column is not one of them (`lm_ood`) instead of trusting the
loss.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np

from textmill.quality.classifier import ModelFileError
from textmill.quality.inputs import read_texts
from textmill.train.verify import (
    VerifyOptions,
    _build_model,
    _encode_stream,
    _windows,
    tokenizer_sample,
    torch_device,
    train_and_evaluate,
)

CONFIG = "textmill_lm.json"
WEIGHTS = "model.pt"
TOKENIZER = "tokenizer.json"
HF_CONFIG = "config.json"  # what makes a folder a Hugging Face model
MIN_LANGUAGE_SHARE = 0.02  # a reference language: at least this share of the detected sample
LANGUAGE_SAMPLE = 2000  # reference documents whose language is detected
PAD = -100  # a target that is padding (torch's cross_entropy ignore_index)


@dataclass(frozen=True)
class TokenLosses:
    """Per document: mean token loss (NaN with no token), 90th-percentile token loss, tokens."""

    mean: np.ndarray
    p90: np.ndarray
    tokens: np.ndarray


# ---------------------------------------------------------------- training


def detect_languages(texts: Sequence[str]) -> list[str]:
    """The languages of at least MIN_LANGUAGE_SHARE of (a sample of) the texts, by textmill's
    langid (the bundled fastText model)."""
    import pyarrow as pa

    from textmill.stages.langid import LANG, LangId

    sample = list(texts[:LANGUAGE_SAMPLE])
    langs = LangId().measure(pa.table({"text": pa.array(sample, pa.large_string())}))[LANG]
    values, counts = np.unique(
        np.asarray([lang for lang in langs.to_pylist() if lang], dtype=object), return_counts=True
    )
    total = max(1, int(counts.sum()))
    return sorted(
        str(v) for v, c in zip(values, counts, strict=True) if c / total >= MIN_LANGUAGE_SHARE
    )


def train_lm(
    reference_paths: Sequence[str],
    out_dir: str | Path,
    options: VerifyOptions,
    *,
    text_field: str = "text",
    heldout_fraction: float = 0.05,
    langs: Sequence[str] | None = None,
    overwrite: bool = False,
    log: Callable[[str], None] = lambda message: None,
) -> dict[str, Any]:
    """Train the verify GPT on the reference (first model seed, one pass over at most
    `tokens_per_dataset` tokens) and save it to `out_dir`; returns what textmill_lm.json holds."""
    from textmill.tokens.tokenizer import train_bpe

    out = Path(out_dir)
    if out.exists() and (not out.is_dir() or any(out.iterdir())) and not overwrite:
        raise ModelFileError(out, "exists and is not empty; pass --overwrite to replace it")
    if not 0 < heldout_fraction < 1:
        raise ValueError(f"heldout fraction {heldout_fraction} must be in (0, 1)")
    torch_device(options.device)  # refused before the reference is read, not after
    started = time.perf_counter()
    texts = read_texts(reference_paths, text_field=text_field)
    if len(texts) < 2:
        raise ValueError(f"reference {list(reference_paths)}: {len(texts)} text(s); need 2 or more")
    texts.sort()  # a seeded order that depends on the texts only
    texts = [texts[i] for i in np.random.default_rng(options.data_seed).permutation(len(texts))]
    heldout_count = max(1, int(len(texts) * heldout_fraction))
    heldout, train = texts[:heldout_count], texts[heldout_count:]
    tokenizer = train_bpe(
        tokenizer_sample([train], options.tokenizer_chars_per_dataset), options.vocab_size
    )
    vocab_size = tokenizer.get_vocab_size()
    stream = _encode_stream(tokenizer, train, options.tokens_per_dataset)
    held_stream = _encode_stream(tokenizer, heldout, None)[: options.eval_tokens + 1]
    held_windows = _windows(held_stream, options.seq_len)
    if len(held_windows) == 0:
        raise ValueError(
            f"the held-out {heldout_count} reference documents have {len(held_stream)} tokens, "
            f"fewer than seq_len+1={options.seq_len + 1}: give more reference text"
        )
    log(f"training on {len(stream):,} tokens of {len(train):,} reference documents")
    result = train_and_evaluate(
        stream, held_windows, vocab_size, options.seeds[0], options, keep_state=True
    )
    import torch

    out.mkdir(parents=True, exist_ok=True)
    torch.save(result["state"], out / WEIGHTS)
    tokenizer.save(str(out / TOKENIZER))
    config = {
        "kind": "textmill-verify-gpt",
        "model": {k: v for k, v in asdict(options).items() if k in _SHAPE},
        "vocab_size": vocab_size,
        "langs": sorted(langs) if langs else detect_languages(train),
        "reference": {"paths": [str(p) for p in reference_paths], "documents": len(texts)},
        "tokens_trained": result["tokens_trained"],
        "heldout_loss": result["reference_loss"],
        "train_loss": result["final_train_loss"],
        "parameters": result["parameters"],
        "seed": options.seeds[0],
        "elapsed_s": round(time.perf_counter() - started, 1),
    }
    (out / CONFIG).write_text(json.dumps(config, indent=2) + "\n")
    return config


_SHAPE = ("vocab_size", "seq_len", "n_layer", "n_head", "d_model")


# ---------------------------------------------------------------- scoring


class ScoringLM:
    """A loaded causal LM: `score(texts)` gives each text's TokenLosses."""

    path: str
    langs: list[str] | None  # the languages it was trained on (None: unknown)
    context: int  # tokens one window holds (inputs)

    def __init__(self, device: str) -> None:
        self.device = device

    def encode(self, texts: Sequence[str]) -> list[list[int]]:
        """Each text's token ids, the separator that starts a document first."""
        raise NotImplementedError

    def token_losses(self, inputs: Any, targets: Any) -> Any:
        """Cross-entropy (nats) of every target, shaped like `targets` (PAD: padding)."""
        raise NotImplementedError

    def score(
        self, texts: Sequence[str | None], *, batch_size: int = 16, max_tokens: int = 1024
    ) -> TokenLosses:
        """Each document's first `max_tokens` tokens scored in windows of the model's context
        (each window starts where the last ended: the first token of a window is predicted
        from no context but the token before it)."""
        import torch

        present = [row for row, text in enumerate(texts) if text]
        ids = self.encode([texts[row] for row in present]) if present else []
        windows: list[tuple[int, list[int]]] = []  # (document row, window of ids)
        for row, doc in zip(present, ids, strict=True):
            doc = doc[: max_tokens + 1]
            for start in range(0, max(1, len(doc) - 1), self.context):
                window = doc[start : start + self.context + 1]
                if len(window) > 1:
                    windows.append((row, window))
        windows.sort(key=lambda item: len(item[1]))  # similar lengths share a batch: less padding
        losses: list[np.ndarray] = []
        owners: list[np.ndarray] = []
        with torch.inference_mode():
            for start in range(0, len(windows), batch_size):
                chunk = windows[start : start + batch_size]
                width = max(len(w) for _, w in chunk) - 1
                inputs = np.zeros((len(chunk), width), dtype=np.int64)
                targets = np.full((len(chunk), width), PAD, dtype=np.int64)
                for i, (_, window) in enumerate(chunk):
                    inputs[i, : len(window) - 1] = window[:-1]
                    targets[i, : len(window) - 1] = window[1:]
                loss = self.token_losses(
                    torch.from_numpy(inputs).to(self.device),
                    torch.from_numpy(targets).to(self.device),
                )
                valid = targets != PAD
                losses.append(loss.float().cpu().numpy()[valid])
                owners.append(np.repeat([row for row, _ in chunk], valid.sum(axis=1)))
        return summarize(
            np.concatenate(losses) if losses else np.zeros(0),
            np.concatenate(owners) if owners else np.zeros(0, np.int64),
            len(texts),
        )


def summarize(losses: np.ndarray, owners: np.ndarray, count: int) -> TokenLosses:
    """Per-owner mean, 90th percentile (linear, as numpy's) and count of flat token losses."""
    tokens = np.bincount(owners, minlength=count).astype(np.int64)
    sums = np.bincount(owners, weights=losses, minlength=count)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(tokens > 0, sums / np.maximum(tokens, 1), np.nan)
    order = np.lexsort((losses, owners))
    sorted_losses = losses[order]
    starts = np.concatenate([[0], np.cumsum(tokens)[:-1]])
    position = starts + 0.9 * np.maximum(tokens - 1, 0)
    low = np.floor(position).astype(np.int64)
    high = np.ceil(position).astype(np.int64)
    p90 = np.full(count, np.nan)
    has = tokens > 0
    if has.any():
        weight = position[has] - low[has]
        p90[has] = sorted_losses[low[has]] * (1 - weight) + sorted_losses[high[has]] * weight
    return TokenLosses(mean, p90, tokens)


class TextmillLM(ScoringLM):
    """A model folder `textmill lm train` wrote."""

    def __init__(self, path: Path, device: str) -> None:
        import torch
        from tokenizers import Tokenizer

        from textmill.tokens.tokenizer import end_of_text_id

        super().__init__(device)
        self.path = str(path)
        try:
            config = json.loads((path / CONFIG).read_text("utf-8"))
            shape = {k: config["model"][k] for k in _SHAPE if k in config["model"]}
            options = VerifyOptions(
                **{f.name: shape[f.name] for f in fields(VerifyOptions) if f.name in shape}
            )
            self.tokenizer = Tokenizer.from_file(str(path / TOKENIZER))
            model = _build_model(options, int(config["vocab_size"]))
            model.load_state_dict(torch.load(path / WEIGHTS, map_location="cpu", weights_only=True))
        except Exception as error:  # a missing file, bad JSON, weights of another shape
            raise ModelFileError(
                path, f"not a loadable textmill LM ({type(error).__name__}: {error})"
            ) from None
        self.model = model.to(device).eval()
        self.langs = list(config.get("langs") or []) or None
        self.context = options.seq_len
        self.eot = end_of_text_id(self.tokenizer)

    def encode(self, texts: Sequence[str]) -> list[list[int]]:
        return [[self.eot, *e.ids] for e in self.tokenizer.encode_batch(list(texts))]

    def token_losses(self, inputs: Any, targets: Any) -> Any:
        return self.model(inputs, targets, reduction="none")


class HuggingFaceLM(ScoringLM):
    """A Hugging Face causal LM folder (`save_pretrained`): AutoModelForCausalLM and its
    AutoTokenizer, local files only."""

    def __init__(self, path: Path, device: str, langs: Sequence[str] | None = None) -> None:
        super().__init__(device)
        self.path = str(path)
        try:
            from transformers import AutoModelForCausalLM, AutoTokenizer
        except ImportError as error:
            raise ImportError(
                "lm_score with a Hugging Face model needs transformers: pip install "
                "'textmill[semantic]'"
            ) from error
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
            model = AutoModelForCausalLM.from_pretrained(str(path), local_files_only=True)
        except Exception as error:  # transformers raises OSError, ValueError, KeyError, ...
            raise ModelFileError(
                path, f"not a loadable Hugging Face causal LM ({type(error).__name__}: {error})"
            ) from None
        self.model = model.to(device).eval()
        config = model.config
        self.context = int(
            getattr(config, "n_positions", None)
            or getattr(config, "max_position_embeddings", None)
            or 1024
        )
        start = self.tokenizer.bos_token_id
        self.start = start if start is not None else self.tokenizer.eos_token_id
        self.langs = list(langs) if langs else None

    def encode(self, texts: Sequence[str]) -> list[list[int]]:
        ids = self.tokenizer(list(texts), add_special_tokens=False)["input_ids"]
        return [[self.start, *doc] if self.start is not None else list(doc) for doc in ids]

    def token_losses(self, inputs: Any, targets: Any) -> Any:
        from torch.nn import functional as F

        mask = (targets != PAD).long()
        mask[:, 0] = 1
        logits = self.model(input_ids=inputs, attention_mask=mask).logits
        return F.cross_entropy(
            logits.transpose(1, 2).float(), targets, reduction="none", ignore_index=PAD
        )


_CACHE: dict[tuple[str, str, tuple[str, ...]], ScoringLM] = {}
_CACHE_LOCK = threading.Lock()


def load_lm(path: str | Path, device: str = "cpu", langs: Sequence[str] | None = None) -> ScoringLM:
    """The model in `path` (a textmill LM folder or a Hugging Face one), loaded once per
    process; a folder that is neither, or does not load, is a one-line ModelFileError."""
    folder = Path(path)
    torch_device(device)  # a device this torch cannot use: one line, before any loading
    key = (str(folder.resolve()), device, tuple(langs or ()))
    with _CACHE_LOCK:
        if key in _CACHE:
            return _CACHE[key]
        if not folder.is_dir():
            raise ModelFileError(folder, "LM model folder does not exist")
        if (folder / CONFIG).is_file():
            model: ScoringLM = TextmillLM(folder, device)
            if langs:
                model.langs = list(langs)
        elif (folder / HF_CONFIG).is_file():
            model = HuggingFaceLM(folder, device, langs)
        else:
            raise ModelFileError(
                folder,
                f"not an LM folder: no {CONFIG} (textmill lm train) and no {HF_CONFIG} "
                "(a Hugging Face causal LM)",
            )
        _CACHE[key] = model
        return model
