"""Checks a rewrite must pass before it replaces the original (SwallowCode re-validates every
rewritten program: one that does not parse is worth less than the original it replaces)."""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable

# A reply's fenced block (```python ... ```); models wrap code in one even when told not to.
FENCE = re.compile(r"```[ \t]*([\w+#.-]*)[^\n]*\n(.*?)(?:\n```|\Z)", re.DOTALL)


def python_compiles(text: str) -> bool:
    """True when `text` is a Python module CPython compiles (syntax only, nothing runs)."""
    try:
        with warnings.catch_warnings():  # invalid escape sequences warn, they do not fail
            warnings.simplefilter("ignore")
            compile(text, "<rewrite>", "exec", dont_inherit=True)
    except (SyntaxError, ValueError, OverflowError, MemoryError, RecursionError):
        return False
    return True


VALIDATORS: dict[str, Callable[[str], bool]] = {"python": python_compiles}


def code_block(reply: str) -> str:
    """The longest fenced code block of a reply, else the reply itself."""
    blocks = [match.group(2) for match in FENCE.finditer(reply)]
    return max(blocks, key=len) if blocks else reply
