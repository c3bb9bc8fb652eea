"""Reading a judge's numeric score out of its reply, robustly: judges explain before they
score, repeat the scale ("0 to 5"), use markdown or fractions ("3/5"). The last `score: N`
wins; else a reply that is a lone number; anything else, or out of range, is unparsable."""

from __future__ import annotations

import re

NUMBER = r"([-+]?\d+(?:\.\d+)?)"
LABELLED = re.compile(r"score\W{0,6}?(?:is\W{0,3})?" + NUMBER + r"(?:\s*/\s*\d+)?", re.IGNORECASE)
LONE = re.compile(r"\W*" + NUMBER + r"(?:\s*/\s*\d+)?\W*")


def parse_score(reply: str, low: float, high: float) -> float | None:
    """The score in [low, high] a reply gives, else None."""
    found = LABELLED.findall(reply)
    if found:
        value = float(found[-1])
    else:
        lone = LONE.fullmatch(reply.strip())
        if lone is None:
            return None
        value = float(lone.group(1))
    return value if low <= value <= high else None
