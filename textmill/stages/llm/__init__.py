"""LLM stages (issue 15): `llm_rewrite` and `llm_score`, on the client of textmill/llm."""
