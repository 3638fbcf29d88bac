import uuid
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Depends, Query, Request, status

from api.deps import CurrentUser, CurrentUserId, SessionDep
from api.embedding import EmbeddingDep, build_search_query, schedule_embedding
from api.errors import error_responses
from core.pagination import Page, PageParams, page_params
from domain.notes.models import Note
from domain.notes.schemas import NoteCreate, NoteHit, NoteRead, NoteUpdate
from domain.notes.service import NoteService

router = APIRouter(prefix="/notes", tags=["notes"])
PageDep = Annotated[PageParams, Depends(page_params)]


@router.get("", response_model=Page[NoteHit], responses=error_responses(401, 422))
async def list_notes(
    user_id: CurrentUserId,
    session: SessionDep,
    embedding: EmbeddingDep,
    page: PageDep,
    q: Annotated[str | None, Query(min_length=1, max_length=200, description="Full text.")] = None,
    semantic: Annotated[
        str | None,
        Query(min_length=1, max_length=500, description="Natural-language query (by meaning)."),
    ] = None,
    course_id: uuid.UUID | None = None,
    tag: Annotated[str | None, Query(min_length=1, max_length=50)] = None,
) -> Page[NoteHit]:
    query = await build_search_query(embedding, q, semantic)
    hits, cursor = await NoteService(session).list(
        user_id, page, query=query, course_id=course_id, tag=tag
    )
    items = [
        NoteHit.model_validate({**NoteRead.model_validate(note).model_dump(), "score": score})
        for note, score in hits
    ]
    return Page(items=items, next_cursor=cursor)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=NoteRead,
    responses=error_responses(401, 404, 422),
)
async def create_note(
    body: NoteCreate,
    user: CurrentUser,
    session: SessionDep,
    request: Request,
    background_tasks: BackgroundTasks,
) -> NoteRead:
    note = await NoteService(session).create(user.id, body)
    schedule_embedding(background_tasks, request, Note, [note.id])
    return NoteRead.model_validate(note)


@router.get("/{note_id}", response_model=NoteRead, responses=error_responses(401, 404, 422))
async def get_note(note_id: uuid.UUID, user: CurrentUser, session: SessionDep) -> NoteRead:
    return NoteRead.model_validate(await NoteService(session).get(user.id, note_id))


@router.patch("/{note_id}", response_model=NoteRead, responses=error_responses(401, 404, 422))
async def update_note(
    note_id: uuid.UUID,
    body: NoteUpdate,
    user: CurrentUser,
    session: SessionDep,
    request: Request,
    background_tasks: BackgroundTasks,
) -> NoteRead:
    note = await NoteService(session).update(user.id, note_id, body)
    if note.embedding_status == "pending":
        schedule_embedding(background_tasks, request, Note, [note.id])
    return NoteRead.model_validate(note)


@router.delete(
    "/{note_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(401, 404, 422),
)
async def delete_note(note_id: uuid.UUID, user: CurrentUser, session: SessionDep) -> None:
    await NoteService(session).delete(user.id, note_id)
