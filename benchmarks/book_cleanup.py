"""The book clean-up stages against real OCR ground truth: is cleaned OCR closer to the truth
than raw OCR, and which running headers, footers and page numbers are removed?

Collections (../shared/data/books, read when there; nothing of it enters the repository):
1. ICDAR 2019 post-OCR documents (417, 9 languages): `ocr_text` vs `gt_text`, "#" in the truth
   masked (no gold for that character: free to match, free to miss). Both texts are flattened
   (line breaks became single spaces), so a letter + hyphen + space marks a former line end:
   the benchmark restores "\\n" there before the clean-up, which is what OCR output looks like.
2. OCR-D Kant 1784 (2 pages, German Fraktur): Calamari OCR (PAGE-XML lines) vs the manual
   PAGE-XML ground truth, whose regions are typed (paragraph, heading, page-number, header,
   footer, catch-word, signature-mark): the truth is its content regions, the furniture is what
   header removal should take out (OCR lines are matched to truth lines by edit distance).
3. hocr-tools' sample page (hOCR) vs its ground-truth text.
4. The real PDFs' text (pypdf's reference text, pages split on "\f"; no truth): what
   running_headers removes, per document, by line shape, for audit (`--show-removed` prints the
   lines), and bare numbers removed from inside a page rather than its first or last line.
5. Held out (never used to write a rule): ocr_gt_segments' region pairs of ajmc (OCR of a
   Greek commentary) and htrec (HTR of Byzantine manuscripts), see `segment_regions`.

The clean-up is the text-changing part of the `books` preset (`CLEANUP`): normalize (ligatures),
running_headers, front_back_matter, dehyphenate, rejoin_split_words, unwrap_lines (pages
joined, as a reader of the text sees it). Each collection also prints how many OCR lines
running_headers removed (the target: at most 1% of true content lines). The collections other than
ICDAR also print the cleaned text's remaining character edits by kind (`EDIT_CLASSES`:
diacritics, punctuation, case, white space, letters), what separates it from its truth.

Like with like. Every text is NFC and white space is collapsed to single spaces (un-wrapping
changes only white space, which no truth here encodes). The truths are diplomatic: they keep
the printer's line-end hyphens. Two scores, so that neither hides anything:
- reading CER/WER: the truth as reading text, its line-end hyphens joined where the next line
  goes on in lower case (the typographic rule, not the stage's vocabulary), so a raw OCR's
  "Pur- gon" costs what it costs a reader;
- content CER/WER: hyphens between letters (with or without a line break) removed from all three
  texts, so hyphenation is invisible and only changes of content (lines removed) count.
WER compares white-space tokens (punctuation attached); a truth token with "#" is a wildcard.

`--split tune|report|both`: ICDAR documents alternate between a tune half (even position in
their subset) and a report half (odd); the `ocr_quality` threshold of the preset is chosen on
the tune half only (the best F1 at telling documents whose raw CER exceeds `--bad-cer` apart),
and both halves are printed.

usage: PYTHONPATH=. .venv/bin/python benchmarks/book_cleanup.py [--split both] [--bad-cer 0.2]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import re
import sys
import unicodedata
from collections import Counter, defaultdict
from pathlib import Path

import ftfy.chardata
import numba as nb
import numpy as np
import pyarrow as pa

from textmill.pipeline import build_stage
from textmill.stages.books.dehyphenate import HYPHENS, MARKS

HERE = Path(__file__).resolve().parent
SHARED = Path(os.environ.get("TEXTMILL_SHARED_DATA", HERE.parents[1] / "shared" / "data"))
BOOKS = SHARED / "books"
CLEANUP = [  # the books preset's text-changing stages, in its order
    ("normalize", {"fix_latin_ligatures": True}),
    ("running_headers", {"keep_removed": True}),
    ("front_back_matter", {}),
    ("dehyphenate", {}),
    ("rejoin_split_words", {}),
    ("unwrap_lines", {"keep_page_breaks": False}),
]
FURNITURE = {"page-number", "header", "footer", "catch-word", "signature-mark"}
WILDCARD = -1


# ---------------------------------------------------------------- edit distance with a mask


@nb.njit(cache=True)
def masked_distance(hyp: np.ndarray, ref: np.ndarray) -> int:
    """Levenshtein distance where a reference symbol WILDCARD matches anything and may be
    missed for free (ICDAR's "#": no gold for that character)."""
    m = len(ref)
    previous = np.zeros(m + 1, dtype=np.int64)
    for j in range(1, m + 1):
        previous[j] = previous[j - 1] + (0 if ref[j - 1] == WILDCARD else 1)
    current = np.zeros(m + 1, dtype=np.int64)
    for i in range(1, len(hyp) + 1):
        current[0] = i
        for j in range(1, m + 1):
            wild = ref[j - 1] == WILDCARD
            substitute = previous[j - 1] + (0 if wild or hyp[i - 1] == ref[j - 1] else 1)
            delete_ref = current[j - 1] + (0 if wild else 1)
            insert_hyp = previous[j] + 1
            current[j] = min(substitute, delete_ref, insert_hyp)
        previous, current = current, previous
    return previous[m]


def char_codes(text: str, masked: bool) -> np.ndarray:
    codes = np.array([ord(c) for c in text], dtype=np.int64)
    if masked:
        codes[codes == ord("#")] = WILDCARD
    return codes


def word_codes(words: list[str], vocabulary: dict[str, int], masked: bool) -> np.ndarray:
    return np.array(
        [
            WILDCARD if masked and "#" in w else vocabulary.setdefault(w, len(vocabulary))
            for w in words
        ],
        dtype=np.int64,
    )


def error_counts(hyp: str, ref: str, masked: bool) -> tuple[int, int, int, int]:
    """(character edits, reference characters, word edits, reference words), "#" masked."""
    vocabulary: dict[str, int] = {}
    ref_words, hyp_words = ref.split(), hyp.split()
    chars = masked_distance(char_codes(hyp, False), char_codes(ref, masked))
    words = masked_distance(
        word_codes(hyp_words, vocabulary, False), word_codes(ref_words, vocabulary, masked)
    )
    known_chars = len(ref) - (ref.count("#") if masked else 0)
    known_words = sum(1 for w in ref_words if not (masked and "#" in w))
    return int(chars), known_chars, int(words), known_words


# ---------------------------------------------------------------- canonical forms

_SPACE = re.compile(r"\s+")
_READING_JOIN = re.compile(rf"([^\W\d_][{MARKS}]*)[{HYPHENS}]\s+(?=[^\W\d_])")
_ANY_HYPHEN = re.compile(rf"(?<=[^\W\d_]|[{MARKS}])[{HYPHENS}]\s*(?=[^\W\d_])")


_LIGATURES = str.maketrans(ftfy.chardata.LIGATURES)


def flat(text: str) -> str:
    return _SPACE.sub(" ", unicodedata.normalize("NFC", text)).strip()


def unligatured(text: str) -> str:
    """Presentation-form ligatures (ﬁ ﬂ ﬀ, Dutch ĳ) as their letters, Unicode's compatibility
    mapping: the diplomatic truths transcribe the glyph, a reader (and a model) sees letters."""
    return text.translate(_LIGATURES)


def reading_truth(truth: str) -> str:
    """The diplomatic truth as reading text: a line-end hyphen joined where the next word goes on
    in lower case (truths here are flattened, so a line end is the hyphen + white space)."""
    return unligatured(
        flat(
            _READING_JOIN.sub(
                lambda m: m.group(1) if m.string[m.end()].islower() else m.group(0), truth
            )
        )
    )


def content_form(text: str) -> str:
    return _ANY_HYPHEN.sub("", unligatured(flat(text)))


# ---------------------------------------------------------------- collections


def icdar_documents() -> list[dict]:
    path = BOOKS / "ocr_gt_documents.jsonl.gz"
    with gzip.open(path, "rt", encoding="utf-8") as lines:
        rows = [json.loads(line) for line in lines]
    position: dict[str, int] = defaultdict(int)
    for row in rows:
        row["split"] = "tune" if position[row["subset"]] % 2 == 0 else "report"
        position[row["subset"]] += 1
        # The flattened OCR's line ends where a hyphen is followed by a space.
        row["ocr_lines"] = re.sub(rf"([^\W\d_][{MARKS}]*[{HYPHENS}]) ", r"\1\n", row["ocr_text"])
    return rows


def read_with_textmill(reader, path: Path) -> tuple[str, dict]:
    """A file as textmill's own reader gives it to the pipeline: (text, metadata)."""
    from textmill.io import ReadOptions

    (batch,) = reader(str(path), ReadOptions())
    if batch.errors:
        raise SystemExit(f"{path}: {batch.errors[0].message}")
    [row] = batch.docs.select(["text", "metadata"]).to_pylist()
    return row["text"], json.loads(row["metadata"])


def kant_book() -> dict | None:
    """Both pages read by textmill's PAGE-XML reader: the OCR's regions are untyped (all text);
    the truth's furniture regions are left out of its text and listed in `page_furniture`."""
    from textmill.io.page_xml import read_page_xml

    folder = BOOKS / "ocr_xml"
    pages = ["kant1784_p0017", "kant1784_p0020"]
    if not all((folder / f"{p}.gt.page.xml").exists() for p in pages):
        return None
    ocr_pages, truth_pages, truth_lines = [], [], []
    for page in pages:
        ocr, _ = read_with_textmill(read_page_xml, folder / f"{page}.ocr-calamari.page.xml")
        ocr_pages.append(ocr)
        truth, metadata = read_with_textmill(read_page_xml, folder / f"{page}.gt.page.xml")
        truth_pages.append(truth)
        truth_lines += [(line, False) for line in truth.splitlines() if line.strip()]
        truth_lines += [(f["text"], True) for f in metadata.get("page_furniture", [])]
    return {
        "id": "kant1784",
        "ocr_lines": "\f".join(ocr_pages),
        "gt_text": "\n".join(truth_pages),
        "truth_lines": truth_lines,
        "lang": "de",
    }


def hocr_sample() -> dict | None:
    from textmill.io.ocr_xml import read_hocr

    folder = BOOKS / "ocr_xml"
    hocr, truth = folder / "hocrtools_sample.hocr.html", folder / "hocrtools_sample.gt.txt"
    if not hocr.exists() or not truth.exists():
        return None
    text, _ = read_with_textmill(read_hocr, hocr)
    return {
        "id": "hocrtools_sample",
        "ocr_lines": text,
        "gt_text": truth.read_text(encoding="utf-8"),
        "lang": "en",
    }


def segment_regions() -> dict[str, list[dict]]:
    """The region-level pairs of collections other than ICDAR in ocr_gt_segments (ajmc: a Greek
    commentary's OCR; htrec: Byzantine Greek handwriting, HTR), never looked at while writing
    the clean-up: the held-out collections. Flattened like ICDAR's, so a letter + hyphen +
    space is put back as a line end."""
    path = BOOKS / "ocr_gt_segments.jsonl.gz"
    if not path.exists():
        return {}
    collections: dict[str, list[dict]] = defaultdict(list)
    with gzip.open(path, "rt", encoding="utf-8") as lines:
        for line in lines:
            row = json.loads(line)
            if row["dataset"] == "icdar-2019" or row["granularity"] != "region":
                continue
            row["ocr_lines"] = re.sub(
                rf"([^\W\d_][{MARKS}]*[{HYPHENS}]) ", r"\1\n", row["ocr_text"]
            )
            collections[f"{row['dataset']} ({row['recognition']})"].append(row)
    return dict(collections)


# ---------------------------------------------------------------- running the clean-up


def clean(texts: list[str]) -> tuple[list[str], list[list[str]]]:
    table = pa.table({"id": [str(i) for i in range(len(texts))], "text": texts})
    for name, options in CLEANUP:
        table, _ = build_stage(name, options).process(table)
    return table["text"].to_pylist(), table["removed_line_texts"].to_pylist()


def ocr_quality(texts: list[str]) -> np.ndarray:
    table = pa.table({"id": [str(i) for i in range(len(texts))], "text": texts})
    metrics = build_stage("ocr_quality", {}).measure(table)
    return np.array(metrics["ocr_quality"].to_pylist(), dtype=float)


def score(raw: str, cleaned: str, truth: str, masked: bool) -> dict[str, tuple[int, int, int, int]]:
    read_ref = reading_truth(truth)
    content_ref = content_form(truth)
    return {
        "raw_reading": error_counts(flat(raw), read_ref, masked),
        "clean_reading": error_counts(flat(cleaned), read_ref, masked),
        "raw_content": error_counts(content_form(raw), content_ref, masked),
        "clean_content": error_counts(content_form(cleaned), content_ref, masked),
    }


def add(total: dict, scores: dict) -> None:
    for key, values in scores.items():
        total[key] = [a + b for a, b in zip(total.get(key, [0, 0, 0, 0]), values, strict=True)]


def rates(total: dict) -> str:
    def r(key: str) -> str:
        ce, cn, we, wn = total[key]
        return f"{100 * ce / max(cn, 1):6.2f} {100 * we / max(wn, 1):6.2f}"

    return (
        f"reading CER/WER raw {r('raw_reading')} → clean {r('clean_reading')} | "
        f"content CER/WER raw {r('raw_content')} → clean {r('clean_content')}"
    )


def strictly_closer(total: dict) -> str:
    verdicts = []
    for form in ("reading", "content"):
        raw, cleaned = total[f"raw_{form}"], total[f"clean_{form}"]
        better = cleaned[0] < raw[0] and cleaned[2] <= raw[2]
        verdicts.append(f"{form}: {'closer' if better else 'NOT closer'}")
    return ", ".join(verdicts)


def without_marks(text: str) -> str:
    letters = (c for c in unicodedata.normalize("NFD", text) if not unicodedata.combining(c))
    return unicodedata.normalize("NFC", "".join(letters))


_NOT_WORD = re.compile(r"[^\w\s]")
# What separates a text from its truth, folded away from both in this order (each fold keeps
# the ones before it): combining marks (accents, breathings, cedillas), then punctuation and
# symbols, then case, then white space (words split or merged); what is left is letters and
# digits recognised wrong. Order matters only where two kinds meet in one edit.
EDIT_CLASSES = (
    ("diacritics", without_marks),
    ("punctuation", lambda text: flat(_NOT_WORD.sub("", text))),
    ("case", str.lower),
    ("white space", lambda text: _SPACE.sub("", text)),
)


def edit_classes(pairs: list[tuple[str, str]]) -> str:
    """The character edits between texts and their reading truths, split by kind: the drop in
    edits as each class in EDIT_CLASSES is folded away, and the letter/digit edits left."""
    hyps = [flat(text) for text, _ in pairs]
    refs = [reading_truth(truth) for _, truth in pairs]
    reference_chars = sum(len(ref) for ref in refs)
    edits = [sum(error_counts(h, r, False)[0] for h, r in zip(hyps, refs, strict=True))]
    for _, fold in EDIT_CLASSES:
        hyps, refs = [fold(h) for h in hyps], [fold(r) for r in refs]
        edits.append(sum(error_counts(h, r, False)[0] for h, r in zip(hyps, refs, strict=True)))
    parts = [
        f"{name} {before - after}"
        for (name, _), before, after in zip(EDIT_CLASSES, edits[:-1], edits[1:], strict=True)
    ]
    return (
        f"cleaned text's character edits {edits[0]} ({100 * edits[0] / max(reference_chars, 1):.2f}"
        f"% CER): {', '.join(parts)}, letters/digits {edits[-1]}"
    )


def header_removal(book: dict, removed: list[str]) -> str:
    """Removed OCR lines matched to truth lines (smallest edit distance): furniture or content."""
    truth = book["truth_lines"]
    furniture = sum(is_furniture for _, is_furniture in truth)
    content = len(truth) - furniture
    right = wrong = 0
    for line in removed:
        distances = [error_counts(line, t, False)[0] / max(len(t), 1) for t, _ in truth]
        best = int(np.argmin(distances))
        if truth[best][1]:
            right += 1
        else:
            wrong += 1
    return (
        f"furniture lines (page number, header, footer, catch-word, signature mark) {furniture}, "
        f"removed {right} (recall {100 * right / max(furniture, 1):.0f}%); content lines "
        f"{content}, wrongly removed {wrong} ({100 * wrong / max(content, 1):.2f}%)"
    )


def removed_lines(rows: list[dict], removed: list[list[str]]) -> str:
    """How many of the OCR's non-blank lines running_headers took out (these truths type no
    lines: a removed content line shows as a higher content CER, and is listed here)."""
    lines = sum(1 for r in rows for line in r["ocr_lines"].splitlines() if line.strip())
    taken = [line for lines_of_row in removed for line in lines_of_row]
    shown = "; ".join(taken[:5]) + (" ..." if len(taken) > 5 else "")
    share = 100 * len(taken) / max(lines, 1)
    return f"lines removed {len(taken)} of {lines} ({share:.2f}%) {shown}"


def choose_threshold(truth_quality: np.ndarray, keep_share: float) -> float:
    """The ocr_quality under which only 1 - keep_share of clean text (the ground truths of the
    tune half) falls, rounded down to 0.01: FineWeb-2's way of setting a threshold from
    reference text, so that the filter drops bad OCR, not historical spelling."""
    return float(np.floor(np.nanquantile(truth_quality, 1 - keep_share) * 100) / 100)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--split", choices=["tune", "report", "both"], default="both")
    parser.add_argument("--bad-cer", type=float, default=0.2)
    parser.add_argument("--keep-share", type=float, default=0.95)
    parser.add_argument("--show-removed", action="store_true")
    args = parser.parse_args()
    if not BOOKS.exists():
        sys.exit(f"no {BOOKS}: the benchmark needs ../shared/data/books")

    rows = icdar_documents()
    cleaned, removed = clean([r["ocr_lines"] for r in rows])
    quality = ocr_quality([r["ocr_text"] for r in rows])
    truth_quality = ocr_quality([r["gt_text"].replace("#", "") for r in rows])
    splits = ["tune", "report"] if args.split == "both" else [args.split]
    print("== ICDAR 2019 (417 documents; '#' masked). CER and WER in %")
    raw_cer = np.zeros(len(rows))
    per = defaultdict(dict)
    for i, (row, text) in enumerate(zip(rows, cleaned, strict=True)):
        scores = score(row["ocr_lines"], text, row["gt_text"], masked=True)
        ce, cn, _, _ = scores["raw_reading"]
        raw_cer[i] = ce / max(cn, 1)
        for key in (row["split"], f"{row['split']}:{row['lang']}", "all"):
            add(per[key], scores)
    for split in splits:
        print(f"{split:>10} all  {rates(per[split])}  [{strictly_closer(per[split])}]")
        for lang in sorted({r["lang"] for r in rows}):
            print(f"{split:>10} {lang:4} {rates(per[f'{split}:{lang}'])}")
    print(f"{'both':>10} all  {rates(per['all'])}  [{strictly_closer(per['all'])}]")
    print(f"{'':>10} {removed_lines(rows, removed)}")

    bad = raw_cer > args.bad_cer
    tune = np.array([r["split"] == "tune" for r in rows])
    threshold = choose_threshold(truth_quality[tune], args.keep_share)
    print(
        f"\n== ocr_quality: threshold {threshold} keeps {100 * args.keep_share:.0f}% of the tune "
        f"half's ground truths; bad = raw CER > {args.bad_cer}"
    )
    for name, mask in (("tune", tune), ("report", ~tune)):
        flagged = quality[mask] < threshold
        truth_dropped = float(np.mean(truth_quality[mask] < threshold))
        tp = int((flagged & bad[mask]).sum())
        rho = np.corrcoef(
            np.argsort(np.argsort(quality[mask])), np.argsort(np.argsort(raw_cer[mask]))
        )[0, 1]
        print(
            f"{name:>10}: ground truths dropped {100 * truth_dropped:.1f}%; raw OCR flagged "
            f"{int(flagged.sum())}/{int(mask.sum())}, "
            f"precision {tp / max(int(flagged.sum()), 1):.2f}, "
            f"recall {tp / max(int(bad[mask].sum()), 1):.2f}; Spearman(quality, CER) {rho:.2f}"
        )

    for make in (kant_book, hocr_sample):
        book = make()
        if book is None:
            continue
        (text,), (removed,) = clean([book["ocr_lines"]])
        total: dict = {}
        add(total, score(book["ocr_lines"], text, book["gt_text"], masked=False))
        print(f"\n== {book['id']}: {rates(total)}  [{strictly_closer(total)}]")
        print("   " + edit_classes([(text, book["gt_text"])]))
        if "truth_lines" in book:
            print("   " + header_removal(book, removed))
    for name, regions in segment_regions().items():
        texts, removed = clean([r["ocr_lines"] for r in regions])
        total = {}
        for row, text in zip(regions, texts, strict=True):
            add(total, score(row["ocr_lines"], text, row["gt_text"], masked=False))
        print(f"\n== {name}, {len(regions)} regions: {rates(total)}  [{strictly_closer(total)}]")
        print(f"   {removed_lines(regions, removed)}")
        truths = [row["gt_text"] for row in regions]
        print("   " + edit_classes(list(zip(texts, truths, strict=True))))
    pdf_audit(args.show_removed)


def pdf_audit(show_removed: bool) -> None:
    from textmill.stages.books.running_headers import line_shape

    path = BOOKS / "pdfs_manifest.jsonl.gz"
    if not path.exists():
        return
    with gzip.open(path, "rt", encoding="utf-8") as lines:
        rows = [json.loads(line) for line in lines]
    rows = [r for r in rows if (r.get("reference_text_pypdf") or "").count("\f") >= 2]
    texts = [r["reference_text_pypdf"] for r in rows]
    table = pa.table({"id": [r["id"] for r in rows], "text": texts})
    out = build_stage("running_headers", {"keep_removed": True}).map(table)
    pages = sum(t.count("\f") + 1 for t in texts)
    content = sum(1 for t in texts for line in t.split("\n") if line.strip())
    removed_total, inner = 0, []
    print(
        f"\n== real PDFs (pypdf text, {len(rows)} documents of 3+ pages, {pages} pages, no truth)"
    )
    cleaned = out["text"].to_pylist()
    for row, text, removed, after in zip(
        rows, texts, out["removed_line_texts"].to_pylist(), cleaned, strict=True
    ):
        removed_total += len(removed)
        for page, page_after in zip(text.split("\f"), after.split("\f"), strict=True):
            filled = [line for line in page.split("\n") if line.strip()]
            left = Counter(page_after.split("\n"))
            for line in filled:
                if left[line]:
                    left[line] -= 1
                elif line_shape(line) == "#" and line not in (filled[0], filled[-1]):
                    inner.append((row["id"], line.strip()))
        shapes: dict[str, int] = defaultdict(int)
        for line in removed:
            shapes[line_shape(line)] += 1
        top = ", ".join(f"{k!r}×{v}" for k, v in sorted(shapes.items(), key=lambda kv: -kv[1])[:3])
        print(
            f"   {row['id'][:44]:44} pages {row['reference_text_pypdf'].count(chr(12)) + 1:3} "
            f"removed {len(removed):3}  {top}"
        )
        if show_removed:
            print("      " + " | ".join(removed))
    print(
        f"   removed {removed_total} of {content} non-blank lines; bare numbers removed from "
        f"inside a page (candidates for a wrong removal): {inner}"
    )


if __name__ == "__main__":
    main()
