"""`POST /resources/recommend`: resources for what the learner is doing, each with why.

Saving one is `POST /resources` with `source: "ai"` and the recommendation's id.
"""

from functools import partial

from fastapi import APIRouter

from agents.recommend import RERANK_PROMPT, GraphRanker
from api.ai import AI_ERROR_RESPONSES, RecommendCall
from api.deps import SessionDep, release_connection
from api.embedding import EmbeddingDep
from api.errors import error_responses
from domain.recommendations.schemas import (
    RecommendationList,
    RecommendRequest,
)
from domain.recommendations.service import RecommendationService
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
    context by meaning; a model picks up to `limit` of them, best first, and says why. When the
    model's ranking cannot be used (after one repair), the closest candidates come in order of
    meaning with a plain reason, marked `drafted_by: "fallback"`.
    404 when a course or goal in the context is not yours to use."""
    prompt = load_prompt(RERANK_PROMPT)
    ranker = GraphRanker(
        call.model, call.model_name, call.runs, call.user.id, prompt, call.structured
    )
    result = await RecommendationService(session).recommend(
        call.user.id,
        body.context,
        embedding,
        body.limit,
        ranker,
        partial(release_connection, session),
    )
    return result.listing(call.model_name, prompt.ref)
