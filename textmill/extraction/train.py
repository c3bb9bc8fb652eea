"""Train the main-content model on labelled pages; cross-validate across data sets.

    python -m textmill.extraction.train [--data DIR] [--out PATH] [--seed 0]

Blocks get labels from each page's truth: a block is main content when at least half of its word
trigrams (its words, for blocks of one or two words) occur in `truth_text`; on the trafilatura
sample, which has snippets only, blocks holding a `truth_with` snippet are positive, those
holding a `truth_without` snippet negative, the rest unlabelled. The model sees the blocks'
features, their page-relative versions (`page_relative`) and their neighbourhood (`neighbours`).
The model is two tree ensembles with their logits averaged (`TreeEnsemble.average`): one on the
block and page-relative columns, one on all columns with half of them drawn at each split. The
two err on different pages, and held out their average beats either alone (BENCHMARKS.md lists
every variant per set). Samples weigh by word count, as the word F1 does, scaled so that every
page weighs the same (the scores average over pages, and a few long pages would otherwise decide
what the model learns).

Leave-one-set-out cross-validation (fit on three sets, score the fourth) reports what to expect
on unseen sets; the keep threshold and its cap relative to the page's top block
(`decision.keep_blocks`) are chosen inside the training sets only (nested: leave one of the three
out), so the held-out figure is honest. The shipped model is fit on all four sets with the pair
chosen by leave-one-set-out over all four.
"""

from __future__ import annotations

import argparse
import collections
import itertools
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from resiliparse.parse.html import HTMLTree

from textmill.extraction.blocks import Blocks, page_blocks
from textmill.extraction.decision import keep_blocks
from textmill.extraction.engine import compose, page_language
from textmill.extraction.model import MODEL_PATH, TreeEnsemble
from textmill.extraction.neighbours import MODEL_FEATURES, model_input
from textmill.extraction.page_relative import PAGE_FEATURES
from textmill.extraction.scoring import (
    WORD,
    normalise_whitespace,
    read_jsonl_gz,
    snippet_scores,
)

DEFAULT_DATA = Path(__file__).resolve().parents[3] / "shared" / "data" / "extraction"
SETS = {
    "aeb": "aeb_scrapinghub.jsonl.gz",
    "cleaneval": "cleaneval_dev.jsonl.gz",
    "dragnet": "dragnet_sample100.jsonl.gz",
    "trafilatura": "trafilatura_eval_sample200.jsonl.gz",
}
SNIPPET_SETS = {"trafilatura"}
THRESHOLDS = (0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7)
RELATIVE_THRESHOLDS = (0.0, 0.5, 0.7)  # 0: no cap
DECISIONS = tuple(itertools.product(THRESHOLDS, RELATIVE_THRESHOLDS))
HYPERPARAMETERS = dict(
    max_iter=150, max_depth=5, learning_rate=0.1, min_samples_leaf=40, l2_regularization=1.0
)
MEMBERS = (  # (columns, extra hyper-parameters) of the averaged ensembles
    (PAGE_FEATURES, {}),
    (MODEL_FEATURES, {"max_features": 0.5}),
)


@dataclass
class Page:
    page: dict
    blocks: Blocks
    features: np.ndarray  # MODEL_FEATURES columns
    labels: np.ndarray  # float: 1 main content, 0 boilerplate, nan unlabelled
    weights: np.ndarray  # words per block (capped), scaled so the page's labelled blocks sum to 1
    word_counts: object = None  # gold sets: scipy CSR (blocks × vocabulary) of word counts
    truth_counts: np.ndarray | None = None  # the truth's counts over the same vocabulary


def _trigrams(words: list[str]) -> set[tuple[str, ...]]:
    return {tuple(words[i : i + 3]) for i in range(len(words) - 2)}


def gold_labels(texts: list[str], truth: str) -> np.ndarray:
    truth_words = WORD.findall(truth.casefold())
    truth_trigrams, truth_vocabulary = _trigrams(truth_words), set(truth_words)
    labels = np.zeros(len(texts))
    for i, text in enumerate(texts):
        words = WORD.findall(text.casefold())
        if len(words) >= 3:
            grams = [tuple(words[j : j + 3]) for j in range(len(words) - 2)]
            share = sum(g in truth_trigrams for g in grams) / len(grams)
        else:
            share = float(bool(words) and all(w in truth_vocabulary for w in words))
        labels[i] = share >= 0.5
    return labels


def snippet_labels(texts: list[str], page: dict) -> np.ndarray:
    labels = np.full(len(texts), np.nan)
    for value, key in ((0.0, "truth_without"), (1.0, "truth_with")):
        snippets = [normalise_whitespace(s) for s in page.get(key) or [] if s.strip()]
        for i, text in enumerate(texts):
            line = normalise_whitespace(text)
            if any(s in line or (len(line) >= 20 and line in s) for s in snippets):
                labels[i] = value
    return labels


def labelled_page(page: dict, set_name: str) -> Page:
    tree = HTMLTree.parse(page["html"])
    blocks = page_blocks(tree, page_language(tree))
    if set_name in SNIPPET_SETS:
        labels = snippet_labels(blocks.texts, page)
    else:
        labels = gold_labels(blocks.texts, page.get("truth_text") or "")
    words = np.clip([len(WORD.findall(t)) for t in blocks.texts], 1, 500).astype(np.float64)
    labelled = float(words[~np.isnan(labels)].sum())
    weights = words / labelled if labelled else words
    result = Page(page, blocks, model_input(blocks.features), labels, weights)
    if set_name not in SNIPPET_SETS:
        result.word_counts, result.truth_counts = _word_counts(
            blocks.texts, page.get("truth_text") or ""
        )
    return result


def _word_counts(texts: list[str], truth: str):
    """Blocks' and truth's word bags as count arrays: a kept mask's bag is one product (compose
    joins blocks by lines, so no word spans two blocks), and the word F1 of every candidate
    decision costs a sparse product, not a text."""
    from scipy.sparse import csr_matrix

    vocabulary: dict[str, int] = {}
    rows, columns, counts = [], [], []
    for row, text in enumerate(texts):
        for word, count in collections.Counter(WORD.findall(text.casefold())).items():
            rows.append(row)
            columns.append(vocabulary.setdefault(word, len(vocabulary)))
            counts.append(count)
    truth_bag = collections.Counter(WORD.findall(truth.casefold()))
    for word in truth_bag:
        vocabulary.setdefault(word, len(vocabulary))
    truth_counts = np.zeros(len(vocabulary))
    for word, count in truth_bag.items():
        truth_counts[vocabulary[word]] = count
    matrix = csr_matrix((counts, (rows, columns)), shape=(len(texts), len(vocabulary)))
    return matrix, truth_counts


def word_f1(page: Page, keep: np.ndarray) -> float:
    """`scoring.precision_recall_f1` of the composed kept blocks against the truth."""
    predicted = page.word_counts.T @ keep.astype(np.float64)
    overlap = float(np.minimum(predicted, page.truth_counts).sum())
    if not overlap:
        return 0.0
    precision = overlap / predicted.sum()
    recall = overlap / page.truth_counts.sum()
    return 2 * precision * recall / (precision + recall)


def fit(
    pages: list[Page], seed: int, keep_threshold: float = 0.5, relative_threshold: float = 0.0
) -> TreeEnsemble:
    """The MEMBERS fitted on the pages' labelled blocks, averaged into one ensemble."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    x = np.concatenate([p.features for p in pages]).astype(np.float64)
    y = np.concatenate([p.labels for p in pages])
    w = np.concatenate([p.weights for p in pages])
    known = ~np.isnan(y)
    members = []
    for columns, extra in MEMBERS:
        model = HistGradientBoostingClassifier(
            random_state=seed, early_stopping=False, **HYPERPARAMETERS, **extra
        )
        model.fit(
            x[known][:, : len(columns)],
            y[known].astype(int),
            sample_weight=w[known] / w[known].mean(),
        )
        members.append(TreeEnsemble.from_sklearn(model, columns, keep_threshold))
    return TreeEnsemble.average(members, keep_threshold, relative_threshold)


def score(
    model: TreeEnsemble, pages: list[Page], set_name: str
) -> dict[tuple[float, float], float]:
    """Mean word F1 over pages, or snippet pass rate, per decision (threshold, cap)."""
    probabilities = [model.probability(p.features) for p in pages]
    out = {}
    for decision in DECISIONS:
        keeps = [keep_blocks(q, *decision) for q in probabilities]
        if set_name in SNIPPET_SETS:
            texts = [compose(p.blocks, k) for p, k in zip(pages, keeps, strict=True)]
            out[decision] = snippet_scores(texts, [p.page for p in pages])[2]
        else:
            out[decision] = float(
                np.mean([word_f1(p, k) for p, k in zip(pages, keeps, strict=True)])
            )
    return out


def leave_one_set_out(data: dict[str, list[Page]], seed: int) -> dict[str, dict]:
    """Each set scored by a model fit on the others."""
    held_out = {}
    for name in data:
        train = [p for other, pages in data.items() if other != name for p in pages]
        held_out[name] = score(fit(train, seed), data[name], name)
    return held_out


def choose(held_out: dict[str, dict]) -> tuple[float, float]:
    """The decision with the best mean F1 over gold sets plus snippet pass rate (ties: the
    threshold nearest 0.5, then no cap)."""
    gold = [n for n in held_out if n not in SNIPPET_SETS]
    snippets = [n for n in held_out if n in SNIPPET_SETS]

    def merit(decision: tuple[float, float]):
        value = float(np.mean([held_out[n][decision] for n in gold])) if gold else 0.0
        value += sum(held_out[n][decision] for n in snippets)
        return (round(value, 6), -abs(decision[0] - 0.5), -decision[1])

    return max(DECISIONS, key=merit)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--out", type=Path, default=MODEL_PATH)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-save", action="store_true", help="cross-validate only")
    parser.add_argument(
        "--no-nested", action="store_true", help="skip the nested choice (4 x 3 more fits)"
    )
    args = parser.parse_args(argv)
    if not args.data.is_dir():
        print(f"{args.data} not found: training needs ../shared/data/extraction", file=sys.stderr)
        return 2
    data = {
        name: [labelled_page(page, name) for page in read_jsonl_gz(args.data / file)]
        for name, file in SETS.items()
    }
    for name, pages in data.items():
        labels = np.concatenate([p.labels for p in pages])
        known = labels[~np.isnan(labels)]
        print(
            f"{name}: {len(pages)} pages, {len(labels)} blocks, {len(known)} labelled, "
            f"{known.mean():.2f} positive"
        )
    held_out = leave_one_set_out(data, args.seed)
    gold = [n for n in SETS if n not in SNIPPET_SETS]
    print("held-out score (F1, or snippet pass for trafilatura) per keep threshold / cap:")
    print(f"{'set':12} " + " ".join(f"{t:>4}/{r:<3}" for t, r in DECISIONS))
    for name, scores in held_out.items():
        print(f"{name:12} " + " ".join(f"{scores[d]:8.3f}" for d in DECISIONS))
    macro = {d: float(np.mean([held_out[n][d] for n in gold])) for d in DECISIONS}
    print(f"{'macro F1':12} " + " ".join(f"{macro[d]:8.3f}" for d in DECISIONS))
    if not args.no_nested:
        nested = {}
        for name in SETS:
            inner = leave_one_set_out({n: p for n, p in data.items() if n != name}, args.seed)
            decision = choose(inner)
            nested[name] = held_out[name][decision]
            print(f"nested: {name} held out, chosen on the others {decision}: {nested[name]:.3f}")
        print(
            f"nested held-out: macro F1 {np.mean([nested[n] for n in gold]):.4f}, worst "
            f"{min(nested[n] for n in gold):.3f}, snippet pass {nested['trafilatura']:.3f}"
        )
    best = choose(held_out)
    print(
        f"keep threshold {best[0]}, cap {best[1]}: held-out macro F1 {macro[best]:.4f}, "
        f"snippet pass {held_out['trafilatura'][best]:.3f}"
    )
    if not args.no_save:
        everything = [p for pages in data.values() for p in pages]
        fit(everything, args.seed, *best).save(args.out)
        print(f"model: {args.out} ({args.out.stat().st_size / 1024:.0f} KiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
