"""datatrove / nanotron tokenized files, as datatrove's `DocumentTokenizer` writes them:
`tokens.ds` (the tokens back to back, little-endian uint16, or uint32 when the vocabulary
passes 65,536), `tokens.ds.index` (uint64, the end of each sequence in tokens) and
`tokens.ds.metadata` (`TOKENIZER|TOKEN_BYTES`, the token count, the count in words).
nanotron's `DatatroveFolderDataset` (and datatrove's merger) read the folder."""

from __future__ import annotations

import numpy as np

from textmill.io.writers import publish, temporary_path, write_text_atomically
from textmill.tokens.formats.base import FlatTokenWriter

DS = "tokens.ds"


def _metric(count: int) -> str:
    """`humanize.metric(count, unit="T")`, as datatrove writes it (e.g. `1.23 MT`)."""
    for power, prefix in ((12, "T"), (9, "G"), (6, "M"), (3, "k")):
        if count >= 10**power:
            return f"{count / 10**power:.3g} {prefix}T"
    return f"{count} T"


class NanotronWriter(FlatTokenWriter):
    format = "nanotron"
    BIN = DS
    INDEX_FILES = (f"{DS}.index", f"{DS}.metadata")

    def write_index(self, lengths: np.ndarray) -> None:
        ends = np.cumsum(lengths, dtype=np.uint64)
        index = self.out / f"{DS}.index"
        temporary = temporary_path(index)  # raw little-endian uint64, no .npy header
        ends.astype("<u8").tofile(temporary)
        publish(temporary, index)
        total = int(ends[-1]) if ends.size else 0
        meta = f"{self.tokenizer_name}|{self.dtype.itemsize}\n{total}\n{_metric(total)}"
        write_text_atomically(meta, self.out / f"{DS}.metadata")
