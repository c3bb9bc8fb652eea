"""SwallowCode's comment share (COMMENT tokens over all tokens of Python's `tokenize`) without
running `tokenize`: a numba scan over the UTF-8 bytes that counts the tokens Python 3.11's
pure-Python tokenizer yields, rule for rule (its PseudoToken regex, the indentation stack,
strings continued over lines, the implicit NEWLINE, DEDENTs and ENDMARKER at the end).

`tokenize` builds a TokenInfo per token through a regex match in Python; this costs ~1/30 of
that. Whatever the scan does not model exactly (non-ASCII outside strings and comments,
control characters, a lone carriage return between tokens, unbalanced indentation, tokens
tokenize reports as errors, unterminated strings) makes it give up, and `tokenize` itself
decides that file: the ratio is the same on every input. (A lone carriage return inside a
string or a comment, or opening a line, is modelled: `io.StringIO` splits lines at `\n` only
and tokenize treats such a line as blank.) On Python 3.12+, whose tokenizer splits f-strings into
many tokens (and is written in C), `tokenize` runs on every file.
"""

from __future__ import annotations

import io
import sys
import token
import tokenize

import numba as nb
import numpy as np

TABSIZE = 8  # tokenize's column of a tab (tokenize.tabsize)
GAVE_UP = -1  # the scan's count when `tokenize` must decide


def _operator_tables() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """tokenize's operators (token.EXACT_TOKEN_TYPES) as lookups: one-character ones, pairs
    (index 128·a + b), and the third character of the three-character one starting with a pair
    (0: none). tokenize tries them longest first (its Special regex is reverse-sorted)."""
    one = np.zeros(128, dtype=np.bool_)
    two = np.zeros(128 * 128, dtype=np.bool_)
    three = np.zeros(128 * 128, dtype=np.uint8)
    for op in token.EXACT_TOKEN_TYPES:
        codes = [ord(c) for c in op]
        if len(codes) == 1:
            one[codes[0]] = True
        elif len(codes) == 2:
            two[codes[0] * 128 + codes[1]] = True
        else:
            three[codes[0] * 128 + codes[1]] = codes[2]
    return one, two, three


_ONE, _TWO, _THREE = _operator_tables()
_USES_PURE_PYTHON_TOKENIZER = sys.version_info < (3, 12)


@nb.njit(cache=True, inline="always")
def _is_digit(c):
    return 48 <= c <= 57


@nb.njit(cache=True, inline="always")
def _is_word(c):  # ASCII \w
    return _is_digit(c) or 65 <= c <= 90 or 97 <= c <= 122 or c == 95


@nb.njit(cache=True)
def _digit_part(data, i, end):
    """End of `[0-9](?:_?[0-9])*` at i, or -1."""
    if i >= end or not _is_digit(data[i]):
        return -1
    i += 1
    while i < end:
        if _is_digit(data[i]):
            i += 1
        elif data[i] == 95 and i + 1 < end and _is_digit(data[i + 1]):
            i += 2
        else:
            break
    return i


@nb.njit(cache=True)
def _exponent(data, i, end):
    """End of `[eE][-+]?[0-9](?:_?[0-9])*` at i, or -1."""
    if i >= end or (data[i] != 101 and data[i] != 69):
        return -1
    i += 1
    if i < end and (data[i] == 43 or data[i] == 45):
        i += 1
    return _digit_part(data, i, end)


@nb.njit(cache=True)
def _float(data, i, end):
    """End of tokenize's Floatnumber at i (Pointfloat, else Expfloat), or -1."""
    digits = _digit_part(data, i, end)
    point = -1
    if digits >= 0 and digits < end and data[digits] == 46:  # 1.  1.5
        point = digits + 1
        fraction = _digit_part(data, point, end)
        if fraction >= 0:
            point = fraction
    elif digits < 0 and i < end and data[i] == 46:  # .5
        point = _digit_part(data, i + 1, end)
    if point >= 0:
        exponent = _exponent(data, point, end)
        return exponent if exponent >= 0 else point
    if digits >= 0:
        return _exponent(data, digits, end)  # 1e5
    return -1


@nb.njit(cache=True)
def _number(data, i, end):
    """End of tokenize's Number at i (Imagnumber, else Floatnumber, else Intnumber), or -1."""
    digits = _digit_part(data, i, end)
    if digits >= 0 and digits < end and (data[digits] == 106 or data[digits] == 74):
        return digits + 1
    floating = _float(data, i, end)
    if floating >= 0:
        if floating < end and (data[floating] == 106 or data[floating] == 74):
            return floating + 1
        return floating
    if digits < 0:
        return -1
    if data[i] == 48 and i + 1 < end:  # 0x.. 0b.. 0o..
        kind = data[i + 1] | 32
        if kind == 120 or kind == 98 or kind == 111:
            j = i + 2
            while j < end:
                c = data[j]
                if c == 95 and j + 1 < end:
                    c = data[j + 1]
                    step = 2
                else:
                    step = 1
                if kind == 120:
                    ok = _is_digit(c) or 97 <= (c | 32) <= 102
                elif kind == 98:
                    ok = c == 48 or c == 49
                else:
                    ok = 48 <= c <= 55
                if not ok:
                    break
                j += step
            if j > i + 2:
                return j
    if data[i] == 48:  # 0(?:_?0)*
        j = i + 1
        while j < end:
            if data[j] == 48:
                j += 1
            elif data[j] == 95 and j + 1 < end and data[j + 1] == 48:
                j += 2
            else:
                break
        return j
    return digits


@nb.njit(cache=True)
def _string_end(data, i, end, quote, triple):
    """Index after the closing quote(s) of a string whose body starts at i, on this line
    (`end`: after its newline); -1 when it does not close here. A backslash escapes the next
    character but a newline (tokenize's `\\\\.`), as its Single/Double(3) patterns say."""
    while i < end:
        c = data[i]
        if c == 92:
            if i + 1 < end and data[i + 1] != 10:
                i += 2
                continue
            return -1
        if c == quote:
            if not triple:
                return i + 1
            if i + 2 < end and data[i + 1] == quote and data[i + 2] == quote:
                return i + 3
        i += 1
    return -1


@nb.njit(cache=True)
def _ends_with_backslash(data, start, end):
    """tokenize's `line[-2:] == '\\\n' or line[-3:] == '\\\r\n'` (no escape parity)."""
    if end - start >= 2 and data[end - 2] == 92 and data[end - 1] == 10:
        return True
    return end - start >= 3 and data[end - 3] == 92 and data[end - 2] == 13 and data[end - 1] == 10


@nb.njit(cache=True)
def _continues(data, body, end):
    """Does a single-quoted string that does not close on its first line end it with an
    unescaped backslash before the newline (tokenize's ContStr `\\\\\r?\n`)?"""
    k = end - 1
    if k < body or data[k] != 10:
        return False
    k -= 1
    if k >= body and data[k] == 13:
        k -= 1
    slashes = 0
    while k >= body and data[k] == 92:
        slashes += 1
        k -= 1
    return slashes % 2 == 1


@nb.njit(cache=True)
def _prefix_length(data, i, end):
    """Length of a string prefix (b r u f br rb fr rf, any case) at i followed by a quote;
    0 for a quote itself, -1 when no string starts at i."""
    for length in range(3):
        if i + length >= end:
            return -1
        c = data[i + length]
        if c == 39 or c == 34:
            if length == 0:
                return 0
            a = data[i] | 32
            if length == 1:
                return 1 if a == 98 or a == 114 or a == 117 or a == 102 else -1
            b = data[i + 1] | 32
            pair = (a == 98 and b == 114) or (a == 114 and b == 98)
            pair = pair or (a == 102 and b == 114) or (a == 114 and b == 102)
            return 2 if pair else -1
        if not (65 <= c <= 90 or 97 <= c <= 122):
            return -1
    return -1


@nb.njit(cache=True)
def count_tokens(data, one, two, three):
    """(tokens, comments, start, end of tokenize's `last_line`) for UTF-8 `data`, as Python
    3.11's tokenize.generate_tokens counts them, less the implicit NEWLINE that depends on
    `last_line.strip()` (the caller adds it); tokens is GAVE_UP where tokenize must decide."""
    n = len(data)
    indents = np.zeros(n + 2, dtype=np.int64)
    depth = 1
    total = 0
    comments = 0
    parenlev = 0
    continued = False
    string_quote = 0  # inside a string continued from an earlier line: its quote
    string_triple = False
    start = 0  # of the current line
    line_start = line_end = 0
    while True:
        last_start, last_end = line_start, line_end
        end = start
        while end < n and data[end] != 10:
            end += 1
        if end < n:
            end += 1  # after the newline
        line_start, line_end = start, end
        start = end
        pos = line_start
        if string_quote:
            if line_start >= n:
                return GAVE_UP, 0, 0, 0  # EOF in multi-line string
            closed = _string_end(data, pos, end, string_quote, string_triple)
            if closed < 0:
                if not string_triple and not _ends_with_backslash(data, line_start, end):
                    return GAVE_UP, 0, 0, 0  # tokenize's ERRORTOKEN
                continue
            total += 1
            string_quote = 0
            pos = closed
        elif parenlev == 0 and not continued:
            if line_start >= n:
                break
            column = 0
            while pos < end:
                c = data[pos]
                if c == 32:
                    column += 1
                elif c == 9:
                    column = (column // TABSIZE + 1) * TABSIZE
                elif c == 12:
                    column = 0
                else:
                    break
                pos += 1
            if pos == end:
                break  # whitespace without a newline ends the file: tokenize stops here
            c = data[pos]
            if c == 35 or c == 13 or c == 10:  # a comment or blank line: COMMENT? NL
                if c == 35:
                    comments += 1
                    total += 1
                total += 1
                continue
            if column > indents[depth - 1]:
                indents[depth] = column
                depth += 1
                total += 1
            while column < indents[depth - 1]:
                known = False
                for k in range(depth):
                    known = known or indents[k] == column
                if not known:
                    return GAVE_UP, 0, 0, 0  # IndentationError
                depth -= 1
                total += 1
        else:
            if line_start >= n:
                return GAVE_UP, 0, 0, 0  # EOF in multi-line statement
            continued = False
        while pos < end:
            c = data[pos]
            if c == 32 or c == 12 or c == 9:
                pos += 1
                continue
            if c == 10:
                total += 1  # NEWLINE or NL
                pos += 1
            elif c == 13:
                if pos + 1 < end and data[pos + 1] == 10:
                    total += 1
                    pos += 2
                else:
                    return GAVE_UP, 0, 0, 0
            elif c == 35:
                comments += 1
                total += 1
                while pos < end and data[pos] != 10 and data[pos] != 13:
                    pos += 1
            elif c == 92:  # a backslash continues the statement on the next line
                if pos + 1 < end and data[pos + 1] == 10:
                    pos += 2
                elif pos + 2 < end and data[pos + 1] == 13 and data[pos + 2] == 10:
                    pos += 3
                else:
                    return GAVE_UP, 0, 0, 0
                continued = True
            elif c >= 128 or c < 32:
                return GAVE_UP, 0, 0, 0  # non-ASCII names, control characters
            else:
                prefix = _prefix_length(data, pos, end)
                if prefix >= 0:
                    quote_at = pos + prefix
                    quote = data[quote_at]
                    triple = (
                        quote_at + 2 < end
                        and data[quote_at + 1] == quote
                        and data[quote_at + 2] == quote
                    )
                    body = quote_at + 3 if triple else quote_at + 1
                    closed = _string_end(data, body, end, quote, triple)
                    if closed >= 0:
                        total += 1
                        pos = closed
                        continue
                    if not triple and not _continues(data, body, end):
                        return GAVE_UP, 0, 0, 0  # unterminated: tokenize's ERRORTOKEN
                    string_quote = quote
                    string_triple = triple
                    break  # the rest of the line is the string's
                number = _number(data, pos, end) if _is_digit(c) or c == 46 else -1
                if number >= 0:
                    total += 1
                    pos = number
                elif _is_word(c):
                    while pos < end and _is_word(data[pos]):
                        pos += 1
                    total += 1
                else:
                    length = 0
                    if pos + 1 < end and data[pos + 1] < 128:
                        pair = c * 128 + data[pos + 1]
                        if pos + 2 < end and three[pair] != 0 and data[pos + 2] == three[pair]:
                            length = 3
                        elif two[pair]:
                            length = 2
                    if length == 0 and one[c]:
                        length = 1
                    if length == 0:
                        return GAVE_UP, 0, 0, 0  # ! $ ? ` : tokenize's ERRORTOKEN
                    if length == 1:
                        if c == 40 or c == 91 or c == 123:
                            parenlev += 1
                        elif c == 41 or c == 93 or c == 125:
                            parenlev -= 1
                    total += 1
                    pos += length
    return total + depth - 1 + 1, comments, last_start, last_end  # DEDENTs, ENDMARKER


def tokenize_ratio(source: str) -> float:
    """The share as SwallowCode's filtering script computes it (rioyokotalab/swallow-code-math,
    filtering.py): COMMENT tokens over all tokens, 0 when tokenizing fails."""
    total = comments = 0
    try:
        for item in tokenize.generate_tokens(io.StringIO(source).readline):
            total += 1
            comments += item.type == tokenize.COMMENT
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return 0.0
    return comments / total if total else 0.0


def scanned_counts(source: str) -> tuple[int, int] | None:
    """(tokens, comments) as tokenize counts them, None where the scan leaves it to tokenize."""
    if not _USES_PURE_PYTHON_TOKENIZER or "\0" in source:
        return None
    data = np.frombuffer(source.encode("utf-8", "surrogatepass"), dtype=np.uint8)
    total, comments, last_start, last_end = count_tokens(data, _ONE, _TWO, _THREE)
    if total == GAVE_UP:
        return None
    last_line = data[last_start:last_end].tobytes().decode("utf-8", "surrogatepass")
    if last_line and last_line[-1] not in "\r\n" and not last_line.strip().startswith("#"):
        total += 1  # tokenize's implicit NEWLINE at the end of a file without one
    return int(total), int(comments)


def comment_ratio(source: str) -> float:
    """COMMENT tokens over all tokens, exactly as `tokenize_ratio`."""
    if "#" not in source:  # no COMMENT token is possible
        return 0.0
    counts = scanned_counts(source)
    if counts is None:
        return tokenize_ratio(source)
    total, comments = counts
    return comments / total if total else 0.0
