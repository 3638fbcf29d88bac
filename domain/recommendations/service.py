"""Recommendation rules: the context is the caller's own, candidates are only resources the caller
may be shown, and what is stored names one of those candidates."""

import uuid
from collections.abc import Awaitable, Callable, Container, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from core.briefs import clip_description
from core.errors import LLMProviderError, LLMUnavailableError, NotFoundError
from domain.courses.models import Course
from domain.embeddings.runtime import EmbeddingRuntime
from domain.goals.models import Goal
from domain.recommendations.models import Recommendation
from domain.recommendations.repository import RecommendationRepository
from domain.recommendations.schemas import (
    LearnerContext,
    RecommendationList,
    RecommendationRead,
)
from domain.resources.models import Resource
from domain.resources.schemas import ResourceRead
from domain.search.ranking import SearchQuery

# The model chooses among about three candidates per pick; past 30, a prompt grows for little.
CANDIDATES_PER_PICK = 3
MAX_CANDIDATES = 30
# A course can have hundreds of modules and long descriptions; the first ones say what it is.
MAX_MODULE_TITLES = 20


class ContextNotFoundError(NotFoundError):
    def __init__(self, what: str, missing: Sequence[uuid.UUID]) -> None:
        super().__init__(
            f"{what.capitalize()} not found, or not yours to use.",
            {f"{what}_ids": [str(row_id) for row_id in missing]},
        )


@dataclass(frozen=True)
class CourseBrief:
    title: str
    description: str | None
    modules: list[str]


@dataclass(frozen=True)
class GoalBrief:
    title: str
    description: str | None


@dataclass(frozen=True)
class LearnerProfile:
    """What the learner is doing, as far as the request tells and they may read."""

    courses: list[CourseBrief]
    goals: list[GoalBrief]
    recent_activity: str | None

    def query_text(self) -> str:
        # Embedding models read a bounded number of tokens (all-MiniLM-L6-v2: 256), so the most
        # specific signal comes first and truncation drops the broadest.
        parts = [self.recent_activity]
        for goal in self.goals:
            parts += [goal.title, goal.description]
        for course in self.courses:
            parts += [course.title, course.description, *course.modules]
        return "\n".join(part for part in parts if part)


@dataclass(frozen=True)
class Candidate:
    resource: Resource
    score: float


@dataclass(frozen=True)
class CandidatePool:
    learner: LearnerProfile
    candidates: list[Candidate]


@dataclass(frozen=True)
class Choice:
    """A candidate picked for the learner, with why."""

    candidate: Candidate
    reason: str


@dataclass(frozen=True)
class RecommendationView:
    recommendation: Recommendation
    resource: Resource
    score: float


class Ranker(Protocol):
    """What picks and explains among the candidates (the recommend agent)."""

    async def rank(self, pool: CandidatePool, limit: int) -> tuple[list[Choice], uuid.UUID]:
        """The choices, best first, and the id of the run that made them."""
        ...


@dataclass(frozen=True)
class Recommended:
    views: list[RecommendationView]
    drafted_by: Literal["model", "fallback"]
    fallback_reason: str | None

    def listing(self, model: str, prompt_version: str) -> RecommendationList:
        return RecommendationList(
            items=[
                RecommendationRead(
                    id=view.recommendation.id,
                    resource=ResourceRead.model_validate(view.resource),
                    reason=view.recommendation.reason,
                    rank=view.recommendation.rank,
                    score=view.score,
                )
                for view in self.views
            ],
            model=model,
            prompt_version=prompt_version,
            drafted_by=self.drafted_by,
            fallback_reason=self.fallback_reason,
        )


class RecommendationService:
    def __init__(self, session: AsyncSession) -> None:
        self.recommendations = RecommendationRepository(session)

    async def recommend(
        self,
        user_id: uuid.UUID,
        context: LearnerContext,
        embedding: EmbeddingRuntime,
        limit: int,
        ranker: Ranker,
        release: Callable[[], Awaitable[None]],
    ) -> Recommended:
        """Candidates by meaning, ranked and explained by the model, stored best first.

        `release` is awaited once the candidates are read and before the model is called: the
        caller's unit of work lets its connection go for the model's whole wait. A model whose
        ranking cannot be used does not fail the request: the closest candidates are
        recommended in order of meaning, with a plain reason. A model that finds nothing
        relevant is believed: an empty list is an honest answer, not a failure."""
        pool = await self.find_candidates(user_id, context, embedding, limit)
        if not pool.candidates:
            # Nothing to rank: no model call, so no run to record.
            return Recommended([], "model", None)
        await release()
        try:
            choices, run_id = await ranker.rank(pool, limit)
        except (LLMProviderError, LLMUnavailableError) as exc:
            fallback = closest_first(pool, limit)
            return Recommended(
                await self.record(user_id, fallback, None), "fallback", _fallback_reason(exc)
            )
        return Recommended(await self.record(user_id, choices, run_id), "model", None)

    async def find_candidates(
        self,
        user_id: uuid.UUID,
        context: LearnerContext,
        embedding: EmbeddingRuntime,
        limit: int,
    ) -> CandidatePool:
        """The learner's profile and the resources nearest to it by meaning, closest first.
        404 when a course or goal of the context is not the caller's to use."""
        learner = await self._profile(user_id, context)
        query = SearchQuery(
            vector=await embedding.embed_query(learner.query_text()),
            model_id=embedding.model_id,
        )
        count = min(limit * CANDIDATES_PER_PICK, MAX_CANDIDATES)
        hits = await self.recommendations.nearest_candidates(user_id, query, count)
        return CandidatePool(learner, [Candidate(resource, score) for resource, score in hits])

    async def record(
        self, user_id: uuid.UUID, choices: Sequence[Choice], run_id: uuid.UUID | None
    ) -> list[RecommendationView]:
        """Store the choices, best first, linked to the agent run that made them. A resource
        deleted while the model worked is left out."""
        # The run is written in a unit of work of its own that may have failed (logged, never
        # raised); then the link stays empty rather than failing an answer the user already paid.
        run_ref = (
            run_id
            if run_id is not None and await self.recommendations.run_recorded(run_id)
            else None
        )
        still_there = await self.recommendations.existing_resources(
            [choice.candidate.resource.id for choice in choices]
        )
        choices = [c for c in choices if c.candidate.resource.id in still_there]
        rows = [
            Recommendation(
                user_id=user_id,
                resource_id=choice.candidate.resource.id,
                reason=choice.reason,
                rank=rank,
                agent_run_id=run_ref,
            )
            for rank, choice in enumerate(choices, start=1)
        ]
        stored = await self.recommendations.add_all(rows)
        return [
            RecommendationView(row, choice.candidate.resource, choice.candidate.score)
            for row, choice in zip(stored, choices, strict=True)
        ]

    async def _profile(self, user_id: uuid.UUID, context: LearnerContext) -> LearnerProfile:
        courses = await self._courses(user_id, context.course_ids)
        goals = await self._goals(user_id, context.goal_ids)
        return LearnerProfile(
            courses=[
                CourseBrief(
                    title=course.title,
                    description=clip_description(course.description),
                    modules=[module.title for module in course.modules[:MAX_MODULE_TITLES]],
                )
                for course in courses
            ],
            goals=[GoalBrief(goal.title, clip_description(goal.description)) for goal in goals],
            recent_activity=(context.recent_activity or "").strip() or None,
        )

    async def _courses(self, user_id: uuid.UUID, course_ids: list[uuid.UUID]) -> list[Course]:
        wanted = list(dict.fromkeys(course_ids))
        if not wanted:
            return []
        found = {
            course.id: course
            for course in await self.recommendations.readable_courses(user_id, wanted)
        }
        _require_all("course", wanted, found)
        return [found[course_id] for course_id in wanted]

    async def _goals(self, user_id: uuid.UUID, goal_ids: list[uuid.UUID]) -> list[Goal]:
        wanted = list(dict.fromkeys(goal_ids))
        if not wanted:
            return []
        found = {goal.id: goal for goal in await self.recommendations.own_goals(user_id, wanted)}
        _require_all("goal", wanted, found)
        return [found[goal_id] for goal_id in wanted]


def closest_first(pool: CandidatePool, limit: int) -> list[Choice]:
    """The candidates nearest in meaning, in that order, each with a reason that claims no more
    than that."""
    about = _subject(pool.learner)
    return [
        Choice(
            candidate,
            f"Among the closest in meaning to {about} (similarity {candidate.score:.2f}).",
        )
        for candidate in pool.candidates[:limit]
    ]


def _subject(learner: LearnerProfile) -> str:
    if learner.goals:
        return f"your goal “{learner.goals[0].title}”"
    if learner.courses:
        return f"the course “{learner.courses[0].title}”"
    return "what you studied lately"


def _fallback_reason(exc: LLMProviderError | LLMUnavailableError) -> str:
    if isinstance(exc, LLMUnavailableError):
        return (
            "The language model could not be reached in time, so these are the closest "
            "resources in meaning."
        )
    return (
        "The language model's ranking could not be used, so these are the closest resources "
        "in meaning."
    )


def _require_all(what: str, wanted: list[uuid.UUID], found: Container[uuid.UUID]) -> None:
    missing = [row_id for row_id in wanted if row_id not in found]
    if missing:
        raise ContextNotFoundError(what, missing)
