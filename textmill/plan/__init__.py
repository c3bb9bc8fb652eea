"""Length-aware sequence-parallel planning (FlexSP, arXiv 2412.01523) for textmill's corpora.

Per training step, split N GPUs into SP groups of power-of-two degrees and assign each sequence
to one, minimising the step's estimated time under the per-GPU memory budget. Modules: `profiles`
(model/cluster JSON), `cost` (cost and memory model, plan schema, validation), `bucketing`,
`blaster`, `greedy`, `milp` (HiGHS via scipy), `planner` (`plan_batch`), `baselines` (static,
adaptive), `simulate` (replay a length distribution), `profile_gpu` (fit a profile on a GPU).
"""

from textmill.plan.cost import CostModel, Group, MicroBatch, Plan, PlanError, plan_violations
from textmill.plan.milp import SolverOptions
from textmill.plan.planner import PlannerOptions, PlanResult, plan_batch
from textmill.plan.profiles import load_cluster_profile, load_model_profile

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
