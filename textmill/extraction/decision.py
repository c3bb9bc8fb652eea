"""Which blocks to keep, from the model's probabilities: a threshold that never empties a page.

A fixed probability threshold fails whole pages of an unseen site: when the model is unsure of
every block (its article looks unlike the training sets'), nothing clears the bar and the page
comes out empty, the worst possible score. The keep threshold is therefore capped at a share of
the page's most confident block (`relative_threshold`), so the page's best blocks are kept
whenever any block looks much better than the rest. Both numbers are chosen by cross-validation
in `textmill.extraction.train` and stored with the model.
"""

from __future__ import annotations

import numpy as np


def keep_blocks(
    probability: np.ndarray, keep_threshold: float, relative_threshold: float = 0.0
) -> np.ndarray:
    """True for the blocks to keep: P > min(keep_threshold, relative_threshold × max P)."""
    if len(probability) == 0:
        return np.zeros(0, bool)
    threshold = keep_threshold
    if relative_threshold > 0:
        threshold = min(threshold, relative_threshold * float(probability.max()))
    return probability > threshold
