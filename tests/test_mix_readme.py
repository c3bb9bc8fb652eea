"""The README's Mixing section stays true: its spec and pipeline validate, and its blend spec."""

import re
from pathlib import Path

from textmill.config import parse_pipeline
from textmill.mix import parse_mix_spec, shipped_specs

README = (Path(__file__).resolve().parents[1] / "README.md").read_text("utf-8")
SECTION = README[README.index("## Mixing") :].split("\n## ", 1)[0]


def heredoc(name: str) -> str:
    return re.search(rf"cat > {re.escape(name)} <<'EOF'\n(.*?)\nEOF", SECTION, re.S).group(1)


def test_the_readme_mixing_example_validates():
    assert parse_pipeline(heredoc("fr.yaml"), "README fr.yaml")
    spec = parse_mix_spec(heredoc("two-langs.yaml"), "README two-langs.yaml")
    assert spec.group_weights() == {"en": 0.8, "fr": 0.2} and spec.output.format == "megatron"
    blend = re.search(r"printf '(.*?)' > blend.yaml", SECTION).group(1).replace("\\n", "\n")
    assert parse_mix_spec(blend, "README blend.yaml").method == "weights"


def test_the_readme_names_the_shipped_specs():
    for name in shipped_specs():
        assert f"`{name}`" in SECTION
