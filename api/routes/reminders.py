import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, status

from api.deps import CurrentUser, SessionDep
from api.errors import error_responses
from core.pagination import Page, PageParams, page_params
from domain.reminders.schemas import ReminderCreate, ReminderRead, ReminderStatus, ReminderUpdate
from domain.reminders.service import ReminderService

router = APIRouter(prefix="/reminders", tags=["reminders"])


async def get_reminder_service(request: Request, session: SessionDep) -> ReminderService:
    """The service with the app's reminder timers (None without a workflow engine)."""
    return ReminderService(session, request.app.state.reminder_timers)


Reminders = Annotated[ReminderService, Depends(get_reminder_service)]


@router.get("", response_model=Page[ReminderRead], responses=error_responses(401, 422))
async def list_reminders(
    user: CurrentUser,
    reminders: Reminders,
    params: Annotated[PageParams, Depends(page_params)],
    status_filter: Annotated[
        ReminderStatus | None, Query(alias="status", description="Only this status.")
    ] = None,
) -> Page[ReminderRead]:
    """The caller's reminders, newest first."""
    return await reminders.page(user, params, status_filter)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=ReminderRead,
    responses=error_responses(401, 404, 422),
)
async def create_reminder(
    data: ReminderCreate, user: CurrentUser, reminders: Reminders
) -> ReminderRead:
    """Creates a pending reminder and starts its delivery workflow: at `remind_at` (at once when
    that has passed) it becomes an in-app notification and `sent`."""
    return await reminders.create(user, data)


@router.get("/{reminder_id}", response_model=ReminderRead, responses=error_responses(401, 404, 422))
async def get_reminder(
    reminder_id: uuid.UUID, user: CurrentUser, reminders: Reminders
) -> ReminderRead:
    return await reminders.get(user, reminder_id)


@router.patch(
    "/{reminder_id}", response_model=ReminderRead, responses=error_responses(401, 404, 409, 422)
)
async def update_reminder(
    reminder_id: uuid.UUID, data: ReminderUpdate, user: CurrentUser, reminders: Reminders
) -> ReminderRead:
    """Moves a pending reminder (its timer moves with it) or changes its message. 409
    `reminder_not_pending` once it was sent or cancelled."""
    return await reminders.update(user, reminder_id, data)


@router.delete(
    "/{reminder_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(401, 404, 409, 422),
)
async def cancel_reminder(reminder_id: uuid.UUID, user: CurrentUser, reminders: Reminders) -> None:
    """Cancels a pending reminder: it is kept with status `cancelled` and never delivered.
    Cancelling it again answers 204; a sent reminder answers 409 `reminder_not_pending`."""
    await reminders.cancel(user, reminder_id)
