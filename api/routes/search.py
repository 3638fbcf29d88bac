from typing import Annotated

from fastapi import APIRouter, Depends, Query

from api.deps import CurrentUser, SessionDep
from api.embedding import EmbeddingDep, build_search_query
from api.errors import error_responses
from core.errors import InvalidQueryError
from core.pagination import Page, PageParams, page_params
from domain.search.schemas import SearchHit, SearchKind
from domain.search.service import SEARCH_KINDS, search_everything

router = APIRouter(prefix="/search", tags=["search"])
PageDep = Annotated[PageParams, Depends(page_params)]


@router.get("", response_model=Page[SearchHit], responses=error_responses(401, 422))
async def search(
    user: CurrentUser,
    session: SessionDep,
    embedding: EmbeddingDep,
    page: PageDep,
    q: Annotated[
        str | None, Query(min_length=1, max_length=200, description="Full text, ranked.")
    ] = None,
    semantic: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=500,
            description="Natural-language query, by meaning; with `q`, ranks are fused (RRF).",
        ),
    ] = None,
    kind: Annotated[
        list[SearchKind] | None,
        Query(description="Only these kinds (repeat the parameter); default: all."),
    ] = None,
) -> Page[SearchHit]:
    """Notes, resources and document passages together, best first, each with its citation."""
    if not q and not semantic:
        raise InvalidQueryError(
            "Give `q`, `semantic` or both.",
            [{"loc": ["query", "q"], "message": "q or semantic is required", "type": "missing"}],
        )
    query = await build_search_query(embedding, q, semantic)
    hits, cursor = await search_everything(
        session, user.id, query, page, tuple(kind) if kind else SEARCH_KINDS
    )
    return Page(items=hits, next_cursor=cursor)
