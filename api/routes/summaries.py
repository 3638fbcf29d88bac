from functools import partial

from fastapi import APIRouter

from agents.summary import GraphSummariser
from api.ai import AI_ERROR_RESPONSES, SummaryCall
from api.deps import SessionDep, release_connection
from api.errors import error_responses
from domain.summaries.schemas import SummaryRead, SummaryRequest
from domain.summaries.service import SummaryService

router = APIRouter(prefix="/ai", tags=["ai"])


@router.post(
    "/summary",
    response_model=SummaryRead,
    responses=AI_ERROR_RESPONSES | error_responses(404, 409),
    summary="Summarise a note, a course or a document",
)
async def summarise(body: SummaryRequest, call: SummaryCall, session: SessionDep) -> SummaryRead:
    """A summary at the requested length, served from the cache while the content, prompt and
    model are unchanged. 404 for another user's note, document or private course; 409
    document_not_ready for a document still processing (or failed); 422 source_too_long for
    content past what one summary may cost. A document is summarised from its extracted text,
    map-reduce over its parts."""
    summariser = GraphSummariser(call.model, call.model_name, call.runs, call.user.id)
    return await SummaryService(session).summarise(
        call.user.id, body, summariser, partial(release_connection, session)
    )
