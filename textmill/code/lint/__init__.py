"""Linter scores for Python files on pylint's 0-10 scale (SwallowCode's style filter).

Two engines give the same score: real pylint (`pylint_engine`, slow, the reference) and the
ruff binary with pylint's checks mapped onto pylint's categories (`ruff_engine`, fast); both
count statements the way pylint does and use pylint's evaluation formula (`score`).
"""
