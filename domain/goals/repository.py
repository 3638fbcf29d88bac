import uuid
from collections.abc import Sequence

from sqlalchemy import Date, cast, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.pagination import PageParams, paginate
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

    async def list_page(
        self,
        user_id: uuid.UUID,
        params: PageParams,
        *,
        status: str | None,
        course_id: uuid.UUID | None,
    ) -> tuple[list[Goal], str | None]:
        statement = select(Goal).where(Goal.user_id == user_id)
        if status is not None:
            statement = statement.where(Goal.status == status)
        if course_id is not None:
            statement = statement.where(Goal.course_id == course_id)
        return await paginate(self.session, statement, [Goal.created_at, Goal.id], params)

    async def add(self, goal: Goal) -> Goal:
        self.session.add(goal)
        await self.session.flush()
        return goal

    async def delete(self, goal: Goal) -> None:
        await self.session.delete(goal)
        await self.session.flush()

    async def progress_totals(
        self, goal_ids: Sequence[uuid.UUID], timezone: str
    ) -> dict[uuid.UUID, ProgressTotals]:
        """Sums and distinct local days of every listed goal's events, in one grouped query."""
        if not goal_ids:
            return {}
        event = GoalProgressEvent
        # timezone(zone, timestamptz) is `occurred_at AT TIME ZONE zone`: the user's wall clock,
        # so an event at 23:30 local counts for that local day.
        local_day = cast(func.timezone(timezone, event.occurred_at), Date)
        result = await self.session.execute(
            select(
                event.goal_id,
                func.coalesce(func.sum(event.minutes), 0),
                func.coalesce(func.sum(event.modules_completed), 0),
                func.array_agg(local_day.distinct()),
            )
            .where(event.goal_id.in_(goal_ids))
            .group_by(event.goal_id)
        )
        return {
            goal_id: ProgressTotals(
                minutes=int(minutes), modules=int(modules), active_days=frozenset(days)
            )
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
