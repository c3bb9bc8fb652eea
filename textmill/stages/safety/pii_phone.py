"""Phone numbers: which digit runs are worth asking libphonenumber about, and one parse per
candidate instead of PhoneNumberMatcher's walk over a window.

libphonenumber's matcher re-extracts candidates from the text it is given, tries inner pieces of
each and, for every valid-looking piece, finds the number's region by testing each region of its
country code (25 for +1): ~0.5 ms a window. Here the candidate is the stage's own pattern match;
a table lookup per region (the national significant number's possible lengths and the region's
general number pattern, from libphonenumber's metadata) refuses most digit runs without parsing;
the survivors are parsed once in the first region that can hold them (a `+CC` or `00CC` number
once, whatever the region) and confirmed by the matcher's own leniency rules (`_verify`: VALID is
a valid number, `x` only before an extension, a national prefix where the region writes one).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import Any

from textmill.lang.codes import base_language

PHONE_DIGITS = 7  # the candidate pattern's fewest
PHONE_CANDIDATE = re.compile(  # +, ( or a digit not after a word character or +, 7-17 digits
    r"[+(\d](?<![\w+].)(?:(?<=\d)|(?<=\+)\d|(?<=\()\+?\d)(?:[ \t().\-/]{0,3}\d){6,16}"
    r"(?:\s?(?:x|ext\.?|#)\s?\d{1,6})?(?!\w)"  # an extension: 555-0100 x204
)
EXTENSION = re.compile(r"\s?(?:x|ext\.?|#)\s?\d{1,6}$")
PHONE_LENIENCIES = ("possible", "valid", "strict_grouping", "exact_grouping")
# likely regions of a document's language (a hint for national-format numbers; a number
# written with +CC parses whatever the region)
LANG_REGIONS: dict[str, tuple[str, ...]] = {  # at most three: each region is one more try
    "en": ("US", "GB", "IN"),  # Canada and the Caribbean share the US plan
    "de": ("DE", "AT", "CH"),
    "fr": ("FR", "BE", "CH"),
    "es": ("ES", "MX", "AR"),
    "it": ("IT", "CH"),
    "pt": ("PT", "BR"),
    "nl": ("NL", "BE"),
    "pl": ("PL",),
    "cs": ("CZ",),
    "sk": ("SK",),
    "hu": ("HU",),
    "ro": ("RO",),
    "bg": ("BG",),
    "el": ("GR", "CY"),
    "sv": ("SE", "FI"),
    "fi": ("FI",),
    "da": ("DK",),
    "no": ("NO",),
    "nb": ("NO",),
    "nn": ("NO",),
    "is": ("IS",),
    "et": ("EE",),
    "lv": ("LV",),
    "lt": ("LT",),
    "sl": ("SI",),
    "hr": ("HR",),
    "sr": ("RS",),
    "uk": ("UA",),
    "ru": ("RU", "BY", "KZ"),
    "tr": ("TR",),
    "ar": ("SA", "EG", "AE"),
    "he": ("IL",),
    "fa": ("IR",),
    "hi": ("IN",),
    "bn": ("BD", "IN"),
    "ur": ("PK",),
    "id": ("ID",),
    "ms": ("MY",),
    "vi": ("VN",),
    "th": ("TH",),
    "zh": ("CN", "TW", "HK"),
    "ja": ("JP",),
    "ko": ("KR",),
}
# timestamps, dates, decimals and year ranges have phone-like digit counts; libphonenumber is
# never asked about a candidate holding one. A date's day and month are at most 31 ("60-56-85-91"
# is a number), and a dotted run is a version unless it is five pairs, as French numbers are
# written ("03.93.92.16.85"). A year range is two years of the last and this millennium
# ("4233-6306" is a Brazilian number's grouping). The 3-2-4 grouping is an SSN's, valid or not,
# never a phone's.
_DAY_OR_MONTH = r"(?:[0-2]?\d|3[01])"
_YEAR = r"(?:1\d|20)\d\d"
NOT_A_PHONE = re.compile(
    r"\d{4}[-./]\d{1,2}[-./]\d{1,2}"
    rf"|{_DAY_OR_MONTH}[-./]{_DAY_OR_MONTH}[-./]\d{{2,4}}(?!\d)"
    rf"|(?<!\d){_YEAR}\s?[-/]\s?{_YEAR}(?!\d)"
    r"|\d\.\d{5,}"
    r"|(?<!\d)\d{3}-\d{2}-\d{4}(?!\d)"  # a US SSN's grouping, even outside the issued ranges
)
DOTTED = re.compile(r"\d\.\d+\.\d+\.\d")  # a version or an address
FIVE_PAIRS = re.compile(r"\d\d(?:\.\d\d){4}")
PHONE_MAX_DIGITS = 15  # E.164: at most 15 digits with the country code
INTERNATIONAL = ("+", "(+", "00", "(00")  # a country code follows


def phone_regions(lang: str | None, default_regions: Sequence[str]) -> tuple[str, ...]:
    """The document language's likely regions first, then the stage's `regions`."""
    base = base_language(lang) if lang else ""  # GlotLID's `fra_Latn` is `fr`
    return tuple(dict.fromkeys((*LANG_REGIONS.get(base, ()), *default_regions)))


NOT_DIGITS = re.compile(r"\D+")


def without_extension(raw: str) -> str:
    """The candidate without its extension (`555-0100 ext. 204`: `555-0100`)."""
    return EXTENSION.sub("", raw) if "x" in raw or "#" in raw else raw


def number_digits(raw: str) -> str:
    """The candidate's digits without its extension (`555-0100 x204`: 5550100)."""
    return NOT_DIGITS.sub("", without_extension(raw))


def phone_candidate_is_plausible(raw: str, bare_digits: bool) -> bool:
    """Cheap shape checks before libphonenumber: most digit runs in web text are tables,
    timestamps, coordinates and ids."""
    if not bare_digits and raw.isdigit():
        return False  # an unformatted digit run is an order or account number far more often
    number = without_extension(raw)  # `ext. 204` is neither a sentence end nor the number's
    if "  " in number or ". " in number or "\t" in number:
        return False  # table columns and sentence ends: a number is written with one separator
    digits = len(NOT_DIGITS.sub("", number))
    if digits > PHONE_MAX_DIGITS or (digits > 13 and not raw.startswith(INTERNATIONAL)):
        return False
    if FIVE_PAIRS.fullmatch(raw):
        return True  # three parts make a date, four a version: five pairs are neither
    return DOTTED.search(raw) is None and NOT_A_PHONE.search(raw) is None


@dataclass(frozen=True)
class RegionShape:
    """What a national number of one region can look like, from libphonenumber's metadata:
    enough to refuse most digit runs without a parse."""

    valid_lengths: frozenset[int]  # of the national significant number
    possible_lengths: frozenset[int]  # also the lengths dialled only locally
    pattern: re.Pattern[str]  # every valid national significant number matches it
    national_prefix: re.Pattern[str] | None  # the trunk prefix a national number may carry
    exact: bool  # False: the prefix rewrites the number (AR, BR): no shortcut

    def can_hold(self, digits: str, valid: bool) -> bool:
        """Can `digits`, with or without the trunk prefix, be a number of this region?"""
        if not self.exact:
            return True
        if self._fits(digits, valid):
            return True
        prefix = self.national_prefix.match(digits) if self.national_prefix else None
        return bool(prefix and prefix.end() and self._fits(digits[prefix.end() :], valid))

    def _fits(self, digits: str, valid: bool) -> bool:
        if not valid:
            return len(digits) in self.possible_lengths
        return len(digits) in self.valid_lengths and self.pattern.fullmatch(digits) is not None


@cache
def region_shape(region: str) -> RegionShape:
    import phonenumbers

    metadata = phonenumbers.PhoneMetadata.metadata_for_region(region)
    general = metadata.general_desc
    prefix = metadata.national_prefix_for_parsing
    return RegionShape(
        valid_lengths=frozenset(general.possible_length),
        possible_lengths=frozenset((*general.possible_length, *general.possible_length_local_only)),
        pattern=re.compile(general.national_number_pattern),
        national_prefix=re.compile(prefix) if prefix else None,
        exact=metadata.national_prefix_transform_rule is None,
    )


@cache
def _leniency(leniency: str) -> Any:
    import phonenumbers

    return getattr(phonenumbers.Leniency, leniency.upper())


def _verified(number: Any, candidate: str, region: str, leniency: str) -> bool:
    """The matcher's own check for its leniency (phonenumbers' `_verify`, pinned with the
    `pii` extra), on the candidate the stage found."""
    import phonenumbers
    from phonenumbers import phonenumbermatcher

    level = _leniency(leniency)
    # the grouping checks read the matcher's settings: one that walks no text
    matcher = phonenumbers.PhoneNumberMatcher("", region, leniency=level)
    return phonenumbermatcher._verify(level, number, candidate, matcher)


def well_bracketed(candidate: str) -> bool:
    """The matcher's refusals before parsing: unbalanced brackets, `12-34 (5` page ranges."""
    from phonenumbers import phonenumbermatcher

    return (
        phonenumbermatcher.fullmatch(phonenumbermatcher._MATCHING_BRACKETS, candidate) is not None
        and phonenumbermatcher._PUB_PAGES.search(candidate) is None
    )


def confirm_phone(candidate: str, regions: tuple[str, ...], leniency: str) -> str | None:
    """The E.164 form of `candidate` when it is a phone number under `leniency` in the first of
    `regions` that can hold it, else None. A number written with `+CC` or `00CC` is parsed once
    (`00` is read as `+`: the international prefix of most of the world, not the US's 011)."""
    import phonenumbers

    if not well_bracketed(candidate):
        return None
    text = candidate
    if candidate.startswith(INTERNATIONAL):
        text = re.sub(r"^(\(?)00", r"\1+", candidate)
        tries: Sequence[str] = regions[:1]
    else:
        digits = number_digits(candidate)
        valid = leniency != "possible"
        tries = [region for region in regions if region_shape(region).can_hold(digits, valid)]
    for region in tries:
        try:
            number = phonenumbers.parse(text, region, keep_raw_input=True)
        except phonenumbers.NumberParseException:
            continue
        if _verified(number, text, region, leniency):
            return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return None


@lru_cache(maxsize=1 << 16)
def phone_number(
    candidate: str, regions: tuple[str, ...], leniency: str, bare_digits: bool
) -> str | None:
    """The E.164 form of a candidate that passes the shape checks and confirm_phone, else None.
    Cached: pages repeat their numbers and tables (1,922 distinct candidates of 5,272 in the
    shared web text)."""
    if not phone_candidate_is_plausible(candidate, bare_digits):
        return None
    return confirm_phone(candidate, regions, leniency)


def confirm_phone_cache_clear() -> None:
    """Forget the cached candidates (benchmarks time cold lookups)."""
    phone_number.cache_clear()
