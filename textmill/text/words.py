"""Word splitting on whole columns, one splitter per language.

The English splitter follows the rules of spaCy's English tokenizer, which the FineWeb filters
count words with: split on whitespace, then peel punctuation off both ends of each chunk, keep
common abbreviations and URLs whole, split clitics ("do|n't", "it|'s") and split inside a
chunk at hyphens, slashes, ellipses and the like. It is an approximation (spaCy's exception
table is replaced by short rules), close enough that filter decisions agree on >99% of web
documents. Other languages: `WORD_SPLITTERS` maps a language to its splitter (real segmenters for
Chinese, Japanese and Thai, see textmill.text.segmenters), and `split_words` takes one language
or one per row.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numba as nb
import numpy as np

from textmill.lang.codes import base_language
from textmill.text.chars import (
    ALPHA,
    CLOSER,
    CURRENCY,
    ICON,
    LOWER,
    MARK,
    OPENER,
    PUNCT,
    QUOTE,
    SPACE,
    TERMINAL,
    UPPER,
    char_flags,
    flag,
)
from textmill.text.columns import Chars
from textmill.text.hashing import DEFAULT_SEED, span_hash, string_hash
from textmill.text.lines import Spans
from textmill.text.segmenters import (
    NO_SPACE_SCRIPTS,
    dominant_scripts,
    segment_words,
    split_sentences,
    split_words_ngrams,
)


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


# Chunks kept as one word although the punctuation rules would split them (exact case).
_KEPT_WHOLE = _words(
    "Mr. Mrs. Ms. Dr. St. Jr. Sr. Mt. Inc. Ltd. Co. co. Corp. vs. v. Gen. Gov. Sen. Rep. Rev. "
    "Adm. Bros. Messrs. Ph.D. e.g. E.g. E.G. i.e. I.e. I.E. a.m. p.m. Jan. Feb. Mar. Apr. Jun. "
    "Jul. Aug. Sep. Sept. Oct. Nov. Dec. Ala. Ariz. Ark. Calif. Colo. Conn. Del. Fla. Ga. Ill. "
    "Ind. Kan. Kans. Ky. La. Md. Mass. Mich. Minn. Miss. Mo. Mont. Neb. Nebr. Nev. Okla. Ore. "
    "Pa. Tenn. Va. Wash. Wis. Wyo. D.C. N.C. N.Y. 'em 'cause o'clock ma'am y'know and/or '' "
    "C++ c++ 's 'S ’s "
    # emoticons
    ":) :-) :)) :-)) :( :-( :(( ;) ;-) ;( :D :-D :P :-P :p :-p :o :O :/ :| :-| :0 :1 :] [: "
    ":') :'( (: ): (= =) =( =D 8) 8-) <3 <33 </3 ^_^ -_- o.O O.o o_o O_O xD XD V.V >.<"
)
# Informal spellings written without an apostrophe that the tokenizer still splits:
# the word and where it splits, in lower case (the capitalised form splits the same way).
_SPLIT_AT = {
    "cannot": 3, "gonna": 3, "gotta": 3, "wanna": 3, "dont": 2, "doesnt": 4, "didnt": 3,
    "isnt": 2, "arent": 3, "wasnt": 3, "werent": 4, "cant": 2, "wont": 2, "aint": 2,
    "couldnt": 5, "shouldnt": 6, "wouldnt": 5, "havent": 4, "hasnt": 3, "hadnt": 3,
    "mustnt": 4, "neednt": 4, "im": 1, "id": 1, "ive": 1, "youre": 3, "youve": 3, "youll": 3,
    "youd": 3, "hes": 2, "shes": 3, "wed": 2, "weve": 2, "theyre": 4, "theyve": 4,
    "theyll": 4, "theyd": 4, "whats": 4, "thats": 4, "whos": 3, "hows": 3, "wheres": 5,
    "theres": 5, "itll": 2, "thatll": 4,
}  # fmt: skip
for _hour in range(1, 13):
    for _half in ("am", "pm", "a.m.", "p.m."):
        _SPLIT_AT[f"{_hour}{_half}"] = len(str(_hour))
# Words that a clitic with an apostrophe splits from: "do|n't", "I|'m", "what|'re".
_CLITIC_BASES = _words(
    "do does did is are was were has have had could should would must might need ca wo ai "
    "sha dare ought i you he she it we they who what that there where how this these those "
    "here will shall can let"
)
# Measurement units split off a number they follow ("10km" -> "10", "km").
_UNITS = _words(
    "km km² km³ m m² m³ dm dm² dm³ cm cm² cm³ mm mm² mm³ ha µm nm yd in ft kg g mg µg t lb oz "
    "m/s km/h kmh mph hPa Pa mbar mb MB kb KB gb GB tb TB T G M K %"
)
_MAX_SPECIAL_LEN = 8


def _special_table() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    entries = {word: 0 for word in _KEPT_WHOLE}
    for word, cut in _SPLIT_AT.items():
        entries[word] = cut
        entries[word[0].upper() + word[1:]] = cut
    keys = np.array([string_hash(w) for w in entries], dtype=np.uint64)
    cuts = np.array(list(entries.values()), dtype=np.int64)
    order = np.argsort(keys)
    # (length, first, last character) of every entry: most words skip the hash lookup
    screen = np.zeros((_MAX_SPECIAL_LEN + 1, 128, 128), dtype=np.bool_)
    for word in entries:
        if len(word) <= _MAX_SPECIAL_LEN:
            screen[len(word), min(ord(word[0]), 127), min(ord(word[-1]), 127)] = True
    bases = np.sort(np.array([string_hash(w, ascii_lower=True) for w in _CLITIC_BASES], np.uint64))
    return keys[order], cuts[order], screen, bases


def _unit_table() -> tuple[np.ndarray, np.ndarray]:
    width = max(len(u) for u in _UNITS)
    table = np.full((len(_UNITS), width), -1, dtype=np.int32)
    for row, unit in enumerate(_UNITS):
        table[row, : len(unit)] = [ord(c) for c in unit]
    return table, np.array([len(u) for u in _UNITS], dtype=np.int64)


@nb.njit(cache=True, inline="always")
def _is_digit(c):
    return 48 <= c <= 57


@nb.njit(cache=True, inline="always")
def _is_apostrophe(c):
    return c == 39 or c == 0x2019


@nb.njit(cache=True)
def _in_sorted(keys, h):
    i = np.searchsorted(keys, h)
    return i < len(keys) and keys[i] == h


@nb.njit(cache=True)
def _clitic_length(codes, s, e):
    """Length of a trailing n't, 'm, 'd, 're, 've or 'll (apostrophe ' or ’), else 0."""
    n = e - s
    last = codes[e - 1] | 32
    if n >= 2 and _is_apostrophe(codes[e - 2]) and (last == 109 or last == 100):
        return 2
    if n >= 3 and _is_apostrophe(codes[e - 3]):
        a = codes[e - 2] | 32
        if (a == 114 or a == 118) and last == 101:  # 're 've
            return 3
        if a == 108 and last == 108:  # 'll
            return 3
    if n >= 3 and last == 116 and _is_apostrophe(codes[e - 2]) and (codes[e - 3] | 32) == 110:
        return 3  # n't
    return 0


@nb.njit(cache=True)
def _special(codes, flags, s, e, tables):
    """-1: no special case; 0: keep codes[s:e] whole; k > 0: split it at s + k."""
    keys, cuts, screen, bases, seed = tables[0], tables[1], tables[2], tables[3], tables[4]
    n = e - s
    tail = _clitic_length(codes, s, e)
    if tail:
        if n == tail:
            return 0
        h, _ = span_hash(codes, s, e - tail, seed, np.bool_(True))
        if _in_sorted(bases, h):
            return n - tail
    first = codes[s]
    if n == 2 and codes[e - 1] == 46:  # a letter with a period: "A.", "b."
        lower = first | 32
        if (97 <= lower <= 122) or first in (0xE4, 0xF6, 0xFC, 0xC4, 0xD6, 0xDC):
            return 0
    if n <= _MAX_SPECIAL_LEN and screen[n, min(first, 127), min(codes[e - 1], 127)]:
        h, _ = span_hash(codes, s, e, seed, np.bool_(False))
        i = np.searchsorted(keys, h)
        if i < len(keys) and keys[i] == h:
            return cuts[i]
    return -1


@nb.njit(cache=True)
def _find_prefix(codes, flags, s, e):
    c = codes[s]
    if c == 46:  # a run of two or more dots
        j = s + 1
        while j < e and codes[j] == 46:
            j += 1
        return j - s if j - s >= 2 else 0
    if c == 43:  # "+" unless it signs a number
        return 0 if s + 1 < e and _is_digit(codes[s + 1]) else 1
    if flag(flags, c) & OPENER:
        return 1
    return 0


@nb.njit(cache=True)
def _find_suffix(codes, flags, s, e, units, unit_lens):
    """Length of the longest suffix rule matching at the end of codes[s:e]."""
    c = codes[e - 1]
    f = flag(flags, c)
    best = 1 if f & CLOSER else 0
    if c == 46:
        j = e - 1
        while j > s and codes[j - 1] == 46:
            j -= 1
        if e - j >= 2:
            return e - j
        if e - 1 > s:
            p = codes[e - 2]
            pf = flag(flags, p)
            if (
                (
                    _is_digit(p)
                    or pf & (LOWER | MARK | CLOSER)
                    or p == 37  # %
                    or p == 0xB2  # ²
                    or p == 43
                    or p == 45
                )
                or e - 2 > s
                and pf & UPPER
                and flag(flags, codes[e - 3]) & UPPER
                or e - 3 >= s
                and codes[e - 3] == 0xB0
                and (p | 32) in (102, 99, 107)
            ):
                best = 1
    elif e - 1 > s and _is_digit(codes[e - 2]) and (c == 43 or f & CURRENCY):
        best = 1
    elif c == 0x2026 and e - 1 > s and codes[e - 2] == 0x2026:
        best = 2
    if e - s >= 2 and (c == 115 or c == 83) and _is_apostrophe(codes[e - 2]):
        best = max(best, 2)
    # a unit right after a digit
    j = e
    max_unit = units.shape[1]
    while j > s and not _is_digit(codes[j - 1]) and e - j < max_unit:
        j -= 1
    if j > s and j < e and _is_digit(codes[j - 1]) and e - j > best:
        length = e - j
        for u in range(len(unit_lens)):
            if unit_lens[u] != length:
                continue
            same = True
            for t in range(length):
                if units[u, t] != codes[j + t]:
                    same = False
                    break
            if same:
                best = length
                break
    return best


@nb.njit(cache=True, inline="always")
def _is_label_char(code, flags):
    return (code < 128 and (_is_digit(code) or flag(flags, code) & ALPHA)) or (
        0xA1 <= code <= 0xFFFF
    )


@nb.njit(cache=True)
def _looks_like_url(codes, flags, s, e):
    """[scheme://][user@]host.tld[:port][/path]: kept as one word."""
    has_dot = False
    for q in range(s, e):
        if codes[q] == 46:
            has_dot = True
            break
    if not has_dot:
        return False
    i = s
    for p in range(s, e - 2):
        if codes[p] == 58 and codes[p + 1] == 47 and codes[p + 2] == 47:  # ://
            ok = p - s >= 2
            for q in range(s, p):
                c = codes[q]
                if not (c < 128 and (_is_digit(c) or flag(flags, c) & ALPHA)) and c not in (
                    43,
                    45,
                    46,
                    95,
                ):
                    ok = False
            if ok:
                i = p + 3
            break
    for q in range(e - 1, i, -1):
        if codes[q] == 64:  # user@ (the last @ wins, as a greedy match would)
            i = q + 1
            break
    host_end = i
    while host_end < e and codes[host_end] not in (58, 47, 63, 35):
        host_end += 1
    # labels separated by dots, then a top-level domain of two or more lower-case letters
    label_start = i
    n_labels = 0
    j = i
    while j < host_end:
        if codes[j] == 46:
            if j == label_start or j - label_start > 63:
                return False
            if not (
                _is_label_char(codes[label_start], flags) and _is_label_char(codes[j - 1], flags)
            ):
                return False
            n_labels += 1
            label_start = j + 1
        elif not (_is_label_char(codes[j], flags) or codes[j] == 45 or codes[j] == 95):
            return False
        j += 1
    if n_labels == 0 or host_end - label_start < 2:
        return False
    for q in range(label_start, host_end):
        if not flag(flags, codes[q]) & LOWER:
            return False
    j = host_end
    if j < e and codes[j] == 58:  # :port
        q = j + 1
        while q < e and _is_digit(codes[q]):
            q += 1
        if not 2 <= q - j - 1 <= 5:
            return False
        j = q
    return j == e or codes[j] in (47, 63, 35)


@nb.njit(cache=True, inline="always")
def _may_start_infix(c, flags):
    # . , - ~ : < > = / + * ^ … – — and icons
    if c < 128:
        return c in (46, 44, 45, 126, 58, 60, 62, 61, 47, 43, 42, 94)
    return c == 0x2026 or c == 0x2013 or c == 0x2014 or flag(flags, c) & ICON != 0


@nb.njit(cache=True)
def _infix_end(codes, flags, s, e, i):
    """End of the infix match starting at i, or -1."""
    c = codes[i]
    has_prev = i > s
    has_next = i + 1 < e
    if c == 46:
        if has_next and codes[i + 1] == 46:
            j = i + 1
            while j < e and codes[j] == 46:
                j += 1
            return j
        if has_prev and has_next:
            pf = flag(flags, codes[i - 1])
            nf = flag(flags, codes[i + 1])
            cased = not (pf & LOWER and pf & UPPER and nf & LOWER and nf & UPPER)
            if pf & (LOWER | QUOTE) and nf & (UPPER | QUOTE) and cased:
                return i + 1
        return -1
    if c == 0x2026 or flag(flags, c) & ICON:
        return i + 1
    if not (has_prev and has_next):
        return -1
    prev = codes[i - 1]
    nxt = codes[i + 1]
    if c in (43, 45, 42, 94) and _is_digit(prev) and (_is_digit(nxt) or nxt == 45):
        return i + 1  # + - * ^ between digits
    pf = flag(flags, prev)
    nf = flag(flags, nxt)
    if c == 44:
        return i + 1 if pf & ALPHA and nf & ALPHA else -1
    if not (pf & ALPHA or _is_digit(prev)):
        return -1
    if c == 45 or c == 0x2014:  # - — and their doubled forms
        if nf & ALPHA:
            return i + 1
        if nxt == c and i + 2 < e:
            if flag(flags, codes[i + 2]) & ALPHA:
                return i + 2
            if c == 45 and codes[i + 2] == 45 and i + 3 < e and flag(flags, codes[i + 3]) & ALPHA:
                return i + 3
        return -1
    if c == 0x2013 or c == 126 or c == 58 or c == 60 or c == 62 or c == 61 or c == 47:
        return i + 1 if nf & ALPHA else -1
    return -1


@nb.njit(cache=True)
def _grow(starts, ends, needed):
    size = max(needed, 2 * len(starts))
    new_starts = np.empty(size, dtype=np.int64)
    new_ends = np.empty(size, dtype=np.int64)
    new_starts[: len(starts)] = starts
    new_ends[: len(ends)] = ends
    return new_starts, new_ends


@nb.njit(cache=True)
def _tokenize_chunk(codes, flags, s, e, starts, ends, k, tables):
    """Append the words of one whitespace-free chunk codes[s:e] at index k; returns new k.

    The caller guarantees room for e - s more words."""
    units, unit_lens = tables[5], tables[6]
    first_word = k
    top = k + (e - s)  # suffixes are parked at the top of the reserved room, then moved down
    n_suffixes = 0
    special = -1
    while s < e:
        special = _special(codes, flags, s, e, tables)
        if special >= 0:
            break
        size = e - s
        pre = _find_prefix(codes, flags, s, e)
        if pre and s + pre < e:
            special = _special(codes, flags, s + pre, e, tables)
            if special >= 0:
                starts[k] = s
                ends[k] = s + pre
                k += 1
                s += pre
                break
        suf = _find_suffix(codes, flags, s + pre, e, units, unit_lens) if s + pre < e else 0
        if suf and e - suf > s:
            special = _special(codes, flags, s, e - suf, tables)
            if special >= 0:
                n_suffixes += 1
                starts[top - n_suffixes] = e - suf
                ends[top - n_suffixes] = e
                e -= suf
                break
        if pre and suf and pre + suf <= size:
            starts[k] = s
            ends[k] = s + pre
            k += 1
            n_suffixes += 1
            starts[top - n_suffixes] = e - suf
            ends[top - n_suffixes] = e
            s += pre
            e -= suf
        elif pre:
            starts[k] = s
            ends[k] = s + pre
            k += 1
            s += pre
        elif suf:
            n_suffixes += 1
            starts[top - n_suffixes] = e - suf
            ends[top - n_suffixes] = e
            e -= suf
        if e - s == size:
            break
    if s < e:
        if special > 0:
            starts[k] = s
            ends[k] = s + special
            starts[k + 1] = s + special
            ends[k + 1] = e
            k += 2
        elif special == 0 or _looks_like_url(codes, flags, s, e):
            starts[k] = s
            ends[k] = e
            k += 1
        else:
            piece = s
            i = s
            while i < e:
                m = _infix_end(codes, flags, s, e, i) if _may_start_infix(codes[i], flags) else -1
                if m < 0:
                    i += 1
                    continue
                if i == s:  # an infix at the very start stays attached
                    i = m
                    continue
                if i > piece:
                    starts[k] = piece
                    ends[k] = i
                    k += 1
                starts[k] = i
                ends[k] = m
                k += 1
                piece = m
                i = m
            if piece < e:
                starts[k] = piece
                ends[k] = e
                k += 1
    for j in range(top - n_suffixes, top):
        starts[k] = starts[j]
        ends[k] = ends[j]
        k += 1
    if k - first_word >= 2:
        k = _merge_special_runs(codes, flags, starts, ends, first_word, k, tables)
    return k


@nb.njit(cache=True)
def _merge_special_runs(codes, flags, starts, ends, first, k, tables):
    """Join two or three adjacent words that spell a kept-whole chunk ("z", "." -> "z.")."""
    out = first
    t = first
    while t < k:
        merged = False
        for width in (3, 2):
            last = t + width - 1
            if (
                last < k
                and ends[last] - starts[t] <= _MAX_SPECIAL_LEN
                and _special(codes, flags, starts[t], ends[last], tables) == 0
            ):
                starts[out] = starts[t]
                ends[out] = ends[last]
                out += 1
                t += width
                merged = True
                break
        if not merged:
            starts[out] = starts[t]
            ends[out] = ends[t]
            out += 1
            t += 1
    return out


@nb.njit(cache=True, inline="always")
def _plain_word(codes, flags, s, e):
    """Letters only (any script), or digits only: no rule can split such a chunk."""
    if _is_digit(codes[s]):
        for i in range(s, e):  # noqa: SIM110 (numba compiles loops, not generators)
            if not _is_digit(codes[i]):
                return False
        return True
    for i in range(s, e):  # noqa: SIM110
        if not flag(flags, codes[i]) & (ALPHA | MARK):
            return False
    return True


@nb.njit(cache=True)
def _split_words(codes, row_starts, row_ends, flags, tables, space_tokens, capacity):
    n = len(row_starts)
    screen = tables[2]
    starts = np.empty(max(16, capacity), dtype=np.int64)
    ends = np.empty(len(starts), dtype=np.int64)
    row_offsets = np.zeros(n + 1, dtype=np.int64)
    k = np.int64(0)  # not a literal 0: callees would compile once for Literal[int](0) too
    for r in range(n):
        i = row_starts[r]
        e = row_ends[r]
        while i < e:
            if flag(flags, codes[i]) & SPACE:
                j = i
                while j < e and flag(flags, codes[j]) & SPACE:
                    j += 1
                if space_tokens:
                    a = i + 1 if codes[i] == 32 else i
                    if a < j:
                        if k + 1 > len(starts):
                            starts, ends = _grow(starts, ends, k + 1)
                        starts[k] = a
                        ends[k] = j
                        k += 1
                i = j
            else:
                j = i
                while j < e and not flag(flags, codes[j]) & SPACE:
                    j += 1
                if k + (j - i) > len(starts):
                    starts, ends = _grow(starts, ends, k + (j - i))
                if _plain_word(codes, flags, i, j) and (
                    j - i > _MAX_SPECIAL_LEN
                    or not screen[j - i, min(codes[i], 127), min(codes[j - 1], 127)]
                    or _special(codes, flags, i, j, tables) < 0
                ):
                    starts[k] = i  # fast path: letters only, nothing to peel or split
                    ends[k] = j
                    k += 1
                else:
                    k = _tokenize_chunk(codes, flags, i, j, starts, ends, k, tables)
                i = j
        row_offsets[r + 1] = k
    return starts[:k], ends[:k], row_offsets


_TABLES: tuple | None = None


def _tables() -> tuple:
    global _TABLES
    if _TABLES is None:
        keys, cuts, screen, bases = _special_table()
        units, unit_lens = _unit_table()
        _TABLES = (keys, cuts, screen, bases, np.uint64(DEFAULT_SEED), units, unit_lens)
    return _TABLES


def split_words_english(chars: Chars, spans: Spans | None = None) -> Spans:
    """English words of every row (or of every span in `spans`): spaCy-like rules."""
    if spans is None:
        row_starts, row_ends = chars.offsets[:-1], chars.offsets[1:]
    else:
        row_starts, row_ends = spans.starts, spans.ends
    starts, ends, offsets = _split_words(
        chars.codes, row_starts, row_ends, char_flags(), _tables(), False, len(chars.codes) // 3
    )
    return Spans(starts, ends, offsets)


WordSplitter = Callable[[Chars, "Spans | None"], Spans]


def _segmenter(name: str) -> WordSplitter:
    def split(chars: Chars, spans: Spans | None = None) -> Spans:
        return segment_words(chars, spans, name)

    split.__doc__ = f"Words by the {name} segmenter (textmill.text.segmenters)."
    return split


def split_words_by_script(chars: Chars, spans: Spans | None = None) -> Spans:
    """Languages without a registered splitter: the English (whitespace and punctuation) rules,
    except rows written mostly in a no-space script, which get the character n-gram fallback."""
    scripts = dominant_scripts(chars, spans)
    no_space = np.array([s in NO_SPACE_SCRIPTS or s in ("Jpan",) for s in scripts], dtype=bool)
    if not no_space.any():
        return split_words_english(chars, spans)
    languages = np.where(no_space, _NGRAMS, "en").astype(object)
    return _split_per_span(chars, spans, languages)


_NGRAMS = "und-ngrams"
WORD_SPLITTERS: dict[str, WordSplitter] = {
    "en": split_words_english,
    "zh": _segmenter("jieba"),
    "ja": _segmenter("sudachi"),
    "th": _segmenter("pythainlp"),
    "ko": split_words_english,  # Korean separates words (eojeol) by spaces; "ko-kiwi": morphemes
    "ko-kiwi": _segmenter("kiwi"),
    "lo": split_words_ngrams,
    "km": split_words_ngrams,
    "my": split_words_ngrams,
    "bo": split_words_ngrams,
    _NGRAMS: split_words_ngrams,
}
"""Splitter per language (ISO 639-1 base code; `cmn_Hani`, `zh-Hant` and `zho` find `zh`).
Languages without one use `split_words_by_script`."""


def splitter_key(lang: str | None) -> str:
    """The WORD_SPLITTERS key `lang` uses, or "" for the script-based default."""
    if not lang:
        return ""
    if lang in WORD_SPLITTERS:
        return lang
    base = base_language(lang)
    return base if base in WORD_SPLITTERS else ""


def _splitter(key: str) -> WordSplitter:
    return WORD_SPLITTERS[key] if key else split_words_by_script


def split_words(
    chars: Chars,
    lang: str | Sequence[str | None] | np.ndarray = "en",
    spans: Spans | None = None,
) -> Spans:
    """Words of every row (or of every span) as code-point spans, by the rules of `lang`.

    `lang` is one language for the whole column, or one per row (the `lang` column langid
    writes), in which case rows are grouped by splitter and each group is split in one call."""
    if isinstance(lang, str):
        return _splitter(splitter_key(lang))(chars, spans)
    languages = np.asarray(lang, dtype=object)
    if len(languages) != chars.num_rows:
        raise ValueError(f"{len(languages)} languages for {chars.num_rows} rows")
    if spans is not None:
        languages = np.repeat(languages, spans.counts())
    return _split_per_span(chars, spans, languages)


def _split_per_span(chars: Chars, spans: Spans | None, languages: np.ndarray) -> Spans:
    starts, ends = (chars.offsets[:-1], chars.offsets[1:]) if spans is None else spans[:2]
    keys = np.array([splitter_key(lang) for lang in languages.tolist()], dtype=object)
    unique = list(dict.fromkeys(keys.tolist()))
    if len(unique) == 1:
        return _splitter(unique[0])(chars, Spans(starts, ends, np.arange(len(starts) + 1)))
    parts = []
    counts = np.zeros(len(starts), dtype=np.int64)
    for key in unique:
        index = np.flatnonzero(keys == key)
        words = _splitter(key)(chars, Spans(starts[index], ends[index], np.arange(len(index) + 1)))
        counts[index] = words.counts()
        parts.append((index, words))
    offsets = np.zeros(len(starts) + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    out_starts = np.empty(offsets[-1], dtype=np.int64)
    out_ends = np.empty(offsets[-1], dtype=np.int64)
    for index, words in parts:
        n = words.counts()
        within = np.arange(len(words.starts)) - np.repeat(words.row_offsets[:-1], n)
        target = np.repeat(offsets[index], n) + within
        out_starts[target] = words.starts
        out_ends[target] = words.ends
    return Spans(out_starts, out_ends, offsets)


@nb.njit(cache=True)
def _count_sentences(codes, starts, ends, flags, tables):
    n = len(starts)
    counts = np.zeros(n, dtype=np.int64)
    one_start = np.zeros(1, dtype=np.int64)
    one_end = np.zeros(1, dtype=np.int64)
    for j in range(n):
        one_start[0] = starts[j]
        one_end[0] = ends[j]
        ws, we, _ = _split_words(
            codes, one_start, one_end, flags, tables, np.bool_(True), ends[j] - starts[j] + 1
        )
        sentences = 1
        seen_terminal = False
        for t in range(len(ws)):
            a = ws[t]
            b = we[t]
            is_terminal = b - a == 1 and flag(flags, codes[a]) & TERMINAL
            is_punct = True
            for i in range(a, b):
                if not flag(flags, codes[i]) & PUNCT:
                    is_punct = False
                    break
            if seen_terminal and not is_punct and not is_terminal:
                sentences += 1
                seen_terminal = False
            elif is_terminal:
                seen_terminal = True
        counts[j] = sentences
    return counts


def count_sentences(chars: Chars, spans: Spans, lang: str = "en") -> np.ndarray:
    """Sentences per span, as a punctuation sentencizer counts them: a new sentence starts at
    the first word that follows a sentence-final mark; every span holds at least one.
    Languages with their own segmenter count with `split_sentences` (full-width marks, and
    spaces in Thai)."""
    if splitter_key(lang) not in ("", "en", "ko"):
        return np.maximum(split_sentences(chars, lang, spans).counts(), 1)
    return _count_sentences(chars.codes, spans.starts, spans.ends, char_flags(), _tables())


__all__ = [
    "WORD_SPLITTERS",
    "count_sentences",
    "pieces_inside_words",
    "split_words",
    "split_words_by_script",
    "split_words_english",
    "splitter_key",
]


def pieces_inside_words() -> frozenset[str]:
    """The words the English rules cut out of a run of letters ("can|not", "gon|na", "do|n't"):
    the only words of theirs that can start right after a letter (matchers that pre-filter
    with word boundaries must look for these anywhere)."""
    pieces = {word[cut:].lower() for word, cut in _SPLIT_AT.items() if cut > 0}
    return frozenset(pieces | {"n't", "n’t"})
