"""The plan graph: the model drafts the sessions of a study plan, then the draft is checked so
only schedulable sessions come out.

    START → draft → validate → END

When the sessions happen is not a node: the deterministic scheduler places them afterwards
(`PlanService.create_draft`), so no model answer can produce an illegal slot.
"""

from functools import cache
from typing import Any

from langchain_core.language_models import BaseChatModel
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph

from agents.plan.nodes import draft, validate
from agents.plan.state import PlanContext, PlanState
from agents.structured import StructuredMethod
from domain.plans.briefs import DraftedSession, PlanBrief
from prompts import Prompt, load_prompt

DRAFT_PROMPT = "plan/draft"
# The same graph redrafts what is left of an accepted plan after missed sessions.
REPLAN_PROMPT = "plan/replan"

PlanGraph = CompiledStateGraph[PlanState, PlanContext, PlanState, PlanState]


def build_plan_graph() -> PlanGraph:
    graph = StateGraph(PlanState, context_schema=PlanContext)
    graph.add_node("draft", draft)
    graph.add_node("validate", validate)
    graph.add_edge(START, "draft")
    graph.add_edge("draft", "validate")
    graph.add_edge("validate", END)
    return graph.compile(name="plan")


@cache
def plan_graph() -> PlanGraph:
    """The graph, compiled once per process; every run gets its model and prompt via context."""
    return build_plan_graph()


def draft_prompt() -> Prompt:
    return load_prompt(DRAFT_PROMPT)


def replan_prompt() -> Prompt:
    return load_prompt(REPLAN_PROMPT)


async def draft_sessions(
    model: BaseChatModel,
    prompt: Prompt,
    brief: PlanBrief,
    callbacks: list[Any],
    method: StructuredMethod = "tool_calling",
) -> list[DraftedSession]:
    """The checked sessions the model drafts for `brief`, in study order."""
    result = await plan_graph().ainvoke(
        {"brief": brief},
        config={"callbacks": callbacks},
        context=PlanContext(model, prompt, method),
    )
    sessions: list[DraftedSession] = result["sessions"]
    return sessions
