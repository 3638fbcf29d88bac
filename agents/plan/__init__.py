"""Study plans: a model drafts the sessions; the scheduler in `domain.plans` decides when."""

from agents.plan.drafter import GraphPlanDrafter
from agents.plan.graph import DRAFT_PROMPT, build_plan_graph, draft_sessions

__all__ = ["DRAFT_PROMPT", "GraphPlanDrafter", "build_plan_graph", "draft_sessions"]
