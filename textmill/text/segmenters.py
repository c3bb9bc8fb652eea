"""Word and sentence segmentation for languages written without spaces, and the script of a text.

Whitespace rules cannot find the words of Chinese, Japanese, Thai, Lao, Khmer, Burmese or
Tibetan: a whole paragraph is one "word". FineWeb-2 counts words with a real segmenter per
language; textmill wraps the PyPI ones (the optional `textmill[languages]` extra):

| language | segmenter | package |
|---|---|---|
| zh | jieba (dictionary + HMM) | jieba |
| ja | Sudachi, split mode A (what spaCy's Japanese tokenizer uses) | sudachipy, sudachidict-core |
| th | PyThaiNLP newmm (dictionary maximal matching) | pythainlp |
| ko | whitespace rules (eojeol); `kiwi` morphemes on request | kiwipiepy |

Segmenters are per-document Python. To keep the columnar interface, the whole code-point column
becomes one Python string once, each span is segmented in chunks of at most `CHUNK_CHARS`
characters cut at line ends (Sudachi refuses long inputs; chunks bound the cost of a pathological
line), and the tokens come back as code-point spans. The result of the last few batches is cached
by content hash, because the three FineWeb filters split the same batch in turn.

Fallback, for scripts without a segmenter (or when the package is missing, with a warning that
says what to install): runs of a no-space script are cut into non-overlapping character n-grams
(`NGRAM_SIZE`: 2 for Han and kana, about a Chinese word; 3 for the Brahmic scripts of South-East
Asia, about a syllable), combining marks stay with their base; whitespace and punctuation
separate words everywhere else.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable, Iterable
from functools import cache

import numba as nb
import numpy as np
import xxhash

from textmill.text.chars import (
    ALPHA,
    ICON,
    MARK,
    PUNCT,
    SPACE,
    SYMBOL,
    TABLE_SIZE,
    TERMINAL,
    char_flags,
    flag,
)
from textmill.text.columns import Chars
from textmill.text.lines import Spans, span_buffers

log = logging.getLogger("textmill")

# ISO 15924 codes; index 0 is "no script" (digits, punctuation, symbols).
SCRIPTS = (
    "Zyyy", "Latn", "Grek", "Cyrl", "Armn", "Hebr", "Arab", "Syrc", "Thaa", "Deva", "Beng",
    "Guru", "Gujr", "Orya", "Taml", "Telu", "Knda", "Mlym", "Sinh", "Thai", "Laoo", "Tibt",
    "Mymr", "Geor", "Hang", "Ethi", "Khmr", "Mong", "Hira", "Kana", "Hani",
)  # fmt: skip
_RANGES = {
    "Latn": ((0x41, 0x5A), (0x61, 0x7A), (0xAA, 0xAA), (0xBA, 0xBA), (0xC0, 0x24F),
             (0x250, 0x2AF), (0x1E00, 0x1EFF), (0x2C60, 0x2C7F), (0xA720, 0xA7FF),
             (0xFF21, 0xFF3A), (0xFF41, 0xFF5A)),
    "Grek": ((0x370, 0x3FF), (0x1F00, 0x1FFF)),
    "Cyrl": ((0x400, 0x52F), (0x1C80, 0x1C8F), (0x2DE0, 0x2DFF), (0xA640, 0xA69F)),
    "Armn": ((0x530, 0x58F),),
    "Hebr": ((0x590, 0x5FF), (0xFB1D, 0xFB4F)),
    "Arab": ((0x600, 0x6FF), (0x750, 0x77F), (0x8A0, 0x8FF), (0xFB50, 0xFDFF), (0xFE70, 0xFEFF)),
    "Syrc": ((0x700, 0x74F),),
    "Thaa": ((0x780, 0x7BF),),
    "Deva": ((0x900, 0x97F), (0xA8E0, 0xA8FF)),
    "Beng": ((0x980, 0x9FF),),
    "Guru": ((0xA00, 0xA7F),),
    "Gujr": ((0xA80, 0xAFF),),
    "Orya": ((0xB00, 0xB7F),),
    "Taml": ((0xB80, 0xBFF),),
    "Telu": ((0xC00, 0xC7F),),
    "Knda": ((0xC80, 0xCFF),),
    "Mlym": ((0xD00, 0xD7F),),
    "Sinh": ((0xD80, 0xDFF),),
    "Thai": ((0xE00, 0xE7F),),
    "Laoo": ((0xE80, 0xEFF),),
    "Tibt": ((0xF00, 0xFFF),),
    "Mymr": ((0x1000, 0x109F), (0xA9E0, 0xA9FF), (0xAA60, 0xAA7F)),
    "Geor": ((0x10A0, 0x10FF), (0x1C90, 0x1CBF), (0x2D00, 0x2D2F)),
    "Hang": ((0x1100, 0x11FF), (0x3130, 0x318F), (0xA960, 0xA97F), (0xAC00, 0xD7FF)),
    "Ethi": ((0x1200, 0x139F), (0x2D80, 0x2DDF)),
    "Khmr": ((0x1780, 0x17FF), (0x19E0, 0x19FF)),
    "Mong": ((0x1800, 0x18AF),),
    "Hira": ((0x3040, 0x309F),),
    "Kana": ((0x30A0, 0x30FF), (0x31F0, 0x31FF), (0xFF66, 0xFF9F)),
    "Hani": ((0x2E80, 0x2FDF), (0x3005, 0x3007), (0x3021, 0x3029), (0x3400, 0x4DBF),
             (0x4E00, 0x9FFF), (0xF900, 0xFAFF), (0x20000, TABLE_SIZE - 2)),
}  # fmt: skip
NO_SPACE_SCRIPTS = ("Thai", "Laoo", "Tibt", "Mymr", "Khmr", "Hira", "Kana", "Hani")
"""Scripts written without spaces between words: whitespace rules make one word of a line."""
NGRAM_SIZE = {"Hani": 2, "Hira": 2, "Kana": 2, "Thai": 3, "Laoo": 3, "Tibt": 3, "Mymr": 3,
              "Khmr": 3}  # fmt: skip
CHUNK_CHARS = 8_000  # Sudachi refuses inputs over 49,149 UTF-8 bytes; 8,000 code points fit


@cache
def script_table() -> np.ndarray:
    """uint8 index into SCRIPTS for every code point below TABLE_SIZE."""
    table = np.zeros(TABLE_SIZE, dtype=np.uint8)
    for name, ranges in _RANGES.items():
        for low, high in ranges:
            table[low : high + 1] = SCRIPTS.index(name)
    return table


@cache
def _ngram_sizes() -> np.ndarray:
    sizes = np.zeros(len(SCRIPTS), dtype=np.int64)
    for name, n in NGRAM_SIZE.items():
        sizes[SCRIPTS.index(name)] = n
    return sizes


@nb.njit(cache=True, inline="always")
def _script(table, code):
    return table[code] if code < len(table) else 0


@nb.njit(cache=True)
def _script_counts(codes, starts, ends, flags, table, num_scripts):
    counts = np.zeros((len(starts), num_scripts), dtype=np.int64)
    for j in range(len(starts)):
        for i in range(starts[j], ends[j]):
            c = codes[i]
            if flag(flags, c) & (ALPHA | MARK):
                counts[j, _script(table, c)] += 1
    return counts


def dominant_scripts(chars: Chars, spans: Spans | None = None) -> list[str | None]:
    """Per row (or span): the script most of its letters are written in, None without letters.

    Kana with Han is `Jpan` and Hangul with Han is `Kore` (the labels GlotLID uses), so that
    Japanese text heavy in kanji still reads as Japanese."""
    starts, ends = (chars.offsets[:-1], chars.offsets[1:]) if spans is None else spans[:2]
    counts = _script_counts(chars.codes, starts, ends, char_flags(), script_table(), len(SCRIPTS))
    hani, hira, kana, hang = (SCRIPTS.index(s) for s in ("Hani", "Hira", "Kana", "Hang"))
    out: list[str | None] = []
    for row in counts:
        if not row[1:].any():
            out.append(None)
            continue
        best = int(np.argmax(row[1:])) + 1
        name = SCRIPTS[best]
        if name in ("Hani", "Hira", "Kana") and row[hira] + row[kana] > 0:
            name = "Jpan"
        elif name in ("Hani", "Hang") and row[hang] > 0 and row[hang] + row[hani] >= row[best]:
            name = "Kore" if row[hani] else "Hang"
        out.append(name)
    return out


@nb.njit(cache=True)
def _room(starts_in, ends_in):
    """At most one span per code point of the input spans (and a little slack)."""
    capacity = 16
    for j in range(len(starts_in)):
        capacity += ends_in[j] - starts_in[j]
    return capacity


@nb.njit(cache=True)
def _ngram_words(codes, starts_in, ends_in, flags, table, sizes):
    starts, ends, offsets = span_buffers(len(starts_in), _room(starts_in, ends_in))
    k = 0
    for j in range(len(starts_in)):
        i = starts_in[j]
        e = ends_in[j]
        while i < e:
            c = codes[i]
            f = flag(flags, c)
            if f & SPACE:
                i += 1
                continue
            if f & (PUNCT | SYMBOL | ICON) and not f & ALPHA:
                starts[k] = i
                ends[k] = i + 1
                k += 1
                i += 1
                continue
            s = _script(table, c)
            n = sizes[s]
            if n > 0:  # a no-space script: cut the run into n-grams, marks stay with their base
                run_end = i
                while run_end < e and _script(table, codes[run_end]) == s:
                    run_end += 1
                while i < run_end:
                    m = i
                    taken = 0
                    while m < run_end and taken < n:
                        m += 1
                        taken += 1
                        while m < run_end and flag(flags, codes[m]) & MARK:
                            m += 1
                    starts[k] = i
                    ends[k] = m
                    k += 1
                    i = m
            else:
                m = i + 1
                while m < e:
                    g = flag(flags, codes[m])
                    if g & SPACE or (g & (PUNCT | SYMBOL | ICON) and not g & ALPHA):
                        break
                    if sizes[_script(table, codes[m])] > 0:
                        break
                    m += 1
                starts[k] = i
                ends[k] = m
                k += 1
                i = m
        offsets[j + 1] = k
    return starts[:k], ends[:k], offsets


def split_words_ngrams(chars: Chars, spans: Spans | None = None) -> Spans:
    """The documented fallback: character n-grams in no-space scripts, whitespace and
    punctuation boundaries elsewhere."""
    starts, ends = (chars.offsets[:-1], chars.offsets[1:]) if spans is None else spans[:2]
    out = _ngram_words(chars.codes, starts, ends, char_flags(), script_table(), _ngram_sizes())
    return Spans(*out)


# --- Python segmenters -----------------------------------------------------------------------

Tokenize = Callable[[str], Iterable[tuple[int, int]]]


class SegmenterUnavailable(ImportError):
    """An optional segmenter package is not installed."""


def _load_jieba() -> Tokenize:
    import jieba

    jieba.setLogLevel(logging.WARNING)
    tokenizer = jieba.Tokenizer()
    return lambda text: ((start, end) for _, start, end in tokenizer.tokenize(text))


def _load_sudachi() -> Tokenize:
    from sudachipy import Dictionary, SplitMode

    tokenizer = Dictionary(dict="core").tokenizer(mode=SplitMode.A)
    return lambda text: ((m.begin(), m.end()) for m in tokenizer.tokenize(text))


def _load_pythainlp() -> Tokenize:
    from pythainlp.tokenize import word_tokenize

    def tokenize(text: str) -> Iterable[tuple[int, int]]:
        position = 0
        for token in word_tokenize(text, engine="newmm", keep_whitespace=True):
            start = text.find(token, position)
            if start < 0:  # a normalised token: skip it rather than misplace it
                continue
            position = start + len(token)
            yield start, position

    return tokenize


def _load_kiwi() -> Tokenize:
    from kiwipiepy import Kiwi

    kiwi = Kiwi()

    def tokenize(text: str) -> Iterable[tuple[int, int]]:
        last_start, last_end = -1, -1
        for token in kiwi.tokenize(text):  # morphemes may overlap where Kiwi restored a form
            start, end = token.start, token.start + token.len
            if start < last_end:
                last_end = max(last_end, end)
                continue
            if last_end > last_start:
                yield last_start, last_end
            last_start, last_end = start, end
        if last_end > last_start:
            yield last_start, last_end

    return tokenize


SEGMENTERS: dict[str, tuple[Callable[[], Tokenize], str]] = {
    "jieba": (_load_jieba, "jieba"),
    "sudachi": (_load_sudachi, "sudachipy sudachidict-core"),
    "pythainlp": (_load_pythainlp, "pythainlp"),
    "kiwi": (_load_kiwi, "kiwipiepy"),
}
"""Name -> (loader, pip packages). Loaders import lazily: the packages are optional."""


@cache
def load_segmenter(name: str) -> Tokenize:
    """The tokenize function of a named segmenter; SegmenterUnavailable names what to install."""
    loader, packages = SEGMENTERS[name]
    try:
        return loader()
    except ImportError as exc:
        raise SegmenterUnavailable(
            f"word segmenter {name!r} needs `pip install {packages}` "
            f"(or `pip install 'textmill[languages]'`): {exc}"
        ) from exc


def segmenter_available(name: str) -> bool:
    try:
        load_segmenter(name)
    except SegmenterUnavailable:
        return False
    return True


@cache
def _warn_fallback(name: str, message: str) -> None:
    log.warning("%s; falling back to character n-grams", message)


def _chunks(text: str, limit: int = CHUNK_CHARS) -> Iterable[tuple[int, int]]:
    """(start, end) pieces of at most `limit` characters, cut after a newline where possible."""
    start = 0
    while len(text) - start > limit:
        cut = text.rfind("\n", start, start + limit)
        end = cut + 1 if cut > start else start + limit
        yield start, end
        start = end
    if start < len(text):
        yield start, len(text)


def _column_string(chars: Chars) -> str:
    codes = chars.codes
    if len(codes) and (codes.max() > 0x10FFFF or codes.min() < 0):
        codes = np.where((codes > 0x10FFFF) | (codes < 0), 0xFFFD, codes)
    return codes.astype("<u4").tobytes().decode("utf-32-le", errors="surrogatepass")


_CACHE: OrderedDict[tuple, Spans] = OrderedDict()
_CACHE_SIZE = 4


def _cache_key(name: str, chars: Chars, starts: np.ndarray, ends: np.ndarray) -> tuple:
    digest = xxhash.xxh3_128()
    for array in (chars.codes, starts, ends):
        digest.update(np.ascontiguousarray(array).view(np.uint8))
    return name, len(chars.codes), digest.hexdigest()


def segment_words(chars: Chars, spans: Spans | None, name: str) -> Spans:
    """Words of every row (or span) by the named segmenter, as code-point spans; whitespace
    tokens are dropped. Falls back to `split_words_ngrams` (once warned) when not installed."""
    try:
        tokenize = load_segmenter(name)
    except SegmenterUnavailable as exc:
        _warn_fallback(name, str(exc))
        return split_words_ngrams(chars, spans)
    starts, ends = (chars.offsets[:-1], chars.offsets[1:]) if spans is None else spans[:2]
    key = _cache_key(name, chars, starts, ends)
    if key in _CACHE:
        _CACHE.move_to_end(key)
        return _CACHE[key]
    text = _column_string(chars)
    out_starts: list[int] = []
    out_ends: list[int] = []
    offsets = np.zeros(len(starts) + 1, dtype=np.int64)
    for j, (row_start, row_end) in enumerate(zip(starts.tolist(), ends.tolist(), strict=True)):
        piece = text[row_start:row_end]
        for chunk_start, chunk_end in _chunks(piece):
            chunk = piece[chunk_start:chunk_end]
            base = row_start + chunk_start
            for a, b in tokenize(chunk):
                if b > a and not chunk[a:b].isspace():
                    out_starts.append(base + a)
                    out_ends.append(base + b)
        offsets[j + 1] = len(out_starts)
    words = _trim(
        chars, Spans(np.array(out_starts, np.int64), np.array(out_ends, np.int64), offsets)
    )
    _CACHE[key] = words
    if len(_CACHE) > _CACHE_SIZE:
        _CACHE.popitem(last=False)
    return words


@nb.njit(cache=True)
def _trim_kernel(codes, starts, ends, flags):
    for j in range(len(starts)):
        while starts[j] < ends[j] and flag(flags, codes[starts[j]]) & SPACE:
            starts[j] += 1
        while ends[j] > starts[j] and flag(flags, codes[ends[j] - 1]) & SPACE:
            ends[j] -= 1


def _trim(chars: Chars, words: Spans) -> Spans:
    """Segmenters may keep a space inside a token (" word"): words never hold edge spaces."""
    _trim_kernel(chars.codes, words.starts, words.ends, char_flags())
    return words


# --- sentences -------------------------------------------------------------------------------


@nb.njit(cache=True)
def _sentences(codes, starts_in, ends_in, flags, space_ends):
    starts, ends, offsets = span_buffers(len(starts_in), _room(starts_in, ends_in))
    k = 0
    for j in range(len(starts_in)):
        i = starts_in[j]
        e = ends_in[j]
        while i < e:
            while i < e and flag(flags, codes[i]) & SPACE:
                i += 1
            if i >= e:
                break
            s = i
            while i < e:
                c = codes[i]
                f = flag(flags, c)
                if f & TERMINAL:
                    while (
                        i < e
                        and flag(flags, codes[i]) & (TERMINAL | PUNCT)
                        and not (flag(flags, codes[i]) & SPACE)
                    ):
                        i += 1
                    # a full-width mark ends a sentence by itself; "." needs a space after it
                    if c >= 0x3000 or i >= e or flag(flags, codes[i]) & SPACE:
                        break
                    continue
                if f & SPACE and (space_ends or codes[i] == 10):
                    break
                i += 1
            end = i
            while end > s and flag(flags, codes[end - 1]) & SPACE:
                end -= 1
            if end > s:
                starts[k] = s
                ends[k] = end
                k += 1
        offsets[j + 1] = k
    return starts[:k], ends[:k], offsets


SPACE_ENDS_SENTENCE = ("th", "lo", "km", "my")
"""Languages that mark a sentence end with a space rather than punctuation."""


def split_sentences(chars: Chars, lang: str = "en", spans: Spans | None = None) -> Spans:
    """Sentences of every row (or span): a sentence ends after sentence-final punctuation
    followed by a space (immediately after a full-width mark such as 。), at a newline, and in
    Thai, Lao, Khmer and Burmese at any space."""
    from textmill.lang.codes import base_language

    starts, ends = (chars.offsets[:-1], chars.offsets[1:]) if spans is None else spans[:2]
    space_ends = base_language(lang) in SPACE_ENDS_SENTENCE
    return Spans(*_sentences(chars.codes, starts, ends, char_flags(), space_ends))


__all__ = [
    "NO_SPACE_SCRIPTS",
    "SCRIPTS",
    "SEGMENTERS",
    "SegmenterUnavailable",
    "dominant_scripts",
    "load_segmenter",
    "segment_words",
    "segmenter_available",
    "split_sentences",
    "split_words_ngrams",
]
