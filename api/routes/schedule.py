import uuid
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Path, Query, status

from api.deps import CurrentUser, SessionDep
from api.errors import error_responses
from domain.schedule.schemas import (
    OccurrenceUpdate,
    OccurrenceWithConflicts,
    ScheduleBlockCreate,
    ScheduleBlockRead,
    ScheduleBlockUpdate,
    ScheduleBlockWithConflicts,
    ScheduleList,
    SupportedDatetime,
)
from domain.schedule.service import MAX_WINDOW_DAYS, ScheduleService

router = APIRouter(prefix="/schedule", tags=["schedule"])

OriginalStart = Annotated[
    SupportedDatetime,
    Path(description="The occurrence's `original_start`, ISO 8601 with a UTC offset."),
]


@router.get("", response_model=ScheduleList, responses=error_responses(401, 422))
async def list_schedule(
    user: CurrentUser,
    session: SessionDep,
    on: Annotated[
        date | None, Query(alias="date", description="One day, in the user's time zone.")
    ] = None,
    from_: Annotated[
        date | None, Query(alias="from", description="First day (inclusive), user's zone.")
    ] = None,
    to: Annotated[
        date | None,
        Query(description=f"Last day (inclusive), at most {MAX_WINDOW_DAYS} days after from."),
    ] = None,
) -> ScheduleList:
    """Occurrences overlapping the given local days, sorted by start; series expanded."""
    return await ScheduleService(session).list_occurrences(user, on=on, from_=from_, to=to)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=ScheduleBlockWithConflicts,
    responses=error_responses(401, 404, 422),
)
async def create_block(
    data: ScheduleBlockCreate, user: CurrentUser, session: SessionDep
) -> ScheduleBlockWithConflicts:
    """Creates a block or, with `recurrence`, a series starting on its first occurrence.

    A `course_id` the caller neither owns nor is enrolled in, or a `goal_id` that is not the
    caller's, is 404. Overlaps with the caller's other blocks are allowed and listed in
    `conflicts` (for a series, over its first 90 days).
    """
    return await ScheduleService(session).create(user, data)


@router.get(
    "/blocks/{block_id}",
    response_model=ScheduleBlockRead,
    responses=error_responses(401, 404, 422),
)
async def get_block(
    block_id: uuid.UUID, user: CurrentUser, session: SessionDep
) -> ScheduleBlockRead:
    return await ScheduleService(session).get(user, block_id)


@router.patch(
    "/{block_id}",
    response_model=ScheduleBlockWithConflicts,
    responses=error_responses(401, 404, 422),
)
async def update_block(
    block_id: uuid.UUID, changes: ScheduleBlockUpdate, user: CurrentUser, session: SessionDep
) -> ScheduleBlockWithConflicts:
    """Edits the whole series; exceptions on occurrences the new series lacks are dropped."""
    return await ScheduleService(session).update(user, block_id, changes)


@router.delete(
    "/{block_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(401, 404, 422),
)
async def delete_block(block_id: uuid.UUID, user: CurrentUser, session: SessionDep) -> None:
    """Deletes the whole series, its exceptions and its reminders."""
    await ScheduleService(session).delete(user, block_id)


@router.patch(
    "/{block_id}/occurrences/{original_start}",
    response_model=OccurrenceWithConflicts,
    responses=error_responses(401, 404, 422),
)
async def update_occurrence(
    block_id: uuid.UUID,
    original_start: OriginalStart,
    changes: OccurrenceUpdate,
    user: CurrentUser,
    session: SessionDep,
) -> OccurrenceWithConflicts:
    """Moves and/or retitles one occurrence; a cancelled occurrence is 404."""
    return await ScheduleService(session).update_occurrence(user, block_id, original_start, changes)


@router.delete(
    "/{block_id}/occurrences/{original_start}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(401, 404, 422),
)
async def cancel_occurrence(
    block_id: uuid.UUID, original_start: OriginalStart, user: CurrentUser, session: SessionDep
) -> None:
    """Cancels one occurrence of a series."""
    await ScheduleService(session).cancel_occurrence(user, block_id, original_start)
