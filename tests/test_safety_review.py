"""Review of the decontaminate and toxicity stages (issue 14): hostile inputs a new user hits."""

from __future__ import annotations

import pytest

from textmill.stages.safety.benchmarks import BenchmarkError, BenchmarkSpec, read_benchmark

QUESTION = "What is the capital city of France and why is it so famous around the world today"


@pytest.mark.parametrize(
    "body",
    [
        # an unbalanced quote used to swallow every later line into one cell, silently
        f'question,answer\n"{QUESTION}",Paris\n"unterminated, quote\n"{QUESTION}",x\n',
        f'question,answer\n"{QUESTION}",Paris\n"open at the end of the file\n',
    ],
)
def test_unbalanced_csv_quote_is_an_error_naming_the_line(tmp_path, body):
    path = tmp_path / "bench.csv"
    path.write_text(body, encoding="utf-8")
    with pytest.raises(BenchmarkError, match=r"bench\.csv, line \d+: malformed CSV"):
        read_benchmark(BenchmarkSpec(path=str(path), layout="gsm8k"))


def test_quoted_csv_cells_with_commas_still_read(tmp_path):
    path = tmp_path / "bench.csv"
    path.write_text(f'question,answer\n"{QUESTION}, really","Paris, France"\n', encoding="utf-8")
    bench = read_benchmark(BenchmarkSpec(path=str(path), layout="gsm8k"))
    assert bench.texts == [f"{QUESTION}, really\nParis, France"]
