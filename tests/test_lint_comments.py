"""The comment share without `tokenize` must be tokenize's, token for token: hostile snippets
(strings over lines, escapes, prefixes, f-strings, numbers, operators, indentation, CRLF,
form feeds, files ending oddly) and seeded mutations of them, compared with tokenize."""

from __future__ import annotations

import io
import random
import sys
import tokenize

import pytest

from textmill.code.lint.comments import comment_ratio, scanned_counts, tokenize_ratio

PURE_PYTHON_TOKENIZER = sys.version_info < (3, 12)

SNIPPETS = [
    "x = 1  # one\n",
    "# only a comment",
    "# a comment\n   ",
    "def f():\n    return 1\n# trailing\n",
    "def f():\n    if x:\n        pass  # deep\n",  # DEDENTs at the end of the file
    "def f():\n\tif x:\n\t\treturn 2  # tabs\n\n\n",
    "if x:\n\f    y = 1  # form feed in the indentation\n",
    "s = '''a # not a comment\n'b' \\''' # \"\"\" ''' # real\n",
    's = """\\\n# in the string\n"""  # after\n',
    's = """x""""  # four quotes: a string then an open one"\n',
    "a = ''''' # '\nb = 1\n'''\n",
    "s = 'abc\\\ndef # still the string'  # comment\n",
    "s = 'a\\\\'  # an escaped backslash closes the string\n",
    "s = rb'\\d+' + Rb\"x\" + BR'y' + u'z' + F'{a}' + fR\"{b!r:>{w}}\"  # prefixes\n",
    "f'{x}' f\"{'#' * 3}\"  # a hash inside an f-string\n",
    "n = [1if x else 2, 0x1for, 1_000j, .5e-3J, 1.e5, 0b1_0, 0o17, 00, 1e5, 1.5]  # numbers\n",
    "y = (1 +  # inside parentheses\n     2)\n",
    "z = x \\\n    + 1  # continued\n",
    "a ... -> := **= //= >>= <<= != == <= @= ->x  # operators\n",
    "x = 1\r\ny = 2  # crlf\r\n",
    "s = 'a\\\r\nb'  # crlf continuation\r\n",
    "x = 'é'  # ünïcode in strings and comments ✓\n",
    "x = 1",
    "x = 1  # no newline at the end",
    "x = 1\n   ",
    "class A:\n    '''doc\n\n    # not one\n    '''\n    x = 1 # yes\n",
    "\n\n# c\n\n\n",
    "x = [\n# c1\n  1,\n    # c2\n]\n",
    "if True:\n  x = 1\n  # c\n y = 2\n",  # IndentationError: tokenize gives 0
    "s = 'unterminated # x\n",  # ERRORTOKEN
    's = """never closed # x\n',  # EOF in multi-line string
    "x = (1,  # open\n",  # EOF in multi-line statement
    "x = $ # dollar\n",
    "naïve = 1  # a non-ASCII name\n",
    "x = 1\ry = 2 # a lone carriage return\n",
    "x = 1 # nul \0 byte\n",
    "s = 'ab\\\\\n' # an escaped backslash before the newline: no continuation\n",
    "s = 'ab\\\\\\\n' # c\n",  # three backslashes: the last one continues the string
    "s = 'a\rb'  # a lone carriage return in a string\n",
    "s = '''a\r'''  # and in a triple-quoted one\n",
    "x = 1 # and in a comment\rb\n",
    "x = 1\n\ry = 2  # a line opening with one is blank to tokenize\n",
]

# where tokenize's own rules are what decide (the scan gives up and tokenize runs)
GIVES_UP = {
    "if True:\n  x = 1\n  # c\n y = 2\n",
    "s = 'unterminated # x\n",
    's = """never closed # x\n',
    "x = (1,  # open\n",
    "x = $ # dollar\n",
    "naïve = 1  # a non-ASCII name\n",
    "x = 1\ry = 2 # a lone carriage return\n",
    "x = 1 # nul \0 byte\n",
    "s = 'ab\\\\\n' # an escaped backslash before the newline: no continuation\n",
    "x = 1 # and in a comment\rb\n",
}


def tokenize_counts(source: str) -> tuple[int, int] | None:
    total = comments = 0
    try:
        for item in tokenize.generate_tokens(io.StringIO(source).readline):
            total += 1
            comments += item.type == tokenize.COMMENT
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return None
    return total, comments


@pytest.mark.parametrize("source", SNIPPETS)
def test_the_comment_share_is_tokenizes_on_hostile_snippets(source: str) -> None:
    assert comment_ratio(source) == tokenize_ratio(source)


@pytest.mark.skipif(not PURE_PYTHON_TOKENIZER, reason="Python 3.12+ always runs tokenize")
@pytest.mark.parametrize("source", SNIPPETS)
def test_the_scan_counts_every_token_tokenize_yields(source: str) -> None:
    counted = scanned_counts(source)
    if source in GIVES_UP:
        assert counted is None
    else:
        assert counted is not None
        assert counted == tokenize_counts(source)


MUTATIONS = "#'\"\\\n \t()[]{}.0e1jx_:=-f\r"


@pytest.mark.skipif(not PURE_PYTHON_TOKENIZER, reason="Python 3.12+ always runs tokenize")
def test_the_scan_agrees_with_tokenize_on_mutated_snippets() -> None:
    """Random insertions, deletions and swaps (seeded): wherever the scan counts, its counts
    are tokenize's, and it counts most of them (it is no fallback in disguise)."""
    rng = random.Random(15)
    counted = 0
    for trial in range(1500):
        chars = list(rng.choice(SNIPPETS[:22]))
        for _ in range(rng.randint(1, 4)):
            at = rng.randrange(len(chars) + 1)
            edit = rng.random()
            if edit < 0.5:
                chars.insert(at, rng.choice(MUTATIONS))
            elif chars and edit < 0.8:
                del chars[min(at, len(chars) - 1)]
            elif len(chars) > 1:
                k = min(at, len(chars) - 2)
                chars[k], chars[k + 1] = chars[k + 1], chars[k]
        source = "".join(chars)
        got = scanned_counts(source)
        if got is not None:
            counted += 1
            assert got == tokenize_counts(source), (trial, source)
        assert comment_ratio(source) == tokenize_ratio(source), (trial, source)
    assert counted > 600
