"""Which ruff rules stand for which pylint checks, and in which of pylint's categories they count.

Only checks pylint runs by default and SwallowCode does not disable are mirrored (no naming,
line-length, import-order, module/function docstring or fixme rules; none of pylint's optional
extensions such as magic-value-comparison or no-self-use). ruff's own ports of pylint (PLC, PLE,
PLR, PLW) keep pylint's category letter; the other rules are ruff's equivalents of a pylint
message, named next to each. pylint checks that need type inference (no-member,
attribute-defined-outside-init, ...) have no ruff counterpart: the calibrated weights in
`RUFF_WEIGHTS` make up for what is missed on average.
"""

from __future__ import annotations

# pylint's optional extensions (pylint.extensions.*), off in a default pylint run
_PYLINT_EXTENSIONS = frozenset(
    {
        "PLC1901",  # compare-to-empty-string
        "PLC2701",  # import-private-name
        "PLC2801",  # unnecessary-dunder-call
        "PLR2004",  # magic-value-comparison
        "PLR5501",  # else-if-used
        "PLR6104",  # consider-using-augmented-assign
        "PLR6201",  # consider-using-in with a set literal
        "PLR6301",  # no-self-use
        "PLW1641",  # eq-without-hash
        "PLW2901",  # redefined-loop-name
        "PLW3201",  # bad-dunder-name
        "PLW0717",  # too-many-try-statements
        "PLR2044",  # empty-comment
        "PLR1712",  # consider-swap-variables
        "PLR0202",  # no-classmethod-decorator (pylint removed it)
        "PLR0203",  # no-staticmethod-decorator (pylint removed it)
    }
)

_PL_CATEGORY = {"PLC": "convention", "PLE": "error", "PLR": "refactor", "PLW": "warning"}

# ruff rule -> (pylint message it stands for, pylint category)
EQUIVALENTS: dict[str, tuple[str, str]] = {
    # pyflakes
    "F401": ("unused-import", "warning"),
    "F403": ("wildcard-import", "warning"),
    "F811": ("reimported / function-redefined", "warning"),
    "F841": ("unused-variable", "warning"),
    "F541": ("f-string-without-interpolation", "warning"),
    "F601": ("duplicate-key", "warning"),
    "F631": ("assert-on-tuple", "warning"),
    "F632": ("literal-comparison", "refactor"),
    "F701": ("not-in-loop", "error"),
    "F702": ("not-in-loop", "error"),
    "F704": ("yield-outside-function", "error"),
    "F706": ("return-outside-function", "error"),
    "F821": ("undefined-variable", "error"),
    "F822": ("undefined-all-variable", "error"),
    "F823": ("used-before-assignment", "error"),
    "F901": ("notimplemented-raised", "error"),
    # pycodestyle
    "E401": ("multiple-imports", "convention"),
    "E402": ("wrong-import-position", "convention"),
    "E701": ("multiple-statements", "convention"),
    "E702": ("multiple-statements", "convention"),
    "E703": ("unnecessary-semicolon", "warning"),
    "E711": ("singleton-comparison", "convention"),
    "E712": ("singleton-comparison", "convention"),
    "E721": ("unidiomatic-typecheck", "convention"),
    "E722": ("bare-except", "warning"),
    "E731": ("unnecessary-lambda-assignment", "convention"),
    "E111": ("bad-indentation", "warning"),
    "E114": ("bad-indentation", "warning"),
    "E117": ("bad-indentation", "warning"),
    "W291": ("trailing-whitespace", "convention"),
    "W293": ("trailing-whitespace", "convention"),
    "W292": ("missing-final-newline", "convention"),
    "W391": ("trailing-newlines", "convention"),
    "W605": ("anomalous-backslash-in-string", "warning"),
    # pydocstyle: empty-docstring; missing-class-docstring (C0115) is an AST check, as ruff's
    # D101 skips classes defined in functions; C0114 / C0116 are disabled
    "D419": ("empty-docstring", "convention"),
    # bugbear, blind-except, unused-arguments, self, logging, tryceratops, builtins
    "B006": ("dangerous-default-value", "warning"),
    "B012": ("lost-exception", "warning"),
    "B018": ("pointless-statement / expression-not-assigned", "warning"),
    "B023": ("cell-var-from-loop", "warning"),
    "B904": ("raise-missing-from", "warning"),
    "BLE001": ("broad-exception-caught", "warning"),
    "TRY002": ("broad-exception-raised", "warning"),
    "ARG001": ("unused-argument", "warning"),
    "ARG002": ("unused-argument", "warning"),
    "ARG003": ("unused-argument", "warning"),
    "ARG004": ("unused-argument", "warning"),
    "SLF001": ("protected-access", "warning"),
    "PIE790": ("unnecessary-pass", "warning"),
    "G001": ("logging-format-interpolation", "warning"),
    "G002": ("logging-not-lazy", "warning"),
    "G004": ("logging-fstring-interpolation", "warning"),
    "A001": ("redefined-builtin", "warning"),
    "A002": ("redefined-builtin", "warning"),
    # pyupgrade, return, simplify, comprehensions
    "UP004": ("useless-object-inheritance", "refactor"),
    "UP008": ("super-with-arguments", "refactor"),
    "UP031": ("consider-using-f-string", "convention"),
    "UP032": ("consider-using-f-string", "convention"),
    "UP034": ("superfluous-parens", "convention"),
    "UP025": ("redundant-u-string-prefix", "warning"),
    "RET503": ("inconsistent-return-statements", "refactor"),
    "RET505": ("no-else-return", "refactor"),
    "RET506": ("no-else-raise", "refactor"),
    "RET507": ("no-else-continue", "refactor"),
    "RET508": ("no-else-break", "refactor"),
    "SIM115": ("consider-using-with", "refactor"),
    "C401": ("consider-using-set-comprehension", "refactor"),
    "C403": ("consider-using-set-comprehension", "refactor"),
    "C408": ("use-dict-literal / use-list-literal", "refactor"),
    "C416": ("unnecessary-comprehension", "refactor"),
    "C419": ("use-a-generator", "refactor"),
}


def category_of(code: str) -> str | None:
    """The pylint category a ruff rule counts in; None for rules that mirror no pylint check."""
    if code in EQUIVALENTS:
        return EQUIVALENTS[code][1]
    if code in _PYLINT_EXTENSIONS:
        return None
    return _PL_CATEGORY.get(code[:3])


def selected_rules(known: set[str]) -> list[str]:
    """The rules to run: every mirrored rule that this ruff knows."""
    pl = [code for code in known if category_of(code) is not None]
    return sorted(set(pl) | (set(EQUIVALENTS) & known))


# Multipliers per category on ruff's counts, and pylint messages per statement that ruff cannot
# see (`unseen`), fitted by `python benchmarks/lint_agreement.py --calibrate` on the calibration
# half of /work/shared/data/code's Python files (see BENCHMARKS.md, "lint_score").
RUFF_WEIGHTS: dict[str, float] = {
    "error": 0.956,
    "warning": 1.278,
    "refactor": 1.0454,
    "convention": 0.9525,
    "unseen": 0.0275,
}
