"""Train the main-content model on labelled pages; cross-validate across data sets.

    python -m textmill.extraction.train [--data DIR] [--out PATH] [--seed 0]

Blocks get labels from each page's truth: a block is main content when at least half of its word
trigrams (its words, for blocks of one or two words) occur in `truth_text`; on the trafilatura
sample, which has snippets only, blocks holding a `truth_with` snippet are positive, those
holding a `truth_without` snippet negative, the rest unlabelled. Samples weigh by word count, as
the word F1 does. Leave-one-set-out cross-validation (fit on three sets, score the fourth)
reports what to expect on unseen sets and picks the keep threshold; the shipped model is then fit
on all four sets with that threshold.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from resiliparse.parse.html import HTMLTree

from textmill.extraction.blocks import FEATURES, Blocks, page_blocks
from textmill.extraction.engine import compose, page_language
from textmill.extraction.model import MODEL_PATH, TreeEnsemble
from textmill.extraction.scoring import (
    WORD,
    normalise_whitespace,
    precision_recall_f1,
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
THRESHOLDS = (0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6)
HYPERPARAMETERS = dict(
    max_iter=150, max_depth=5, learning_rate=0.1, min_samples_leaf=40, l2_regularization=1.0
)


@dataclass
class Page:
    page: dict
    blocks: Blocks
    labels: np.ndarray  # float: 1 main content, 0 boilerplate, nan unlabelled
    weights: np.ndarray


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
    words = np.array([len(WORD.findall(t)) for t in blocks.texts], dtype=np.float64)
    return Page(page, blocks, labels, np.clip(words, 1, 500))


def fit(pages: list[Page], seed: int):
    from sklearn.ensemble import HistGradientBoostingClassifier

    x = np.concatenate([p.blocks.features for p in pages]).astype(np.float64)
    y = np.concatenate([p.labels for p in pages])
    w = np.concatenate([p.weights for p in pages])
    known = ~np.isnan(y)
    model = HistGradientBoostingClassifier(
        random_state=seed, early_stopping=False, **HYPERPARAMETERS
    )
    model.fit(x[known], y[known].astype(int), sample_weight=w[known])
    return model


def score(model: TreeEnsemble, pages: list[Page], set_name: str) -> dict[str, float]:
    """F1 (word bags, mean over pages) or snippet pass rate per keep threshold."""
    probabilities = [model.probability(p.blocks.features) for p in pages]
    out = {}
    for threshold in THRESHOLDS:
        texts = [
            compose(p.blocks, q > threshold) for p, q in zip(pages, probabilities, strict=True)
        ]
        if set_name in SNIPPET_SETS:
            out[threshold] = snippet_scores(texts, [p.page for p in pages])[2]
        else:
            f1s = [
                precision_recall_f1(t, p.page.get("truth_text") or "")[2]
                for t, p in zip(texts, pages, strict=True)
            ]
            out[threshold] = float(np.mean(f1s))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--out", type=Path, default=MODEL_PATH)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-save", action="store_true", help="cross-validate only")
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
    held_out = {}
    for name in SETS:
        train = [p for other, pages in data.items() if other != name for p in pages]
        ensemble = TreeEnsemble.from_sklearn(fit(train, args.seed), FEATURES, 0.5)
        held_out[name] = score(ensemble, data[name], name)
    print("held-out score (F1, or snippet pass for trafilatura) per keep threshold:")
    print(f"{'set':12} " + " ".join(f"{t:>6}" for t in THRESHOLDS))
    for name, scores in held_out.items():
        print(f"{name:12} " + " ".join(f"{scores[t]:6.3f}" for t in THRESHOLDS))
    gold = [n for n in SETS if n not in SNIPPET_SETS]
    macro = {t: float(np.mean([held_out[n][t] for n in gold])) for t in THRESHOLDS}
    best = max(THRESHOLDS, key=lambda t: (macro[t] + held_out["trafilatura"][t], -abs(t - 0.5)))
    print(f"{'macro F1':12} " + " ".join(f"{macro[t]:6.3f}" for t in THRESHOLDS))
    print(
        f"keep threshold {best}: held-out macro F1 {macro[best]:.4f}, "
        f"snippet pass {held_out['trafilatura'][best]:.3f}"
    )
    if not args.no_save:
        everything = [p for pages in data.values() for p in pages]
        TreeEnsemble.from_sklearn(fit(everything, args.seed), FEATURES, best).save(args.out)
        print(f"model: {args.out} ({args.out.stat().st_size / 1024:.0f} KiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
