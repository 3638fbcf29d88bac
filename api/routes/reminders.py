import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, status

from api.deps import CurrentUser, SessionDep
from api.errors import error_responses
from core.pagination import Page, PageParams, page_params
from domain.reminders.schemas import ReminderCreate, ReminderRead, ReminderStatus
from domain.reminders.service import ReminderService

router = APIRouter(prefix="/reminders", tags=["reminders"])


@router.get("", response_model=Page[ReminderRead], responses=error_responses(401, 422))
async def list_reminders(
    user: CurrentUser,
    session: SessionDep,
    params: Annotated[PageParams, Depends(page_params)],
    status_filter: Annotated[
        ReminderStatus | None, Query(alias="status", description="Only this status.")
    ] = None,
) -> Page[ReminderRead]:
    """The caller's reminders, newest first."""
    return await ReminderService(session).page(user, params, status_filter)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=ReminderRead,
    responses=error_responses(401, 404, 422),
)
async def create_reminder(
    data: ReminderCreate, user: CurrentUser, session: SessionDep
) -> ReminderRead:
    return await ReminderService(session).create(user, data)


@router.get("/{reminder_id}", response_model=ReminderRead, responses=error_responses(401, 404, 422))
async def get_reminder(
    reminder_id: uuid.UUID, user: CurrentUser, session: SessionDep
) -> ReminderRead:
    return await ReminderService(session).get(user, reminder_id)


@router.delete(
    "/{reminder_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(401, 404, 422),
)
async def delete_reminder(reminder_id: uuid.UUID, user: CurrentUser, session: SessionDep) -> None:
    await ReminderService(session).delete(user, reminder_id)
