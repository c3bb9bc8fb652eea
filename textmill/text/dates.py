"""Dates found in URLs and in text, as ISO strings of reduced precision: `2019`, `2019-05`,
`2019-05-12` (ISO 8601 allows dropping the finer parts, so a year mention stays a year and is
never padded into a fake day). Used by the `date` stage (textmill/stages/signals/date.py).

The URL patterns are the ones blogs and news sites use (`/2019/05/12/`, `/2019/05/`,
`2019-05-12`, `20190512`); text dates are numeric (`12.05.2019`, `2019-05-12`) or spelled with
a month name in English, German, French, Spanish, Italian, Dutch or Portuguese.
"""

from __future__ import annotations

import calendar
import itertools
import re
from collections import Counter

MONTHS: dict[str, int] = {}
for _number, _names in enumerate(
    (
        "january jan januar janvier enero gennaio januari janeiro jänner",
        "february feb februar février fevrier febrero febbraio februari fevereiro",
        "march mar märz maerz mars marzo maart março marco",
        "april apr avril abril aprile",
        "may mai mayo maggio mei maio",
        "june jun juni juin junio giugno junho",
        "july jul juli juillet julio luglio julho",
        "august aug août aout agosto augustus",
        "september sep sept septembre septiembre settembre setembro",
        "october oct oktober octobre octubre ottobre oktober outubro okt",
        "november nov novembre noviembre novembro",
        "december dec dezember décembre decembre diciembre dicembre dezembro dez",
    ),
    start=1,
):
    for _name in _names.split():
        MONTHS[_name] = _number

_YEAR = r"(?P<y>19\d\d|20\d\d)"
_MONTH_NAME = "|".join(sorted(map(re.escape, MONTHS), key=len, reverse=True))

# URL: a day path (/2019/05/12/), a dashed or compact date in a slug, a month path (/2019/05/),
# a year segment (/2021/...); the first pattern that matches wins
_URL_PATTERNS = (
    re.compile(r"/" + _YEAR + r"/(?P<m>[01]?\d)/(?P<d>[0-3]?\d)(?:/|$|[-_.])"),
    re.compile(r"[/_.-]" + _YEAR + r"[-_.](?P<m>[01]\d)[-_.](?P<d>[0-3]\d)(?:\D|$)"),
    re.compile(r"(?<!\d)" + _YEAR + r"(?P<m>[01]\d)(?P<d>[0-3]\d)(?!\d)"),
    re.compile(r"/" + _YEAR + r"/(?P<m>[01]?\d)(?:/|$)"),
    re.compile(r"/" + _YEAR + r"(?:/|$|[._-](?=[A-Za-z]))"),  # a year segment: /2021/, /2020.x
)

# Text: ISO, day.month.year (European order for `.`), day month-name year, month-name day year
_TEXT_PATTERNS = (
    re.compile(r"(?<![\d.])" + _YEAR + r"-(?P<m>[01]\d)-(?P<d>[0-3]\d)(?!\d)"),
    re.compile(r"(?<![\d.])(?P<d>[0-3]?\d)\.\s?(?P<m>[01]?\d)\.\s?" + _YEAR + r"(?!\d)"),
    re.compile(
        r"(?i)(?<!\w)(?P<d>[0-3]?\d)(?:\.|er|st|nd|rd|th)?\s+(?:de\s+)?(?P<mn>"
        + _MONTH_NAME
        + r")\.?,?\s+(?:de\s+)?"
        + _YEAR
        + r"(?!\d)"
    ),
    re.compile(
        r"(?i)(?<!\w)(?P<mn>"
        + _MONTH_NAME
        + r")\.?\s+(?P<d>[0-3]?\d)(?:st|nd|rd|th)?,?\s+"
        + _YEAR
        + r"(?!\d)"
    ),
)
_ANY_YEAR = re.compile(r"(?<!\d)(?:19|20)\d\d(?!\d)")
MAX_YEARS_TRIED = 50  # year-like numbers looked at per text (a table of figures has many)
_WINDOW_BEFORE, _WINDOW_AFTER = 40, 7  # "14th of September, " before a year; "-05-12" after
_YEAR_MENTION = re.compile(r"(?<![\d.,/-])(?:19[5-9]\d|20\d\d)(?![\d.,/-]\d)")
# A copyright notice (`© 2005-2020 Name`, `Copyright Name 2020`): the site's footer year, the
# same on every page of the site, not the year a page is about or from.
_COPYRIGHT = re.compile(
    r"(?i)(?:©|\(c\)|&copy;|copyright)[^\n]{0,60}?(?<!\d)"
    r"(?:(?:19|20)\d\d\s*[-–—,]\s*)*(?:19|20)\d\d(?!\d)"
)


def iso_date(year: int, month: int | None = None, day: int | None = None) -> str | None:
    """`YYYY`, `YYYY-MM` or `YYYY-MM-DD`; None when the month or day does not exist."""
    if month is None:
        return f"{year:04d}"
    if not 1 <= month <= 12:
        return None
    if day is None:
        return f"{year:04d}-{month:02d}"
    if not 1 <= day <= calendar.monthrange(year, month)[1]:
        return None
    return f"{year:04d}-{month:02d}-{day:02d}"


def within(date: str, low: str, high: str | None) -> bool:
    """Whether an ISO date of any precision lies in [low, high]: a coarse date is in range when
    its first day is not after `high` and its last day is not before `low`."""
    return date >= low[: len(date)] and (high is None or date <= high[: len(date)])


def _match_date(match: re.Match[str]) -> str | None:
    groups = match.groupdict()
    month = MONTHS.get(groups["mn"].lower()) if groups.get("mn") else None
    if month is None and groups.get("m"):
        month = int(groups["m"])
    day = int(groups["d"]) if groups.get("d") else None
    return iso_date(int(groups["y"]), month, day)


def url_date(url: str | None, low: str, high: str | None) -> str | None:
    """The most precise date a URL's path spells, within [low, high]; None if none does."""
    if not url:
        return None
    path = url.split("://", 1)[-1].split("?", 1)[0]
    path = path[path.find("/") :] if "/" in path else ""
    archived = re.match(r"/web/\d{14}[a-z_]*/(?:https?://)?[^/]*(?P<rest>/.*)", path)
    if archived:  # a Wayback Machine URL: the archived page's own path, not the capture time
        path = archived.group("rest")
    for pattern in _URL_PATTERNS:
        for match in pattern.finditer(path):
            date = _match_date(match)
            if date is not None and within(date, low, high):
                return date
    return None


def text_date(text: str | None, low: str, high: str | None, head_chars: int) -> str | None:
    """The first full date (day precision) in the first `head_chars` characters of a text,
    within [low, high]: a page's publication date is printed near its top. The patterns run
    only in a small window around each four-digit year (every pattern has one), ~20x faster
    than scanning the whole head with the month-name alternation."""
    if not text:
        return None
    head = text[:head_chars]
    for year in itertools.islice(_ANY_YEAR.finditer(head), MAX_YEARS_TRIED):
        start = max(0, year.start() - _WINDOW_BEFORE)
        window = head[start : year.end() + _WINDOW_AFTER]
        found = []
        for pattern in _TEXT_PATTERNS:
            for match in pattern.finditer(window):
                if match.start("y") != year.start() - start:
                    continue
                date = _match_date(match)
                if date is not None and within(date, low, high):
                    found.append((match.start(), date))
        if found:
            return min(found)[1]
    return None


def mentioned_year(text: str | None, low: str, high: str | None, head_chars: int) -> str | None:
    """The year most often mentioned in the first `head_chars` characters (ties: the latest),
    within [low, high], copyright notices left out; a weak signal: a text about 1989 need not
    date from 1989."""
    if not text:
        return None
    head = _COPYRIGHT.sub(" ", text[:head_chars])
    years = Counter(year for year in _YEAR_MENTION.findall(head) if within(year, low, high))
    if not years:
        return None
    return max(years.items(), key=lambda item: (item[1], item[0]))[0]
