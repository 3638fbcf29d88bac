import uuid
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, Date, cast, func, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from core.pagination import PageParams, paginate, paginate_rows
from domain.goals.models import Goal, GoalProgressEvent
from domain.goals.progress import ProgressTotals


class GoalRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get_owned(self, user_id: uuid.UUID, goal_id: uuid.UUID) -> Goal | None:
        result = await self.session.execute(
            select(Goal).where(Goal.id == goal_id, Goal.user_id == user_id)
        )
        return result.scalar_one_or_none()

    async def list_page_with_progress(
        self,
        user_id: uuid.UUID,
        timezone: str,
        params: PageParams,
        *,
        status: str | None,
        course_id: uuid.UUID | None,
    ) -> tuple[list[tuple[Goal, ProgressTotals]], str | None]:
        """A page of goals, each with its progress totals, in one statement: the aggregate of a
        goal's events is a LATERAL subquery beside its row (one row even with no events)."""
        totals = (
            select(*_totals_columns(timezone))
            .where(GoalProgressEvent.goal_id == Goal.id)
            .lateral("totals")
        )
        statement = (
            select(Goal, totals.c.minutes, totals.c.modules, totals.c.days)
            .join(totals, true())
            .where(Goal.user_id == user_id)
        )
        if status is not None:
            statement = statement.where(Goal.status == status)
        if course_id is not None:
            statement = statement.where(Goal.course_id == course_id)
        rows, cursor = await paginate_rows(
            self.session, statement, [Goal.created_at, Goal.id], params
        )
        return [(row[0], _totals(row[1], row[2], row[3])) for row in rows], cursor

    async def add(self, goal: Goal) -> Goal:
        self.session.add(goal)
        await self.session.flush()
        return goal

    async def delete(self, goal: Goal) -> None:
        await self.session.delete(goal)
        await self.session.flush()

    async def progress_since(self, goal_id: uuid.UUID, since: datetime) -> bool:
        """Whether progress was recorded on the goal after `since`."""
        statement = select(GoalProgressEvent.id).where(
            GoalProgressEvent.goal_id == goal_id, GoalProgressEvent.created_at > since
        )
        return (await self.session.scalars(statement.limit(1))).first() is not None

    async def progress_totals(
        self, goal_ids: Sequence[uuid.UUID], timezone: str
    ) -> dict[uuid.UUID, ProgressTotals]:
        """Sums and distinct local days of every listed goal's events, in one grouped query."""
        if not goal_ids:
            return {}
        event = GoalProgressEvent
        result = await self.session.execute(
            select(event.goal_id, *_totals_columns(timezone))
            .where(event.goal_id.in_(goal_ids))
            .group_by(event.goal_id)
        )
        return {
            goal_id: _totals(minutes, modules, days)
            for goal_id, minutes, modules, days in result.tuples()
        }

    async def get_event_by_key(
        self, goal_id: uuid.UUID, idempotency_key: str
    ) -> GoalProgressEvent | None:
        result = await self.session.execute(
            select(GoalProgressEvent).where(
                GoalProgressEvent.goal_id == goal_id,
                GoalProgressEvent.idempotency_key == idempotency_key,
            )
        )
        return result.scalar_one_or_none()

    async def add_event(self, event: GoalProgressEvent) -> GoalProgressEvent:
        self.session.add(event)
        await self.session.flush()
        return event

    async def events_page(
        self, goal_id: uuid.UUID, params: PageParams
    ) -> tuple[list[GoalProgressEvent], str | None]:
        statement = select(GoalProgressEvent).where(GoalProgressEvent.goal_id == goal_id)
        return await paginate(
            self.session,
            statement,
            [GoalProgressEvent.occurred_at, GoalProgressEvent.id],
            params,
        )


def _totals_columns(timezone: str) -> list[ColumnElement[Any]]:
    """Sums and distinct local days over the goal progress events a statement selects."""
    event = GoalProgressEvent
    # timezone(zone, timestamptz) is `occurred_at AT TIME ZONE zone`: the user's wall clock,
    # so an event at 23:30 local counts for that local day.
    local_day = cast(func.timezone(timezone, event.occurred_at), Date)
    return [
        func.coalesce(func.sum(event.minutes), 0).label("minutes"),
        func.coalesce(func.sum(event.modules_completed), 0).label("modules"),
        func.array_agg(local_day.distinct()).label("days"),
    ]


def _totals(minutes: int, modules: int, days: Sequence[date] | None) -> ProgressTotals:
    # array_agg over no events is NULL.
    return ProgressTotals(
        minutes=int(minutes), modules=int(modules), active_days=frozenset(days or ())
    )
