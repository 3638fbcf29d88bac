import uuid
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import (
    APIRouter,
    BackgroundTasks,
    Depends,
    File,
    Form,
    Query,
    Response,
    UploadFile,
    status,
)
from fastapi.exceptions import RequestValidationError
from pydantic import Field, ValidationError

from api.deps import CurrentUser, SessionDep
from api.documents import DocumentRuntimeDep, schedule_processing
from api.errors import error_responses
from core.pagination import Page, PageParams, page_params
from core.schemas import StrictModel
from domain.documents.schemas import DocumentAccepted, DocumentRead, DocumentStatus
from domain.documents.service import DocumentService, DocumentTooLargeError, Upload
from domain.documents.sniff import CONTENT_TYPES
from domain.notes.schemas import Tags

router = APIRouter(prefix="/documents", tags=["documents"])
PageDep = Annotated[PageParams, Depends(page_params)]


class _UploadFields(StrictModel):
    title: str | None = None
    tags: Tags = Field(default_factory=list)


_CONTENT_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The original file, as uploaded.",
        "content": {
            media_type: {"schema": {"type": "string", "format": "binary"}}
            for media_type in sorted(set(CONTENT_TYPES.values()))
        },
    }
}


@router.post(
    "",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=DocumentAccepted,
    responses=error_responses(401, 404, 413, 415, 422),
)
async def upload_document(
    user: CurrentUser,
    session: SessionDep,
    runtime: DocumentRuntimeDep,
    background_tasks: BackgroundTasks,
    file: Annotated[
        UploadFile,
        File(description="PDF, Word (.docx), HTML, Markdown or plain text; typed by its bytes."),
    ],
    title: Annotated[
        str | None, Form(min_length=1, max_length=300, description="Default: the file name.")
    ] = None,
    course_id: Annotated[uuid.UUID | None, Form()] = None,
    module_id: Annotated[
        uuid.UUID | None, Form(description="A module of `course_id` (or of any course you read).")
    ] = None,
    tags: Annotated[list[str] | None, Form(description="Repeat the field per tag.")] = None,
) -> DocumentAccepted:
    try:
        fields = _UploadFields(title=title, tags=tags or [])
    except ValidationError as exc:
        raise RequestValidationError(
            [{**error, "loc": ("body", *error["loc"])} for error in exc.errors()]
        ) from exc
    limits = runtime.upload_limits
    # One byte past the limit is enough to know it is too large.
    data = await file.read(limits.max_bytes + 1)
    if len(data) > limits.max_bytes:
        raise DocumentTooLargeError(limits.max_bytes)
    upload = Upload(
        filename=file.filename or "document",
        data=data,
        title=fields.title,
        course_id=course_id,
        module_id=module_id,
        tags=tuple(fields.tags),
    )
    document = await DocumentService(session, runtime.storage).create(user.id, upload, limits)
    schedule_processing(background_tasks, runtime, document.id)
    return DocumentAccepted(id=document.id, status="processing")


@router.get("", response_model=Page[DocumentRead], responses=error_responses(401, 422))
async def list_documents(
    user: CurrentUser,
    session: SessionDep,
    runtime: DocumentRuntimeDep,
    page: PageDep,
    course_id: uuid.UUID | None = None,
    tag: Annotated[str | None, Query(min_length=1, max_length=50)] = None,
    status: DocumentStatus | None = None,
) -> Page[DocumentRead]:
    documents, cursor = await DocumentService(session, runtime.storage).list(
        user.id, page, course_id=course_id, tag=tag, status=status
    )
    return Page(items=[DocumentRead.model_validate(d) for d in documents], next_cursor=cursor)


@router.get("/{document_id}", response_model=DocumentRead, responses=error_responses(401, 404, 422))
async def get_document(
    document_id: uuid.UUID, user: CurrentUser, session: SessionDep, runtime: DocumentRuntimeDep
) -> DocumentRead:
    document = await DocumentService(session, runtime.storage).get(user.id, document_id)
    return DocumentRead.model_validate(document)


@router.get(
    "/{document_id}/content",
    response_class=Response,
    responses={**_CONTENT_RESPONSE, **error_responses(401, 404, 422)},
)
async def get_document_content(
    document_id: uuid.UUID, user: CurrentUser, session: SessionDep, runtime: DocumentRuntimeDep
) -> Response:
    document, data = await DocumentService(session, runtime.storage).content(user.id, document_id)
    return Response(
        content=data,
        media_type=document.content_type,
        headers={
            # Always a download, never rendered in the API's origin: an uploaded HTML page must
            # not run as the API.
            "Content-Disposition": f"attachment; filename*=UTF-8''{quote(document.filename)}",
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "sandbox",
        },
    )


@router.delete(
    "/{document_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(401, 404, 422),
)
async def delete_document(
    document_id: uuid.UUID,
    user: CurrentUser,
    session: SessionDep,
    runtime: DocumentRuntimeDep,
    background_tasks: BackgroundTasks,
) -> None:
    key = await DocumentService(session, runtime.storage).delete(user.id, document_id)
    # After the commit: a failed delete keeps its file, a committed one loses it.
    background_tasks.add_task(runtime.storage.delete, key)
