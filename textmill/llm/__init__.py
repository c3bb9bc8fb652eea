"""LLM steps over any OpenAI-compatible endpoint (issue 15): rewriting (SwallowCode's SGCR and
SCOR, SwallowMath, WRAP-style rephrasing, TransformLLM reading comprehension, Nemotron-CC's four
tasks) and judging (a score column), on one client.

- endpoint.py: where requests go (base URL, model, key) and the client's limits.
- client.py: the async `openai` client with our retries, concurrency limit and budget.
- cache.py: the SQLite request cache and spend ledger (a killed run resumes without paying
  twice for an answered request).
- prompts.py + prompts/*.txt: shipped prompt templates; validate.py: checks a rewrite passes.
- score.py: reading a number out of a judge's reply. dry_run.py: what a run will cost.
The stages are textmill/stages/llm/ (`llm_rewrite`, `llm_score`).
"""
