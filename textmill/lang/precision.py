"""Word lists for precision filtering (FineWeb-2, for languages whose data is > 10% contaminated).

A language that a close neighbour or a big language leaks into keeps only documents holding
words that almost never occur outside it. The list of such words comes from text split by
language (a reference corpus per language, or the run's own corpus split by detected language):

1. Every text is lower-cased and split into words by the *target* language's splitter (the way
   the `precision_filter` stage will split documents detected as that language); words without
   a letter (numbers, punctuation) are ignored.
2. Document frequency: df_X(w) = number of texts of language X that contain w at least once.
3. Candidates: the target's frequent words, those whose df is at or above the `top_percentile`
   (FineWeb-2: 95) percentile of the target's document frequencies (wordlist_gen.py keeps the
   top 5% of a language's words the same way, on term frequencies).
4. Specificity: the share of the word's use that falls in the target language,
   s(w) = f_L(w) / sum over every language Y (the target included) of f_Y(w), where f_Y(w) is
   df_Y(w) / (number of texts of Y) with `balance_languages` (each language weighs the same,
   whatever the size of its corpus: a small contaminated language is not drowned by a big
   neighbour), or df_Y(w) itself without it (FineWeb-2's raw-count ratio).
5. The list: candidates with s(w) ≥ `min_specificity` (FineWeb-2: 0.85, its `wordlists-0.85`),
   ordered by document frequency in the target, then alphabetically.

FineWeb-2 counts term frequencies; textmill counts documents, so that one page repeating a word
a hundred times weighs as one page.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from textmill.text import decode
from textmill.text.chars import ALPHA
from textmill.text.hashing import spans_hashes
from textmill.text.spans import any_char_with
from textmill.text.words import split_words

MIN_SPECIFICITY = 0.85  # FineWeb-2: words ≥ 85% specific to the language (wordlists-0.85)
TOP_PERCENTILE = 95.0  # FineWeb-2 wordlist_gen.py: only the language's top 5% words by frequency


def lowercase_words(texts: pa.Array | pa.ChunkedArray, lang: str | Sequence[str | None]):
    """(chars, words, word hashes, has-a-letter mask) of the lower-cased texts, split by the
    splitter of `lang` (one language, or one per row)."""
    chars = decode(pc.utf8_lower(texts))
    words = split_words(chars, lang)
    hashes, _ = spans_hashes(chars, words.starts, words.ends)
    return chars, words, hashes, any_char_with(chars, words, ALPHA)


def _document_frequencies(
    texts: Sequence[str | None] | pa.Array, lang: str
) -> tuple[np.ndarray, np.ndarray, int, list[str]]:
    """(distinct word hashes, documents holding each, number of documents, a spelling of each)."""
    column = texts if isinstance(texts, (pa.Array, pa.ChunkedArray)) else pa.array(texts)
    column = column.cast(pa.large_string())
    chars, words, hashes, lettered = lowercase_words(column, lang)
    rows = np.repeat(np.arange(chars.num_rows), words.counts())
    index = np.flatnonzero(lettered)
    if len(index) == 0:
        return np.zeros(0, np.uint64), np.zeros(0, np.int64), chars.num_rows, []
    # one (row, word) pair per document and word: unique after sorting by (hash, row)
    order = index[np.lexsort((rows[index], hashes[index]))]
    first = np.ones(len(order), dtype=bool)
    first[1:] = (hashes[order][1:] != hashes[order][:-1]) | (rows[order][1:] != rows[order][:-1])
    distinct, representative, documents = np.unique(
        hashes[order][first], return_index=True, return_counts=True
    )
    examples = order[first][representative]
    spellings = [
        "".join(map(chr, chars.codes[words.starts[w] : words.ends[w]])) for w in examples.tolist()
    ]
    return distinct, documents, chars.num_rows, spellings


def specific_words(
    corpora: Mapping[str, Sequence[str | None] | pa.Array],
    lang: str,
    min_specificity: float = MIN_SPECIFICITY,
    top_percentile: float = TOP_PERCENTILE,
    balance_languages: bool = True,
) -> list[str]:
    """Words of `corpora[lang]` that are at least `min_specificity` specific to it against every
    other corpus (the rule is the module docstring's), most widespread first."""
    if lang not in corpora:
        raise ValueError(f"no text for {lang!r} among the corpora ({', '.join(sorted(corpora))})")
    hashes, documents, num_docs, spellings = _document_frequencies(corpora[lang], lang)
    if len(hashes) == 0:
        return []
    weight = 1.0 / num_docs if balance_languages else 1.0
    own = documents * weight
    total = own.copy()
    for other, texts in corpora.items():
        if other == lang:
            continue
        other_hashes, other_documents, other_num, _ = _document_frequencies(texts, lang)
        if other_num == 0 or len(other_hashes) == 0:
            continue
        positions = np.searchsorted(other_hashes, hashes).clip(max=len(other_hashes) - 1)
        found = other_hashes[positions] == hashes
        other_weight = 1.0 / other_num if balance_languages else 1.0
        total += np.where(found, other_documents[positions] * other_weight, 0.0)
    specificity = own / total
    frequent = documents >= np.percentile(documents, top_percentile)
    chosen = np.flatnonzero(frequent & (specificity >= min_specificity))
    chosen = sorted(chosen.tolist(), key=lambda i: (-int(documents[i]), spellings[i]))
    return [spellings[i] for i in chosen]


def corpora_by_language(
    texts: Sequence[str | None] | pa.Array, languages: Sequence[str | None] | pa.Array
) -> dict[str, list[str | None]]:
    """A corpus split by (detected) language, e.g. the `text` and `lang` columns after langid;
    rows without a language are left out."""
    if isinstance(texts, (pa.Array, pa.ChunkedArray)):
        texts = texts.to_pylist()
    if isinstance(languages, (pa.Array, pa.ChunkedArray)):
        languages = languages.to_pylist()
    corpora: dict[str, list[str | None]] = {}
    for text, lang in zip(texts, languages, strict=True):
        if lang:
            corpora.setdefault(lang, []).append(text)
    return corpora


def write_word_list(words: Iterable[str], path: str | Path) -> Path:
    """One word a line, UTF-8 (the format `precision_filter` reads)."""
    path = Path(path)
    path.write_text("".join(f"{word}\n" for word in words), encoding="utf-8")
    return path


def read_word_list(path: str | Path) -> list[str]:
    """Words of a list file, one a line, lower-cased; blank lines skipped."""
    text = Path(path).read_text(encoding="utf-8")
    return [line.strip().lower() for line in text.split("\n") if line.strip()]
