"""Person names through a named-entity model the user installs and points the `pii` stage at.

Names have no checksum and no shape, so only a model finds them. textmill ships none and
downloads none: `ner_model` is a folder on disk, either a spaCy pipeline (`spacy.load`; the
`presidio` engine runs Presidio's analyzer over the same folder) or a GLiNER model directory
(`GLiNER.from_pretrained(..., local_files_only=True)`). Each engine is loaded once per worker.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from textmill.config import PipelineConfigError

NER_ENGINES = ("spacy", "presidio", "gliner")
ENGINE_PACKAGES = {"spacy": "spacy", "presidio": "presidio_analyzer", "gliner": "gliner"}
ENGINE_INSTALL = {
    "spacy": "pip install 'textmill[ner]' (spacy==3.8.18)",
    "presidio": "pip install presidio-analyzer==2.2.366 (and spaCy)",
    "gliner": "pip install gliner==0.2.29",
}

Span = tuple[int, int, str]


class NerUnavailable(PipelineConfigError, ImportError):
    """The engine's package is not installed (a configuration error: exit code 2)."""


class NerEngine(Protocol):
    def find(self, texts: Sequence[str]) -> list[list[Span]]:
        """For each text, the (start, end, text) spans of the wanted entity labels."""
        ...


def _require(engine: str) -> None:
    if importlib.util.find_spec(ENGINE_PACKAGES[engine]) is None:
        raise NerUnavailable(
            f"pii kind `person` with ner_engine {engine} needs `{ENGINE_PACKAGES[engine]}`, "
            f"which is not installed: {ENGINE_INSTALL[engine]}"
        )


class SpacyNer:
    """A spaCy pipeline folder (any pipeline with an `ner` or `entity_ruler` component)."""

    def __init__(self, model: Path, labels: Sequence[str], batch_size: int = 64):
        import spacy

        try:
            self.nlp = spacy.load(model)
        except (OSError, ValueError) as error:
            raise PipelineConfigError(f"{model}: not a spaCy pipeline folder ({error})") from error
        if not self.nlp.has_pipe("ner") and not self.nlp.has_pipe("entity_ruler"):
            raise PipelineConfigError(
                f"{model}: the spaCy pipeline has no ner or entity_ruler component"
            )
        self.labels = frozenset(labels)
        self.batch_size = batch_size

    def find(self, texts: Sequence[str]) -> list[list[Span]]:
        return [
            [(e.start_char, e.end_char, e.text) for e in doc.ents if e.label_ in self.labels]
            for doc in self.nlp.pipe(texts, batch_size=self.batch_size)
        ]


class PresidioNer:
    """Presidio's AnalyzerEngine over a spaCy pipeline folder; only the wanted entities."""

    def __init__(self, model: Path, labels: Sequence[str], language: str, threshold: float):
        from presidio_analyzer import AnalyzerEngine
        from presidio_analyzer.nlp_engine import SpacyNlpEngine

        nlp_engine = SpacyNlpEngine(models=[{"lang_code": language, "model_name": str(model)}])
        nlp_engine.load()
        self.analyzer = AnalyzerEngine(nlp_engine=nlp_engine, supported_languages=[language])
        self.labels = list(labels)
        self.language = language
        self.threshold = threshold

    def find(self, texts: Sequence[str]) -> list[list[Span]]:
        out = []
        for text in texts:
            results = self.analyzer.analyze(
                text, entities=self.labels, language=self.language, score_threshold=self.threshold
            )
            out.append([(r.start, r.end, text[r.start : r.end]) for r in results])
        return out


class GlinerNer:
    """A GLiNER model directory; labels are GLiNER's free-text entity types (`person`)."""

    def __init__(self, model: Path, labels: Sequence[str], threshold: float):
        from gliner import GLiNER

        self.model = GLiNER.from_pretrained(str(model), local_files_only=True)
        self.labels = [label.lower() for label in labels]
        self.threshold = threshold

    def find(self, texts: Sequence[str]) -> list[list[Span]]:
        return [
            [
                (e["start"], e["end"], e["text"])
                for e in self.model.predict_entities(text, self.labels, threshold=self.threshold)
            ]
            for text in texts
        ]


def load_ner(
    engine: str, model: str | None, labels: Sequence[str], language: str, threshold: float
) -> NerEngine:
    """The engine over a model folder the user supplied; clear errors for what is missing."""
    if model is None:
        raise PipelineConfigError(
            "pii kind `person` needs `ner_model`: a spaCy pipeline or GLiNER folder"
        )
    path = Path(model).expanduser()
    if not path.is_dir():
        raise FileNotFoundError(f"pii ner_model {path} is not a folder")
    _require(engine)
    if engine == "spacy":
        return SpacyNer(path, labels)
    if engine == "presidio":
        _require("spacy")
        return PresidioNer(path, labels, language, threshold)
    return GlinerNer(path, labels, threshold)
