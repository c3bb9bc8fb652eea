"""Checks a rewrite must pass before it replaces the original (SwallowCode re-validates every
rewritten program: one that does not parse is worth less than the original it replaces)."""

from __future__ import annotations

import re
from collections.abc import Callable

from textmill.code.syntax import python_syntax_error

# A reply's fenced block (```python ... ```); models wrap code in one even when told not to.
FENCE = re.compile(r"```[ \t]*([\w+#.-]*)[^\n]*\n(.*?)(?:\n```|\Z)", re.DOTALL)


def python_compiles(text: str) -> bool:
    """True when `text` is a Python module CPython compiles (syntax only, nothing runs): the
    same check `code_syntax` applies to the originals."""
    return python_syntax_error(text, "<rewrite>") is None


VALIDATORS: dict[str, Callable[[str], bool]] = {"python": python_compiles}


def code_block(reply: str) -> str:
    """The longest fenced code block of a reply, else the reply itself."""
    blocks = [match.group(2) for match in FENCE.finditer(reply)]
    return max(blocks, key=len) if blocks else reply
