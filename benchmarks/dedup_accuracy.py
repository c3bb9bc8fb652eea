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

The 0.7–0.8 band is scored on units: each component of J ≥ 0.8 pairs (or a lone document) is
one unit, and in every component of J ≥ 0.7 pairs over units all units but one must be gone
(a unit is gone when every member is dropped; true positives up to units − 1, false negatives
for the surviving units beyond one; all units gone is one false positive unless the component
touches a 0.6–0.7 pair); must-stay drops are false positives as above.

A method is a function (documents, scratch folder) → dropped ids; METHODS holds textmill (as
shipped: LSH candidates verified on all 112 hashes; and with `verify: false`, FineWeb's rule),
datatrove's 4-stage MinHash (FineWeb's configuration, in its own venv through
datatrove_minhash.py), datasketch MinHashLSH (14 × 8 bands, and its own choice for threshold
0.8 with 112 permutations) and rensa's RMinHashLSH (14 × 8). The reference libraries get the
truth's shingles (FineWeb-normalised word 5-grams) and cluster their LSH candidates by
union-find, keeping the smallest id, as textmill and datatrove do.

usage: .venv/bin/python benchmarks/dedup_accuracy.py [--input PATH] [--seed N] [--methods ...]
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
from _dedup_common import datatrove_python, run_datatrove_minhash, write_jsonl_shards

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "web" / "web_text.jsonl.gz"
NGRAM = 5
MUST_GO, MUST_STAY = 0.8, 0.6
BAND_LOW = 0.7  # the 0.7–0.8 band
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


def shingles(text: str) -> set[str]:
    """Word 5-grams of the normalised text (the whole text when shorter)."""
    words = simplify(text)
    width = min(NGRAM, len(words))
    return (
        {" ".join(words[i : i + width]) for i in range(len(words) - width + 1)} if words else set()
    )


def shingle_set(text: str) -> np.ndarray:
    """Sorted unique 64-bit hashes of word 5-grams (the whole text when shorter)."""
    grams = {xxhash.xxh3_64_intdigest(gram.encode()) for gram in shingles(text)}
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
    band: list[list[list[int]]]  # components of J ≥ 0.7 pairs, as lists of units (J ≥ 0.8 parts)
    band_bridged: list[bool]  # the component touches a 0.6–0.7 pair


def components(count: int, edges) -> list[int]:
    """Root of each of `count` nodes after union-find over `edges`."""
    parent = list(range(count))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in edges:
        parent[find(a)] = find(b)
    return [find(x) for x in range(count)]


def truth_of(docs: Documents) -> Truth:
    sets = [shingle_set(text) for _, text in docs]
    pairs = similar_pairs(sets, MUST_STAY)
    partnered = {x for pair in pairs for x in pair}
    root = components(len(docs), [pair for pair, j in pairs.items() if j >= MUST_GO])
    groups: dict[int, list[int]] = {}
    for doc in sorted(partnered):
        groups.setdefault(root[doc], []).append(doc)
    clusters = [g for g in groups.values() if len(g) > 1]
    weak = {x for (a, b), j in pairs.items() if j < MUST_GO for x in (a, b)}
    bridged = [any(doc in weak for doc in cluster) for cluster in clusters]
    must_stay = [doc for doc in range(len(docs)) if doc not in partnered and len(sets[doc])]

    band_root = components(len(docs), [pair for pair, j in pairs.items() if j >= BAND_LOW])
    units: dict[int, dict[int, list[int]]] = {}  # band component → unit root → members
    for doc in sorted(partnered):
        units.setdefault(band_root[doc], {}).setdefault(root[doc], []).append(doc)
    band = [list(u.values()) for u in units.values() if len(u) > 1]
    weakest = {x for (a, b), j in pairs.items() if j < BAND_LOW for x in (a, b)}
    band_bridged = [any(d in weakest for unit in comp for d in unit) for comp in band]
    return Truth(clusters, bridged, must_stay, band, band_bridged)


def score(truth: Truth, docs: Documents, dropped: set[str]) -> dict[str, float]:
    is_dropped = [doc_id in dropped for doc_id, _ in docs]
    tp = fn = fp = 0
    for cluster, bridged in zip(truth.clusters, truth.bridged, strict=True):
        drops = sum(is_dropped[d] for d in cluster)
        tp += min(drops, len(cluster) - 1)
        fn += max(0, len(cluster) - 1 - drops)
        fp += 0 if bridged else max(0, drops - (len(cluster) - 1))
    fp += sum(is_dropped[d] for d in truth.must_stay)
    return _rates(tp, fp, fn)


def score_band(truth: Truth, docs: Documents, dropped: set[str]) -> dict[str, float]:
    """The 0.7–0.8 band: all J ≥ 0.8 units of a J ≥ 0.7 component but one must be gone."""
    is_dropped = [doc_id in dropped for doc_id, _ in docs]
    tp = fn = fp = 0
    for comp, bridged in zip(truth.band, truth.band_bridged, strict=True):
        survivors = sum(not all(is_dropped[d] for d in unit) for unit in comp)
        tp += len(comp) - max(1, survivors)
        fn += max(0, survivors - 1)
        fp += 0 if survivors or bridged else 1
    fp += sum(is_dropped[d] for d in truth.must_stay)
    return _rates(tp, fp, fn)


def _rates(tp: int, fp: int, fn: int) -> dict[str, float]:
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"tp": tp, "fp": fp, "fn": fn, "precision": precision, "recall": recall, "f1": f1}


# ---------------------------------------------------------------- methods


def textmill_method(options: dict) -> Method:
    """minhash_dedup through the local executor, one worker; FineWeb's defaults plus `options`."""

    def run(docs: Documents, scratch: Path) -> set[str]:
        import pyarrow.parquet as pq

        from textmill.api import Pipeline

        write_jsonl_shards(docs, scratch / "in", shards=4)
        Pipeline([("minhash_dedup", options)]).run(
            scratch / "in", scratch / "out", workers=1, progress=False
        )
        return set(pq.read_table(scratch / "out" / "rejects", columns=["id"])["id"].to_pylist())

    return run


def run_datatrove(docs: Documents, scratch: Path) -> set[str]:
    """datatrove 0.10.1's 4 MinHash stages, FineWeb's configuration, in the datatrove venv."""
    write_jsonl_shards(docs, scratch / "in", shards=4)
    result, _ = run_datatrove_minhash(datatrove_python(), scratch / "in", scratch)
    return set(result["removed"])


def keep_smallest(docs: Documents, edges) -> set[str]:
    """Union-find over candidate edges (document indices); all but the smallest id are dropped."""
    root = components(len(docs), edges)
    kept: dict[int, str] = {}
    for index, (doc_id, _) in enumerate(docs):
        kept[root[index]] = min(kept.get(root[index], doc_id), doc_id)
    return {doc_id for index, (doc_id, _) in enumerate(docs) if kept[root[index]] != doc_id}


def datasketch_method(threshold: float, params: tuple[int, int] | None) -> Method:
    def run(docs: Documents, scratch: Path) -> set[str]:
        from datasketch import MinHash, MinHashLSH

        def signature_of(grams: set[str]):
            signature = MinHash(num_perm=112, seed=1)
            signature.update_batch([gram.encode() for gram in grams])
            return signature

        lsh = MinHashLSH(threshold=threshold, num_perm=112, params=params)
        return cluster_lsh(docs, lsh, signature_of)

    return run


def run_rensa(docs: Documents, scratch: Path) -> set[str]:
    """rensa's RMinHash + RMinHashLSH, 112 permutations in 14 bands (8 rows, FineWeb's layout)."""
    from rensa import RMinHash, RMinHashLSH

    def signature_of(grams: set[str]):
        signature = RMinHash(num_perm=112, seed=1)
        signature.update(sorted(grams))
        return signature

    lsh = RMinHashLSH(threshold=MUST_GO, num_perm=112, num_bands=14)
    return cluster_lsh(docs, lsh, signature_of)


def cluster_lsh(docs: Documents, lsh, signature_of) -> set[str]:
    """Index every document with shingles in a datasketch/rensa LSH, then cluster its candidate
    pairs by union-find keeping the smallest id (documents without shingles stay alone)."""
    signatures = []
    for index, (_, text) in enumerate(docs):
        grams = shingles(text)
        signature = signature_of(grams) if grams else None
        if signature is not None:
            lsh.insert(index, signature)
        signatures.append(signature)
    edges = [
        (index, other)
        for index, signature in enumerate(signatures)
        if signature is not None
        for other in lsh.query(signature)
        if other != index
    ]
    return keep_smallest(docs, edges)


METHODS: dict[str, Method] = {
    "textmill": textmill_method({}),  # candidates verified on all 112 hashes (default)
    "textmill_bands_only": textmill_method({"verify": False}),  # FineWeb's rule: one band links
    "datatrove": run_datatrove,
    "datasketch": datasketch_method(MUST_GO, (14, 8)),
    "datasketch_9x12": datasketch_method(MUST_GO, None),  # its choice for t = 0.8, 112 perms
    "rensa": run_rensa,
}


# ---------------------------------------------------------------- main


def read_texts(path: Path) -> Documents:
    with gzip.open(path, "rb") as handle:
        lines = handle.read().decode("utf-8").split("\n")  # \n only: texts hold U+2028
    records = [json.loads(line) for line in lines if line]
    return [(f"d{i:05d}", r["text"]) for i, r in enumerate(records) if len(r["text"].split()) >= 20]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--input", type=Path, default=DATA)
    parser.add_argument("--seed", type=int, nargs="+", default=[0], help="one set per seed")
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=list(METHODS))
    args = parser.parse_args()
    if not args.input.exists():
        print(f"{args.input} is absent: nothing to benchmark (the shared data is not mounted)")
        return 0
    bases = read_texts(args.input)
    f1s = [evaluate(plant(bases, seed), seed, args.methods) for seed in args.seed]
    if len(f1s) > 1:
        print(f"mean F1 at J ≥ {MUST_GO} over seeds {args.seed}:")
        for name in args.methods:
            values = [f1[name] for f1 in f1s]
            print(f"  {name:<16} {np.mean(values):.4f}  (min {min(values):.3f})")
    return 0


def evaluate(corpus: Corpus, seed: int, methods: list[str]) -> dict[str, float]:
    """Every method on the same planted set; one line per method and scored band; F1 at 0.8."""
    started = time.perf_counter()
    truth = truth_of(corpus.docs)
    must_go = sum(len(c) - 1 for c in truth.clusters)
    band_go = sum(len(c) - 1 for c in truth.band)
    print(
        f"seed {seed}: {len(corpus.docs):,} documents ({len(corpus.kinds):,} planted variants); "
        f"{len(truth.clusters):,} clusters at J ≥ {MUST_GO} ({must_go:,} must go), "
        f"{len(truth.band):,} components at J ≥ {BAND_LOW} ({band_go:,} units must go), "
        f"{len(truth.must_stay):,} must stay (J < {MUST_STAY}); truth in "
        f"{time.perf_counter() - started:.1f} s"
    )
    print(
        "| method | band | dropped | TP | FP | FN | precision | recall | F1 | seconds |\n"
        "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|"
    )
    f1 = {}
    for name in methods:
        with tempfile.TemporaryDirectory() as scratch:
            started = time.perf_counter()
            dropped = METHODS[name](corpus.docs, Path(scratch))
            seconds = time.perf_counter() - started
        for band, s in (
            (f"J ≥ {MUST_GO}", score(truth, corpus.docs, dropped)),
            (f"{BAND_LOW}–{MUST_GO}", score_band(truth, corpus.docs, dropped)),
        ):
            print(
                f"| {name} | {band} | {len(dropped):,} | {s['tp']:,} | {s['fp']:,} | {s['fn']:,} "
                f"| {s['precision']:.3f} | {s['recall']:.3f} | {s['f1']:.3f} | {seconds:.1f} |",
                flush=True,
            )
            f1.setdefault(name, s["f1"])
    if "textmill" in f1:
        verdict = f1["textmill"] >= 0.99 and f1["textmill"] >= f1.get("datatrove", 0.0)
        others = ", ".join(f"{n} {v:.3f}" for n, v in f1.items() if n != "textmill")
        print(
            f"target (F1 at J ≥ {MUST_GO} ≥ 0.99 and ≥ datatrove's): "
            f"{'met' if verdict else 'NOT met'}: textmill {f1['textmill']:.3f}; {others}\n"
        )
    return f1


if __name__ == "__main__":
    sys.exit(main())
