"""Account rules: registration, profile reads and updates, always scoped to the caller."""

import uuid
from collections.abc import Awaitable, Callable

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from core.after_commit import defer_until_commit
from core.errors import ConflictError, NotFoundError
from core.security import hash_password_in_thread
from domain.users.agent_jobs import AgentJobSchedules, AgentJobTimes
from domain.users.models import User
from domain.users.repository import UserRepository
from domain.users.schemas import UserUpdate, WeeklyTime

_JOB_FIELDS = frozenset({"morning_agenda_at", "weekly_review_at", "timezone"})


class EmailTakenError(ConflictError):
    code = "email_taken"

    def __init__(self) -> None:
        super().__init__("An account with this email already exists.")


def normalise_email(email: str) -> str:
    return email.strip().lower()


def agent_job_times(user: User) -> AgentJobTimes:
    weekly = user.weekly_review_at
    return AgentJobTimes(
        user_id=user.id,
        timezone=user.timezone,
        morning_agenda_at=user.morning_agenda_at,
        weekly_review_at=WeeklyTime.model_validate(weekly) if weekly else None,
    )


def _sync_job(schedules: AgentJobSchedules, times: AgentJobTimes) -> Callable[[], Awaitable[None]]:
    async def sync() -> None:
        await schedules.sync(times)

    return sync


class UserService:
    def __init__(self, session: AsyncSession, agent_jobs: AgentJobSchedules | None = None) -> None:
        """`agent_jobs` None: no workflow engine is configured; job times are stored only."""
        self.session = session
        self.users = UserRepository(session)
        self.agent_jobs = agent_jobs

    async def register(self, email: str, password: str, name: str | None) -> User:
        email = normalise_email(email)
        if await self.users.get_by_email(email) is not None:
            raise EmailTakenError()
        user = User(email=email, password_hash=await hash_password_in_thread(password), name=name)
        # A concurrent registration can pass the check above; the unique constraint decides.
        try:
            async with self.session.begin_nested():
                await self.users.add(user)
        except IntegrityError as exc:
            raise EmailTakenError() from exc
        await self.session.refresh(user)
        return user

    async def get_visible(self, viewer: User, user_id: uuid.UUID) -> User:
        """Only the user themself sees their profile; any other id looks absent."""
        if viewer.id != user_id:
            raise NotFoundError("User not found.")
        return viewer

    async def update(self, viewer: User, user_id: uuid.UUID, changes: UserUpdate) -> User:
        user = await self.get_visible(viewer, user_id)
        if "name" in changes.model_fields_set:
            user.name = changes.name
        if changes.timezone is not None:
            user.timezone = changes.timezone
        if changes.study_preferences is not None:
            user.study_preferences = changes.study_preferences.model_dump(mode="json")
        if "morning_agenda_at" in changes.model_fields_set:
            user.morning_agenda_at = changes.morning_agenda_at
        if "weekly_review_at" in changes.model_fields_set:
            weekly = changes.weekly_review_at
            user.weekly_review_at = weekly.model_dump(mode="json") if weekly else None
        await self.session.flush()
        await self.session.refresh(user)
        if self.agent_jobs is not None and changes.model_fields_set & _JOB_FIELDS:
            defer_until_commit(self.session, _sync_job(self.agent_jobs, agent_job_times(user)))
        return user

    async def set_role(self, email: str, role: str) -> User:
        """Make the account with this email a `student` or an `admin` (an operator's act)."""
        user = await self.users.get_by_email(normalise_email(email))
        if user is None:
            raise NotFoundError("No account has this email.")
        user.role = role
        await self.session.flush()
        return user
