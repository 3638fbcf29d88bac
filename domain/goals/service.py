"""Goal rules: a user's own goals, their targets and status, and progress recorded against them."""

import hashlib
import json
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import partial
from typing import cast
from zoneinfo import ZoneInfo

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from core.after_commit import defer_until_commit
from core.errors import AppError, ConflictError, NotFoundError
from core.events import Event, queue_event
from core.pagination import PageParams
from domain.courses.repository import CourseRepository
from domain.goals import progress
from domain.goals.models import Goal, GoalProgressEvent
from domain.goals.repository import GoalRepository
from domain.goals.schemas import (
    GoalCreate,
    GoalProgressRead,
    GoalStatus,
    GoalUpdate,
    ProgressEventCreate,
    ProgressEventRead,
    ProgressUpdated,
)
from domain.plans.repository import PlanRepository
from domain.plans.tracking import PlanTracker, ProgressReport
from domain.users.models import User

COMPLETE_PERCENT = 100.0


class GoalNotFoundError(NotFoundError):
    def __init__(self) -> None:
        super().__init__("Goal not found.")


class CourseNotFoundError(NotFoundError):
    def __init__(self) -> None:
        super().__init__("Course not found, or you neither own nor are enrolled in it.")


class GoalNotActiveError(ConflictError):
    code = "goal_not_active"

    def __init__(self, status: str) -> None:
        super().__init__(
            f"This goal is {status}; only active goals accept progress. Set it active first.",
            {"status": status},
        )


class IdempotencyKeyReusedError(AppError):
    status_code = 422
    code = "idempotency_key_reused"

    def __init__(self) -> None:
        super().__init__(
            "This Idempotency-Key was already used for a different progress entry on this goal."
        )


@dataclass(frozen=True)
class GoalView:
    goal: Goal
    progress: progress.GoalProgress


@dataclass(frozen=True)
class RecordedProgress:
    event: GoalProgressEvent
    goal: GoalView
    # False when an Idempotency-Key replay returned the event recorded the first time.
    created: bool


def _utc_now() -> datetime:
    return datetime.now(UTC)


def request_fingerprint(data: ProgressEventCreate) -> str:
    """Digest of what the client sent: a retry hashes the same even if the defaults (occurred_at
    = now) would differ, and equal instants in different offsets are the same request."""
    occurred_at = data.occurred_at.astimezone(UTC).isoformat() if data.occurred_at else None
    canonical = json.dumps(
        {
            "minutes": data.minutes,
            "modules_completed": data.modules_completed,
            "note": data.note,
            "occurred_at": occurred_at,
        },
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


class GoalService:
    def __init__(
        self,
        session: AsyncSession,
        now: Callable[[], datetime] = _utc_now,
        *,
        plan_tracker: PlanTracker | None = None,
    ) -> None:
        """`plan_tracker`: where progress goes for the goal's accepted plans to follow it."""
        self.session = session
        self.goals = GoalRepository(session)
        self.now = now
        self.plan_tracker = plan_tracker

    async def list_goals(
        self,
        user: User,
        params: PageParams,
        *,
        status: str | None = None,
        course_id: uuid.UUID | None = None,
    ) -> tuple[list[GoalView], str | None]:
        zone = progress.user_zone(user.timezone)
        today = progress.local_date(self.now(), zone)
        page, cursor = await self.goals.list_page_with_progress(
            user.id, zone.key, params, status=status, course_id=course_id
        )
        return [_view(goal, totals, zone, today) for goal, totals in page], cursor

    async def get(self, user: User, goal_id: uuid.UUID) -> GoalView:
        return (await self._views(user, [await self._owned(user, goal_id)]))[0]

    async def create(self, user: User, data: GoalCreate) -> GoalView:
        if data.course_id is not None:
            await self._check_course(user, data.course_id)
        goal = Goal(
            user_id=user.id,
            course_id=data.course_id,
            title=data.title,
            description=data.description,
            target_date=data.target_date,
            target_minutes=data.target_minutes,
            target_modules=data.target_modules,
            status=progress.ACTIVE,
        )
        await self.goals.add(goal)
        await self.session.refresh(goal)
        return (await self._views(user, [goal]))[0]

    async def update(self, user: User, goal_id: uuid.UUID, changes: GoalUpdate) -> GoalView:
        goal = await self._owned(user, goal_id)
        fields = changes.model_fields_set
        if changes.title is not None:
            goal.title = changes.title
        if "description" in fields:
            goal.description = changes.description
        if "course_id" in fields:
            if changes.course_id is not None and changes.course_id != goal.course_id:
                await self._check_course(user, changes.course_id)
            goal.course_id = changes.course_id
        if "target_date" in fields:
            goal.target_date = changes.target_date
        if "target_minutes" in fields:
            goal.target_minutes = changes.target_minutes
            if changes.target_minutes is not None:
                goal.target_modules = None
        if "target_modules" in fields:
            goal.target_modules = changes.target_modules
            if changes.target_modules is not None:
                goal.target_minutes = None
        if changes.status is not None and changes.status != goal.status:
            goal.completed_at = self.now() if changes.status == progress.COMPLETED else None
            goal.status = changes.status
        await self.session.flush()
        await self.session.refresh(goal)
        return (await self._views(user, [goal]))[0]

    async def delete(self, user: User, goal_id: uuid.UUID) -> None:
        await self.goals.delete(await self._owned(user, goal_id))

    async def record_progress(
        self,
        user: User,
        goal_id: uuid.UUID,
        data: ProgressEventCreate,
        idempotency_key: str | None = None,
    ) -> RecordedProgress:
        goal = await self._owned(user, goal_id)
        fingerprint = request_fingerprint(data)
        if idempotency_key is not None:
            # Checked before the status: a retry of a request that succeeded gets its answer
            # even if the goal was completed in between.
            earlier = await self.goals.get_event_by_key(goal.id, idempotency_key)
            if earlier is not None:
                return await self._replay(user, goal, earlier, fingerprint)
        if goal.status != progress.ACTIVE:
            raise GoalNotActiveError(goal.status)
        event = GoalProgressEvent(
            goal_id=goal.id,
            user_id=user.id,
            minutes=data.minutes,
            modules_completed=data.modules_completed,
            note=data.note,
            occurred_at=data.occurred_at or self.now(),
            idempotency_key=idempotency_key,
            request_hash=fingerprint if idempotency_key is not None else None,
        )
        # A concurrent retry can pass the lookup above; the unique constraint decides the winner.
        try:
            async with self.session.begin_nested():
                await self.goals.add_event(event)
        except IntegrityError:
            if idempotency_key is None:
                raise
            earlier = await self.goals.get_event_by_key(goal.id, idempotency_key)
            if earlier is None:
                raise
            return await self._replay(user, goal, earlier, fingerprint)
        await self.session.refresh(event)
        view = (await self._views(user, [goal]))[0]
        # Every way progress is recorded (REST, the chat tool, workflows) comes through here;
        # the live views hear of it once the entry is committed.
        queue_event(self.session, _progress_updated(user, view, event))
        await self._tell_plans(goal.id, event, view)
        return RecordedProgress(event, view, created=True)

    async def _tell_plans(
        self, goal_id: uuid.UUID, event: GoalProgressEvent, view: GoalView
    ) -> None:
        if self.plan_tracker is None:
            return
        tracker = self.plan_tracker
        report = ProgressReport(
            minutes=event.minutes,
            occurred_at=event.occurred_at,
            goal_completed=view.progress.percent >= COMPLETE_PERCENT,
        )
        for plan_id in await PlanRepository(self.session).accepted_for_goal(goal_id):
            defer_until_commit(self.session, partial(tracker.progress, plan_id, report))

    async def list_events(
        self, user: User, goal_id: uuid.UUID, params: PageParams
    ) -> tuple[list[GoalProgressEvent], str | None]:
        goal = await self._owned(user, goal_id)
        return await self.goals.events_page(goal.id, params)

    async def _replay(
        self, user: User, goal: Goal, earlier: GoalProgressEvent, fingerprint: str
    ) -> RecordedProgress:
        if earlier.request_hash != fingerprint:
            raise IdempotencyKeyReusedError()
        return RecordedProgress(earlier, (await self._views(user, [goal]))[0], created=False)

    async def _owned(self, user: User, goal_id: uuid.UUID) -> Goal:
        goal = await self.goals.get_owned(user.id, goal_id)
        if goal is None:
            raise GoalNotFoundError()
        return goal

    async def _check_course(self, user: User, course_id: uuid.UUID) -> None:
        if not await CourseRepository(self.session).usable_by(user.id, course_id):
            raise CourseNotFoundError()

    async def _views(self, user: User, goals: Sequence[Goal]) -> list[GoalView]:
        """Progress for every goal from one aggregate query, as of today in the user's zone."""
        zone = progress.user_zone(user.timezone)
        today = progress.local_date(self.now(), zone)
        totals = await self.goals.progress_totals([goal.id for goal in goals], zone.key)
        empty = progress.ProgressTotals()
        return [_view(goal, totals.get(goal.id, empty), zone, today) for goal in goals]


def _progress_updated(user: User, view: GoalView, entry: GoalProgressEvent) -> Event:
    payload = ProgressUpdated(
        goal_id=view.goal.id,
        title=view.goal.title,
        # The database's check constraint holds status to these values.
        status=cast(GoalStatus, view.goal.status),
        progress=progress_read(view.progress),
        event=ProgressEventRead.model_validate(entry),
    )
    return Event(user.id, "progress", "progress.updated", payload.model_dump(mode="json"))


def progress_read(derived: progress.GoalProgress) -> GoalProgressRead:
    return GoalProgressRead(
        percent=derived.percent,
        minutes_done=derived.minutes_done,
        modules_done=derived.modules_done,
        streak_days=derived.streak_days,
        on_track=derived.on_track,
    )


def _view(goal: Goal, totals: progress.ProgressTotals, zone: ZoneInfo, today: date) -> GoalView:
    plan = progress.GoalPlan(
        status=goal.status,
        started_on=progress.local_date(goal.created_at, zone),
        target_date=goal.target_date,
        target_minutes=goal.target_minutes,
        target_modules=goal.target_modules,
    )
    return GoalView(goal, progress.derive_progress(plan, totals, today))
