"""Run one case's agent in-process, the way its API route does, and collect what it produced.

Each driver goes through the same domain services and graphs as the route (`api/routes/...`):
the chat turn, the summary service with the summary graph, the plan service with the plan graph,
the recommendation service with the recommend graph. Only the HTTP layer is left out.
"""

import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from langchain_core.language_models import BaseChatModel
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agents.chat.graph import ChatGraph
from agents.chat.turn import ChatTurn
from agents.llm import provider_errors
from agents.plan.drafter import GraphPlanDrafter
from agents.plan.graph import draft_prompt
from agents.recommend import RERANK_PROMPT
from agents.recommend.ranker import GraphRanker
from agents.runs import AgentRuns
from agents.structured import StructuredMethod, structured_method
from agents.summary import GraphSummariser
from core.config import Settings
from core.db import unit_of_work
from domain.conversations.schemas import ChatRequest, ContextRefs
from domain.embeddings.runtime import EmbeddingRuntime
from domain.plans.schemas import PlanCreate
from domain.plans.service import PlanService
from domain.recommendations.schemas import LearnerContext
from domain.recommendations.service import RecommendationService
from domain.summaries.schemas import SummaryRequest
from domain.summaries.service import SummaryService
from evals.cases import Case
from evals.world import BuiltWorld
from prompts import load_prompt


@dataclass
class Outcome:
    """What the agent produced for a case: the answer a student reads and the response JSON."""

    answer: str = ""
    output: dict[str, Any] = field(default_factory=dict)
    turns: list[dict[str, Any]] = field(default_factory=list)
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    changes: list[dict[str, Any]] = field(default_factory=list)
    citations: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None


@dataclass(frozen=True)
class Harness:
    """What every driver needs: the world database, the model and the run recorder."""

    sessionmaker: async_sessionmaker[AsyncSession]
    settings: Settings
    model: BaseChatModel
    model_name: str
    runs: AgentRuns
    embedding: EmbeddingRuntime
    chat_graph: ChatGraph

    @property
    def structured(self) -> StructuredMethod:
        return structured_method(self.model, self.settings.llm_structured_output)


async def run_case(harness: Harness, case: Case, world: BuiltWorld) -> Outcome:
    with provider_errors():
        match case.suite:
            case "chat":
                return await _chat(harness, case, world)
            case "summary":
                return await _summary(harness, case, world)
            case "plan":
                return await _plan(harness, case, world)
            case "recommend":
                return await _recommend(harness, case, world)


async def _chat(harness: Harness, case: Case, world: BuiltWorld) -> Outcome:
    outcome = Outcome()
    conversation_id: uuid.UUID | None = None
    refs = [world.resolve(handle) for handle in case.refs]
    for index, turn in enumerate(case.turns):
        context = None
        if refs and index == 0:
            context = ContextRefs(
                note_ids=[r for h, r in zip(case.refs, refs, strict=True) if h.startswith("note:")],
                course_ids=[
                    r for h, r in zip(case.refs, refs, strict=True) if h.startswith("course:")
                ],
            )
        chat_turn = ChatTurn(
            graph=harness.chat_graph,
            model=harness.model,
            model_name=harness.model_name,
            runs=harness.runs,
            sessionmaker=harness.sessionmaker,
            embedding=harness.embedding,
            settings=harness.settings,
            user=world.student.user,
            request=ChatRequest(
                message=turn.message, conversation_id=conversation_id, context_refs=context
            ),
        )
        await chat_turn.begin()
        reply = await chat_turn.reply()
        conversation_id = reply.conversation_id
        data = reply.model_dump(mode="json")
        outcome.turns.append(data)
        outcome.tool_calls += data["tool_calls"]
        outcome.changes += data["changes"]
        outcome.citations += data["citations"]
    outcome.answer = outcome.turns[-1]["message"] if outcome.turns else ""
    outcome.output = outcome.turns[-1] if outcome.turns else {}
    return outcome


def _subject(case: Case, world: BuiltWorld) -> tuple[str, uuid.UUID]:
    if case.subject is None:
        raise ValueError(f"case {case.id} needs a subject")
    kind = case.subject.removeprefix("intruder.").partition(":")[0]
    return kind, world.resolve(case.subject)


async def _summary(harness: Harness, case: Case, world: BuiltWorld) -> Outcome:
    kind, subject_id = _subject(case, world)
    request = SummaryRequest.model_validate({f"{kind}_id": subject_id, "length": case.length})
    user = world.student.user
    summariser = GraphSummariser(harness.model, harness.model_name, harness.runs, user.id)
    async with unit_of_work(harness.sessionmaker) as session:
        read = await SummaryService(session).summarise(user.id, request, summariser, session.commit)
    return Outcome(answer=read.summary, output=read.model_dump(mode="json"))


async def _plan(harness: Harness, case: Case, world: BuiltWorld) -> Outcome:
    kind, subject_id = _subject(case, world)
    end = world.today + timedelta(days=case.days) if case.days is not None else None
    request = PlanCreate.model_validate(
        {f"{kind}_id": subject_id, "end_date": end, "minutes_per_day": case.minutes_per_day}
    )
    user = world.student.user
    drafter = GraphPlanDrafter(
        harness.model, harness.model_name, harness.runs, user.id, harness.structured, draft_prompt()
    )
    async with unit_of_work(harness.sessionmaker) as session:
        plan = await PlanService(session).create_draft(user, request, drafter, session.commit)
    titles = "\n".join(f"- {session.title}: {session.objective}" for session in plan.sessions)
    return Outcome(answer=titles, output=plan.model_dump(mode="json"))


async def _recommend(harness: Harness, case: Case, world: BuiltWorld) -> Outcome:
    handles = [case.subject] if case.subject else []

    def of_kind(kind: str) -> list[uuid.UUID]:
        return [world.resolve(h) for h in handles if h.removeprefix("intruder.").startswith(kind)]

    context = LearnerContext(
        course_ids=of_kind("course:"),
        goal_ids=of_kind("goal:"),
        recent_activity=case.activity,
    )
    user = world.student.user
    prompt = load_prompt(RERANK_PROMPT)
    ranker = GraphRanker(
        harness.model, harness.model_name, harness.runs, user.id, prompt, harness.structured
    )
    async with unit_of_work(harness.sessionmaker) as session:
        result = await RecommendationService(session).recommend(
            user.id, context, harness.embedding, case.limit, ranker, session.commit
        )
        listing = result.listing(harness.model_name, prompt.ref)
    answer = "\n".join(f"{item.resource.title}: {item.reason}" for item in listing.items)
    return Outcome(answer=answer, output=listing.model_dump(mode="json"))
