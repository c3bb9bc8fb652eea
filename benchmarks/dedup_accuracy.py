"""Near-duplicate detection accuracy on real web text with planted near-duplicates of known Jaccard.

Variants of real documents are made by word substitutions, insertions, deletions, boilerplate
swaps (header/footer lines from another document) and line-block reordering, at random
strengths. The truth is the exact Jaccard of word 5-gram sets after FineWeb's normalisation
(lower case, punctuation to spaces, numbers to "0", diacritics stripped), computed for every
pair with J ≥ 0.6 (prefix filtering finds them all, natural near-duplicates included).

Scoring: in each connected cluster of pairs with J ≥ 0.8, all but one member must be dropped
(true positives up to size − 1, false negatives for the rest, extra drops are false positives
unless the cluster touches a 0.6–0.8 pair); a document with no partner at J ≥ 0.6 must stay
(dropping it is a false positive); everything else is not scored.

A method is a function (documents, scratch folder) → dropped ids; add one to METHODS to
compare (datatrove and datasketch plug in the same way).

usage: .venv/bin/python benchmarks/dedup_accuracy.py [--input PATH] [--seed N] [--methods textmill]
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import sys
import tempfile
import time
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numba
import numpy as np
import xxhash

DATA = Path("/work/shared/data/web/web_text.jsonl.gz")
NGRAM = 5
MUST_GO, MUST_STAY = 0.8, 0.6
EDITS = ("substitute", "insert", "delete", "boilerplate", "reorder")

Documents = list[tuple[str, str]]  # (id, text)
Method = Callable[[Documents, Path], set[str]]


# ---------------------------------------------------------------- truth


_NUMBER = re.compile(r"\d+(\.\d+)?")


class _CharTable(dict):
    """str.translate table filled on first sight of each character."""

    def __init__(self, rule: Callable[[str], str | None]):
        super().__init__()
        self.rule = rule

    def __missing__(self, code: int) -> str | None:
        self[code] = self.rule(chr(code))
        return self[code]


_SEPARATORS = _CharTable(lambda c: " " if unicodedata.category(c)[0] in "PSZC" else c)
_MARKS = _CharTable(lambda c: None if unicodedata.category(c) == "Mn" else c)


def simplify(text: str) -> list[str]:
    """FineWeb's MinHash normalisation (datatrove's simplify_text), then whitespace words."""
    text = _NUMBER.sub("0", text.lower()).translate(_SEPARATORS)
    return unicodedata.normalize("NFD", text).translate(_MARKS).split()


def shingle_set(text: str) -> np.ndarray:
    """Sorted unique 64-bit hashes of word 5-grams (the whole text when shorter)."""
    words = simplify(text)
    if not words:
        return np.zeros(0, np.uint64)
    width = min(NGRAM, len(words))
    grams = {
        xxhash.xxh3_64_intdigest(" ".join(words[i : i + width]).encode())
        for i in range(len(words) - width + 1)
    }
    return np.array(sorted(grams), dtype=np.uint64)


@numba.njit(cache=True)
def _shared_counts(flat, offsets, lefts, rights):
    """Size of the intersection of sorted sets flat[offsets[a]:offsets[a+1]] for each pair."""
    out = np.zeros(len(lefts), dtype=np.int64)
    for k in range(len(lefts)):
        i, i_end = offsets[lefts[k]], offsets[lefts[k] + 1]
        j, j_end = offsets[rights[k]], offsets[rights[k] + 1]
        while i < i_end and j < j_end:
            if flat[i] == flat[j]:
                out[k] += 1
                i += 1
                j += 1
            elif flat[i] < flat[j]:
                i += 1
            else:
                j += 1
    return out


def similar_pairs(sets: list[np.ndarray], threshold: float) -> dict[tuple[int, int], float]:
    """Every pair with Jaccard ≥ threshold (prefix filtering: such a pair shares a token among
    the first |A| − ⌈t·|A|⌉ + 1 of each set in any fixed global order; sizes within a factor t)."""
    owners: dict[int, list[int]] = {}
    for doc, hashes in enumerate(sets):
        prefix = len(hashes) - int(np.ceil(threshold * len(hashes))) + 1 if len(hashes) else 0
        for h in hashes[:prefix].tolist():
            owners.setdefault(h, []).append(doc)
    sizes = np.array([len(s) for s in sets], dtype=np.int64)
    candidates = np.array(
        sorted(
            {(a, b) for docs in owners.values() for i, a in enumerate(docs) for b in docs[i + 1 :]}
        ),
        dtype=np.int64,
    ).reshape(-1, 2)
    small = np.minimum(sizes[candidates[:, 0]], sizes[candidates[:, 1]])
    large = np.maximum(sizes[candidates[:, 0]], sizes[candidates[:, 1]])
    candidates = candidates[small >= threshold * large]
    offsets = np.concatenate([[0], np.cumsum(sizes)])
    flat = np.concatenate(sets) if sets else np.zeros(0, np.uint64)
    shared = _shared_counts(flat, offsets, candidates[:, 0], candidates[:, 1])
    union = sizes[candidates[:, 0]] + sizes[candidates[:, 1]] - shared
    jaccard = shared / np.maximum(union, 1)
    keep = jaccard >= threshold
    return {
        (int(a), int(b)): float(j)
        for (a, b), j in zip(candidates[keep], jaccard[keep], strict=True)
    }


# ---------------------------------------------------------------- planting near-duplicates


def edit(text: str, kind: str, strength: float, donor: str, rng: np.random.Generator) -> str:
    """One variant of `text`; strength is roughly the share of words touched."""
    lines = text.split("\n")
    if kind == "reorder":
        blocks = max(2, int(strength * 40))
        cuts = (
            sorted(
                rng.choice(
                    np.arange(1, max(2, len(lines))),
                    size=min(blocks, max(1, len(lines) - 1)),
                    replace=False,
                ).tolist()
            )
            if len(lines) > 2
            else []
        )
        parts = [lines[i:j] for i, j in zip([0, *cuts], [*cuts, len(lines)], strict=True)]
        order = rng.permutation(len(parts))
        return "\n".join(line for k in order for line in parts[k])
    if kind == "boilerplate":
        donor_lines = [line for line in donor.split("\n") if line.strip()]
        words = len(text.split())
        take, header, footer = max(1, int(strength * words)), [], []
        for line in donor_lines:
            (header if len(header) <= len(footer) else footer).append(line)
            if sum(len(x.split()) for x in header + footer) >= take:
                break
        return "\n".join([*header, *lines, *footer])
    tokens = text.replace("\n", " \n ").split(" ")
    positions = [i for i, t in enumerate(tokens) if t and t != "\n"]
    count = max(1, int(strength * len(positions)))
    chosen = set(rng.choice(positions, size=min(count, len(positions)), replace=False).tolist())
    vocabulary = donor.split() or ["word"]
    out = []
    for i, token in enumerate(tokens):
        if i in chosen:
            filler = vocabulary[int(rng.integers(len(vocabulary)))]
            if kind == "substitute":
                out.append(filler)
                continue
            if kind == "insert":
                out.extend([token, filler])
                continue
            if kind == "delete":
                continue
        out.append(token)
    return " ".join(out).replace(" \n ", "\n")


@dataclass
class Corpus:
    docs: Documents
    kinds: dict[str, str] = field(default_factory=dict)  # variant id → edit kind


def plant(bases: Documents, seed: int) -> Corpus:
    rng = np.random.default_rng(seed)
    docs = list(bases)
    kinds = {}
    for index, (doc_id, text) in enumerate(bases):
        if rng.random() > 0.6:
            continue
        source = text
        for k in range(int(rng.integers(1, 4))):
            kind = EDITS[int(rng.integers(len(EDITS)))]
            strength = float(np.exp(rng.uniform(np.log(0.002), np.log(0.25))))
            donor = bases[(index + 1 + int(rng.integers(len(bases) - 1))) % len(bases)][1]
            variant = edit(source, kind, strength, donor, rng)
            variant_id = f"{doc_id}-v{k}"
            docs.append((variant_id, variant))
            kinds[variant_id] = kind
            if rng.random() < 0.3:
                source = variant  # edits of edits: chains
    order = rng.permutation(len(docs))
    return Corpus([docs[i] for i in order], kinds)


# ---------------------------------------------------------------- scoring


@dataclass
class Truth:
    clusters: list[list[int]]  # components of J ≥ 0.8 pairs
    bridged: list[bool]  # the cluster touches a 0.6–0.8 pair
    must_stay: list[int]


def truth_of(docs: Documents) -> Truth:
    sets = [shingle_set(text) for _, text in docs]
    pairs = similar_pairs(sets, MUST_STAY)
    parent = list(range(len(docs)))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    partnered = set()
    for (a, b), jaccard in pairs.items():
        partnered.update((a, b))
        if jaccard >= MUST_GO:
            parent[find(a)] = find(b)
    groups: dict[int, list[int]] = {}
    for doc in partnered:
        groups.setdefault(find(doc), []).append(doc)
    clusters = [sorted(g) for g in groups.values() if len(g) > 1]
    weak = {x for (a, b), j in pairs.items() if j < MUST_GO for x in (a, b)}
    bridged = [any(doc in weak for doc in cluster) for cluster in clusters]
    must_stay = [doc for doc in range(len(docs)) if doc not in partnered and len(sets[doc])]
    return Truth(clusters, bridged, must_stay)


def score(truth: Truth, docs: Documents, dropped: set[str]) -> dict[str, float]:
    is_dropped = [doc_id in dropped for doc_id, _ in docs]
    tp = fn = fp = 0
    for cluster, bridged in zip(truth.clusters, truth.bridged, strict=True):
        drops = sum(is_dropped[d] for d in cluster)
        tp += min(drops, len(cluster) - 1)
        fn += max(0, len(cluster) - 1 - drops)
        fp += 0 if bridged else max(0, drops - (len(cluster) - 1))
    fp += sum(is_dropped[d] for d in truth.must_stay)
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"tp": tp, "fp": fp, "fn": fn, "precision": precision, "recall": recall, "f1": f1}


# ---------------------------------------------------------------- methods


def run_textmill(docs: Documents, scratch: Path) -> set[str]:
    """minhash_dedup with FineWeb's defaults through the local executor, one worker."""
    import pyarrow.parquet as pq

    from textmill.api import Pipeline

    inputs = scratch / "in"
    inputs.mkdir(parents=True)
    for shard in range(4):
        with open(inputs / f"part-{shard}.jsonl", "w", encoding="utf-8") as out:
            for doc_id, text in docs[shard::4]:
                out.write(json.dumps({"id": doc_id, "text": text}) + "\n")
    Pipeline(["minhash_dedup"]).run(inputs, scratch / "out", workers=1, progress=False)
    return set(pq.read_table(scratch / "out" / "rejects", columns=["id"])["id"].to_pylist())


METHODS: dict[str, Method] = {"textmill": run_textmill}


# ---------------------------------------------------------------- main


def read_texts(path: Path) -> Documents:
    with gzip.open(path, "rb") as handle:
        lines = handle.read().decode("utf-8").split("\n")  # \n only: texts hold U+2028
    records = [json.loads(line) for line in lines if line]
    return [(f"d{i:05d}", r["text"]) for i, r in enumerate(records) if len(r["text"].split()) >= 20]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--input", type=Path, default=DATA)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=list(METHODS))
    args = parser.parse_args()
    if not args.input.exists():
        print(f"{args.input} is absent: nothing to benchmark (the data lives in /work/shared/data)")
        return 0
    corpus = plant(read_texts(args.input), args.seed)
    started = time.perf_counter()
    truth = truth_of(corpus.docs)
    must_go = sum(len(c) - 1 for c in truth.clusters)
    print(
        f"{len(corpus.docs):,} documents ({len(corpus.kinds):,} planted variants); "
        f"{len(truth.clusters):,} clusters at J ≥ {MUST_GO} ({must_go:,} must go), "
        f"{len(truth.must_stay):,} must stay (J < {MUST_STAY}); truth in "
        f"{time.perf_counter() - started:.1f} s"
    )
    print(
        f"{'method':<12}{'dropped':>9}{'TP':>7}{'FP':>6}{'FN':>6}{'P':>8}{'R':>8}{'F1':>8}{'s':>8}"
    )
    for name in args.methods:
        with tempfile.TemporaryDirectory() as scratch:
            started = time.perf_counter()
            dropped = METHODS[name](corpus.docs, Path(scratch))
            seconds = time.perf_counter() - started
        s = score(truth, corpus.docs, dropped)
        print(
            f"{name:<12}{len(dropped):>9,}{s['tp']:>7,}{s['fp']:>6,}{s['fn']:>6,}"
            f"{s['precision']:>8.3f}{s['recall']:>8.3f}{s['f1']:>8.3f}{seconds:>8.1f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
