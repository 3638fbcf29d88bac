"""`POST /resources/recommend`: resources for what the learner is doing, each with why.

Saving one is `POST /resources` with `source: "ai"` and the recommendation's id.
"""

from fastapi import APIRouter

from agents.llm import provider_errors
from agents.recommend import RERANK_PROMPT, choose
from api.ai import AI_ERROR_RESPONSES, RecommendCall
from api.deps import SessionDep
from api.embedding import EmbeddingDep
from api.errors import error_responses
from domain.recommendations.schemas import (
    RecommendationList,
    RecommendationRead,
    RecommendRequest,
)
from domain.recommendations.service import RecommendationService, RecommendationView
from domain.resources.schemas import ResourceRead
from prompts import load_prompt

router = APIRouter(prefix="/resources", tags=["ai"])


@router.post(
    "/recommend",
    response_model=RecommendationList,
    responses=AI_ERROR_RESPONSES | error_responses(404),
)
async def recommend_resources(
    body: RecommendRequest, call: RecommendCall, session: SessionDep, embedding: EmbeddingDep
) -> RecommendationList:
    """Candidates are your resources and those attached to public courses, closest to the
    context by meaning; a model picks up to `limit` of them, best first, and says why.
    404 when a course or goal in the context is not yours to use."""
    user = call.user
    prompt = load_prompt(RERANK_PROMPT)
    service = RecommendationService(session)
    pool = await service.find_candidates(user.id, body.context, embedding, body.limit)
    views: list[RecommendationView] = []
    # Nothing to rank: no model call, so no run to record.
    if pool.candidates:
        async with call.runs.track(user.id, "recommend", call.model_name, prompt.ref) as run:
            with provider_errors():
                choices = await choose(call.model, prompt, pool, body.limit, run.callbacks)
        # After the run is recorded: its row must exist for the recommendations to point at it.
        views = await service.record(user.id, choices, run.id)
    return RecommendationList(
        items=[
            RecommendationRead(
                id=view.recommendation.id,
                resource=ResourceRead.model_validate(view.resource),
                reason=view.recommendation.reason,
                rank=view.recommendation.rank,
                score=view.score,
            )
            for view in views
        ],
        model=call.model_name,
        prompt_version=prompt.ref,
    )
