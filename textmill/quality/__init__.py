"""Learned quality (Ultra-FineWeb): preprocessing, the fastText classifier, KenLM perplexity."""
