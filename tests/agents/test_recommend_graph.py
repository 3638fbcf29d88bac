"""The recommend graph with a scripted model: what it sends, and what survives of the answer."""

import json
import uuid
from typing import Any

import pytest
from langchain_core.messages import HumanMessage, SystemMessage

from agents.llm import provider_errors
from agents.recommend import RERANK_PROMPT, build_recommend_graph, choose
from agents.recommend.state import CandidateView, Pick, RecommendContext
from core.errors import LLMProviderError
from domain.recommendations.service import Candidate, CandidatePool, LearnerProfile
from domain.resources.models import Resource
from prompts import load_prompt
from tests.fixtures.llm import ScriptedChatModel, scripted, tool_call

PROMPT = load_prompt(RERANK_PROMPT)
LEARNER: dict[str, Any] = {"courses": [], "goals": [], "recent_activity": "eigenvalues"}


def candidates(count: int) -> list[CandidateView]:
    return [CandidateView(n, f"Resource {n}", "article", None, []) for n in range(1, count + 1)]


def ranking(*picks: tuple[Any, str]) -> ScriptedChatModel:
    return scripted(
        tool_call(
            "RankedResources",
            recommendations=[{"candidate": number, "reason": reason} for number, reason in picks],
        )
    )


async def run(model: ScriptedChatModel, offered: int, limit: int) -> list[Pick]:
    result = await build_recommend_graph().ainvoke(
        {"learner": LEARNER, "candidates": candidates(offered), "limit": limit},
        context=RecommendContext(model, PROMPT),
    )
    picks: list[Pick] = result["picks"]
    return picks


async def test_keeps_the_models_order_and_drops_invented_and_repeated_candidates() -> None:
    model = ranking(
        (3, "Best fit."),
        (9, "Not offered."),
        (1, "Second."),
        (3, "Again."),
        (0, "Zero."),
        (2, "Third."),
    )
    assert await run(model, offered=4, limit=5) == [
        Pick(3, "Best fit."),
        Pick(1, "Second."),
        Pick(2, "Third."),
    ]


async def test_cuts_the_ranking_to_the_limit() -> None:
    model = ranking((4, "a."), (3, "b."), (2, "c."), (1, "d."))
    assert await run(model, offered=4, limit=2) == [Pick(4, "a."), Pick(3, "b.")]


async def test_a_pick_needs_a_reason_and_reasons_are_one_line() -> None:
    model = ranking((1, "   "), (2, "Covers\n  eigenvalues\tfirst. "))
    assert await run(model, offered=2, limit=5) == [Pick(2, "Covers eigenvalues first.")]


async def test_sends_the_rules_apart_from_the_data() -> None:
    model = ranking((1, "Fits."))
    await run(model, offered=2, limit=3)
    [messages] = model.received
    system, human = messages
    assert isinstance(system, SystemMessage)
    assert system.content == PROMPT.render(limit=3)
    assert isinstance(human, HumanMessage)
    assert json.loads(str(human.content)) == {
        "learner": LEARNER,
        "candidates": [
            {
                "number": n,
                "title": f"Resource {n}",
                "type": "article",
                "description": None,
                "tags": [],
            }
            for n in (1, 2)
        ],
    }


@pytest.mark.parametrize(
    "reply",
    [
        "Here are some resources you might like.",
        tool_call("RankedResources", recommendations=[{"candidate": "first", "reason": "x"}]),
        tool_call("RankedResources", picks=[1, 2]),
    ],
    ids=["text-instead-of-a-call", "bad-argument", "wrong-shape"],
)
async def test_an_unusable_answer_is_a_bad_response(reply: Any) -> None:
    # Unusable first and after the one repair request.
    with pytest.raises(LLMProviderError), provider_errors():
        await run(scripted(reply, reply), offered=2, limit=2)


async def test_choose_maps_picks_back_to_the_pools_candidates() -> None:
    pool = CandidatePool(
        LearnerProfile(courses=[], goals=[], recent_activity="eigenvalues"),
        [
            Candidate(Resource(id=uuid.uuid4(), title=t, type="video", tags=[]), score)
            for t, score in (("First", 0.9), ("Second", 0.8))
        ],
    )
    choices = await choose(ranking((2, "Shorter."), (1, "Deeper.")), PROMPT, pool, 5, [])
    assert [(c.candidate, c.reason) for c in choices] == [
        (pool.candidates[1], "Shorter."),
        (pool.candidates[0], "Deeper."),
    ]
