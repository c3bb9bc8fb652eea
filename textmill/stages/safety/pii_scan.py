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
from textmill.text.columns import utf8_buffers

MAX_GAP = 3  # separator characters between two digits of one cluster (the phone pattern's 3)
BEFORE = 16  # characters kept before a cluster: a codice fiscale's 6 leading letters, `(+`
# and the 12 characters of context libphonenumber's matcher sees (pii_kinds.PHONE_CONTEXT)
AFTER = 28  # and after it: a phone extension (` ext. 123456`) and the matcher's context
IBAN_AFTER = 48  # after an IBAN's opening `CCdd`: 34 characters and 8 spaces at most
# window flags
IPV4 = 1  # a cluster of 4 or more digits with 3 or more dots
IBAN = 2  # two letters and two digits: where an IBAN can start


class Windows(NamedTuple):
    """Window j is characters starts[j]:ends[j] of its row; row i owns windows
    row_offsets[i]:row_offsets[i + 1] (offsets count code points, as Python's str does)."""

    starts: np.ndarray  # int64
    ends: np.ndarray  # int64
    byte_starts: np.ndarray  # int64: the same windows as positions in `data`
    byte_ends: np.ndarray  # int64
    digits: np.ndarray  # int64: the most digits of one cluster in the window
    flags: np.ndarray  # int64: IPV4 | IBAN
    row_offsets: np.ndarray  # int64, num_rows + 1
    data: np.ndarray  # uint8: the column's UTF-8 bytes

    def rows(self) -> np.ndarray:
        """The row of each window."""
        return np.repeat(np.arange(len(self.row_offsets) - 1), self.counts())

    def texts(self) -> list[str]:
        """Each window's text, decoded from the column's bytes (rows are never converted)."""
        view = memoryview(self.data)
        return [
            str(view[start:end], "utf-8")
            for start, end in zip(self.byte_starts.tolist(), self.byte_ends.tolist(), strict=True)
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
def _is_separator(code):
    # space, tab, ( ) + - . / and ASCII letters
    return (
        code == 32
        or code == 9
        or code == 40
        or code == 41
        or code == 43
        or code == 45
        or code == 46
        or code == 47
        or (65 <= code <= 90)
        or (97 <= code <= 122)
    )


@nb.njit(cache=True, inline="always")
def _is_ascii_letter(code):
    return (65 <= code <= 90) or (97 <= code <= 122)


@nb.njit(cache=True, inline="always")
def _emit(starts, ends, most, flags, k, row_start_k, low, high, digits, flag_bits):
    """Append [low, high), merged into the row's last window when they touch."""
    if k > row_start_k and low <= ends[k - 1]:
        if high > ends[k - 1]:
            ends[k - 1] = high
        if digits > most[k - 1]:
            most[k - 1] = digits
        flags[k - 1] |= flag_bits
        return k
    starts[k] = low
    ends[k] = high
    most[k] = digits
    flags[k] = flag_bits
    return k + 1


@nb.njit(cache=True, inline="always")
def _cluster_flags(digits, dots, seed, ip):
    bits = 0
    if ip and digits >= 4 and dots >= 3:
        bits |= IPV4
    if seed:
        bits |= IBAN
    return bits


@nb.njit(cache=True)
def _digit_windows(offsets, data, flags, min_digits, ip, iban):
    n = len(offsets) - 1
    capacity = n + len(data) // 2 + 16
    starts = np.empty(capacity, dtype=np.int64)
    ends = np.empty(capacity, dtype=np.int64)
    most = np.empty(capacity, dtype=np.int64)
    bits = np.empty(capacity, dtype=np.int64)
    byte_starts = np.empty(capacity, dtype=np.int64)
    byte_ends = np.empty(capacity, dtype=np.int64)
    row_offsets = np.zeros(n + 1, dtype=np.int64)
    k = 0
    for i in range(n):
        j = offsets[i]
        stop = offsets[i + 1]
        row_k = k
        c = 0  # character index in the row
        digits = 0  # digits of the open cluster (0: none open)
        first = 0  # character index of its first digit
        last = 0  # one past its last digit
        gap = 0  # separators since its last digit
        dots = 0  # `.` separators inside it
        seed = False  # it holds an IBAN's `CCdd`
        while j < stop:
            b = np.int32(data[j])
            width = 1
            if b < 0x80:
                if b < 48 or b > 57:  # the common case: an ASCII character, not a digit
                    if digits > 0 and gap <= MAX_GAP:
                        if _is_separator(b):
                            gap += 1
                            if b == 46:
                                dots += 1
                        else:
                            gap = MAX_GAP + 1
                    j += 1
                    c += 1
                    continue
            else:
                if b >= 0xF0:
                    code = b & 0x07
                    width = 4
                elif b >= 0xE0:
                    code = b & 0x0F
                    width = 3
                elif b >= 0xC0:
                    code = b & 0x1F
                    width = 2
                else:
                    code = 0xFFFD
                m = 1
                while m < width and j + m < stop and (data[j + m] & 0xC0) == 0x80:
                    code = (code << 6) | (np.int32(data[j + m]) & 0x3F)
                    m += 1
                width = m
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
                        high = last + (IBAN_AFTER if seed else AFTER)
                        k = _emit(
                            starts,
                            ends,
                            most,
                            bits,
                            k,
                            row_k,
                            max(0, first - BEFORE),
                            high,
                            digits,
                            found,
                        )
                    digits = 1
                    dots = 0
                    first = c
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
                gap = 0
            elif digits > 0:
                if _is_separator(code):
                    gap += 1
                    if code == 46:
                        dots += 1
                else:
                    gap = MAX_GAP + 1
            j += width
            c += 1
        found = _cluster_flags(digits, dots, seed, ip)
        if digits > 0 and (digits >= min_digits or found):
            high = last + (IBAN_AFTER if seed else AFTER)
            k = _emit(
                starts, ends, most, bits, k, row_k, max(0, first - BEFORE), high, digits, found
            )
        # clip to the row (an end past the text is harmless for finditer, but keep it exact)
        for w in range(row_k, k):
            if ends[w] > c:
                ends[w] = c
        # the windows' byte positions: one more walk over the row, boundary by boundary
        c = 0
        j = offsets[i]
        for t in range(2 * (k - row_k)):
            w = row_k + t // 2
            target = starts[w] if t % 2 == 0 else ends[w]
            while c < target:
                j += 1
                while j < stop and (data[j] & 0xC0) == 0x80:
                    j += 1
                c += 1
            if t % 2 == 0:
                byte_starts[w] = j
            else:
                byte_ends[w] = j
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
    column: pa.Array | pa.ChunkedArray, min_digits: int, ip: bool = False, iban: bool = False
) -> Windows:
    """Character windows of every row around digit clusters of at least `min_digits` digits,
    with `ip` around clusters of 4+ digits and 3+ dots, with `iban` around each two letters
    followed by two digits."""
    offsets, data, _ = utf8_buffers(column)
    return Windows(*_digit_windows(offsets, data, char_flags(), min_digits, ip, iban), data)
