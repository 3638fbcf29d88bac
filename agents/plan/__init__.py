"""Study plans: a model drafts the sessions; the scheduler in `domain.plans` decides when."""

from agents.plan.drafter import GraphPlanDrafter
from agents.plan.graph import (
    DRAFT_PROMPT,
    REPLAN_PROMPT,
    build_plan_graph,
    draft_sessions,
    replan_prompt,
)

__all__ = [
    "DRAFT_PROMPT",
    "REPLAN_PROMPT",
    "GraphPlanDrafter",
    "build_plan_graph",
    "draft_sessions",
    "replan_prompt",
]
