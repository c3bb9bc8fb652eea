"""Argument types for numbers with a range: a value out of range is argparse's usage error
(exit code 2, the flag named), never a value a command silently accepts or trips over later."""

from __future__ import annotations

import argparse
from collections.abc import Callable


def whole(minimum: int) -> Callable[[str], int]:
    """A whole number >= minimum."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be >= {minimum} (got {value})")
        return value

    parse.__name__ = "whole number"
    return parse


def number(above: float | None = None, at_least: float | None = None, below: float | None = None):
    """A number > above (or >= at_least), and < below where given."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if value != value or (above is not None and not value > above):
            raise argparse.ArgumentTypeError(f"must be > {above:g} (got {text})")
        if at_least is not None and not value >= at_least:
            raise argparse.ArgumentTypeError(f"must be >= {at_least:g} (got {text})")
        if below is not None and not value < below:
            raise argparse.ArgumentTypeError(f"must be < {below:g} (got {text})")
        return value

    parse.__name__ = "number"
    return parse
