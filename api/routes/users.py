import uuid

from fastapi import APIRouter, Request

from api.deps import CurrentUser, SessionDep
from api.errors import error_responses
from domain.users.schemas import UserRead, UserUpdate
from domain.users.service import UserService

router = APIRouter(prefix="/users", tags=["users"])


@router.get("/{user_id}", response_model=UserRead, responses=error_responses(401, 404, 422))
async def get_user(user_id: uuid.UUID, user: CurrentUser, session: SessionDep) -> UserRead:
    return UserRead.model_validate(await UserService(session).get_visible(user, user_id))


@router.patch("/{user_id}", response_model=UserRead, responses=error_responses(401, 404, 422))
async def update_user(
    request: Request,
    user_id: uuid.UUID,
    changes: UserUpdate,
    user: CurrentUser,
    session: SessionDep,
) -> UserRead:
    """Setting `morning_agenda_at` / `weekly_review_at` schedules those notifications in the
    user's time zone; null pauses them."""
    service = UserService(session, request.app.state.agent_job_schedules)
    updated = await service.update(user, user_id, changes)
    return UserRead.model_validate(updated)
