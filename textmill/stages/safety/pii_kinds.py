"""What each kind of personal data looks like and how a candidate is confirmed.

Every kind has a cheap RE2 `screen` that `pyarrow.compute.match_substring_regex` runs over the
whole column to find the rows worth a Python look, and a `find(text, context)` that returns the
confirmed spans in one such row, each with a normalised value (the same number written two ways
hashes to one token). Confirmation uses the check rule where one is published: Luhn for payment
cards, ISO 13616 mod-97 for IBANs, `python-stdnum` for national ids, libphonenumber's matcher for
phone numbers, the regular expressions of `detect-secrets`' plugins for API keys. A kind without
such a rule (US SSN) keeps only the formats that the rule's authority publishes.
"""

from __future__ import annotations

import ipaddress
import itertools
import re
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import Any, Literal, get_args

from textmill.stages.safety.pii_phone import PHONE_CANDIDATE, PHONE_DIGITS, phone_number
from textmill.stages.safety.pii_scan import EMAIL, IBAN, IPV4

KindName = Literal[
    "email",
    "ip",
    "phone",
    "credit_card",
    "iban",
    "national_id",
    "secret",
    "url_credentials",
    "person",
]
KINDS: tuple[str, ...] = get_args(KindName)
Compat = Literal["textmill", "datatrove"]
EMAIL_PATTERN = (
    r"\b[A-Za-z0-9][A-Za-z0-9._%+-]*@"
    r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}\b"
)
# ASCII `\b`, as RE2's: `图fyzw88@126.com` is an address
EMAIL_CANDIDATE = re.compile(EMAIL_PATTERN, re.ASCII)
# `compat: datatrove`: the patterns of datatrove's PIIFormatter (0.10.1), which made FineWeb.
# Its e-mail pattern has RFC 5322's atext and address literals, and Python's Unicode `\b` (no
# address right after `图`); its IPv4 pattern has no boundaries, so it matches the first four
# parts of `8.0.1.27165`. Both run as datatrove runs them, with Python's `re`.
DATATROVE_EMAIL = re.compile(
    r"\b[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*@"
    r"(?:(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.)+[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
    r"|\[(?:(?:25[0-5]|2[0-4][0-9]|[01]?[0-9][0-9]?)\.){3}"
    r"(?:25[0-5]|2[0-4][0-9]|[01]?[0-9][0-9]?|[A-Za-z0-9-]*[A-Za-z0-9]:)])"
)
DATATROVE_IPV4 = re.compile(
    r"(?:(?:25[0-5]|2[0-4][0-9]|[01]?[0-9][0-9]?)\.){3}(?:25[0-5]|2[0-4][0-9]|[01]?[0-9][0-9]?)"
)


def datatrove_compat(options: Any) -> bool:
    """Whether e-mail and IP follow datatrove's PIIFormatter (`compat: datatrove`)."""
    return options is not None and getattr(options, "compat", "textmill") == "datatrove"


WHOLE = 1 << 62  # an end position past any text
EVERYWHERE = ((0, WHOLE, WHOLE, IPV4 | IBAN | EMAIL),)  # one window over the whole text


def matches(
    pattern: re.Pattern[str], text: str, context: Context, digits: int = WHOLE, flags: int = 0
) -> Iterator[re.Match[str]]:
    """The pattern's matches inside the context's windows that hold a cluster of at least
    `digits` digits or one of the window `flags` (look-behinds see the whole text)."""
    windows = context.windows
    if len(windows) == 1:  # the stage's case (one window at a time): no generator frame
        start, end, most, found = windows[0]
        return pattern.finditer(text, start, end) if most >= digits or found & flags else iter(())
    return itertools.chain.from_iterable(
        pattern.finditer(text, start, end)
        for start, end, most, found in windows
        if most >= digits or found & flags
    )


@dataclass(frozen=True)
class Found:
    """One confirmed piece of personal data: where it is and the value it hashes as (and, when
    the stage knows them, its UTF-8 byte positions in the row: -1 where not)."""

    start: int
    end: int
    value: str
    byte_start: int = -1
    byte_end: int = -1


@dataclass
class Context:
    """What a finder may need besides the text: the row's phone regions and stage options."""

    regions: Sequence[str] = ("US",)
    options: Any = None
    screens: frozenset[str] = frozenset()  # the parts of a kind's screen that matched the row
    # where digit-bearing kinds look (pii_scan's windows); by default the whole text
    windows: Sequence[tuple[int, int, int, int]] = EVERYWHERE
    prepared: Any = None  # the row's share of its kind's KindRule.prepare (None: none)


# ---------------------------------------------------------------------------------------- IP
# an address Python's ipaddress reads has `::` or six groups and a colon (eight groups, or six
# and a dotted quad), so a colon, five groups and a colon: `12:30:45` and `a:b:` never reach
# the finder. The leading literal lets RE2 jump from colon to colon (PREFIXED_SCREENS).
IPV6_SCREEN = r":(?::|[0-9A-Fa-f]{1,4}(?::[0-9A-Fa-f]{1,4}){4}:)"
# Python's re scans fast only for a pattern that starts with a character set, so the "not
# inside a longer number" look-behinds come after the first character.
IPV4_CANDIDATE = re.compile(r"\d(?<![\w.]\d)\d{0,2}(?:\.\d{1,3}){3}(?!\w|\.\d)")
IPV6_SEED = re.compile(r":[0-9A-Fa-f]{0,4}:")  # two colons: where an IPv6 address can be
IPV6_CHARS = frozenset("0123456789abcdefABCDEF:")
IPV6_MAX = 39  # 8 groups of 4 and 7 colons


def ipv6_candidates(text: str) -> list[tuple[int, int]]:
    """Spans of hex-and-colon runs around each `:h:` seed, bounded as the IPv4 candidates
    are (not inside a word, a dotted number or a longer colon run)."""
    spans: list[tuple[int, int]] = []
    end = 0
    for seed in IPV6_SEED.finditer(text):
        if seed.start() < end:
            continue
        start, end = seed.start(), seed.end()
        while start > 0 and text[start - 1] in IPV6_CHARS and seed.end() - start < IPV6_MAX:
            start -= 1
        while end < len(text) and text[end] in IPV6_CHARS and end - start < IPV6_MAX:
            end += 1
        before = text[start - 1] if start else ""
        after = text[end : end + 2]
        if before and (before.isalnum() or before in "_.:"):
            continue
        if after and (
            after[:1].isalnum() or after[:1] in "_:" or (after[:1] == "." and after[1:].isdigit())
        ):  # (an address that ends the text has nothing after it: `"" in "_:"` is true)
            continue
        spans.append((start, end))
    return spans


def is_public_ip(candidate: str) -> bool:
    """Globally routable unicast addresses only; anything unparsable is not an address, nor an
    IPv6 shape with fewer than 3 groups (`::a` in code or prose is no one's address)."""
    if ":" in candidate and sum(1 for group in candidate.split(":") if group) < 3:
        return False
    try:
        address = ipaddress.ip_address(candidate)
    except ValueError:
        return False
    return address.is_global and not address.is_multicast


def is_global_ip(candidate: str) -> bool:
    """datatrove's rule: any address Python's `ipaddress` reads as global (multicast too)."""
    try:
        return ipaddress.ip_address(candidate).is_global
    except ValueError:  # `01.2.3.4`: Python refuses leading zeros
        return False


def find_ips(text: str, context: Context) -> list[Found]:
    compat = datatrove_compat(context.options)
    candidate = DATATROVE_IPV4 if compat else IPV4_CANDIDATE
    spans = [m.span() for m in matches(candidate, text, context, flags=IPV4)]
    if "v6" in context.screens:
        spans += ipv6_candidates(text)
    valid = is_global_ip if compat else is_public_ip
    found = []
    for start, end in spans:
        if valid(text[start:end]):
            found.append(Found(start, end, str(ipaddress.ip_address(text[start:end]))))
    return found


def ip_screens(options: Any) -> dict[str, str]:
    """IPv4 is found in pii_scan's windows; IPv6 rows by their screen (datatrove has none)."""
    return {} if datatrove_compat(options) else {"v6": IPV6_SCREEN}


def find_emails(text: str, context: Context) -> list[Found]:
    """Addresses in the `@` windows; the placeholder itself (a second run) is left alone."""
    o = context.options
    keep = o.email_placeholder if o is not None and o.mode != "hash" else None
    candidate = DATATROVE_EMAIL if datatrove_compat(o) else EMAIL_CANDIDATE
    return [
        Found(m.start(), m.end(), m.group(0).lower())
        for m in matches(candidate, text, context, flags=EMAIL)
        if m.group(0) != keep
    ]


# ------------------------------------------------------------------------------ payment cards
# 12 to 19 digits in groups of 1-6 joined by one kind of separator (space or hyphen).
CARD_DIGITS = 12
CARD_CANDIDATE = re.compile(r"(?<![\w.,/-])\d(?:[ -]?\d){11,18}(?![\w]|[.,/-]\d)")
# (prefix range, allowed lengths) from the card schemes' published IIN ranges
_CARD_SCHEMES: tuple[tuple[int, int, frozenset[int]], ...] = (
    (4, 4, frozenset({13, 16, 19})),  # Visa
    (51, 55, frozenset({16})),  # Mastercard
    (2221, 2720, frozenset({16})),  # Mastercard 2-series
    (34, 34, frozenset({15})),  # American Express
    (37, 37, frozenset({15})),
    (300, 305, frozenset({14, 16, 17, 18, 19})),  # Diners Club
    (36, 36, frozenset({14, 15, 16, 17, 18, 19})),
    (38, 39, frozenset({14, 16, 17, 18, 19})),
    (6011, 6011, frozenset({16, 17, 18, 19})),  # Discover
    (644, 649, frozenset({16, 17, 18, 19})),
    (65, 65, frozenset({16, 17, 18, 19})),
    (3528, 3589, frozenset({16, 17, 18, 19})),  # JCB
    (1800, 1800, frozenset({15})),  # JCB's older 15-digit ranges
    (2131, 2131, frozenset({15})),
    (62, 62, frozenset({16, 17, 18, 19})),  # UnionPay
    (50, 50, frozenset(range(12, 20))),  # Maestro
    (56, 69, frozenset(range(12, 20))),
)


def luhn_valid(digits: str) -> bool:
    from stdnum import luhn

    return luhn.is_valid(digits)


CARD_MIN_DIGITS = min(min(lengths) for _, _, lengths in _CARD_SCHEMES)


@cache
def _lengths_by_prefix() -> tuple[frozenset[int], ...]:
    """The card lengths each 4-digit prefix (0000-9999) allows, from the issuer ranges: one
    lookup per candidate instead of a walk over the ranges."""
    table: list[set[int]] = [set() for _ in range(10_000)]
    for low, high, lengths in _CARD_SCHEMES:
        scale = 10 ** (4 - len(str(low)))
        for prefix in range(low * scale, (high + 1) * scale):
            table[prefix] |= lengths
    return tuple(map(frozenset, table))


def card_scheme_matches(digits: str) -> bool:
    """The number's prefix and length belong to one issuer range."""
    if len(digits) < CARD_MIN_DIGITS:
        return False
    return len(digits) in _lengths_by_prefix()[int(digits[:4])]


def is_card_number(raw: str, prefix_check: bool = True) -> bool:
    """`raw` is a CARD_CANDIDATE match: digits, spaces and hyphens."""
    if " " in raw and "-" in raw:  # "1234-5678 9012" mixes separators: a table, not a card
        return False
    digits = raw.replace(" ", "").replace("-", "")
    if len(set(digits)) == 1:  # 0000 0000 0000 0000 passes Luhn
        return False
    if prefix_check:
        return card_scheme_matches(digits) and luhn_valid(digits)
    return 12 <= len(digits) <= 19 and luhn_valid(digits)


def find_cards(text: str, context: Context) -> list[Found]:
    found = []
    for match in matches(CARD_CANDIDATE, text, context, CARD_DIGITS):
        raw = match.group(0)
        if is_card_number(raw, context.options.card_prefix_check):
            found.append(Found(match.start(), match.end(), raw.replace(" ", "").replace("-", "")))
    return found


# --------------------------------------------------------------------------------------- IBAN
IBAN_CANDIDATE = re.compile(r"(?i)(?<![\w:])[a-z]{2}\d{2}(?:[ ]?[a-z0-9]{1,4}){3,9}(?!\w)")
# what a window needs before find_ibans looks in it: `CCdd` not after an ASCII word character
# or `:`, then 11 letters or digits with single spaces (15 in all: the shortest IBAN). Most `CCdd`
# windows of web text are words such as `CFB64` or `DNS64`. Python's `\d` and `(?i)[a-z]` read
# more than ASCII (stdnum validates `GB8٢...`): digits are `\p{Nd}`, and a letter is an ASCII
# one or any other character (`\pL` everywhere costs RE2 7x: 5.3 ms on the web text's windows)
_ASCII_OR_WIDE = r"A-Za-z\x{80}-\x{10FFFF}"
IBAN_GATE = (
    rf"(?:^|[^0-9A-Za-z_:])[{_ASCII_OR_WIDE}]{{2}}\p{{Nd}}{{2}}(?: ?[0-9{_ASCII_OR_WIDE}]){{11}}"
)


def find_ibans(text: str, context: Context) -> list[Found]:
    """ISO 13616: country length and format, then mod-97. A greedy candidate that ran into the
    next word ("... 32 and") is shortened group by group until it validates."""
    from stdnum import iban

    found = []
    for match in matches(IBAN_CANDIDATE, text, context, flags=IBAN):
        raw = match.group(0)
        while len(raw.replace(" ", "")) >= 15:
            if iban.is_valid(raw):
                value = iban.compact(raw)
                found.append(Found(match.start(), match.start() + len(raw), value))
                break
            cut = raw.rfind(" ")
            if cut < 0:
                break
            raw = raw[:cut]
    return found


# -------------------------------------------------------------------------------- national ids
@dataclass(frozen=True)
class NationalId:
    """One national identifier: the fewest digits in one cluster of its candidates (pii_scan),
    a candidate pattern, stdnum's validator and an RE2 screen (the candidate pattern without
    its look-arounds) that a window must match before the candidate pattern runs in it."""

    digits: int
    candidate: re.Pattern[str]
    module: str  # python-stdnum module whose is_valid/compact decide
    screen: str


NATIONAL_IDS: dict[str, NationalId] = {
    # SSA: area 001-899 except 666, group 01-99, serial 0001-9999 (no checksum); only the
    # dashed or spaced form, a bare 9-digit run is too often something else
    "us_ssn": NationalId(
        9,
        re.compile(r"(?<![\w-])\d{3}([- ])\d{2}\1\d{4}(?![\w]|-\d)"),
        "stdnum.us.ssn",
        r"\d{3}[- ]\d{2}[- ]\d{4}",
    ),
    # Spain DNI (8 digits + mod-23 letter) and NIE (X/Y/Z + 7 digits + letter)
    "es_dni": NationalId(
        8,
        re.compile(r"(?<![\w-])\d{8}-?[A-HJ-NP-TV-Z](?!\w)"),
        "stdnum.es.dni",
        r"\d{8}-?[A-HJ-NP-TV-Z]",
    ),
    "es_nie": NationalId(
        7,
        re.compile(r"(?<![\w-])[XYZ]-?\d{7}-?[A-HJ-NP-TV-Z](?!\w)"),
        "stdnum.es.nie",
        r"[XYZ]-?\d{7}-?[A-HJ-NP-TV-Z]",
    ),
    # Italy codice fiscale: 16 characters with a check letter
    "it_codicefiscale": NationalId(
        7,  # 2 + 2 + 3 digits joined by single letters
        re.compile(
            r"(?i)(?<!\w)[a-z]{6}[0-9lmnp-v]{2}[a-ehlmprst][0-9lmnp-v]{2}[a-z][0-9lmnp-v]{3}[a-z](?!\w)"
        ),
        "stdnum.it.codicefiscale",
        r"(?i:[a-z]{6}[0-9lmnp-v]{2}[a-ehlmprst][0-9lmnp-v]{2}[a-z][0-9lmnp-v]{3}[a-z])",
    ),
    # France NIR: 13 digits + 2-digit mod-97 key
    "fr_nir": NationalId(
        14,  # 15 digits, 14 in Corsica (2A, 2B)
        re.compile(r"(?<![\w-])[1-478] ?\d{2} ?\d{2} ?(?:\d{2}|2[AB]) ?\d{3} ?\d{3} ?\d{2}(?!\w)"),
        "stdnum.fr.nir",
        r"[1-478] ?\d{2} ?\d{2} ?(?:\d{2}|2[AB]) ?\d{3} ?\d{3} ?\d{2}",
    ),
    # Finland HETU: DDMMYY, century sign, 3 digits, mod-31 check character
    "fi_hetu": NationalId(
        9,
        re.compile(r"(?<![\w-])\d{6}[-+A-FU-Y]\d{3}[0-9A-FHJ-NPR-Y](?!\w)"),
        "stdnum.fi.hetu",
        r"\d{6}[-+A-FU-Y]\d{3}[0-9A-FHJ-NPR-Y]",
    ),
    # Sweden personnummer: (YY)YYMMDD-NNNC with a Luhn check digit; the separator is required
    "se_personnummer": NationalId(
        10,
        re.compile(r"(?<![\w-])(?:\d{2})?\d{6}[-+]\d{4}(?![\w]|-\d)"),
        "stdnum.se.personnummer",
        r"\d{6}[-+]\d{4}",
    ),
}


@cache
def _stdnum(module: str) -> Any:
    import importlib

    return importlib.import_module(module)


@lru_cache(maxsize=64)
def any_national_id(names: tuple[str, ...]) -> re.Pattern[str]:
    """One pattern that matches wherever any of `names` can (case-insensitive, the SSN's
    backreference loosened): a window it misses needs none of the seven patterns."""
    parts = [
        NATIONAL_IDS[name].candidate.pattern.removeprefix("(?i)").replace("\\1", "[- ]")
        for name in names
    ]
    return re.compile("|".join(f"(?:{part})" for part in parts), re.IGNORECASE)


def national_id_gate(options: Any) -> str:
    """The RE2 screen of the enabled national ids: thousands of windows of a web column have
    the digits for one, a few dozen its shape."""
    return "|".join(f"(?:{NATIONAL_IDS[name].screen})" for name in options.national_ids)


def find_national_ids(text: str, context: Context) -> list[Found]:
    names = tuple(context.options.national_ids)
    if not names:
        return []
    screen = any_national_id(names)
    if not any(screen.search(text, start, end) for start, end, _, _ in context.windows):
        return []
    found = []
    for name in names:
        rule = NATIONAL_IDS[name]
        validator = _stdnum(rule.module)
        for match in matches(rule.candidate, text, context, rule.digits):
            candidate = match.group(0).replace(" ", "")  # "536 22 1234" is written with spaces
            if validator.is_valid(candidate):
                value = f"{name}:{validator.compact(candidate)}"
                found.append(Found(match.start(), match.end(), value))
    return found


# ------------------------------------------------------------------------------------- phones
def _beside_invalid_punctuation(text: str, start: int, end: int) -> bool:
    """libphonenumber's VALID leniency: no `%` or currency sign right before a number that
    starts with a digit, nor right after it (`50 000 000 $`, `12 345 678%`)."""
    before = text[start - 1] if start and text[start].isdigit() else ""
    after = text[end] if end < len(text) else ""
    return any(c == "%" or unicodedata.category(c) == "Sc" for c in (before, after) if c)


def find_phones(text: str, context: Context) -> list[Found]:
    """Each plausible candidate of the windows, confirmed once by pii_phone (libphonenumber's
    parse and the matcher's leniency rules) in the row's regions."""
    o = context.options
    regions = tuple(context.regions)
    found = []
    for match in matches(PHONE_CANDIDATE, text, context, PHONE_DIGITS):
        e164 = phone_number(match.group(0), regions, o.phone_leniency, o.phone_bare_digits)
        if e164 is None:
            continue
        if o.phone_leniency != "possible" and _beside_invalid_punctuation(
            text, match.start(), match.end()
        ):
            continue
        found.append(Found(match.start(), match.end(), e164))
    return found


# ------------------------------------------------------------------------------------ secrets
# detect-secrets plugins whose patterns are specific enough for prose (the keyword, entropy
# and short-prefix plugins fire on ordinary text; BigCode's pipeline also used these)
SECRET_PLUGINS: dict[str, tuple[str, ...]] = {  # plugin -> literals one of which it needs
    "aws.AWSKeyDetector": ("A3T", "ABIA", "ACCA", "AKIA", "ASIA", "aws"),
    "azure_storage_key.AzureStorageKeyDetector": ("AccountKey=",),
    "github_token.GitHubTokenDetector": ("ghp_", "gho_", "ghu_", "ghs_", "ghr_"),
    "gitlab_token.GitLabTokenDetector": (
        "glpat-",
        "gldt-",
        "glft-",
        "glsoat-",
        "glrt-",
        "glcbt-",
        "glimt-",
        "glptt-",
        "glagent-",
        "gloas-",
        "GR1348941",
    ),
    "slack.SlackDetector": ("xox", "hooks.slack.com"),
    "stripe.StripeDetector": ("k_live_",),
    "sendgrid.SendGridDetector": ("SG.",),
    "openai.OpenAIDetector": ("T3BlbkFJ",),
    "pypi_token.PypiTokenDetector": ("pypi-",),
    "square_oauth.SquareOAuthDetector": ("sq0csp-",),
    "mailchimp.MailchimpDetector": ("-us",),
    "jwt.JwtTokenDetector": ("eyJ",),
    "npm.NpmDetector": ("_authToken",),
}
# two screens: a token's literal prefix (rare; the plugins' patterns then run), and a secret's
# name before `=` / `:` (the assignment finder then runs)
SECRET_TOKEN_SCREEN = (
    # (`aws_secret_access_key = "..."` is an assignment: the second screen finds it)
    r"A3T[A-Z0-9]|ABIA|ACCA|AKIA|ASIA|AccountKey=|gh[pousr]_|GR1348941|xox[abposr]-"
    r"|gl(?:pat|dt|ft|soat|rt|cbt|imt|ptt|agent|oas)-"
    r"|hooks\.slack\.com|[rs]k_live_|SG\.|T3BlbkFJ|pypi-|sq0csp-|-us\d|eyJ|_authToken"
    r"|PRIVATE KEY|PuTTY-User-Key"
)
PRIVATE_KEY_BLOCK = re.compile(
    r"-----BEGIN ((?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?)-----.*?-----END \1-----"
    r"|-----BEGIN ((?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?)-----[^\n]*(?:\n[A-Za-z0-9+/=:\- ]*)*"
    r"|PuTTY-User-Key-File-\d+:.*?Private-MAC: [0-9a-f]+",
    re.DOTALL,
)
# `password = "hunter22"`, `api_key: sk_abc123...`; the value is what is redacted. Found from
# each `=` / `:` backwards (a case-insensitive scan of a whole page is 10x slower in Python).
ASSIGNMENT_OPERATOR = re.compile(r"[=:]")
SECRET_NAME = re.compile(  # searched in the lower-cased name before the operator
    r"password|passwd|passwort|pwd|secret|api[_-]?key|access[_-]?key|auth[_-]?token"
    r"|access[_-]?token|client[_-]?secret"
)
SECRET_NAME_CHARS = frozenset("_.-")
SECRET_VALUE_AFTER = re.compile(
    r"[=>]?\s*(?:(?P<q>[\"'])(?P<quoted>[^\"'\s]{6,128})(?P=q)|(?P<bare>[^\s\"',;<>()\[\]{}]{8,128}))"
)
SECRET_NAME_LENGTH = 64


def name_before(text: str, at: int) -> str:
    """The identifier that ends just before position `at` (skipping a closing quote and
    spaces): `db_password` in `db_password = ...`."""
    end = at
    while end > 0 and at - end < 3 and text[end - 1] in " \t\"'":
        end -= 1
    start = end
    while start > 0 and end - start < SECRET_NAME_LENGTH:
        char = text[start - 1]
        if not (char.isalnum() or char in SECRET_NAME_CHARS):
            break
        start -= 1
    return text[start:end]


_PLACEHOLDER_VALUE = re.compile(
    r"(?i)^(?:\*+|x+|\.+|<.*>|\$\{.*\}|\{\{.*\}\}|%\(.*\)s|\$[a-z_]\w*|"
    r"(?:os\.)?(?:environ|getenv|process\.env).*|(?:your|my|the|example|changeme|password|secret"
    r"|none|null|true|false|undefined|required|optional)\w*)$"
)


@cache
def secret_patterns() -> tuple[tuple[tuple[str, ...], re.Pattern[str]], ...]:
    """(literal hints, regex) for the denylist regexes of detect-secrets' RegexBasedDetector
    plugins named above; a regex runs only on a text holding one of its hints."""
    import importlib

    patterns = []
    for name, hints in SECRET_PLUGINS.items():
        module, cls = name.rsplit(".", 1)
        plugin = getattr(importlib.import_module(f"detect_secrets.plugins.{module}"), cls)
        patterns.extend((hints, pattern) for pattern in plugin.denylist)
    return tuple(patterns)


@cache
def secret_hints() -> frozenset[str]:
    """Every plugin's literal hints (a long page is searched for each one once)."""
    return frozenset(hint for hints in SECRET_PLUGINS.values() for hint in hints)


def _is_password_value(value: str, quoted: bool) -> bool:
    if _PLACEHOLDER_VALUE.match(value):
        return False
    if quoted:
        return True
    # unquoted prose ("Password: forgotten") is words; a password mixes classes
    has_alpha = any(c.isalpha() for c in value)
    return has_alpha and any(c.isdigit() or not c.isalnum() for c in value)


def find_secrets(text: str, context: Context) -> list[Found]:
    found = []
    if "token" in context.screens:
        found += find_tokens(text)
    if "assignment" in context.screens:
        found += find_assignments(text, context.prepared)
    return found


def prepare_secrets(texts: list[str], parts: list[frozenset[str]]) -> list[list[int] | None]:
    """The operators find_assignments reads, for every row with an assignment, in one pass."""
    wanted = [i for i, screens in enumerate(parts) if "assignment" in screens]
    shares: list[list[int] | None] = [None] * len(texts)
    for i, operators in zip(wanted, operators_after_names([texts[i] for i in wanted]), strict=True):
        shares[i] = operators
    return shares


def find_tokens(text: str) -> list[Found]:
    found = []
    if "PRIVATE KEY" in text or "PuTTY" in text:
        found += [Found(m.start(), m.end(), m.group(0)) for m in PRIVATE_KEY_BLOCK.finditer(text)]
    present = {hint for hint in secret_hints() if hint in text}  # each hint looked for once
    for hints, pattern in secret_patterns():
        if present.isdisjoint(hints):
            continue
        for match in pattern.finditer(text):
            # a long group is the secret itself where the plugin captures one after its
            # keyword (`aws.{0,20}?key...'(...)'`); short groups are prefixes (`(ghp|gho)_`)
            group = match.lastindex or 0
            if group and len(match.group(group) or "") < 16:
                group = 0
            start, end = match.span(group)
            found.append(Found(start, end, match.group(group)))
    return found


# a name, the rest of its word and the operator after it, as RE2 reads it (case-insensitive;
# Unicode classes would slow RE2 tenfold, so the word is anything up to a space, a quote or an
# operator: find_assignments reads the identifier before each operator again)
ASSIGNMENT_END = f"(?i:{SECRET_NAME.pattern})[^\\s\"'=:]*[ \\t\"']{{0,3}}[=:]"
# the rows find_assignments can take something from: a name and its operator as the finder
# looks for them, and the start of a value SECRET_VALUE_AFTER can take (a third of the rows
# that name a password, prose and docs, get to the finder). Python's `\s` is RE2's `\s`,
# `\p{Z}` and five more controls.
PYTHON_SPACE = r"[\s\p{Z}\x0b\x1c-\x1f\x85]"
SECRET_ASSIGNMENT_SCREEN = (
    f"{ASSIGNMENT_END}[=>]?{PYTHON_SPACE}*"
    r"(?:[\"'][^\"'\s\p{Z}]{6}|[^\s\p{Z}\"',;<>()\[\]{}]{8})"
)
SECRET_SCREEN = {"token": SECRET_TOKEN_SCREEN, "assignment": SECRET_ASSIGNMENT_SCREEN}
# characters that mark where each match ends: one of them is not in the text
MARKS = ("\x00", *map(chr, range(0xFDD0, 0xFDF0)))  # NUL and Unicode's noncharacters


def operators_after_names(texts: Sequence[str]) -> list[list[int]]:
    """Per text, the positions of the `=` / `:` that follow an identifier holding a secret's
    name (a page holds thousands of operators and few such names). RE2, through Arrow, writes
    a mark after each match, one pass for all the texts (Python's re walks a long page 5-10x
    slower, and each Arrow call compiles the pattern again: 0.2 ms); every operator of a text
    that holds every mark."""
    mark = next((m for m in MARKS if not any(m in text for text in texts)), None)
    if mark is None:
        if len(texts) > 1:  # each text then finds its own mark
            return [operators_after_names([text])[0] for text in texts]
        return [[m.start() for m in ASSIGNMENT_OPERATOR.finditer(text)] for text in texts]
    import pyarrow as pa
    import pyarrow.compute as pc

    column = pa.array(texts, pa.large_string())
    return [
        _operators_before_marks(marked, mark)
        for marked in pc.replace_substring_regex(column, ASSIGNMENT_END, "\\0" + mark).to_pylist()
    ]


def _operators_before_marks(marked: str, mark: str) -> list[int]:
    operators: list[int] = []
    at = marked.find(mark)
    while at >= 0:  # the k-th mark sits k places after its operator
        operators.append(at - len(operators) - 1)
        at = marked.find(mark, at + 1)
    return operators


def find_assignments(text: str, operators: list[int] | None = None) -> list[Found]:
    """Secret values after the operators of `operators_after_names` (found here if not given)."""
    found = []
    position = 0
    if operators is None:
        [operators] = operators_after_names([text])
    for at in operators:
        if at < position:
            continue
        name = name_before(text, at)
        if len(name) < 3 or not SECRET_NAME.search(name.lower()):
            continue
        value = SECRET_VALUE_AFTER.match(text, at + 1)
        if value is None:
            continue
        group = "quoted" if value.group("quoted") is not None else "bare"
        secret = value.group(group)
        if group == "bare":  # "Password: forgotten?" ends a sentence, not a password
            secret = secret.rstrip(".,;:!?")
        if _is_password_value(secret, quoted=group == "quoted"):
            start = value.start(group)
            found.append(Found(start, start + len(secret), secret))
            position = value.end()
    return found


# ---------------------------------------------------------------------------- URL credentials
URL_CREDENTIALS_SCREEN = r"://[^\s/@:]+:[^\s/@]+@"
URL_CREDENTIALS = re.compile(
    r"(?i)\b[a-z][a-z0-9+.-]*://(?P<userinfo>[^\s:/?#\[\]@]+:[^\s/?#\[\]@]+)@"
)


def find_url_credentials(text: str, context: Context) -> list[Found]:
    return [
        Found(m.start("userinfo"), m.end("userinfo"), m.group("userinfo"))
        for m in URL_CREDENTIALS.finditer(text)
    ]


# screens that open with a literal: RE2 skips from one occurrence to the next (memchr), so each
# runs alone over a column in ~1 ms, where joining the other screens' pass would cost their
# subset pass (web text: the IPv6 screen alone 23 ms as `::|...`, 1.2 ms with its colon first)
PREFIXED_SCREENS = frozenset({IPV6_SCREEN, URL_CREDENTIALS_SCREEN})


@dataclass(frozen=True)
class KindRule:
    """How the stage screens a column for one kind and confirms it in a row."""

    screen: str | dict[str, str] | Callable[[Any], str]  # a dict: parts the finder is told
    find: Callable[[str, Context], list[Found]]
    # a windowed kind: an RE2 pattern a window must match before the finder looks in it
    gate: str | Callable[[Any], str] = ""
    # a screened kind: work its finder would do row by row, done in one call for every row its
    # screens matched (texts, matched screen parts); each row's share is context.prepared
    prepare: Callable[[list[str], list[frozenset[str]]], list[Any]] | None = None


RULES: dict[str, KindRule] = {
    "secret": KindRule(SECRET_SCREEN, find_secrets, prepare=prepare_secrets),
    "url_credentials": KindRule(URL_CREDENTIALS_SCREEN, find_url_credentials),
    "email": KindRule("", find_emails),
    # the digit-bearing kinds have no RE2 screen: pii_scan's windows say where to look
    "iban": KindRule("", find_ibans, gate=IBAN_GATE),
    "credit_card": KindRule("", find_cards),
    "national_id": KindRule("", find_national_ids, gate=national_id_gate),
    "ip": KindRule(ip_screens, find_ips),  # IPv4 in windows, IPv6 is hex
    "phone": KindRule("", find_phones),
}
# the kinds found in pii_scan's windows (IPv4 addresses and IBANs through the window flags)
WINDOW_KINDS = frozenset({"email", "ip", "phone", "credit_card", "iban", "national_id"})


def window_needs(kinds: Sequence[str], options: Any) -> tuple[int, bool, bool, bool, bool]:
    """(fewest digits of a cluster, IPv4, IBAN and e-mail flags, datatrove's e-mail characters)
    that pii_scan must report for `kinds`: the least that each kind's candidates hold in one
    cluster."""
    digits = [WHOLE]
    if "phone" in kinds:
        digits.append(PHONE_DIGITS)
    if "credit_card" in kinds:
        digits.append(CARD_DIGITS)
    if "national_id" in kinds:
        digits += [NATIONAL_IDS[name].digits for name in options.national_ids]
    emails = "email" in kinds
    return min(digits), "ip" in kinds, "iban" in kinds, emails, datatrove_compat(options)


def window_fits(kind: str, digits: Any, flags: Any, options: Any) -> Any:
    """Which windows can hold `kind`, from the digits of their longest cluster and their flags
    (numpy arrays, one entry a window: a boolean array)."""
    if kind == "phone":
        return digits >= PHONE_DIGITS
    if kind == "credit_card":
        return digits >= CARD_DIGITS
    if kind == "national_id":
        fewest = min((NATIONAL_IDS[name].digits for name in options.national_ids), default=WHOLE)
        return digits >= fewest
    if kind == "ip":
        return (flags & IPV4) != 0
    if kind == "email":
        return (flags & EMAIL) != 0
    return (flags & IBAN) != 0  # iban


# Redaction order: secrets and URL credentials before e-mail (`ftp://user:pw@host.com` is not an
# e-mail), IBANs before card and phone numbers (their digits look like both), ids before phones.
ORDER = ("secret", "url_credentials", "email", "iban", "credit_card", "national_id", "ip", "phone")
