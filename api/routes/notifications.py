import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from api.deps import CurrentUser, SessionDep
from api.errors import error_responses
from core.pagination import Page, PageParams, page_params
from domain.notifications.schemas import NotificationRead, ReadAllResult
from domain.notifications.service import NotificationService

router = APIRouter(prefix="/notifications", tags=["notifications"])


@router.get("", response_model=Page[NotificationRead], responses=error_responses(401, 422))
async def list_notifications(
    user: CurrentUser,
    session: SessionDep,
    params: Annotated[PageParams, Depends(page_params)],
    unread: Annotated[bool, Query(description="Only notifications not read yet.")] = False,
) -> Page[NotificationRead]:
    """The caller's notifications, newest first."""
    return await NotificationService(session).page(user, params, unread_only=unread)


@router.post("/read-all", response_model=ReadAllResult, responses=error_responses(401))
async def read_all_notifications(user: CurrentUser, session: SessionDep) -> ReadAllResult:
    """Mark every unread notification of the caller read; answers how many were."""
    return await NotificationService(session).mark_all_read(user)


@router.post(
    "/{notification_id}/read",
    response_model=NotificationRead,
    responses=error_responses(401, 404, 422),
)
async def read_notification(
    notification_id: uuid.UUID, user: CurrentUser, session: SessionDep
) -> NotificationRead:
    """Mark one notification read (idempotent)."""
    return await NotificationService(session).mark_read(user, notification_id)
