import uuid
from typing import Annotated, cast

from fastapi import APIRouter, Depends, Header, Query, Request, Response, status

from api.deps import CurrentUser, SessionDep
from api.errors import error_responses
from core.pagination import Page, PageParams, page_params
from domain.goals.schemas import (
    GoalCreate,
    GoalRead,
    GoalStatus,
    GoalUpdate,
    ProgressEventCreate,
    ProgressEventRead,
    ProgressRecorded,
)
from domain.goals.service import GoalService, GoalView, RecordedProgress, progress_read

router = APIRouter(prefix="/goals", tags=["goals"])
PageDep = Annotated[PageParams, Depends(page_params)]
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=255,
        description="Retrying with the same key records the entry once: the retry answers 200 "
        "with the first event. The same key with a different body is a 422.",
    ),
]


def _goal_read(view: GoalView) -> GoalRead:
    goal, derived = view.goal, view.progress
    return GoalRead(
        id=goal.id,
        title=goal.title,
        description=goal.description,
        course_id=goal.course_id,
        target_date=goal.target_date,
        target_minutes=goal.target_minutes,
        target_modules=goal.target_modules,
        # The database's check constraint holds status to these values.
        status=cast(GoalStatus, goal.status),
        completed_at=goal.completed_at,
        created_at=goal.created_at,
        updated_at=goal.updated_at,
        progress=progress_read(derived),
    )


def _recorded(recorded: RecordedProgress) -> ProgressRecorded:
    return ProgressRecorded(
        event=ProgressEventRead.model_validate(recorded.event), goal=_goal_read(recorded.goal)
    )


@router.get("", response_model=Page[GoalRead], responses=error_responses(401, 422))
async def list_goals(
    user: CurrentUser,
    session: SessionDep,
    page: PageDep,
    status: Annotated[GoalStatus | None, Query(description="Only goals in this status.")] = None,
    course_id: Annotated[uuid.UUID | None, Query(description="Only goals of this course.")] = None,
) -> Page[GoalRead]:
    views, cursor = await GoalService(session).list_goals(
        user, page, status=status, course_id=course_id
    )
    return Page(items=[_goal_read(view) for view in views], next_cursor=cursor)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=GoalRead,
    responses=error_responses(401, 404, 422),
)
async def create_goal(body: GoalCreate, user: CurrentUser, session: SessionDep) -> GoalRead:
    return _goal_read(await GoalService(session).create(user, body))


@router.get("/{goal_id}", response_model=GoalRead, responses=error_responses(401, 404, 422))
async def get_goal(goal_id: uuid.UUID, user: CurrentUser, session: SessionDep) -> GoalRead:
    return _goal_read(await GoalService(session).get(user, goal_id))


@router.patch("/{goal_id}", response_model=GoalRead, responses=error_responses(401, 404, 422))
async def update_goal(
    goal_id: uuid.UUID, body: GoalUpdate, user: CurrentUser, session: SessionDep
) -> GoalRead:
    return _goal_read(await GoalService(session).update(user, goal_id, body))


@router.delete(
    "/{goal_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=error_responses(401, 404, 422),
)
async def delete_goal(goal_id: uuid.UUID, user: CurrentUser, session: SessionDep) -> None:
    await GoalService(session).delete(user, goal_id)


@router.post(
    "/{goal_id}/progress",
    status_code=status.HTTP_201_CREATED,
    response_model=ProgressRecorded,
    responses={
        200: {
            "model": ProgressRecorded,
            "description": "An Idempotency-Key replay: the event recorded the first time, "
            "nothing new written.",
        },
        **error_responses(401, 404, 409, 422),
    },
)
async def record_progress(
    request: Request,
    goal_id: uuid.UUID,
    body: ProgressEventCreate,
    user: CurrentUser,
    session: SessionDep,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> ProgressRecorded:
    service = GoalService(session, plan_tracker=request.app.state.plan_tracker)
    recorded = await service.record_progress(user, goal_id, body, idempotency_key)
    if not recorded.created:
        response.status_code = status.HTTP_200_OK
    return _recorded(recorded)


@router.get(
    "/{goal_id}/progress",
    response_model=Page[ProgressEventRead],
    responses=error_responses(401, 404, 422),
)
async def list_progress(
    goal_id: uuid.UUID, user: CurrentUser, session: SessionDep, page: PageDep
) -> Page[ProgressEventRead]:
    events, cursor = await GoalService(session).list_events(user, goal_id, page)
    return Page(
        items=[ProgressEventRead.model_validate(event) for event in events], next_cursor=cursor
    )
