"""A user's tokenizer, loaded offline with the library that made it, behind one small interface.

`load_tokenizer(path)` takes a Hugging Face `tokenizer.json`, a Hugging Face tokenizer folder
(its `tokenizer.json`, with the special tokens that `tokenizer_config.json` or
`special_tokens_map.json` name) or a SentencePiece `.model` file. Nothing is ever fetched: a
path that is not one of these is a `TokenizerError`, said in one line.

`train_bpe` is the byte-level BPE trainer of `textmill tokenizer train` and `textmill verify`:
byte-level, so every text encodes, whatever its script, and decodes back to itself.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

END_OF_TEXT = "<|endoftext|>"
UINT16_VOCAB = 1 << 16  # ids 0..65535 fit uint16
UINT32_VOCAB = 1 << 32
HF_FOLDER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json")
# the names tokenizers give their end / start of document token, when no config says which
EOS_NAMES = ("<|endoftext|>", "<|end_of_text|>", "</s>", "<eos>", "<|eos|>", "[SEP]")
BOS_NAMES = ("<|begin_of_text|>", "<s>", "<bos>", "<|bos|>", "[CLS]")
PAD_NAMES = ("<pad>", "<|pad|>", "[PAD]")


class TokenizerError(ValueError):
    """A tokenizer that cannot be loaded or used as asked; the message is for the user."""


def token_dtype_for(vocab_size: int) -> type[np.unsignedinteger]:
    """uint16 when every id fits it, else uint32; a vocabulary beyond 2**32 has no token type."""
    if vocab_size > UINT32_VOCAB:
        raise TokenizerError(
            f"vocabulary of {vocab_size:,} entries: ids over 2**32 fit no token file format "
            "(uint16 or uint32)"
        )
    return np.uint16 if vocab_size <= UINT16_VOCAB else np.uint32


@dataclass
class TextTokenizer:
    """What tokenize needs from a tokenizer: ids in batches, its identity and special ids."""

    name: str
    kind: str  # "huggingface" or "sentencepiece"
    sha256: str
    vocab_size: int
    bos_id: int | None
    eos_id: int | None
    pad_id: int | None
    engine: Any  # tokenizers.Tokenizer or sentencepiece.SentencePieceProcessor
    fast: Any = None  # a tiktoken Encoding giving the same ids (textmill/tokens/engines.py)
    engine_reason: str = ""  # why this engine runs (the manifest says it)
    check_first_batch: bool = False  # auto: compare tiktoken with tokenizers on the first batch

    @property
    def token_dtype(self) -> type[np.unsignedinteger]:
        return token_dtype_for(self.vocab_size)

    def encode_batch(self, texts: list[str]) -> list[list[int]]:
        """Token ids of each text, no special tokens added (tokenize adds BOS/EOS itself)."""
        self._settle(texts)
        if self.fast is not None:
            return [a.tolist() for a in self._fast_arrays(texts)]
        if self.kind == "sentencepiece":
            return self.engine.encode(texts, out_type=int, num_threads=_threads())
        return [e.ids for e in self.engine.encode_batch_fast(texts, add_special_tokens=False)]

    def encode_arrays(self, texts: list[str]) -> list[np.ndarray]:
        """Each text's ids as a uint32 array (views into one buffer where the engine gives a
        flat one): what tokenize assembles documents from, with no Python int per token on
        the tiktoken engine."""
        self._settle(texts)
        if self.fast is not None:
            return self._fast_arrays(texts)
        ids = self.encode_batch(texts)
        lengths = np.fromiter(map(len, ids), dtype=np.int64, count=len(ids))
        flat = np.fromiter(_chain(ids), dtype=np.uint32, count=int(lengths.sum()))
        return np.split(flat, np.cumsum(lengths)[:-1]) if len(ids) else []

    def encode_flat(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """All the texts' ids in one uint32 array, and each text's token count (int64)."""
        arrays = self.encode_arrays(texts)
        lengths = np.fromiter(map(len, arrays), dtype=np.int64, count=len(arrays))
        flat = np.concatenate(arrays) if arrays else np.zeros(0, np.uint32)
        return flat.astype(np.uint32, copy=False), lengths

    @property
    def settled(self) -> bool:
        """Whether the engine is decided (`--engine auto` decides on a first batch of text)."""
        return not self.check_first_batch

    def settle(self, texts: list[str]) -> None:
        """Decide `--engine auto` on `texts` now, as the first encode would."""
        self._settle(texts)

    def _settle(self, texts: list[str]) -> None:
        """`--engine auto`: before the first batch is encoded, keep tiktoken only when it gives
        tokenizers' ids on a sample of that batch (engines.check_sample)."""
        if not self.check_first_batch or not any(texts):  # decided on a batch with text
            return
        from textmill.tokens.engines import check_sample

        self.check_first_batch = False
        problem = check_sample(self.fast, self.engine, texts)
        if problem is None:
            self.engine_reason += "; and a sample of the input's first batch"
        else:
            self.fast, self.engine_reason = None, problem

    def _fast_arrays(self, texts: list[str]) -> list[np.ndarray]:
        special = self.fast.special_tokens_set

        def encode(text: str) -> np.ndarray:
            return self.fast.encode_to_numpy(text, allowed_special=special, disallowed_special=())

        threads = _threads()
        if threads == 1 or len(texts) < 2:
            return [encode(text) for text in texts]
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(threads) as pool:  # tiktoken releases the GIL while encoding
            return list(pool.map(encode, texts, chunksize=max(1, len(texts) // (4 * threads))))

    def decode(self, ids: Sequence[int]) -> str:
        ids = [int(i) for i in ids]
        if self.kind == "sentencepiece":
            return self.engine.decode(ids)
        return self.engine.decode(ids, skip_special_tokens=False)

    def token_id(self, token: str) -> int:
        """The id of a token given by name (`--eos-token`), or a TokenizerError."""
        found = (
            self.engine.piece_to_id(token)
            if self.kind == "sentencepiece"
            else self.engine.token_to_id(token)
        )
        if found is None or (self.kind == "sentencepiece" and found == self.engine.unk_id()):
            raise TokenizerError(f"tokenizer {self.name}: no token {token!r} in its vocabulary")
        return int(found)

    def describe(self) -> dict[str, Any]:
        """The manifest's `tokenizer` entry."""
        return {
            "name": self.name,
            "kind": self.kind,
            "sha256": self.sha256,
            "vocab_size": self.vocab_size,
            "bos_id": self.bos_id,
            "eos_id": self.eos_id,
            "pad_id": self.pad_id,
            "dtype": np.dtype(self.token_dtype).name,
            "engine": "tiktoken" if self.fast is not None else _library(self.kind),
            "engine_reason": self.engine_reason,
        }


def _library(kind: str) -> str:
    return "sentencepiece" if kind == "sentencepiece" else "tokenizers"


def _threads() -> int:
    """Encoding threads: RAYON_NUM_THREADS when set (what `tokenizers` obeys), else the cores
    this process may use."""
    import os

    wanted = os.environ.get("RAYON_NUM_THREADS", "")
    if wanted.isdigit() and int(wanted) > 0:
        return int(wanted)
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _chain(lists: list[list[int]]):
    from itertools import chain

    return chain.from_iterable(lists)


def load_tokenizer(path: str | Path, engine: str = "tokenizers") -> TextTokenizer:
    """The tokenizer at `path` (tokenizer.json, a HF tokenizer folder, or a SentencePiece
    .model), loaded from local files only. `engine="tiktoken"` encodes a byte-level BPE with
    tiktoken instead of `tokenizers` (same ids, faster: see textmill/tokens/engines.py);
    `engine="auto"` does so only where it checks that the ids are the same (its first batch
    of texts included), else uses `tokenizers`."""
    from textmill.tokens.engines import ENGINES, EngineError, fast_encoding, tiktoken_encoding

    if engine not in ENGINES:
        raise TokenizerError(f"unknown engine {engine!r} (have: {', '.join(ENGINES)})")
    tokenizer = _load(Path(path).expanduser())
    tokenizer.engine_reason = f"asked for (engine {engine!r})"
    if engine == "auto":
        if tokenizer.kind != "huggingface":
            tokenizer.engine_reason = "auto: tiktoken runs byte-level BPE tokenizer.json only"
            return tokenizer
        source = Path(path) / "tokenizer.json" if Path(path).is_dir() else Path(path)
        tokenizer.fast, reason = fast_encoding(source, tokenizer.engine)
        tokenizer.engine_reason = f"auto: {reason}"
        tokenizer.check_first_batch = tokenizer.fast is not None
        return tokenizer
    if engine == "tiktoken":
        if tokenizer.kind != "huggingface":
            raise TokenizerError(
                f"{path}: --engine tiktoken runs byte-level BPE tokenizer.json only"
            )
        source = Path(path) / "tokenizer.json" if Path(path).is_dir() else Path(path)
        try:
            tokenizer.fast = tiktoken_encoding(source)
        except EngineError as exc:
            raise TokenizerError(str(exc)) from None
    return tokenizer


def _load(path: Path) -> TextTokenizer:
    if path.is_dir():
        if not (path / "tokenizer.json").is_file():
            spm = sorted(path.glob("*.model"))
            if len(spm) == 1:
                return _load_sentencepiece(spm[0])
            raise TokenizerError(
                f"{path}: a tokenizer folder must hold tokenizer.json (a Hugging Face "
                "tokenizer saved with save_pretrained) or one SentencePiece .model file"
            )
        files = [path / name for name in HF_FOLDER_FILES if (path / name).is_file()]
        name = path.resolve().name  # `.` and `..` say nothing
        return _load_huggingface(path / "tokenizer.json", name, files, _folder_specials(path))
    if not path.is_file():
        raise TokenizerError(f"{path}: no such tokenizer file or folder")
    if path.suffix == ".model":
        return _load_sentencepiece(path)
    folder = path.parent.name  # a HF folder's name says which tokenizer; `..` does not
    name = folder if path.name == "tokenizer.json" and folder not in ("", "..") else path.name
    return _load_huggingface(path, name, [path], _folder_specials(path.parent))


def _sha256(files: Sequence[Path]) -> str:
    """One digest over the files that define the tokenizer (names and bytes)."""
    digest = hashlib.sha256()
    for file in files:
        if len(files) > 1:
            digest.update(file.name.encode() + b"\0")
        with open(file, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def _token_text(value: Any) -> str | None:
    """A special token as configs write it: a string, or `{"content": ...}`."""
    if isinstance(value, dict):
        value = value.get("content")
    return value if isinstance(value, str) else None


def _folder_specials(folder: Path) -> dict[str, str]:
    """bos/eos/pad token texts named by tokenizer_config.json, then special_tokens_map.json."""
    found: dict[str, str] = {}
    for name in ("tokenizer_config.json", "special_tokens_map.json"):
        file = folder / name
        if not file.is_file():
            continue
        try:
            config = json.loads(file.read_text("utf-8"))
        except (OSError, ValueError) as exc:
            raise TokenizerError(f"{file}: not readable JSON ({exc})") from None
        if not isinstance(config, dict):
            continue
        for role in ("bos", "eos", "pad"):
            text = _token_text(config.get(f"{role}_token"))
            if text is not None:
                found.setdefault(role, text)
    return found


def _load_huggingface(
    file: Path, name: str, files: Sequence[Path], specials: dict[str, str]
) -> TextTokenizer:
    from tokenizers import Tokenizer

    try:
        engine = Tokenizer.from_file(str(file))
    except Exception as exc:  # noqa: BLE001 - the Rust error says what is wrong with the file
        reason = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        raise TokenizerError(f"{file}: not a loadable tokenizer.json ({reason})") from None
    vocab = engine.get_vocab_size(with_added_tokens=True)

    def special(role: str, names: Sequence[str]) -> int | None:
        if role in specials:
            found = engine.token_to_id(specials[role])
            if found is None:
                raise TokenizerError(
                    f"{file}: the config names {role}_token {specials[role]!r}, which the "
                    "vocabulary does not hold"
                )
            return int(found)
        for candidate in names:
            found = engine.token_to_id(candidate)
            if found is not None:
                return int(found)
        return None

    return TextTokenizer(
        name=name,
        kind="huggingface",
        sha256=_sha256(files),
        vocab_size=vocab,
        bos_id=special("bos", BOS_NAMES),
        eos_id=special("eos", EOS_NAMES),
        pad_id=special("pad", PAD_NAMES),
        engine=engine,
    )


def _load_sentencepiece(file: Path) -> TextTokenizer:
    try:
        import sentencepiece
    except ImportError:
        raise TokenizerError(
            f"{file}: SentencePiece models need the sentencepiece package "
            "(pip install 'textmill[tokenize]')"
        ) from None
    engine = sentencepiece.SentencePieceProcessor()
    try:
        engine.Load(str(file))
    except Exception as exc:  # noqa: BLE001
        reason = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        raise TokenizerError(f"{file}: not a loadable SentencePiece model ({reason})") from None

    def special(value: int) -> int | None:
        return int(value) if value >= 0 else None

    return TextTokenizer(
        name=file.name,
        kind="sentencepiece",
        sha256=_sha256([file]),
        vocab_size=int(engine.get_piece_size()),
        bos_id=special(engine.bos_id()),
        eos_id=special(engine.eos_id()),
        pad_id=special(engine.pad_id()),
        engine=engine,
    )


def train_bpe(texts: Sequence[str], vocab_size: int) -> Any:
    """A `tokenizers.Tokenizer` with `vocab_size` entries (fewer when the texts are too small to
    fill it), trained on `texts`; `END_OF_TEXT` is id 0 and separates documents."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=2,
        special_tokens=[END_OF_TEXT],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(list(texts), trainer=trainer, length=len(texts))
    return tokenizer


def end_of_text_id(tokenizer: Any) -> int:
    return int(tokenizer.token_to_id(END_OF_TEXT))
