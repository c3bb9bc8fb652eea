"""The README's examples stay true."""

import re
from pathlib import Path

from textmill.config import parse_pipeline

README = (Path(__file__).resolve().parents[1] / "README.md").read_text("utf-8")


def test_readme_starts_with_the_two_commands():
    first_block = re.search(r"```bash\n(.*?)```", README, re.S).group(1).strip().splitlines()
    assert first_block == [
        "python3 -m venv .venv && .venv/bin/pip install -e '.[dev]' && .venv/bin/pip install "
        "--no-deps --force-reinstall fasttext-numpy2-wheel==0.9.2 && .venv/bin/textmill warm-up "
        "&& .venv/bin/textmill demo",
        ".venv/bin/python -m pytest -q",
    ]


def test_every_yaml_pipeline_in_the_readme_validates():
    blocks = re.findall(r"```yaml\n(.*?)```", README, re.S)
    assert blocks
    for block in blocks:
        if block.lstrip().startswith("stages:"):
            assert parse_pipeline(block, "README.md")
