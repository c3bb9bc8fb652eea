"""Length-aware sequence-parallel planning (FlexSP, arXiv 2412.01523) for textmill's corpora.

Per training step, split N GPUs into SP groups of power-of-two degrees and assign each sequence
to one, minimising the step's estimated time under the per-GPU memory budget. Modules: `profiles`
(model/cluster JSON), `cost` (cost and memory model, plan schema, validation), `bucketing`,
`blaster`, `greedy`, `milp` (HiGHS via scipy), `planner` (`plan_batch`), `baselines` (static,
adaptive), `simulate` (replay a length distribution), `profile_gpu` (fit a profile on a GPU).
"""

from __future__ import annotations

import importlib
from typing import Any

# name -> module, imported on first use (PEP 562): `milp` pulls scipy.optimize and `planner`
# numba kernels (~0.9 CPU-s), which `import textmill.plan.cost` (the CLI's parser) must not pay
_EXPORTS = {
    "CostModel": "cost",
    "Group": "cost",
    "MicroBatch": "cost",
    "Plan": "cost",
    "PlanError": "cost",
    "plan_violations": "cost",
    "SolverOptions": "milp",
    "PlannerOptions": "planner",
    "PlanResult": "planner",
    "plan_batch": "planner",
    "load_cluster_profile": "profiles",
    "load_model_profile": "profiles",
}


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'textmill.plan' has no attribute {name!r}")
    return getattr(importlib.import_module(f"textmill.plan.{module}"), name)


__all__ = [
    "CostModel",
    "Group",
    "MicroBatch",
    "Plan",
    "PlanError",
    "PlanResult",
    "PlannerOptions",
    "SolverOptions",
    "load_cluster_profile",
    "load_model_profile",
    "plan_batch",
    "plan_violations",
]
