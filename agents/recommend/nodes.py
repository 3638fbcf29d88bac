"""The recommend graph's steps: the model ranks and explains, then its answer is checked."""

import json
from dataclasses import asdict
from typing import Any

from langchain_core.messages import HumanMessage, SystemMessage
from langgraph.runtime import Runtime

from agents.recommend.state import Pick, RankedResources, RecommendContext, RecommendState
from agents.structured import structured_answer
from core.errors import LLMProviderError

# A reason is one sentence; a model that rambles is cut rather than stored at any length.
MAX_REASON_CHARS = 500


async def rerank(state: RecommendState, runtime: Runtime[RecommendContext]) -> dict[str, Any]:
    context = runtime.context
    request = {
        "learner": state["learner"],
        "candidates": [asdict(candidate) for candidate in state["candidates"]],
    }
    answer = await structured_answer(
        context.model,
        RankedResources,
        [
            SystemMessage(context.prompt.render(limit=state["limit"])),
            # Titles and descriptions are other people's text: sent as data, apart from the rules.
            HumanMessage(json.dumps(request, ensure_ascii=False)),
        ],
        context.method,
    )
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
    if state.get("ranked") and not picks:
        # It named candidates, none of them usable: a failed answer, not "nothing relevant".
        raise LLMProviderError("The model recommended none of the offered candidates.")
    return {"picks": picks}
