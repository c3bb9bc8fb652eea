"""Shipped classifier recipes: the labels and fastText settings that train a known classifier
from a public labelled set with one command (`textmill classify recipe NAME DATA -o MODEL`).

textmill ships the recipe, not the model: nothing downloads at run time, so a user trains it
from their own copy of the data (seeded, one thread: the same data and seed give the same
model) and points the `classify` stage at the file.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from textmill.quality.classifier import TrainOptions

# The CORE web-register scheme's main registers (Egbert, Biber & Davies 2015; Laippala et al.,
# multilingual register labelling): the upper-case labels of TurkuNLP's annotations. The
# lower-case sub-registers (ne news, ds description-with-intent-to-sell, ...) are left out:
# most have too few examples to learn.
CORE_REGISTERS = {
    "NA": "narrative (news, stories, blogs)",
    "IN": "informational description (encyclopedic, research, reports)",
    "IP": "informational persuasion (marketing, descriptions with intent to sell)",
    "OP": "opinion (reviews, opinion blogs, religious texts)",
    "HI": "how-to / instructional",
    "ID": "interactive discussion (forums, comments)",
    "SP": "spoken (interviews, transcripts)",
    "LY": "lyrical (poems, songs)",
    "MT": "machine-translated or generated",
}


@dataclass(frozen=True)
class Recipe:
    description: str
    label_field: str
    labels: tuple[str, ...]
    multi_label: bool
    train: TrainOptions
    data: str  # where the labelled set comes from

    def options(self, *, seed: int = 0, threads: int = 1) -> TrainOptions:
        return replace(self.train, seed=seed, threads=threads)


REGISTER = Recipe(
    description="CORE web registers (multi-label: " + ", ".join(CORE_REGISTERS) + ")",
    label_field="register_labels",
    labels=tuple(CORE_REGISTERS),
    multi_label=True,
    # tuned on a validation split carved from the training split of
    # benchmarks/register_classifier.py (BENCHMARKS.md), never on its test split
    # (the first 2,000 characters, as register classifiers read the first 512 tokens)
    train=TrainOptions(
        word_ngrams=1,
        dim=64,
        epoch=30,
        lr=0.5,
        bucket=200_000,
        holdout_fraction=0.1,
        max_chars=2000,
    ),  # fmt: skip
    data="TurkuNLP multilingual register labelling (CORE scheme), records "
    "{text, register_labels: [...]}",
)

RECIPES: dict[str, Recipe] = {"register": REGISTER}
