"""Character classes as one flag table indexed by code point, so numba kernels classify a
character with one array load instead of calling into Python's unicode database."""

from __future__ import annotations

import unicodedata

import numba as nb
import numpy as np

from textmill.text.table_cache import disk_cached

# Planes 0-3 hold every assigned letter, digit and punctuation mark; higher code points
# (tags, private use) get no flags, which is what the filters want for them anyway.
TABLE_SIZE = 0x40000

SPACE = 1 << 0  # str.isspace: what str.split() and str.strip() use
ALPHA = 1 << 1  # str.isalpha
LOWER = 1 << 2  # a letter that is not upper case (uncased scripts count as both)
UPPER = 1 << 3  # a letter that is not lower case
DECIMAL = 1 << 4  # str.isdecimal: what `\d` matches in Python regexes
PUNCT = 1 << 5  # Unicode category P*
SYMBOL = 1 << 6  # common punctuation, ASCII symbols, control characters: such a token is no word
OPENER = 1 << 7  # detached from the front of a word: brackets, quotes, currency, icons
CLOSER = 1 << 8  # detached from the end of a word: brackets, quotes, clause punctuation, icons
ICON = 1 << 9  # Unicode category So: emoji and pictographs split wherever they occur
QUOTE = 1 << 10  # quotation marks and corner brackets
TERMINAL = 1 << 11  # sentence-final marks: . ! ? and their counterparts in other scripts
CURRENCY = 1 << 12  # Unicode category Sc
LINE_BREAK = 1 << 13  # the boundaries str.splitlines() uses
MARK = 1 << 14  # Unicode category M*: vowel signs and accents that end words in many scripts

# Clause punctuation that a word tokenizer detaches on either side.
_CLAUSE_PUNCT = "…,:;!?¿؟¡()[]{}<>_#*&。？！，、；：～·।،۔؛٪"
_QUOTES = "'\"”“`‘´’‚,„»«「」『』（）〔〕【】《》〈〉〈〉⟦⟧"
_OPENER_EXTRA = "§%=—–"
_CLOSER_EXTRA = "—–"
# Non-ASCII marks that, like ASCII punctuation, make no word on their own (Gopher's "symbol"
# tokens). Deliberately not every Unicode P* character: a bullet or a middle dot counts as a word
# in the FineWeb filters.
_SYMBOL_EXTRA = "—–“”‘’«»…‚„´、。「」『』【】《》〈〉〈〉（）：；！？，．～％━►∶"
_LINE_BREAKS = "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"
_TERMINAL_NAMES = ("FULL STOP", "QUESTION MARK", "EXCLAMATION MARK", "DANDA", "INTERROBANG")


def _is_terminal(char: str, category: str) -> bool:
    if char in ".!?":
        return True
    if not category.startswith("P"):
        return False
    name = unicodedata.name(char, "")
    if "INVERTED" in name or "REVERSED" in name or "DOUBLE QUESTION" in name:
        return name.startswith("REVERSED QUESTION MARK")
    return any(part in name for part in _TERMINAL_NAMES)


@disk_cached
def char_flags() -> np.ndarray:
    """uint16 flags for every code point below TABLE_SIZE (~0.1 s to build; kept on disk)."""
    flags = np.zeros(TABLE_SIZE, dtype=np.uint16)
    for code in range(TABLE_SIZE):
        char = chr(code)
        category = unicodedata.category(char)
        value = 0
        if char.isspace():
            value |= SPACE
        if char.isalpha():
            value |= ALPHA
            if not char.isupper():
                value |= LOWER
            if not char.islower():
                value |= UPPER
        if char.isdecimal():
            value |= DECIMAL
        if category.startswith("P"):
            value |= PUNCT
        if category == "Cc" or (code < 128 and not char.isalnum() and not char.isspace()):
            value |= SYMBOL
        if category.startswith("M"):
            value |= MARK
        if category == "So":
            value |= ICON | OPENER | CLOSER
        if category == "Sc":
            value |= CURRENCY | OPENER
        if _is_terminal(char, category):
            value |= TERMINAL | SYMBOL
        flags[code] = value
    for char in _CLAUSE_PUNCT:
        flags[ord(char)] |= OPENER | CLOSER
    for char in _QUOTES:
        flags[ord(char)] |= OPENER | CLOSER | QUOTE
    for char in _OPENER_EXTRA:
        flags[ord(char)] |= OPENER
    for char in _CLOSER_EXTRA:
        flags[ord(char)] |= CLOSER
    for char in _SYMBOL_EXTRA:
        flags[ord(char)] |= SYMBOL
    for char in _LINE_BREAKS:
        flags[ord(char)] |= LINE_BREAK
    flags[TABLE_SIZE - 1] = 0  # a non-character: where code points above the table land
    return flags


@nb.njit(cache=True, inline="always")
def flag(flags, code):
    """Flags of one code point (code points above the table get none)."""
    return flags[code if code < TABLE_SIZE else TABLE_SIZE - 1]
