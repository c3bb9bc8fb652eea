"""Per-document signals for selection, mixing and slicing: what a document is, when it was
written, how useful it is (classify, topic, date, lm_score)."""
