"""Every language: language codes, per-language thresholds (FineWeb-2 configs, calibration from
reference text, LID confidence), and precision filtering for contaminated languages.

Modules here import no stages at import time, so `textmill.text` can use `codes`.
"""
