"""Runs datatrove's FineWeb pipeline (examples/fineweb.py's steps) on a folder of WARC files, on
one core, and writes the kept documents' URLs and each step's seconds as JSON. Executed by
fineweb_end_to_end.py inside the datatrove venv (benchmarks/.venv-datatrove); it imports nothing
from textmill.

Steps: WarcReader, URLFilter, Trafilatura(favour_precision=True), LanguageFilter(en, 0.65),
GopherRepetitionFilter, GopherQualityFilter, C4QualityFilter(filter_no_terminal_punct=False),
FineWebQualityFilter, then MinHash (datatrove_minhash.py's four steps) and PIIFormatter.
Offline changes only: the fastText model is the file given (the same lid.176 textmill uses, as
the downloaded lid.176.bin cannot be fetched here) and tldextract uses its bundled suffix list.

usage: datatrove_fineweb.py WARC_DIR WORK_DIR OUTPUT.json --lid lid.176.ftz
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path


def step_seconds(logs: Path) -> dict[str, float]:
    """Seconds per pipeline step from datatrove's own stats.json (its `time_stats`)."""
    seconds: dict[str, float] = {}
    for entry in json.loads((logs / "stats.json").read_text()):
        stats = entry.get("time_stats")  # a step that saw no document has none
        total = stats.get("total") if isinstance(stats, dict) else None
        if total is not None:
            seconds[entry["name"]] = seconds.get(entry["name"], 0.0) + float(total)
    return seconds


def local_lid(base: type) -> type:
    """datatrove's FT176LID reading a local model file (the executor deep-copies the pipeline
    before it runs, so the model must load lazily, as datatrove's own does)."""

    class LocalLID(base):
        def __init__(self, languages: list[str], path: str) -> None:
            super().__init__(languages)
            self.path = path

        @property
        def model(self):
            if self._model is None:
                from fasttext.FastText import _FastText

                self._model = _FastText(self.path)
            return self._model

    return LocalLID


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("warcs", type=Path)
    parser.add_argument("workdir", type=Path)
    parser.add_argument("output", type=Path)
    parser.add_argument("--lid", required=True, help="a fastText language-id model file")
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.extractors import Trafilatura
    from datatrove.pipeline.filters import (
        C4QualityFilter,
        FineWebQualityFilter,
        GopherQualityFilter,
        GopherRepetitionFilter,
        LanguageFilter,
        URLFilter,
    )
    from datatrove.pipeline.formatters import PIIFormatter
    from datatrove.pipeline.readers import JsonlReader, WarcReader
    from datatrove.pipeline.writers import JsonlWriter
    from datatrove.utils.lid import FT176LID
    from datatrove_minhash import minhash_executors
    from tldextract import TLDExtract

    LocalLID = local_lid(FT176LID)
    url_filter = URLFilter()
    url_filter.tldextractor = TLDExtract(suffix_list_urls=())
    language = LanguageFilter(languages=["en"], language_threshold=0.65)
    language.model = LocalLID(["en"], args.lid)
    work = args.workdir
    filtering = LocalPipelineExecutor(
        [
            WarcReader(str(args.warcs), glob_pattern="*.warc.gz"),
            url_filter,
            Trafilatura(favour_precision=True),
            language,
            GopherRepetitionFilter(),
            GopherQualityFilter(),
            C4QualityFilter(filter_no_terminal_punct=False),
            FineWebQualityFilter(),
            JsonlWriter(str(work / "filtered"), compression=None),
        ],
        tasks=1,
        workers=1,
        logging_dir=str(work / "logs" / "filtering"),
    )

    def reader():
        return JsonlReader(str(work / "filtered"), glob_pattern="*.jsonl", compression=None)

    executors = {"filtering": filtering, **minhash_executors(reader, work, (PIIFormatter(),))}
    wall: dict[str, float] = {}
    for name, executor in executors.items():
        if name != "filtering" and not any((work / "filtered").glob("*.jsonl")):
            break  # every document filtered out: datatrove's MinHash readers refuse no input
        started = time.perf_counter()
        executor.run()
        wall[name] = time.perf_counter() - started
    kept = []
    for path in sorted((work / "deduplicated").glob("*.jsonl")):
        with open(path, encoding="utf-8") as handle:
            kept.extend(json.loads(line)["metadata"].get("url") for line in handle if line.strip())
    result = {
        "wall": wall,
        "steps": step_seconds(work / "logs" / "filtering"),
        "kept_urls": kept,
    }
    args.output.write_text(json.dumps(result))


if __name__ == "__main__":
    main()
