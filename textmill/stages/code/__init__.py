"""Stages for code corpora (one module per stage)."""
