"""Waiting on Ray tasks without waiting forever.

A reduce whose tasks can never be scheduled (the cluster's CPUs held by something else, an
object lost beyond reconstruction) used to leave the driver in `ray.get` for good. Here the
driver waits in steps and, when no task of the step has finished for `TEXTMILL_RAY_STALL_S`
seconds (default 1,800), stops with an error that names the step and what the cluster had free.
"""

from __future__ import annotations

import os
import time
from typing import Any

from textmill.executors.output import RunError

STALL_ENV = "TEXTMILL_RAY_STALL_S"
DEFAULT_STALL_S = 1800.0
POLL_S = 10.0


class RayStalled(RunError):
    """No task of a step finished within the stall limit."""


def stall_limit() -> float:
    value = os.environ.get(STALL_ENV)
    return float(value) if value else DEFAULT_STALL_S


def get_all(refs: Any, step: str) -> Any:
    """`ray.get(refs)` for one ref or a list, raising `RayStalled` instead of hanging."""
    import ray

    single = not isinstance(refs, list)
    pending = [refs] if single else list(refs)
    limit = stall_limit()
    last_progress = time.monotonic()
    while pending:
        ready, pending = ray.wait(
            pending, num_returns=len(pending), timeout=min(POLL_S, limit), fetch_local=False
        )
        now = time.monotonic()
        if ready:
            last_progress = now
        elif now - last_progress >= limit:
            raise RayStalled(
                f"{step}: {len(pending)} Ray task(s) made no progress for {limit:.0f} s "
                f"(cluster resources free: {ray.available_resources()}, "
                f"total: {ray.cluster_resources()}); raise {STALL_ENV} if the tasks are just slow"
            )
    return ray.get(refs)
