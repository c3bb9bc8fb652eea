"""A byte-level BPE tokenizer trained on the data being compared (HF `tokenizers`).

`textmill verify` trains one tokenizer on an equal sample of every dataset, so that no dataset is
favoured by a vocabulary fitted to it alone. Byte-level: every text encodes, whatever its script.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

END_OF_TEXT = "<|endoftext|>"


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
