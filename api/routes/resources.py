import uuid
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Depends, Query, Request, status

from api.deps import CurrentUser, CurrentUserId, SessionDep, release_connection
from api.documents import DocumentRuntimeDep, schedule_processing
from api.embedding import EmbeddingDep, build_search_query, schedule_embedding
from api.errors import error_responses
from core.pagination import Page, PageParams, page_params
from domain.documents.fetcher import SafeFetcher
from domain.documents.ingest import ingest_fetched
from domain.resources.models import Resource
from domain.resources.schemas import (
    ResourceCreate,
    ResourceCreated,
    ResourceHit,
    ResourceRead,
    ResourceType,
    ResourceUpdate,
)
from domain.resources.service import ResourceService

router = APIRouter(prefix="/resources", tags=["resources"])
PageDep = Annotated[PageParams, Depends(page_params)]


@router.get("", response_model=Page[ResourceHit], responses=error_responses(401, 422))
async def list_resources(
    user_id: CurrentUserId,
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
    type: Annotated[ResourceType | None, Query()] = None,
    course_id: uuid.UUID | None = None,
    tag: Annotated[str | None, Query(min_length=1, max_length=50)] = None,
) -> Page[ResourceHit]:
    query = await build_search_query(embedding, q, semantic)
    hits, cursor = await ResourceService(session).list(
        user_id, page, query=query, type_=type, course_id=course_id, tag=tag
    )
    items = [
        ResourceHit.model_validate(
            {**ResourceRead.model_validate(resource).model_dump(), "score": score}
        )
        for resource, score in hits
    ]
    return Page(items=items, next_cursor=cursor)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=ResourceCreated,
    responses=error_responses(401, 404, 409, 413, 415, 422),
)
async def create_resource(
    body: ResourceCreate,
    user: CurrentUser,
    session: SessionDep,
    request: Request,
    background_tasks: BackgroundTasks,
    documents: DocumentRuntimeDep,
) -> ResourceCreated:
    """With `ingest`, the page is fetched first (422 `url_not_allowed` for a private or local
    address, `url_fetch_failed` when it cannot be had; 413 past the document size limit; 415
    when it is not a document) and stored as a document of the resource."""
    fetched = None
    if body.ingest:
        assert body.url is not None  # the schema requires it with ingest
        # The fetch may take seconds: no connection is held meanwhile.
        await release_connection(session)
        fetcher: SafeFetcher = request.app.state.url_fetcher
        fetched = await fetcher.fetch(str(body.url))
    resource = await ResourceService(session).create(user.id, body)
    document_id = None
    if fetched is not None:
        document = await ingest_fetched(
            session, documents.storage, documents.upload_limits, user.id, resource, fetched
        )
        document_id = document.id
        schedule_processing(background_tasks, documents, document.id)
    schedule_embedding(background_tasks, request, Resource, [resource.id])
    read = ResourceRead.model_validate(resource).model_dump()
    return ResourceCreated.model_validate({**read, "document_id": document_id})


@router.get("/{resource_id}", response_model=ResourceRead, responses=error_responses(401, 404, 422))
async def get_resource(
    resource_id: uuid.UUID, user: CurrentUser, session: SessionDep
) -> ResourceRead:
    return ResourceRead.model_validate(await ResourceService(session).get(user.id, resource_id))


@router.patch(
    "/{resource_id}",
    response_model=ResourceRead,
    responses=error_responses(401, 404, 409, 422),
)
async def update_resource(
    resource_id: uuid.UUID,
    body: ResourceUpdate,
    user: CurrentUser,
    session: SessionDep,
    request: Request,
    background_tasks: BackgroundTasks,
) -> ResourceRead:
    resource = await ResourceService(session).update(user.id, resource_id, body)
    if resource.embedding_status == "pending":
        schedule_embedding(background_tasks, request, Resource, [resource.id])
    return ResourceRead.model_validate(resource)


@router.delete(
    "/{resource_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(401, 404, 422),
)
async def delete_resource(resource_id: uuid.UUID, user: CurrentUser, session: SessionDep) -> None:
    await ResourceService(session).delete(user.id, resource_id)
