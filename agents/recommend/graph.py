"""The recommend graph: the model re-ranks retrieved candidates and explains each pick; the
answer is then checked so only offered candidates come out.

Retrieval is not a node: which resources a user may be shown is a domain rule, applied by
`RecommendationService.find_candidates` before the graph runs.
"""

from dataclasses import asdict
from typing import Any

from langchain_core.language_models import BaseChatModel
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph

from agents.recommend.nodes import rerank, validate
from agents.recommend.state import CandidateView, RecommendContext, RecommendState
from agents.structured import StructuredMethod
from domain.recommendations.service import CandidatePool, Choice
from domain.resources.models import Resource
from prompts import Prompt

RERANK_PROMPT = "recommend/rerank"
# Thirty candidates fit a prompt comfortably at this length; the title carries most of it.
MAX_CANDIDATE_DESCRIPTION_CHARS = 300

RecommendGraph = CompiledStateGraph[
    RecommendState, RecommendContext, RecommendState, RecommendState
]


def build_recommend_graph() -> RecommendGraph:
    graph = StateGraph(RecommendState, context_schema=RecommendContext)
    graph.add_node("rerank", rerank)
    graph.add_node("validate", validate)
    graph.add_edge(START, "rerank")
    graph.add_edge("rerank", "validate")
    graph.add_edge("validate", END)
    return graph.compile()


# Compiled once per process; every run gets its model and prompt through the context.
_graph = build_recommend_graph()


async def choose(
    model: BaseChatModel,
    prompt: Prompt,
    pool: CandidatePool,
    limit: int,
    callbacks: list[Any],
    method: StructuredMethod = "tool_calling",
) -> list[Choice]:
    """At most `limit` of the pool's candidates, best first, each with the model's reason."""
    result = await _graph.ainvoke(
        {
            "learner": asdict(pool.learner),
            "candidates": [
                candidate_view(number, candidate.resource)
                for number, candidate in enumerate(pool.candidates, start=1)
            ],
            "limit": limit,
        },
        config={"callbacks": callbacks},
        context=RecommendContext(model, prompt, method),
    )
    return [Choice(pool.candidates[pick.number - 1], pick.reason) for pick in result["picks"]]


def candidate_view(number: int, resource: Resource) -> CandidateView:
    description = resource.description
    return CandidateView(
        number=number,
        title=resource.title,
        type=resource.type,
        description=description[:MAX_CANDIDATE_DESCRIPTION_CHARS] if description else None,
        tags=list(resource.tags),
    )
