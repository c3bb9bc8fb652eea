"""Where the LLM steps send their requests, and how hard they may push.

One endpoint serves every LLM stage of a pipeline: a pipeline file's top-level `llm:` mapping,
a stage's own `llm:` option, `--llm-base-url` / `--llm-model`, or `OPENAI_BASE_URL` (the
`openai` package's own variable). Anything that speaks OpenAI chat completions works: vLLM,
SGLang, llama.cpp's server, Ollama, a hosted API.
"""

from __future__ import annotations

import os
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator

BASE_URL_ENV = "OPENAI_BASE_URL"
LOCAL_SERVERS_KEY = "EMPTY"  # vLLM and SGLang accept any key; the openai client insists on one


class EndpointOptions(BaseModel):
    """An OpenAI-compatible endpoint and the client's limits against it."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    base_url: str | None = Field(default=None, description="e.g. http://localhost:8000/v1")
    model: str | None = Field(default=None, description="the served model's name")
    api_key_env: str = Field(default="OPENAI_API_KEY", description="variable holding the key")
    concurrency: int = Field(default=64, ge=1, le=65536, description="requests in flight")
    timeout_s: float = Field(default=300.0, gt=0, description="per attempt")
    max_retries: int = Field(default=6, ge=0, description="on 429, 5xx, timeouts, refusals")
    backoff_initial_s: float = Field(default=0.5, ge=0)
    backoff_max_s: float = Field(default=60.0, ge=0)
    max_failed_batches: int = Field(
        default=3, ge=1, description="consecutive batches with no answer at all stop the run"
    )

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        return value if value is None else check_base_url(value)

    def resolved_base_url(self) -> str | None:
        """The base URL requests go to (None: the openai package's default, api.openai.com)."""
        return self.base_url or os.environ.get(BASE_URL_ENV) or None

    def api_key(self) -> str:
        return os.environ.get(self.api_key_env) or LOCAL_SERVERS_KEY


def check_base_url(value: str, where: str = "base_url") -> str:
    """An http(s) URL with a host: anything else cannot be an endpoint, and would only show up
    as every row's connection error after the retries."""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{where} {value!r} is not an http(s) URL such as http://gpu:8000/v1")
    return value
