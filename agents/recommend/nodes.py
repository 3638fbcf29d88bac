"""The recommend graph's steps: the model ranks and explains, then its answer is checked."""

import json
from dataclasses import asdict
from typing import Any

from langchain_core.exceptions import OutputParserException
from langchain_core.messages import HumanMessage, SystemMessage
from langgraph.runtime import Runtime

from agents.recommend.state import Pick, RankedResources, RecommendContext, RecommendState

# A reason is one sentence; a model that rambles is cut rather than stored at any length.
MAX_REASON_CHARS = 500


async def rerank(state: RecommendState, runtime: Runtime[RecommendContext]) -> dict[str, Any]:
    context = runtime.context
    # Function calling, not a provider's JSON-schema mode: every OpenAI-compatible server has it.
    model = context.model.with_structured_output(RankedResources, method="function_calling")
    request = {
        "learner": state["learner"],
        "candidates": [asdict(candidate) for candidate in state["candidates"]],
    }
    answer = await model.ainvoke(
        [
            SystemMessage(context.prompt.render(limit=state["limit"])),
            # Titles and descriptions are other people's text: sent as data, apart from the rules.
            HumanMessage(json.dumps(request, ensure_ascii=False)),
        ]
    )
    if not isinstance(answer, RankedResources):
        # A plain-text reply carries no ranking: as unusable as malformed arguments.
        raise OutputParserException("The model answered without calling the ranking function.")
    return {"ranked": answer.recommendations}


def validate(state: RecommendState) -> dict[str, Any]:
    """Keep what the model may recommend: offered candidates, each once, explained, in its
    order, up to the limit."""
    offered = {candidate.number for candidate in state["candidates"]}
    picks: list[Pick] = []
    for ranked in state.get("ranked", []):
        reason = " ".join(ranked.reason.split())[:MAX_REASON_CHARS]
        chosen = {pick.number for pick in picks}
        if ranked.candidate in offered and ranked.candidate not in chosen and reason:
            picks.append(Pick(ranked.candidate, reason))
        if len(picks) == state["limit"]:
            break
    return {"picks": picks}
