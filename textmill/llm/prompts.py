"""Prompt templates: shipped presets (textmill/llm/prompts/NAME.txt, written for textmill from
the papers' descriptions) or a user's file. A template is the user message; `{text}` is
replaced by the document, and `{language}` / `{style}` by the stage's variables. Only those
names are placeholders, so braces in code or LaTeX inside a template stay as they are."""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

PLACEHOLDER = re.compile(r"\{(text|language|style)\}")

# WRAP-style rephrasing (Maini et al., 2024): a style names the register of the rephrase
STYLES = {
    "wikipedia": "in high-quality English prose, as in a Wikipedia article",
    "easy": "so that a young child can understand it, with simple words and short sentences",
    "hard": "in terse, abstruse language, as in a scholarly paper",
    "qa": "as a series of questions and answers about its content",
}
DEFAULT_VARIABLES = {"language": "English", "style": "wikipedia"}


def preset_prompts() -> list[str]:
    folder = resources.files("textmill.llm") / "prompts"
    return sorted(p.name[: -len(".txt")] for p in folder.iterdir() if p.name.endswith(".txt"))


def load_template(prompt: str | None, prompt_file: str | None) -> str:
    """The template of a preset name or a file; raises ValueError for a user's mistake."""
    if (prompt is None) == (prompt_file is None):
        raise ValueError("give exactly one of prompt (a preset name) and prompt_file")
    if prompt_file is not None:
        try:
            template = Path(prompt_file).expanduser().read_text("utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise ValueError(f"prompt_file {prompt_file}: cannot read it ({error})") from None
        origin = f"prompt_file {prompt_file}"
    else:
        path = resources.files("textmill.llm") / "prompts" / f"{prompt}.txt"
        if not path.is_file():
            raise ValueError(
                f"unknown prompt {prompt!r} (shipped: {', '.join(preset_prompts())}; or give "
                "prompt_file)"
            )
        template = path.read_text("utf-8")
        origin = f"prompt {prompt!r}"
    if "{text}" not in template:
        raise ValueError(f"{origin} has no {{text}} placeholder for the document")
    return template


def check_variables(variables: dict[str, str]) -> dict[str, str]:
    """Variables with their defaults; a style name stands for its description."""
    unknown = sorted(set(variables) - set(DEFAULT_VARIABLES))
    if unknown:
        raise ValueError(f"unknown prompt variable {unknown[0]!r} (have: language, style)")
    merged = DEFAULT_VARIABLES | variables
    merged["style"] = STYLES.get(merged["style"], merged["style"])
    return merged


def render(template: str, text: str, variables: dict[str, str]) -> str:
    values = {**variables, "text": text}
    return PLACEHOLDER.sub(lambda match: values[match.group(1)], template)
