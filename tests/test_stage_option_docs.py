"""`textmill stages NAME` explains every option of the stages issues 14 and 17 promise it for
(the safety stages and the selection signals), not only its name and default."""

import pytest

from textmill.cli import main

DOCUMENTED_STAGES = (
    "decontaminate", "toxicity", "pii", "classify", "topic", "date", "lm_score", "readability"
)  # fmt: skip


@pytest.mark.parametrize("name", DOCUMENTED_STAGES)
def test_every_option_is_listed_with_its_meaning(name, capsys):
    import textmill.stages  # noqa: F401
    from textmill.pipeline import stage_class

    assert main(["stages", name]) == 0
    lines = capsys.readouterr().out.splitlines()[1:]
    options = stage_class(name).Options.model_fields
    assert [line.split()[0] for line in lines] == list(options)
    undescribed = [o for o, field in options.items() if not field.description]
    assert undescribed == []
    for line, field in zip(lines, options.values(), strict=True):
        assert line.endswith(field.description)
