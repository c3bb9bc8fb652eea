"""One pass over a text column that finds where digit-bearing personal data can be.

Phone, payment card, IBAN, national id and IPv4 candidates all hold a cluster of digits: digits
separated by at most three separator characters (space, tab, brackets, `.`, `-`, `/`, `+`, a
letter such as a Finnish century sign or an Italian month code). The kernel walks the UTF-8 bytes
once and returns, per row, character windows around every cluster with at least `min_digits`
digits (and around every `CCdd` that can open an IBAN), padded so that a whole candidate lies
inside. The kinds' Python patterns then run only inside those windows (`finditer(text, start,
end)`, whose look-behinds still see the text before `start`), never over a whole document.
Digits are Python's `\\d` (Unicode decimals), as in the kinds' patterns.
"""

from __future__ import annotations

from typing import NamedTuple

import numba as nb
import numpy as np
import pyarrow as pa

from textmill.text.chars import DECIMAL, char_flags, flag
from textmill.text.columns import code_point_at, utf8_buffers

MAX_GAP = 3  # separator characters between two digits of one cluster (the phone pattern's 3)
BEFORE = 16  # characters kept before a cluster: a codice fiscale's 6 leading letters, `(+`
# and the neighbours the kinds' look-behinds read
AFTER = 28  # and after it: a phone extension (` ext. 123456`) and the look-aheads' neighbours
IBAN_AFTER = 48  # after an IBAN's opening `CCdd`: 34 characters and 8 spaces at most
# window flags
IPV4 = 1  # a cluster of 4 or more digits with 3 or more dots
IBAN = 2  # two letters and two digits: where an IBAN can start
EMAIL = 4  # an `@` with the local part before it and the domain after it


class Windows(NamedTuple):
    """Window j is characters starts[j]:ends[j] of its row; row i owns windows
    row_offsets[i]:row_offsets[i + 1] (offsets count code points, as Python's str does)."""

    starts: np.ndarray  # int64
    ends: np.ndarray  # int64
    byte_starts: np.ndarray  # int64: the same windows as positions in `data`
    byte_ends: np.ndarray  # int64
    digits: np.ndarray  # int64: the most digits of one cluster in the window
    flags: np.ndarray  # int64: IPV4 | IBAN | EMAIL
    row_offsets: np.ndarray  # int64, num_rows + 1
    data: np.ndarray  # uint8: the column's UTF-8 bytes
    byte_offsets: np.ndarray  # int64, num_rows + 1: where each row starts in `data`

    def rows(self) -> np.ndarray:
        """The row of each window."""
        return np.repeat(np.arange(len(self.row_offsets) - 1), self.counts())

    def texts(self, which: np.ndarray | None = None) -> list[str]:
        """Each window's text (or those of windows `which`), decoded from the column's bytes
        (rows are never converted)."""
        starts, ends = self.byte_starts, self.byte_ends
        if which is not None:
            starts, ends = starts[which], ends[which]
        view = memoryview(self.data)
        return [
            str(view[start:end], "utf-8")
            for start, end in zip(starts.tolist(), ends.tolist(), strict=True)
        ]

    def of_row(self, row: int) -> list[tuple[int, int, int, int]]:
        """(start, end, digits, flags) of the row's windows."""
        lo, hi = self.row_offsets[row], self.row_offsets[row + 1]
        return list(
            zip(
                self.starts[lo:hi].tolist(),
                self.ends[lo:hi].tolist(),
                self.digits[lo:hi].tolist(),
                self.flags[lo:hi].tolist(),
                strict=True,
            )
        )

    def counts(self) -> np.ndarray:
        return np.diff(self.row_offsets)


@nb.njit(cache=True, inline="always")
def _is_ascii_letter(code):
    return (65 <= code <= 90) or (97 <= code <= 122)


@nb.njit(cache=True, inline="always")
def _back(data, j, chars, row_start):
    """The byte where the character `chars` characters before the one at byte j starts (the
    row's start if it has fewer)."""
    n = 0
    while n < chars and j > row_start:
        j -= 1
        while j > row_start and (data[j] & 0xC0) == 0x80:
            j -= 1
        n += 1
    return j


@nb.njit(cache=True, inline="always")
def _ahead(data, j, chars, stop):
    """The byte `chars` characters after the one at byte j (the row's end if it has fewer)."""
    n = 0
    while n < chars and j < stop:
        j += 1
        while j < stop and (data[j] & 0xC0) == 0x80:
            j += 1
        n += 1
    return j


@nb.njit(cache=True, inline="always")
def _emit(w, k, row_start_k, low, high, low_byte, high_byte, digits, flag_bits):
    """Append [low, high) (characters; low_byte, high_byte in bytes) to the windows `w`,
    merged into the row's last window when they touch (e-mail windows arrive out of order:
    _merge_row sorts and merges the rest)."""
    starts, ends, byte_starts, byte_ends, most, flags = w
    if k > row_start_k and starts[k - 1] <= low <= ends[k - 1]:
        if high > ends[k - 1]:
            ends[k - 1] = high
            byte_ends[k - 1] = high_byte
        if digits > most[k - 1]:
            most[k - 1] = digits
        flags[k - 1] |= flag_bits
        return k
    starts[k] = low
    ends[k] = high
    byte_starts[k] = low_byte
    byte_ends[k] = high_byte
    most[k] = digits
    flags[k] = flag_bits
    return k + 1


@nb.njit(cache=True)
def _merge_row(w, row_k, k):
    """Sort the row's windows by start and merge those that touch; the new end index."""
    starts, ends, byte_starts, byte_ends, most, flags = w
    order = np.argsort(starts[row_k:k], kind="mergesort") + row_k
    s = starts[order]
    e = ends[order]
    bs = byte_starts[order]
    be = byte_ends[order]
    d = most[order]
    f = flags[order]
    out = row_k
    for t in range(len(order)):
        if out > row_k and s[t] <= ends[out - 1]:
            if e[t] > ends[out - 1]:
                ends[out - 1] = e[t]
                byte_ends[out - 1] = be[t]
            if d[t] > most[out - 1]:
                most[out - 1] = d[t]
            flags[out - 1] |= f[t]
        else:
            starts[out] = s[t]
            ends[out] = e[t]
            byte_starts[out] = bs[t]
            byte_ends[out] = be[t]
            most[out] = d[t]
            flags[out] = f[t]
            out += 1
    return out


# ASCII classes, one table lookup per byte
SEPARATOR = 1  # between two digits of a cluster: space, tab, ( ) + - . / and ASCII letters
LOCAL = 2  # in an e-mail's local part: A-Z a-z 0-9 . _ % + - (`_` is not the pattern's, but a
# run that holds it must be looked at whole: the `\b` before its first character)
DOMAIN = 4  # in an e-mail's domain: A-Z a-z 0-9 . -
STOP = 8  # where a skip over text that opens nothing stops: a digit, and `@` for e-mails


# datatrove's PIIFormatter pattern allows more: RFC 5322's atext in the local part, and a
# bracketed address literal (`[192.0.2.1]`, `[IPv6:...]`) as the domain
DATATROVE_LOCAL = "!#$&'*/=?^`{|}~"
DATATROVE_DOMAIN = "[]:"


def _ascii_classes(emails: bool, datatrove: bool = False) -> np.ndarray:
    table = np.zeros(128, dtype=np.uint8)
    letters = [*range(65, 91), *range(97, 123)]
    for code in [32, 9, 40, 41, 43, 45, 46, 47, *letters]:
        table[code] |= SEPARATOR
    local = [*range(48, 58), *letters, 46, 95, 37, 43, 45]
    domain = [*range(48, 58), *letters, 46, 45]
    if datatrove:
        local += map(ord, DATATROVE_LOCAL)
        domain += map(ord, DATATROVE_DOMAIN)
    for code in local:
        table[code] |= LOCAL
    for code in domain:
        table[code] |= DOMAIN
    for code in [*range(48, 58), *([64] if emails else [])]:
        table[code] |= STOP
    return table


ASCII_CLASSES = _ascii_classes(emails=False)
ASCII_CLASSES_EMAILS = _ascii_classes(emails=True)
ASCII_CLASSES_DATATROVE = _ascii_classes(emails=True, datatrove=True)


@nb.njit(cache=True, inline="always")
def _cluster_flags(digits, dots, seed, ip):
    bits = 0
    if ip and digits >= 4 and dots >= 3:
        bits |= IPV4
    if seed:
        bits |= IBAN
    return bits


@nb.njit(cache=True, inline="always")
def _emit_cluster(
    w, k, row_k, data, row_start, stop, first, first_byte, last, last_byte, seed, digits, found
):
    """The window of a digit cluster: BEFORE characters before its first digit, AFTER (an
    IBAN: IBAN_AFTER) after its last, with their bytes walked from the digits' bytes."""
    after = IBAN_AFTER if seed else AFTER
    low_byte = _back(data, first_byte, BEFORE, row_start)
    high_byte = _ahead(data, last_byte, after, stop)
    return _emit(
        w, k, row_k, max(0, first - BEFORE), last + after, low_byte, high_byte, digits, found
    )


@nb.njit(cache=True)
def _digit_windows(offsets, data, flags, classes, min_digits, ip, iban, emails, capacity):
    n = len(offsets) - 1
    starts = np.empty(capacity, dtype=np.int64)  # for each window
    ends = np.empty(capacity, dtype=np.int64)
    most = np.empty(capacity, dtype=np.int64)
    bits = np.empty(capacity, dtype=np.int64)
    byte_starts = np.empty(capacity, dtype=np.int64)
    byte_ends = np.empty(capacity, dtype=np.int64)
    row_offsets = np.zeros(n + 1, dtype=np.int64)
    w = (starts, ends, byte_starts, byte_ends, most, bits)
    k = 0
    for i in range(n):
        j = offsets[i]
        stop = offsets[i + 1]
        row_k = k
        c = 0  # character index in the row
        digits = 0  # digits of the open cluster (0: none open)
        first = 0  # character index of its first digit
        first_byte = 0  # and its byte
        last = 0  # one past its last digit
        last_byte = 0
        gap = 0  # separators since its last digit
        dots = 0  # `.` separators inside it
        seed = False  # it holds an IBAN's `CCdd`
        at = -1  # the start of an open e-mail window (-1: none)
        at_byte = 0
        while j < stop:
            if at < 0 and (digits == 0 or gap > MAX_GAP):
                # nothing open: skip to the next digit (or `@`) without the state updates
                while j < stop:
                    b = np.int32(data[j])
                    if b < 0x80:
                        if classes[b] & STOP:
                            break
                        j += 1
                    else:
                        code, width = code_point_at(data, j, stop)
                        if flag(flags, code) & DECIMAL:
                            break
                        j += width
                    c += 1
                if j >= stop:
                    break
            b = np.int32(data[j])
            width = 1
            if b < 0x80:
                kind = classes[b]
                if emails:
                    if at >= 0 and not kind & DOMAIN:  # the domain ends: the window too,
                        # with the character after it (the pattern's `\b` looks at it)
                        k = _emit(w, k, row_k, at, c + 1, at_byte, j + 1, 0, EMAIL)
                        at = -1
                    if b == 64:  # back over the local part (ASCII: one byte a character)
                        back = j
                        while back > offsets[i] and data[back - 1] < 0x80:
                            if not classes[data[back - 1]] & LOCAL:
                                break
                            back -= 1
                        at = max(0, c - (j - back) - 1)  # and the character before it
                        at_byte = _back(data, back, 1, offsets[i])
                if b < 48 or b > 57:  # the common case: an ASCII character, not a digit
                    if digits > 0 and gap <= MAX_GAP:
                        if kind & SEPARATOR:
                            gap += 1
                            if b == 46:
                                dots += 1
                        else:
                            gap = MAX_GAP + 1
                    j += 1
                    c += 1
                    continue
            else:
                code, width = code_point_at(data, j, stop)
                if emails and at >= 0:
                    k = _emit(w, k, row_k, at, c + 1, at_byte, j + width, 0, EMAIL)
                    at = -1
                if (flag(flags, code) & DECIMAL) == 0:  # no separator is outside ASCII
                    gap = MAX_GAP + 1
                    j += width
                    c += 1
                    continue
            is_digit = True
            if is_digit:
                if digits > 0 and gap <= MAX_GAP:
                    digits += 1
                else:
                    found = _cluster_flags(digits, dots, seed, ip)
                    if digits >= min_digits or found:
                        k = _emit_cluster(
                            w, k, row_k, data, offsets[i], stop, first, first_byte, last,
                            last_byte, seed, digits, found,
                        )  # fmt: skip
                    digits = 1
                    dots = 0
                    first = c
                    first_byte = j
                    seed = False
                # `CCdd`: two ASCII letters then the two check digits
                seed = seed or (
                    iban
                    and gap == 0
                    and digits >= 2
                    and j - 3 >= offsets[i]
                    and _is_ascii_letter(data[j - 2])
                    and _is_ascii_letter(data[j - 3])
                )
                last = c + 1
                last_byte = j + width
                gap = 0
            j += width
            c += 1
        found = _cluster_flags(digits, dots, seed, ip)
        if digits > 0 and (digits >= min_digits or found):
            k = _emit_cluster(
                w, k, row_k, data, offsets[i], stop, first, first_byte, last, last_byte, seed,
                digits, found,
            )  # fmt: skip
        if at >= 0:
            k = _emit(w, k, row_k, at, c, at_byte, stop, 0, EMAIL)
        if emails and k - row_k > 1:
            k = _merge_row(w, row_k, k)
        # clip to the row (an end past the text is harmless for finditer, but keep it exact)
        for t in range(row_k, k):
            if ends[t] > c:
                ends[t] = c
                byte_ends[t] = stop
        row_offsets[i + 1] = k
    return (
        starts[:k].copy(),
        ends[:k].copy(),
        byte_starts[:k].copy(),
        byte_ends[:k].copy(),
        most[:k].copy(),
        bits[:k].copy(),
        row_offsets,
    )


def digit_windows(
    column: pa.Array | pa.ChunkedArray,
    min_digits: int,
    ip: bool = False,
    iban: bool = False,
    emails: bool = False,
    datatrove_emails: bool = False,
) -> Windows:
    """Character windows of every row around digit clusters of at least `min_digits` digits,
    with `ip` around clusters of 4+ digits and 3+ dots, with `iban` around each two letters
    followed by two digits, with `emails` around each `@` and the address it can be in
    (`datatrove_emails`: an address as datatrove's wider pattern reads one)."""
    offsets, data, _ = utf8_buffers(column)
    # a digit window holds 4 digits at least; an e-mail window one `@`
    capacity = len(offsets) + len(data) // 4 + 16
    if emails:
        capacity += int(np.count_nonzero(data == 64))
    classes = ASCII_CLASSES
    if emails:
        classes = ASCII_CLASSES_DATATROVE if datatrove_emails else ASCII_CLASSES_EMAILS
    found = _digit_windows(
        offsets,
        data,
        char_flags(),
        classes,
        min_digits,
        ip,
        iban,
        emails,
        capacity,
    )
    return Windows(*found, data, offsets)
