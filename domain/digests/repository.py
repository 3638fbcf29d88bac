import uuid
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.goals.models import GoalProgressEvent


class DigestRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def minutes_by_goal(
        self, user_id: uuid.UUID, since: datetime, until: datetime
    ) -> dict[uuid.UUID, int]:
        statement = (
            select(GoalProgressEvent.goal_id, func.sum(GoalProgressEvent.minutes))
            .where(
                GoalProgressEvent.user_id == user_id,
                GoalProgressEvent.occurred_at >= since,
                GoalProgressEvent.occurred_at < until,
            )
            .group_by(GoalProgressEvent.goal_id)
        )
        return {
            goal_id: int(total or 0) for goal_id, total in await self.session.execute(statement)
        }
